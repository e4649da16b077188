"""The evaluation harness: FSIM sanity, methods touch only failed pixels, outputs and the CLI."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from frame_restore_ros.cli.main import main
from frame_restore_ros.evaluation.fsim import FsimReference, fsim
from frame_restore_ros.evaluation.harness import (
    Condition,
    EvalConfig,
    conditions,
    evaluate_clips,
    frame_indices,
    summarize,
)
from frame_restore_ros.evaluation.methods import hold, model_method, navier_stokes, telea
from frame_restore_ros.evaluation.report import markdown_table, write_outputs
from frame_restore_ros.model import SiamMCVAE, build_model, preset, save_checkpoint


@pytest.fixture(scope="module")
def clip(bikes_frames) -> list[np.ndarray]:
    """12 real frames at half size (136x320)."""
    return [np.ascontiguousarray(f[::2, ::2]) for f in bikes_frames[:12]]


def test_fsim_matches_piq_reference_values(bikes_frames):
    """Values computed with piq 0.8.0 ``piq.fsim(x, y, data_range=255)`` in float64."""
    import cv2

    truth = bikes_frames[30]
    cases = {
        (28, False): 0.6465849136,
        (22, False): 0.6513034259,
        (39, False): 0.6965041501973841,
        (26, True): 0.6510471988055718,  # 544x1280: piq's 2x average-pool downsampling
    }
    for (index, enlarge), expected in cases.items():
        other = bikes_frames[index]
        if enlarge:
            other, reference = (
                cv2.resize(x, (1280, 544), interpolation=cv2.INTER_LINEAR) for x in (other, truth)
            )
        else:
            reference = truth
        assert fsim(other, reference) == pytest.approx(expected, abs=2e-6), index
    blurred = cv2.GaussianBlur(truth, (0, 0), 2)
    assert fsim(blurred, truth) == pytest.approx(0.9457353242, abs=2e-6)


def test_fsim_is_one_for_identical_images_symmetric_and_falls_with_noise(clip):
    truth = clip[5]
    assert fsim(truth, truth) == pytest.approx(1.0)
    assert fsim(clip[3], truth) == pytest.approx(fsim(truth, clip[3]), abs=1e-9)
    rng = np.random.default_rng(0)
    scores = [
        fsim(np.clip(truth + rng.normal(0, s, truth.shape), 0, 255).astype(np.uint8), truth)
        for s in (2, 8, 20, 50)
    ]
    assert scores == sorted(scores, reverse=True) and 0 <= scores[-1] < scores[0] <= 1
    region = np.zeros(truth.shape[:2], bool)
    region[40:100, 100:200] = True
    damaged = truth.copy()
    damaged[region] = 0
    whole, part = FsimReference(truth).score(damaged, region)
    assert part < whole < 1.0  # the damage is all inside the region


def black_block_pair(clip) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reference frame 4, frame 5 with a black block, the block's (H, W) bool mask)."""
    reference, truth = clip[4], clip[5]
    failed = np.zeros(truth.shape[:2], bool)
    failed[30:60, 50:120] = True
    damaged = truth.copy()
    damaged[failed] = 0
    return reference, damaged, failed


def test_baselines_change_only_failed_pixels_and_hold_copies_the_reference(clip):
    reference, damaged, failed = black_block_pair(clip)
    for method in (hold, telea, navier_stokes):
        out = method(reference, damaged, failed)
        np.testing.assert_array_equal(out[~failed], damaged[~failed])
    np.testing.assert_array_equal(hold(reference, damaged, failed)[failed], reference[failed])
    painted = telea(reference, damaged, failed)
    assert painted[failed].mean() > 20  # filled from the surroundings, not left black


