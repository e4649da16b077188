"""Hostile `frame-restore bench` inputs (review notes/hostile_train.md items 6, 14-17, 23-25).

Counts, rates and sizes out of range are argument errors naming the option (exit 2) instead of
tracebacks, hangs or impossible numbers; a --json path that cannot be written is refused before
the work; bench backends with no backend left exits 2; end-to-end times the hold baseline.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from cli_checks import argument_error

from frame_restore_ros.bench import backend_bench, detection_bench, model_bench, node_bench
from frame_restore_ros.cli import bench
from frame_restore_ros.cli.main import build_parser, main


@pytest.fixture
def refuse(monkeypatch):
    """Make the named module functions fail the test if a command gets as far as the work."""

    def patch(module: object, *names: str) -> None:
        def fail(*args, **kwargs):
            raise AssertionError("the check came after the work started")

        for name in names:
            monkeypatch.setattr(module, name, fail)

    return patch


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["backends", "--repeats", "0"], "argument --repeats: must be an integer >= 1, got 0"),
        (["backends", "--cameras", "0"], "argument --cameras: must be an integer >= 1, got 0"),
        (["backends", "--cameras", "-2"], "argument --cameras: must be an integer >= 1, got -2"),
        (["backends", "--uncertainty", "1"], "argument --uncertainty: must be 0 (none) or >= 2"),
        (["backends", "--uncertainty", "-1"], "argument --uncertainty: must be an integer >= 0"),
        (["end-to-end", "--runs", "0"], "argument --runs: must be an integer >= 1, got 0"),
        (["end-to-end", "--runs", "-1"], "argument --runs: must be an integer >= 1, got -1"),
        (["model", "--repeats", "0"], "argument --repeats: must be an integer >= 1, got 0"),
        (["pipeline", "--repeats", "1"], "argument --repeats: must be an integer >= 2, got 1"),
        (["pipeline", "--repeats", "0"], "argument --repeats: must be an integer >= 2, got 0"),
        (["node", "--repeats", "1"], "argument --repeats: must be an integer >= 2, got 1"),
        (["node", "--repeats", "-1"], "argument --repeats: must be an integer >= 2, got -1"),
        (["live", "--cameras", "0"], "argument --cameras: must be an integer >= 1, got 0"),
        (["live", "--cameras", "1", "-1"], "argument --cameras: must be an integer >= 1, got -1"),
        (["live", "--rates", "0"], "argument --rates: must be a finite number > 0, got 0"),
        (["live", "--rates", "-5"], "argument --rates: must be a finite number > 0, got -5"),
        (["live", "--rates", "nan"], "argument --rates: must be a finite number > 0, got nan"),
        (["live", "--seconds", "0"], "argument --seconds: must be a finite number > 0, got 0"),
        (["live", "--seconds", "-1"], "argument --seconds: must be a finite number > 0, got -1"),
        (["live", "--qos", "bogus"], "argument --qos: must be one of the node's qos.reliability"),
        (["live", "--sizes", "1x1"], "argument --sizes: WIDTHxHEIGHT at least 2x2"),
        (["live", "--sizes", "9000x10"], "argument --sizes: WIDTHxHEIGHT at most 8192 px a side"),
        (["live", "--sizes", "8000x8000"], "at most 8192 px a side and 35.4 Mpx"),
        (["detection", "--speed-frames", "0"], "argument --speed-frames: must be an integer >= 1"),
        (["detection", "--max-frames", "5"], "argument --max-frames: must be an integer >= 6"),
    ],
)
def test_out_of_range_bench_options_are_argument_errors(capsys, args, words):
    assert words in argument_error(capsys, ["bench", *args])


def test_live_with_no_camera_is_refused_by_the_parser_instead_of_hanging():
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["bench", "live", "--cameras", "0"])
    assert exit_.value.code == 2


@pytest.mark.parametrize(
    ("args", "name", "value"),
    [
        (["pipeline", "--repeats", "2"], "repeats", 2),
        (["node", "--repeats", "2"], "repeats", 2),
        (["backends", "--uncertainty", "0"], "uncertainty", 0),
        (["backends", "--uncertainty", "2"], "uncertainty", 2),
        (["live", "--rates", "0.5"], "rates", [0.5]),
        (["live", "--qos", "reliable"], "qos", ["reliable"]),
        (["live", "--sizes", "2x2", "8192x4320"], "sizes", [(2, 2), (8192, 4320)]),
        (["detection", "--max-frames", "6", "--speed-frames", "1"], "speed_frames", 1),
    ],
)
def test_bench_options_at_their_bounds_are_accepted(args, name, value):
    assert getattr(build_parser().parse_args(["bench", *args]), name) == value


def test_the_cli_bounds_are_the_libraries_and_the_help_states_them(capsys):
    from frame_restore_ros.codec.image_codec import MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE
    from frame_restore_ros.detection.detector import MIN_FRAME_SIDE

    assert bench.PIPELINE_MIN_REPEATS == model_bench.PIPELINE_MIN_REPEATS
    assert bench.NODE_MIN_REPEATS == node_bench.NODE_MIN_FRAMES
    assert bench.DETECTION_WARMUP_FRAMES == detection_bench.WARMUP_FRAMES
    assert f"at least {MIN_FRAME_SIDE}x{MIN_FRAME_SIDE}" in bench.NODE_SIZE_BOUNDS
    assert f"{MAX_IMAGE_SIDE} px a side" in bench.NODE_SIZE_BOUNDS
    assert f"{MAX_IMAGE_PIXELS / 1e6:.1f} Mpx" in bench.NODE_SIZE_BOUNDS
    with pytest.raises(SystemExit):
        main(["bench", "pipeline", "--help"])
    assert "at least 2" in " ".join(capsys.readouterr().out.split())
    with pytest.raises(SystemExit):
        main(["bench", "detection", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "follow 5 warm-up frames" in help_text and "--max-frames minus 5" in help_text


@pytest.mark.parametrize(
    ("size", "words"),
    [
        ("1x1", "--size must be WIDTHxHEIGHT at least 2x2 (the node's smallest frame), got '1x1'"),
        ("100000x100000", "--size must be WIDTHxHEIGHT at most 8192 px a side"),
    ],
)
def test_node_bench_refuses_sizes_the_node_refuses_before_the_work(caplog, refuse, size, words):
    refuse(node_bench, "run_node_overhead_benchmark")
    assert main(["bench", "node", "--size", size, "--no-progress"]) == 2
    assert words in caplog.text and "Traceback" not in caplog.text


@pytest.mark.parametrize(
    ("mode", "module", "work"),
    [
        (["model"], model_bench, "run_model_benchmark"),
        (["pipeline"], model_bench, "run_pipeline_benchmark"),
        (["backends"], backend_bench, "run_backend_benchmark"),
        (["end-to-end"], backend_bench, "end_to_end_runs"),
        (["node"], node_bench, "run_node_overhead_benchmark"),
        (["detection", "--data", "sample:bikes.mp4"], detection_bench, "run_detection_benchmark"),
        (["live"], None, None),
    ],
)
def test_an_unwritable_json_path_is_refused_before_the_work(
    tmp_path, caplog, refuse, mode, module, work
):
    if module is not None:
        refuse(module, work)
    if mode[0] == "detection":  # reading the clips is the first of its work
        from frame_restore_ros.cli import eval_detection

        refuse(eval_detection, "open_clips")
    if mode[0] == "live":  # its measurements run through run_matrix
        from frame_restore_ros.bench import live_node

        refuse(live_node, "run_matrix", "find_max_rate")
    afile = tmp_path / "afile"
    afile.write_text("file")
    assert main(["bench", *mode, "--json", str(afile / "x.json")]) == 2
    assert f"cannot write --json {afile / 'x.json'}: {afile} is a file" in caplog.text
    assert "Traceback" not in caplog.text


def test_a_json_path_that_is_a_folder_is_refused_before_the_work(tmp_path, caplog, refuse):
    refuse(model_bench, "run_model_benchmark")
    assert main(["bench", "model", "--json", str(tmp_path)]) == 2
    assert f"cannot write --json {tmp_path}: it is a folder" in caplog.text


@pytest.mark.parametrize(
    ("names", "words"),
    [
        (["bogus"], "no backend to time: bogus: unknown backend 'bogus'"),
        (["hold"], "no backend to time: hold: it runs no model"),
    ],
)
def test_backends_bench_with_every_backend_skipped_exits_2(caplog, refuse, names, words):
    refuse(backend_bench, "bench_backend")
    args = ["bench", "backends", "--backends", *names, "--presets", "tiny", "--repeats", "1"]
    assert main(args) == 2
    assert words in caplog.text and "Traceback" not in caplog.text


def test_backend_benchmark_refuses_counts_below_one():
    with pytest.raises(ValueError, match="repeats and cameras must be >= 1, got 1 and 0"):
        backend_bench.run_backend_benchmark(["tiny"], ["torch-cpu"], 1, 0, 0)


def test_end_to_end_times_the_hold_baseline_without_alignment():
    record = backend_bench.end_to_end_runs(
        ["hold"], runs=1, frames=10, passes=1, progress=False, failure="block"
    )
    assert list(record["summary"]) == ["hold align=none"]
    (row,) = record["runs"][0]
    assert row["frames"] == row["damaged_frames"] > 0  # every damaged frame took the repair
    assert row["infer_p50_ms"] == 0.0 and row["detect_p50_ms"] > 0


def test_end_to_end_checks_every_backend_before_timing_one(refuse):
    refuse(backend_bench, "end_to_end")
    with pytest.raises(ValueError, match="unknown backend 'bogus'; choose from hold, auto"):
        backend_bench.end_to_end_runs(["hold", "bogus"], runs=1, progress=False)
    with pytest.raises(ValueError, match="runs must be >= 1, got 0"):
        backend_bench.end_to_end_runs(["hold"], runs=0, progress=False)


def test_library_minima_are_checked_before_the_work(refuse):
    with pytest.raises(ValueError, match="repeats must be >= 2"):
        model_bench.run_pipeline_benchmark(1)
    with pytest.raises(ValueError, match="repeats must be >= 1, got 0"):
        model_bench.run_model_benchmark(["tiny"], 0, 0.5)
    with pytest.raises(ValueError, match="frame size must be at least 2x2"):
        node_bench.run_node_overhead_benchmark(1, 1, progress=False)
    with pytest.raises(ValueError, match="frames must be >= 2, got 1"):
        node_bench.run_node_overhead_benchmark(64, 48, frames=1, progress=False)


def test_detection_bench_names_a_speed_clip_too_short_to_time():
    frames = [np.zeros((8, 8, 3), np.uint8)] * 3
    with pytest.raises(ValueError, match="speed clip short gave 3 frames; timing needs more"):
        detection_bench.run_detection_benchmark({"short": lambda: frames}, "short", 80)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"cameras": 0}, "cameras and size must be >= 1"),
        ({"rate_hz": 0.0}, "rate must be a finite number > 0 Hz, got 0.0"),
        ({"rate_hz": -5.0}, "rate must be a finite number > 0 Hz, got -5.0"),
        ({"seconds": math.nan}, "seconds must be a finite number > 0, got nan"),
    ],
)
def test_a_live_configuration_that_would_hang_or_crash_is_refused(fields, words):
    from frame_restore_ros.bench.live_node import LiveConfig

    config = {"cameras": 1, "width": 64, "height": 48, "rate_hz": 10.0, "reliability": "reliable"}
    with pytest.raises(ValueError, match=words):
        LiveConfig(**(config | fields))
