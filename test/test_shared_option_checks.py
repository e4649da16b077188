"""Checks shared by every reader and command: file names the file system refuses, non-regular
files, --uncertainty K and --json, each one clear line (exit 2) before any work.

Follow-ups of the hostile-input reviews: a too-long name raised a raw OSError from the weight
reader and the engine-cache check; a device or folder as a defect mask was called missing;
replay and export checked --uncertainty inside the command without naming it; every --json
is checked before the work.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest
from fakes import READ_ALARM_S, stdout_in_child, unusable_file_cases

from frame_restore_ros.backends.onnx_cache import cache_dir_problem
from frame_restore_ros.cli.main import build_parser, main
from frame_restore_ros.detection.defect_mask import DefectMaskError, load_defect_mask
from frame_restore_ros.media.file_checks import file_problem, shown_path
from frame_restore_ros.model.checkpoint import (
    CheckpointError,
    check_architecture,
    load_checkpoint,
    read_metadata,
)

LONG = "/tmp/" + "w" * 10_000  # "File name too long" (ENAMETOOLONG)
LONG_PART = "/tmp/" + "w" * 300 + "/x"  # one component past NAME_MAX
SHORTENED = "... (10005 chars)"


def exit_code(args: list[str]) -> int:
    """Run ``args``; return the exit code, whether argparse or the handler refused them."""
    try:
        return main(args)
    except SystemExit as exc:
        return int(exc.code)


# --- 1. weight files ----------------------------------------------------------------------

# (path, what the one-line error says): paths the file system refuses as weights.
REFUSED_WEIGHT_PATHS = [
    (LONG, f"{SHORTENED}: cannot be read: File name too long"),
    (LONG_PART, ": cannot be read: File name too long"),
    ("/tmp/a\0b.safetensors", "cannot be read: a NUL character in the name"),
    ("/dev/zero", "/dev/zero: not a regular file (it is a character device)"),
]


@pytest.mark.parametrize(
    "read", [read_metadata, load_checkpoint, lambda p: check_architecture(p, "siammcvae")]
)
@pytest.mark.parametrize(
    ("path", "words"),
    REFUSED_WEIGHT_PATHS,
)
def test_a_weight_path_the_file_system_refuses_is_a_checkpoint_error(read, path, words):
    with pytest.raises(CheckpointError) as error:
        read(path)
    assert words in str(error.value)
    assert len(str(error.value)) < 400


def test_a_weight_folder_is_still_named_a_folder(tmp_path):
    with pytest.raises(CheckpointError, match="is a directory, not a weight file"):
        read_metadata(tmp_path)


def test_a_pipe_is_never_opened_as_weights_or_defect_mask(tmp_path):
    """Opening a pipe waits for a writer (holding the GIL): read in a child with a timeout."""
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    code = (
        "import signal, sys\n"
        "from frame_restore_ros.model.checkpoint import CheckpointError, load_checkpoint\n"
        "from frame_restore_ros.detection.defect_mask import DefectMaskError, load_defect_mask\n"
        f"signal.alarm({READ_ALARM_S})\n"
        "for load in (load_checkpoint, load_defect_mask):\n"
        "    try:\n"
        "        load(sys.argv[1])\n"
        "    except (CheckpointError, DefectMaskError) as exc:\n"
        "        print(exc)\n"
    )
    out = stdout_in_child(code, fifo, "a reader")
    assert f"{fifo}: not a regular file (it is a named pipe)" in out
    assert f"defect mask {fifo} exists but is not a regular file (it is a named pipe)" in out


@pytest.mark.parametrize(
    "command",
    [
        ["info"],
        ["export", "-o", "{tmp}/m.onnx"],
        ["replay", "{tmp}/no_bag", "{tmp}/out"],
        ["evaluate", "-o", "{tmp}/e", "--kinds", "--no-mae"],
        ["demo", "-o", "{tmp}/out"],
    ],
)
def test_every_command_says_a_too_long_weights_name_in_one_short_line(tmp_path, caplog, command):
    args = [part.format(tmp=tmp_path) for part in command]
    assert main([*args, "--weights", LONG]) == 2
    assert f"{SHORTENED}: cannot be read: File name too long" in caplog.text
    assert len(caplog.text) < 1000 and "Traceback" not in caplog.text
    assert not (tmp_path / "out").exists() and not (tmp_path / "e").exists()


@pytest.mark.parametrize("backend", ["hold", "torch-cpu"])
@pytest.mark.parametrize(
    ("path", "words"),
    REFUSED_WEIGHT_PATHS,
)
def test_load_backend_says_a_weights_path_it_cannot_use_in_one_line(backend, path, words):
    """load_backend checks with check_weight_file: no raw OSError holding the whole name."""
    from frame_restore_ros.backends.selection import load_backend

    with pytest.raises(CheckpointError) as error:
        load_backend(backend, path)
    assert words in str(error.value) and len(str(error.value)) < 400


def test_load_backend_still_calls_a_folder_a_folder_and_a_missing_file_missing(tmp_path):
    from frame_restore_ros.backends.selection import load_backend

    folder = tmp_path / ("d" * 250)
    folder.mkdir()
    with pytest.raises(IsADirectoryError) as error:
        load_backend("hold", folder)
    shown = f"... ({len(str(folder))} chars): is a directory, not a weight file"
    assert str(error.value).endswith(shown)
    with pytest.raises(FileNotFoundError) as error:
        load_backend("hold", folder / ("w" * 250))  # long, but a name the file system takes
    assert str(error.value).endswith(" chars) does not exist") and len(str(error.value)) < 400


# --- 2. the engine cache folder -------------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "words"),
    [
        (LONG, f"cannot use /tmp/{'w' * 195}{SHORTENED}: File name too long"),
        (LONG_PART, "(307 chars): File name too long"),
        ("/tmp/a\0b", "a NUL character in the name"),
    ],
)
def test_a_cache_folder_the_file_system_refuses_is_a_reason(folder, words):
    problem = cache_dir_problem(Path(folder))
    assert problem is not None and words in problem and len(problem) < 400


# --- 3. defect masks: what is wrong, said precisely -------------------------------------------


def test_a_defect_mask_that_is_no_regular_file_says_what_it_is(tmp_path):
    for path, words in unusable_file_cases(tmp_path).items():
        with pytest.raises(DefectMaskError) as error:
            load_defect_mask(path)
        assert str(error.value) == f"defect mask {path} {words}"
    with pytest.raises(DefectMaskError) as error:
        load_defect_mask(LONG)
    assert str(error.value).endswith(f"{SHORTENED} cannot be used: File name too long")


def test_file_problem_lives_below_detection_and_node_reuses_it():
    from frame_restore_ros.media import file_checks
    from frame_restore_ros.node import parameters

    assert parameters.file_problem is file_checks.file_problem
    assert parameters.echo is file_checks.echo


def test_replay_names_a_defect_mask_folder_as_a_folder(tmp_path, caplog):
    (tmp_path / "mask.png").mkdir()
    args = ["replay", str(tmp_path / "bag"), str(tmp_path / "out")]
    assert main([*args, "--defect-mask", str(tmp_path / "mask.png")]) == 2
    assert "is not a regular file (it is a directory)" in caplog.text


# --- 4. --uncertainty and --json ---------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [["replay", "in", "out"], ["export", "-o", "m.onnx"], ["bench", "backends"]]
)
@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("1", "argument --uncertainty: must be 0 (none) or >= 2 (a std needs two samples)"),
        ("-1", "argument --uncertainty: must be an integer >= 0, got -1"),
        ("two", "argument --uncertainty: must be an integer >= 0, got 'two'"),
    ],
)
def test_uncertainty_is_checked_by_the_parser_naming_the_option(capsys, command, value, words):
    with pytest.raises(SystemExit) as exited:
        main([*command, "--uncertainty", value])
    assert exited.value.code == 2
    assert words in capsys.readouterr().err


def test_the_shared_parsers_live_in_common():
    from frame_restore_ros.cli.common import check_json, positive_number, uncertainty_samples

    assert uncertainty_samples("0") == 0 and uncertainty_samples("2") == 2
    assert positive_number("0.5") == 0.5
    for bad in ("0", "-1", "nan", "inf", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            positive_number(bad)
    check_json(None)


def json_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list:
    """Return every command path (e.g. ("bench", "model")) whose parser has --json."""
    found = []
    if any("--json" in action.option_strings for action in parser._actions):
        found.append(prefix)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.extend(json_commands(sub, (*prefix, name)))
    return found


# What each --json command needs besides --json to get past its parser.
JSON_COMMAND_ARGS = {
    ("bench", "replay"): ["{tmp}/no_bag"],
    ("bench", "detection"): ["--data", "sample:bikes.mp4"],
    ("eval-detection",): ["--data", "sample:bikes.mp4", "-o", "{tmp}/report"],
}


@pytest.fixture
def no_work(monkeypatch):
    """Make every --json command's work fail the test if it starts."""
    from frame_restore_ros.bench import (
        backend_bench,
        detection_bench,
        live_node,
        model_bench,
        node_bench,
        replay_throughput,
    )
    from frame_restore_ros.cli import eval_detection

    def fail(*args, **kwargs):
        raise AssertionError("the --json check came after the work started")

    for module, names in (
        (model_bench, ("run_model_benchmark", "run_pipeline_benchmark")),
        (backend_bench, ("run_backend_benchmark", "end_to_end_runs")),
        (node_bench, ("run_node_overhead_benchmark",)),
        (detection_bench, ("run_detection_benchmark",)),
        (live_node, ("run_matrix", "find_max_rate")),
        (replay_throughput, ("replay_throughput",)),
        (eval_detection, ("open_clips", "expand_sources")),
    ):
        for name in names:
            monkeypatch.setattr(module, name, fail)


