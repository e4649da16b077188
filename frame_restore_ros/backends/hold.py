"""The "hold" backend: no model; the reference is copied into the failed pixels.

It is the baseline every model must beat, and the model-free path used to time detection and
the repair around the model. There is one hold in the product: ``pipeline.repair.RepairPipeline``
given this backend copies the reference into the failed pixels at full resolution (no resizing,
alignment, gating or feathering), wherever it runs (node, replay, evaluation, demo).
"""

from __future__ import annotations


class HoldBackend:
    """Selects the hold repair; ``input_size`` and ``patch_size`` give the patch grid it reports.

    The grid is the small preset's (14 x 25 patches of 16 px), the one synthetic failures are
    drawn on when no model is loaded.
    """

    name = "hold"

    def __init__(self, input_size: tuple[int, int] = (224, 400), patch_size: int = 16) -> None:
        self.input_size = input_size
        self.patch_size = patch_size
