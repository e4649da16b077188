"""The TensorRT versions the tensorrt backend supports, and which build path each one takes.

* 10.0-10.11: a weakly typed network from the fp32 ONNX graph; fp16 / bf16 are builder flags,
  with LayerNorm and softmax held in fp32 by per-layer precision and
  ``OBEY_PRECISION_CONSTRAINTS``.
* 10.12 and later 10.x: those weak-typing APIs are deprecated (TensorRT 10.12.0 release notes),
  so the network is strongly typed, opted into with ``NetworkDefinitionCreationFlag
  .STRONGLY_TYPED``, and built as on 11.x.
* 11.x: every network is strongly typed and those flags and per-layer setters are gone, so the
  precision lives in the graph: a mixed-precision ONNX graph (``onnx_mixed``) whose LayerNorm and
  softmax stay fp32 (the creation flag is deprecated there and ignored: not passed).
* 8.x / 9.x are refused (``create_network(0)`` is an implicit-batch network there, which the ONNX
  parser rejects, and the engine I/O API differs); 12 and later are refused until tested.

Imported by ``selection`` (``doctor`` / ``auto``) without torch or TensorRT.
"""

from __future__ import annotations

import re

WEAKLY_TYPED = "weakly typed"  # 10.0-10.11
STRONGLY_TYPED = "strongly typed"  # 10.12+ (opted into) and 11.x
SUPPORTED = "10.x or 11.x"
FIRST_STRONGLY_TYPED_10 = 12  # the 10.x minor from which weak typing is deprecated


def build_path(version: str) -> str:
    """Return how TensorRT ``version`` builds (:data:`WEAKLY_TYPED` or :data:`STRONGLY_TYPED`).

    Raises ValueError saying why a version is refused.
    """
    match = re.match(r"(\d+)\.(\d+)", str(version))
    if match is None:
        raise ValueError(f"TensorRT version {version!r} is not understood; needs {SUPPORTED}")
    major, minor = int(match.group(1)), int(match.group(2))
    if major < 10:
        raise ValueError(
            f"TensorRT {version} is too old; needs {SUPPORTED} (before 10.0 a network is "
            "implicit-batch unless flagged, which the ONNX parser rejects)"
        )
    if major > 11:
        raise ValueError(
            f"TensorRT {version} is newer than the supported {SUPPORTED}; its build API is "
            "untested here"
        )
    if major == 10 and minor < FIRST_STRONGLY_TYPED_10:
        return WEAKLY_TYPED
    return STRONGLY_TYPED


def opts_into_strong_typing(version: str) -> bool:
    """Whether a strongly typed network must be asked for at creation: 10.12+ only.

    11.x networks are always strongly typed; the creation flag is deprecated there (not passed).
    """
    return build_path(version) == STRONGLY_TYPED and str(version).startswith("10.")