def test_every_json_command_is_known_here():
    found = set(json_commands(build_parser()))
    bench_modes = {"model", "pipeline", "backends", "end-to-end", "replay", "node", "live"}
    expected = {("eval-detection",), *(("bench", m) for m in bench_modes | {"detection"})}
    assert found == expected, "a new --json command: add it to the checks below"


@pytest.mark.parametrize("command", json_commands(build_parser()), ids=" ".join)
def test_every_json_is_checked_before_the_work(tmp_path, caplog, no_work, command):
    afile = tmp_path / "afile"
    afile.write_text("file")
    extra = [part.format(tmp=tmp_path) for part in JSON_COMMAND_ARGS.get(command, [])]
    target = afile / "x.json"
    assert exit_code([*command, *extra, "--json", str(target)]) == 2
    assert f"cannot write --json {target}: {afile} is a file" in caplog.text
    caplog.clear()
    assert exit_code([*command, *extra, "--json", LONG]) == 2
    assert f"cannot write --json /tmp/{'w' * 195}{SHORTENED}: File name too long" in caplog.text
    assert len(caplog.text) < 1000 and "Traceback" not in caplog.text
    assert not (tmp_path / "report").exists()


def test_a_writable_json_passes_the_check(tmp_path):
    from frame_restore_ros.cli.common import check_json

    check_json(tmp_path / "new" / "x.json")
    with pytest.raises(ValueError, match="it is a folder"):
        check_json(tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing created


@pytest.mark.parametrize(
    "name", ["/tmp/a\0b", "/tmp/line\nbreak", "/tmp/\x1b[31mred", "/tmp/tab\tx"]
)
def test_a_path_with_control_characters_is_shown_escaped_on_one_line(name):
    """A NUL, a newline or a terminal escape in a path is shown as its escape, never raw."""
    shown = shown_path(name)
    assert shown.isprintable() and repr(name)[1:-1] == shown
    problem = file_problem(name, "weights")
    assert problem is not None and problem.isprintable() and shown in problem
    assert shown_path("/tmp/plain é name") == "/tmp/plain é name"  # printable text as it is