def test_hold_at_model_resolution_is_the_reference_through_the_model_size(clip):
    import cv2

    from frame_restore_ros.evaluation.methods import build_methods, hold_at_model_resolution
    from frame_restore_ros.media.resize import downscale

    reference, damaged, failed = black_block_pair(clip)
    out = hold_at_model_resolution((32, 48))(reference, damaged, failed)
    np.testing.assert_array_equal(out[~failed], damaged[~failed])
    small = downscale(reference, (32, 48))  # the pipeline's anti-aliased downscale
    expected = cv2.resize(small, reference.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(out[failed], expected[failed])
    assert not np.array_equal(out[failed], reference[failed]), "the detail is lost"
    methods = build_methods(None, None, model_only=True)
    assert {"siammcvae_model_only", "siammcvae_model_fullres", "hold_model_resolution"} <= set(
        methods
    )
    # The full-resolution reading adds exactly the reference's detail to the bare prediction.
    bare = methods["siammcvae_model_only"](reference, damaged, failed)
    fullres = methods["siammcvae_model_fullres"](reference, damaged, failed)
    low = methods["hold_model_resolution"](reference, damaged, failed)
    detail = reference.astype(int) - low.astype(int)
    expected = np.clip(bare.astype(int) + detail, 0, 255)
    assert np.abs(fullres[failed].astype(int) - expected[failed]).max() <= 1


def test_conditions_and_frame_choice():
    cfg = EvalConfig(ratios=(0.5, 0.75), gaps=(1, 4), kinds=("dead",), kind_gap=2)
    labels = [c.label for c in conditions(cfg)]
    assert labels == [
        "ratio0.50_gap1", "ratio0.75_gap1", "ratio0.50_gap4", "ratio0.75_gap4", "dead_gap2",
    ]  # fmt: skip
    assert frame_indices(100, 8, 4) == [8, 38, 68, 99]
    with pytest.raises(ValueError, match="too short"):
        frame_indices(5, 8, 2)


def test_harness_scores_every_method_on_the_same_damage_and_writes_outputs(clip, tmp_path):
    torch.manual_seed(0)
    weights = save_checkpoint(SiamMCVAE(preset("tiny")), tmp_path / "tiny.safetensors")
    mae = save_checkpoint(
        build_model(preset("tiny").replace(architecture="mae")), tmp_path / "mae.safetensors"
    )
    methods = {
        "hold": hold,
        "telea": telea,
        "mae": model_method(mae),
        "siammcvae": model_method(weights),
    }
    cfg = EvalConfig(
        ratios=(0.75,), gaps=(1, 4), kinds=("lines",), frames_per_condition=2, grid=(4, 6)
    )
    result = evaluate_clips(
        {"clip": clip},
        methods,
        cfg,
        keep=lambda s: s.condition.gap == 4,
        save_frames=tmp_path / "frames",
        progress=False,
    )
    # 3 conditions x 2 frames x 4 methods x 2 regions x 5 metrics
    assert len(result.rows) == 3 * 2 * 4 * 2 * 5
    summary = summarize(result.rows)
    assert {r["method"] for r in summary} == set(methods)
    hold_rows = [r for r in summary if r["method"] == "hold" and r["metric"] == "psnr"]
    assert all(10 < r["mean"] < 60 for r in hold_rows)
    saved = sorted((tmp_path / "frames" / "clip" / "ratio0.75_gap1").glob("*.png"))
    assert len(saved) == 2 * (3 + len(methods))  # truth, damaged, mask + each method
    report = write_outputs(result, cfg, tmp_path / "out", {"test": True})
    assert (tmp_path / "out" / "quality_vs_ratio.png").stat().st_size > 1000
    assert (tmp_path / "out" / "quality_vs_gap.png").stat().st_size > 1000
    assert any(name.startswith("strip_") for name in report["files"])
    rows = list(csv.DictReader((tmp_path / "out" / "frames.csv").open()))
    assert len(rows) == len(result.rows) and rows[0]["metric"] in ("mse", "mae", "psnr")
    saved_json = json.loads((tmp_path / "out" / "evaluation.json").read_text())
    assert saved_json["failed_region"][0]["hold_psnr"] > 0
    assert "| patches 0.75 | 1 |" in markdown_table(summary)


def test_evaluate_cli_rejects_unknown_kind_and_runs(tmp_path, capsys, caplog):
    assert main(["evaluate", "--kinds", "smoke", "-o", str(tmp_path)]) == 2
    code = main(
        ["evaluate", "--ratios", "0.5", "--gaps", "1", "--kinds", "--frames", "1",
         "--max-frames", "12", "--no-fsim", "--no-progress", "-o", str(tmp_path / "e")]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "| patches 0.50 | 1 |" in out and "mae" in out  # the bundled MAE baseline
    assert (tmp_path / "e" / "evaluation.json").is_file()
    assert Condition(2, kind="dead").label == "dead_gap2"
    code = main(
        ["evaluate", "--ratios", "0.5", "--gaps", "1", "--kinds", "--frames", "1", "--no-mae",
         "--max-frames", "12", "--no-fsim", "--no-progress", "--backend", "openvino-cpu",
         "--precision", "fp32", "-o", str(tmp_path / "ov")]
    )  # fmt: skip
    assert code == 0
    meta = json.loads((tmp_path / "ov" / "evaluation.json").read_text())["meta"]
    assert meta["backend"] == "openvino-cpu" and meta["methods"][-1] == "siammcvae"
    code = main(["evaluate", "--backend", "tpu", "-o", str(tmp_path / "x"), "--kinds"])
    assert code == 2 and "unknown backend 'tpu'; choose from auto" in caplog.text


def test_defect_mask_is_or_ed_into_every_failed_mask_before_the_methods_run(clip):
    defects = np.zeros(clip[0].shape[:2], bool)
    defects[10:20, 30:50] = True
    cfg = EvalConfig(
        ratios=(0.25,), gaps=(1,), kinds=("dead",), frames_per_condition=2, grid=(4, 6)
    )
    seen = []

    def spy(reference, damaged, failed, before=None):
        seen.append(failed.copy())
        return hold(reference, damaged, failed)

    result = evaluate_clips(
        {"clip": clip}, {"hold": spy}, cfg, keep=lambda s: True, progress=False,
        defect_mask=defects,
    )  # fmt: skip
    assert len(seen) == len(result.kept) == 4
    for failed, sample in zip(seen, result.kept, strict=True):
        assert failed[defects].all() and sample.failed[defects].all()
        np.testing.assert_array_equal(
            sample.outputs["hold"][defects], clip[sample.index - sample.condition.gap][defects]
        )
    with pytest.raises(ValueError, match="defect mask is 10x10 but clip clip is 136x320"):
        evaluate_clips({"clip": clip}, {"hold": hold}, cfg, defect_mask=np.ones((10, 10), bool))


def test_evaluate_cli_takes_a_defect_mask_and_reports_it(tmp_path, capsys):
    import cv2

    defects = np.zeros((272, 640), np.uint8)
    defects[200:220, 0:40] = 1
    cv2.imwrite(str(tmp_path / "defects.png"), defects)
    code = main(
        ["evaluate", "--ratios", "0.5", "--gaps", "1", "--kinds", "--frames", "1", "--no-mae",
         "--max-frames", "12", "--no-fsim", "--no-progress", "-o", str(tmp_path / "e"),
         "--defect-mask", str(tmp_path / "defects.png")]
    )  # fmt: skip
    assert code == 0
    meta = json.loads((tmp_path / "e" / "evaluation.json").read_text())["meta"]
    assert meta["defect_mask"] == {"file": str(tmp_path / "defects.png"), "pixels": 20 * 40}
    assert '"defect_mask"' in capsys.readouterr().out
    np.save(tmp_path / "small.npy", np.ones((8, 8), bool))
    args = ["evaluate", "--kinds", "--max-frames", "12", "-o", str(tmp_path / "x")]
    assert main([*args, "--defect-mask", str(tmp_path / "small.npy")]) == 2


def test_bootstrap_interval_holds_the_mean_and_a_constant_gain_is_exact():
    from frame_restore_ros.evaluation.intervals import bootstrap_mean, interval_rows

    values = np.arange(40, dtype=float)
    mean, low, high = bootstrap_mean(values)
    assert mean == 19.5 and low < mean < high and high - low < 12  # sd/sqrt(n) ~ 1.8
    rows = []
    for frame in range(30):
        for method, value in (("hold", 20.0 + frame % 7), ("siammcvae", 21.5 + frame % 7)):
            rows.append(
                {"clip": "c", "frame": frame, "kind": "patches", "ratio": 0.75, "gap": 1,
                 "method": method, "region": "failed", "metric": "psnr", "value": value}
            )  # fmt: skip
    (ours,) = [r for r in interval_rows(rows) if r["method"] == "siammcvae"]
    assert ours["frames"] == 30 and ours["gain"] == ours["gain_low"] == ours["gain_high"] == 1.5
    assert ours["low"] < ours["mean"] < ours["high"]


def test_evaluate_tail_scores_only_the_validation_split(tmp_path):
    from frame_restore_ros.training.pairs import split_point

    code = main(
        ["evaluate", "--ratios", "0.5", "--gaps", "1", "--kinds", "--frames", "2", "--no-mae",
         "--tail", "0.3", "--max-frames", "20", "--no-fsim", "--no-progress",
         "-o", str(tmp_path / "t")]
    )  # fmt: skip
    assert code == 0
    report = json.loads((tmp_path / "t" / "evaluation.json").read_text())
    (name,) = report["meta"]["clips"]
    assert name == "bikes_tail30" and report["meta"]["clips"][name] == 20
    assert split_point(250, 0.3) == 175  # bikes.mp4: frames 175-249 were never trained on
    assert {row["frames"] for row in report["intervals_failed_region_psnr"]} == {2}
    assert (tmp_path / "t" / "table_intervals_failed_region_psnr.md").read_text().count("|") > 10
    assert main(["evaluate", "--tail", "1.5", "--kinds", "-o", str(tmp_path / "x")]) == 2


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--frames", "0"], "--frames must be >= 1"),
        (["--kind-gap", "0"], "--kind-gap must be >= 1"),
    ],
)
def test_evaluate_names_a_bad_count(tmp_path, caplog, option, message):
    from frame_restore_ros.cli.main import main

    out = tmp_path / "e"
    assert main(["evaluate", "--no-mae", "--no-fsim", "-o", str(out), *option]) == 2
    assert message in caplog.text and not out.exists()
