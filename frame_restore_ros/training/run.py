"""Turn TrainSettings into clips, samplers and a training run (``frame-restore train``)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from frame_restore_ros.model.checkpoint import check_writable
from frame_restore_ros.training.loop import state_path, train
from frame_restore_ros.training.pairs import Clip, PairSampler, load_clips, split_clip
from frame_restore_ros.training.resume import check_resume, file_key, source_key
from frame_restore_ros.training.settings import TrainSettings

log = logging.getLogger(__name__)


def gather_clips(settings: TrainSettings, input_size: tuple[int, int]) -> tuple[list, list]:
    """(training clips, validation clips); validation clips are never trained on."""
    train_clips: list[Clip] = []
    val_clips: list[Clip] = []
    for source in settings.data:
        train_clips += load_clips(source, input_size, settings.max_frames)
    for source in settings.val_data:
        val_clips += load_clips(source, input_size, settings.max_frames)
    for source in settings.split:
        for clip in load_clips(source, input_size, settings.max_frames):
            head, tail = split_clip(clip, settings.split_fraction)
            train_clips.append(head)
            val_clips.append(tail)
    return train_clips, val_clips


def check_not_overwritten(settings: TrainSettings) -> None:
    """Raise ValueError before a run would destroy what it must not (before any data loads).

    A new run (no ``resume``) would replace a resumable state left by an earlier run; and the
    weight file may not be one of the run's inputs (a clip, the initial weights).
    """
    output = Path(settings.output).resolve()
    state = Path(settings.output + ".state")
    if not settings.resume and state.exists():
        raise ValueError(
            f"{state} holds an earlier run's resumable state: pass --resume to continue it, or "
            "remove it to start over"
        )
    sources = [*settings.data, *settings.val_data, *settings.split, settings.init_weights]
    for source in filter(None, sources):
        if file_key(source) == str(output):
            raise ValueError(f"output {settings.output} is also an input ({source})")


def overlaps(settings: TrainSettings) -> list[str]:
    """Return one line per file that both trains and validates (no time split between).

    Sources are compared by the file they read (``file_key``: ``sample:bikes.mp4`` and the
    clip's path are one file); a line names each spelling used (``source_key``).
    """
    names: dict[str, list[str]] = {}
    spellings: dict[str, list[str]] = {}
    for name in ("data", "val_data", "split"):
        for source in getattr(settings, name):
            key = file_key(source)
            names.setdefault(key, []).append(name)
            if source_key(source) not in spellings.setdefault(key, []):
                spellings[key].append(source_key(source))
    lines = []
    for key, used in names.items():
        both = "data" in used and ("val_data" in used or "split" in used)
        if both or {"val_data", "split"} <= set(used):
            lines.append(f"{' = '.join(spellings[key])} ({' and '.join(sorted(set(used)))})")
    return lines


def warn_overlap(settings: TrainSettings) -> None:
    """Warn when validation scores frames the model trains on: its best weights mean less."""
    lines = overlaps(settings)
    if lines:
        log.warning(
            "training and validation data overlap: %s; validation then scores frames the "
            "model trains on (use split for a time split, or other val_data)",
            ", ".join(lines),
        )


def run_training(settings: TrainSettings) -> Path:
    """Load the data, train, and return the weight file path.

    The weight and state files are checked for writing first, and with ``resume`` the state's
    header against the settings: a bad ``output`` or state fails before any data loads.
    """
    check_writable(Path(settings.output))
    check_writable(Path(settings.output + ".state"), "training state")
    check_not_overwritten(settings)
    if settings.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {settings.device}: this torch sees no CUDA device")
    if settings.resume:
        check_resume(settings, state_path(Path(settings.output)))
    warn_overlap(settings)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    model_cfg = settings.model_config()
    train_clips, val_clips = gather_clips(settings, model_cfg.input_size)
    describe = ", ".join(f"{c.name} ({len(c.frames)} frames)" for c in train_clips)
    log.info("training clips: %s", describe)
    log.info("validation clips: %s", ", ".join(c.name for c in val_clips) or "none")
    common = {
        "input_size": model_cfg.input_size,
        "patch_size": model_cfg.patch_size,
        "max_gap": settings.max_gap,
    }
    sampler = PairSampler(
        train_clips,
        seed=settings.seed,
        pseudo_fraction=settings.pseudo_fraction,
        structured_fraction=settings.structured_fraction,
        **common,
    )
    # Validation: real pairs only, half of the batches structured, fixed by the seed.
    val_sampler = (
        PairSampler(val_clips, seed=settings.seed + 1, structured_fraction=0.5, **common)
        if val_clips
        else None
    )
    clips = {
        "train_clips": [c.name for c in train_clips],
        "val_clips": [c.name for c in val_clips],
    }
    train(settings, sampler, val_sampler, notes=clips)  # logs what it wrote
    return Path(settings.output)
