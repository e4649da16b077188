"""Test doubles and a short way to call the repair pipeline with explicit options."""

from __future__ import annotations

import numpy as np

from frame_restore_ros.pipeline.repair import RepairOptions, RepairPipeline


class CopyBackend:
    """A "model" that returns the reference at its input size in every failed patch.

    Unlike the hold baseline (``backends.hold``), it runs through every stage of the repair
    pipeline (resize, gate, feathering, upsampling, detail transfer), so those stages can be
    checked against a known prediction.
    """

    name = "copy"

    def __init__(self, input_size: tuple[int, int] = (224, 400), patch_size: int = 16) -> None:
        self.input_size = input_size
        self.patch_size = patch_size

    def infer(
        self, reference: np.ndarray, damaged: np.ndarray, patch_mask: np.ndarray
    ) -> np.ndarray:
        """(1, 3, h, w) x2 and (1, h/P, w/P) -> (1, 3, h, w): reference in failed patches."""
        pixels = np.repeat(np.repeat(patch_mask > 0.5, self.patch_size, 1), self.patch_size, 2)
        return np.where(pixels[:, None], reference, damaged)


class FailingBackend:
    """A model whose every inference raises, as a lost GPU or a frame its grid cannot take does."""

    name = "failing"
    input_size, patch_size = (32, 48), 8

    def infer(self, *args: object) -> np.ndarray:
        raise RuntimeError("CUDA error: device lost")


def repair(
    backend: object,
    reference: np.ndarray,
    damaged: np.ndarray,
    failed: np.ndarray,
    feather_px: int = 0,
    uncertainty: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Repair with the bare model (no alignment, gate, detail or thin routing)."""
    options = RepairOptions(
        feather_px=feather_px,
        detail_transfer=False,
        change_tau=None,
        align="none",
        uncertainty=uncertainty,
        thin_inpaint_px=0,
    )
    result = RepairPipeline(backend, options).repair(reference, damaged, failed)
    return result.frame, result.uncertainty


#: What a child's read may take, timed from after its imports (``signal.alarm``).
READ_ALARM_S = 10


def stdout_in_child(code: str, path: object, what: str, timeout: float = 180.0) -> str:
    """Run python ``code`` with ``path`` as argv[1] in a child; its stdout, or fail the test.

    Opening a pipe waits for a writer while holding the GIL: a check that must not block is
    run in a child (``what`` names the reader in the failure). ``code`` arms
    ``signal.alarm(READ_ALARM_S)`` after its imports, so that only the read is timed (importing
    torch took 10 s on a loaded core); ``timeout`` bounds the whole child.
    """
    import signal
    import subprocess
    import sys

    import pytest

    try:
        done = subprocess.run(
            [sys.executable, "-c", code, str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what}: the child took over {timeout} s (imports included)")
    if done.returncode == -signal.SIGALRM:
        pytest.fail(f"{what} blocked on a pipe (over {READ_ALARM_S} s after the imports)")
    return done.stdout + done.stderr


def unusable_file_cases(tmp_path) -> dict[str, str]:
    """{path: what file_checks.file_problem says of it} for files no loader may open.

    A character device, a folder, a named pipe, a broken link, missing files (also below a
    folder that is no folder); created under ``tmp_path``.
    """
    import os

    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "link.png").symlink_to(tmp_path / "gone.png")
    return {
        "/dev/zero": "exists but is not a regular file (it is a character device)",
        str(tmp_path / "dir.png"): "exists but is not a regular file (it is a directory)",
        str(tmp_path / "pipe.png"): "exists but is not a regular file (it is a named pipe)",
        str(tmp_path / "link.png"): "is a symbolic link to a missing file",
        str(tmp_path / "none.png"): "does not exist",
        str(tmp_path / "dir.png" / "x" / "y.png"): "does not exist",
    }
