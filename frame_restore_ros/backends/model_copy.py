"""The backends' own copy of a model: they never move, cast or re-mode the caller's model.

A backend that called ``model.eval().to(device, dtype)`` on the model it was given would change
it under the caller: after a failed torch-cuda build, ``auto`` would hand a CUDA fp16 model to
OpenVINO or ONNX Runtime, and a second backend built on the same model would hold the moved one.
"""

from __future__ import annotations

import copy
from typing import TypeVar

import torch

ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)


def private_copy(
    model: ModuleT, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> ModuleT:
    """Return a copy of ``model`` in eval mode, floating tensors on ``device`` in ``dtype``.

    Where nothing needs converting the copy shares the weights (no memory is duplicated); the
    module tree is copied all the same, so its train/eval mode is the copy's own.
    """
    device = torch.device(device)
    tensors = [*model.parameters(), *model.buffers()]
    converted = any(
        t.device != device or (t.is_floating_point() and t.dtype != dtype) for t in tensors
    )
    memo: dict[int, object] = {} if converted else {id(t): t for t in tensors}
    return copy.deepcopy(model, memo).eval().to(device, dtype)
