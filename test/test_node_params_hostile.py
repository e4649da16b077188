"""``node-params --check`` on hostile files: one line each, bounded, every problem once."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from frame_restore_ros.cli.main import main
from frame_restore_ros.model import CheckpointError, SiamMCVAE, load_checkpoint, preset
from frame_restore_ros.model.checkpoint import check_tensor_header, save_checkpoint
from frame_restore_ros.node.parameters import PROBLEM_LIMIT, ParameterError, load_settings


def write_params(path: Path, body: str) -> Path:
    """Write a ``/**`` parameter file whose ros__parameters are ``body`` (indented lines)."""
    path.write_text("/**:\n  ros__parameters:\n" + body)
    return path


def check(path: Path, caplog: pytest.LogCaptureFixture) -> tuple[int, list[str]]:
    """Run ``node-params --check path``; return its exit code and the logged error lines."""
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        code = main(["node-params", "--check", str(path)])
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    return code, lines


def only_line(lines: list[str]) -> str:
    """Return the one logged message, asserting it is a single line."""
    assert len(lines) == 1, lines
    assert "\n" not in lines[0], lines[0]
    return lines[0]


# --- YAML aliases: refused as rcl refuses them, before anything expands -----------------------


def test_a_recursive_alias_is_one_line_naming_it(tmp_path, caplog):
    path = write_params(tmp_path / "p.yaml", "    feather_px: 24\n    x: &a {y: *a}\n")
    code, lines = check(path, caplog)
    text = only_line(lines)
    assert code == 2
    assert text.startswith(f"cannot read parameter file {path}: line 4, column 15: ")
    assert "recursive alias *a (inside &a at line 4, column 8)" in text
    with pytest.raises(ParameterError, match=r"recursive alias \*a"):
        load_settings(path)


def test_the_whole_section_as_its_own_alias_is_refused(tmp_path, caplog):
    path = tmp_path / "p.yaml"
    path.write_text("/**:\n  ros__parameters: &a\n    feather_px: 24\n    x: *a\n")
    code, lines = check(path, caplog)
    assert code == 2 and "line 4, column 8: recursive alias *a" in only_line(lines)


def test_a_billion_laughs_is_refused_without_expanding(tmp_path, caplog):
    rows = ["    a0: &a0 {" + ",".join(f"k{i}: 1" for i in range(10)) + "}\n"]
    for level in range(1, 6):  # 111,110 values once expanded
        refs = ",".join(f"k{i}: *a{level - 1}" for i in range(10))
        rows.append(f"    a{level}: &a{level} {{{refs}}}\n")
    path = write_params(tmp_path / "p.yaml", "".join(rows))
    code, lines = check(path, caplog)
    text = only_line(lines)
    assert code == 2 and len(text) < 400
    assert "line 4, column 18: alias *a0: ROS 2 parameter files cannot use YAML aliases" in text


def test_collections_nested_too_deep_are_refused(tmp_path, caplog):
    path = write_params(tmp_path / "p.yaml", "    x: " + "[" * 5000 + "]" * 5000 + "\n")
    code, lines = check(path, caplog)
    assert code == 2 and "collections nested deeper than 32 levels" in only_line(lines)


def test_many_problems_are_listed_up_to_a_limit(tmp_path, caplog):
    body = "".join(f"    unknown_{i}: 1\n" for i in range(500))
    path = write_params(tmp_path / "p.yaml", body)
    code, lines = check(path, caplog)
    text = only_line(lines)
    assert code == 2 and text.count("unknown parameter") == PROBLEM_LIMIT
    assert text.endswith(f"; ... and {500 - PROBLEM_LIMIT} more")
    names = ", ".join(f"'{i}x'" for i in range(300))
    code, lines = check(write_params(tmp_path / "p.yaml", f"    cameras: [{names}]\n"), caplog)
    assert code == 2 and len(only_line(lines)) < 3000


# --- YAML errors: one line with the file, line and column ------------------------------------


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            '    cameras: ["camera"\n    feather_px: 24\n',
            "line 4, column 5: expected ',' or ']', but got '<scalar>' "
            "(while parsing a flow sequence at line 3, column 14)",
        ),
        (
            "    feather_px: 24\n    feather_px: 999\n",
            'line 4, column 5: found duplicate key "feather_px" with value "999" '
            '(original value: "24") (while constructing a mapping at line 3, column 5)',
        ),
        (
            "    feather_px: !!python/object/apply:os.system ['true']\n",
            "line 3, column 17: could not determine a constructor for the tag",
        ),
        ("    feather_px: \x07\n", "line 3, column 17: unacceptable character #x0007"),
    ],
)
def test_yaml_errors_are_one_line_with_line_and_column(tmp_path, caplog, body, words):
    path = write_params(tmp_path / "p.yaml", body)
    code, lines = check(path, caplog)
    text = only_line(lines)
    assert code == 2 and text.startswith(f"cannot read parameter file {path}: ")
    assert words in text and "suppress" not in text and "<unicode string>" not in text


def test_a_file_that_is_not_utf8_names_the_line_and_column(tmp_path, caplog):
    path = tmp_path / "p.yaml"
    path.write_bytes(b"/**:\n  ros__parameters:\n    feather_px: \xff\xfe\n")
    code, lines = check(path, caplog)
    assert code == 2
    assert only_line(lines) == (
        f"cannot read parameter file {path}: line 3, column 17: not UTF-8 (byte 0xff)"
    )


# --- every problem once, the file named once ---------------------------------------------------


def test_an_unusable_camera_list_keeps_the_other_problems_once(tmp_path, caplog):
    path = write_params(tmp_path / "p.yaml", '    cameras: "camera"\n    detector: 5\n')
    code, lines = check(path, caplog)
    assert code == 2
    assert only_line(lines) == (
        f"{path}: cameras is of type string array, got str 'camera'; unknown parameter 'detector'"
    )
    body = "    cameras: [1, 2]\n    feather_px: -3\n    front:\n      transport: raw\n"
    code, lines = check(write_params(tmp_path / "p.yaml", body), caplog)
    assert only_line(lines) == (
        f"{path}: cameras is of type string array, got [1, 2]; feather_px must be >= 0, got -3"
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("/**:\n  feather_px: 24\n", "{path}: section /** has no ros__parameters mapping"),
        ("", "parameter file {path} must map node names to ros__parameters"),
        ("other:\n  ros__parameters: {}\n", "{path} has no section for node frame_restore"),
        ("/**: [unclosed\n", "cannot read parameter file {path}: line 2, column 1: "),
    ],
)
def test_the_file_is_named_once(tmp_path, caplog, text, words):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    code, lines = check(path, caplog)
    line = only_line(lines)
    assert code == 2 and line.startswith(words.format(path=path))
    assert line.count(str(path)) == 1, line


# --- the weights file: tensor names and shapes against the header's config ---------------------


def weights_variant(tmp_path: Path, name: str, change) -> Path:
    """Write a tiny SiamMCVAE checkpoint, then rewrite it with ``change(tensors)`` applied."""
    good = save_checkpoint(SiamMCVAE(preset("tiny")), tmp_path / "good.safetensors")
    with safe_open(str(good), framework="pt") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(good))
    change(tensors)
    path = tmp_path / name
    save_file(tensors, str(path), metadata=metadata)
    return path


def _cut(tensors: dict) -> None:
    name = next(n for n, t in tensors.items() if t.ndim == 2)
    tensors[name] = tensors[name][:3].clone()


def _drop(tensors: dict) -> None:
    tensors.pop(sorted(tensors)[0])


@pytest.mark.parametrize("change", [_cut, _drop], ids=["shape", "missing"])
def test_weights_whose_tensors_do_not_match_the_config_are_refused(tmp_path, caplog, change):
    weights = weights_variant(tmp_path, "w.safetensors", change)
    with pytest.raises(CheckpointError) as loading:
        load_checkpoint(weights)
    assert "tensors do not match config 'tiny'" in str(loading.value)
    with pytest.raises(CheckpointError) as header:
        check_tensor_header(weights)
    assert str(header.value) == str(loading.value)
    path = write_params(tmp_path / "p.yaml", f"    weights: '{weights}'\n")
    code, lines = check(path, caplog)
    assert code == 2 and only_line(lines) == f"{path}: weights: {loading.value}"


def _integer(tensors: dict) -> None:
    name = sorted(tensors)[0]
    tensors[name] = tensors[name].round().to(torch.int32)


def test_weights_with_an_integer_tensor_are_refused_from_the_header(tmp_path, caplog):
    weights = weights_variant(tmp_path, "w.safetensors", _integer)
    with pytest.raises(CheckpointError) as loading:
        load_checkpoint(weights)
    with pytest.raises(CheckpointError) as header:
        check_tensor_header(weights)
    assert "non-float values" in str(header.value) and str(header.value) == str(loading.value)
    path = write_params(tmp_path / "p.yaml", f"    weights: '{weights}'\n")
    code, lines = check(path, caplog)
    assert code == 2 and only_line(lines) == f"{path}: weights: {loading.value}"


def test_matching_weights_pass_the_header_check(tmp_path, caplog):
    weights = weights_variant(tmp_path, "w.safetensors", lambda tensors: None)
    assert check_tensor_header(weights).name == "tiny"
    path = write_params(tmp_path / "p.yaml", f"    weights: '{weights}'\n")
    assert check(path, caplog) == (0, [])


# --- files that are not regular: refused before they are opened (a pipe would block) --------


@contextmanager
def end_of_file_for_a_reader(fifo: Path) -> Iterator[None]:
    """Give whoever opens ``fifo`` for reading an end of file: a failing check cannot hang."""
    done = threading.Event()

    def open_and_close() -> None:
        while not done.wait(0.05):
            try:  # succeeds once a reader waits in open(); ENXIO before
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                continue
            return

    writer = threading.Thread(target=open_and_close, daemon=True)
    writer.start()
    try:
        yield
    finally:
        done.set()
        writer.join()


@pytest.mark.parametrize("kind", ["a named pipe", "a character device", "a directory"])
def test_a_parameter_file_that_is_not_a_regular_file_is_refused_unread(tmp_path, caplog, kind):
    path = {"a character device": Path(os.devnull), "a directory": tmp_path}.get(kind)
    if path is None:
        path = tmp_path / "p.yaml"
        os.mkfifo(path)
    with end_of_file_for_a_reader(path):
        code, lines = check(path, caplog)
    assert code == 2 and only_line(lines) == (
        f"--check: parameter file {path} exists but is not a regular file (it is {kind})"
    )


def test_a_missing_parameter_file_keeps_its_message(tmp_path, caplog):
    path = tmp_path / "missing.yaml"
    code, lines = check(path, caplog)
    assert code == 2
    assert only_line(lines) == f"cannot read parameter file {path}: No such file or directory"


def test_weights_that_are_a_named_pipe_are_refused_unread(tmp_path, caplog):
    fifo = tmp_path / "w.safetensors"
    os.mkfifo(fifo)
    path = write_params(tmp_path / "p.yaml", f"    weights: '{fifo}'\n")
    with end_of_file_for_a_reader(fifo):
        code, lines = check(path, caplog)
    assert code == 2 and only_line(lines) == (
        f"{path}: weights: {fifo}: not a regular file (it is a named pipe)"
    )
