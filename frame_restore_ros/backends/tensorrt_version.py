"""The TensorRT versions the tensorrt backend supports, and which build path each one takes.

* 10.x: a weakly typed network from the fp32 ONNX graph; fp16 / bf16 are builder flags, with
  LayerNorm and softmax held in fp32 by per-layer precision and ``OBEY_PRECISION_CONSTRAINTS``.
* 11.x: every network is strongly typed and those flags and per-layer setters are gone, so the
  precision lives in the graph: a mixed-precision ONNX graph (``onnx_mixed``) whose LayerNorm and
  softmax stay fp32.
* 8.x / 9.x are refused (``create_network(0)`` is an implicit-batch network there, which the ONNX
  parser rejects, and the engine I/O API differs); 12 and later are refused until tested.

Imported by ``selection`` (``doctor`` / ``auto``) without torch or TensorRT.
"""

from __future__ import annotations

import re

WEAKLY_TYPED = "weakly typed"  # 10.x
STRONGLY_TYPED = "strongly typed"  # 11.x
SUPPORTED = "10.x or 11.x"


def build_path(version: str) -> str:
    """Return how TensorRT ``version`` builds (:data:`WEAKLY_TYPED` or :data:`STRONGLY_TYPED`).

    Raises ValueError saying why a version is refused.
    """
    match = re.match(r"(\d+)\.(\d+)", str(version))
    if match is None:
        raise ValueError(f"TensorRT version {version!r} is not understood; needs {SUPPORTED}")
    major = int(match.group(1))
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
    return WEAKLY_TYPED if major == 10 else STRONGLY_TYPED
