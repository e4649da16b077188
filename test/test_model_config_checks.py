"""Hostile weight headers: every bad config is a one-line error before a model is built.

Review findings 6 (patch_size 0), 7 (a huge input_size), 10a (NaN / inf / out-of-range float
settings), 11 (an architecture for the wrong role) and 24 (a directory as the weight file).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from frame_restore_ros.backends.selection import load_backend
from frame_restore_ros.cli.main import main
from frame_restore_ros.model import (
    CheckpointError,
    SiamMCVAE,
    SingleFrameMAE,
    preset,
    read_metadata,
)
from frame_restore_ros.model.checkpoint import check_architecture, save_checkpoint
from frame_restore_ros.model.config import MAX_INPUT_SIDE, SiamMCVAEConfig

TINY = preset("tiny")


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> Path:
    """A valid tiny SiamMCVAE checkpoint."""
    path = tmp_path_factory.mktemp("w") / "tiny.safetensors"
    return save_checkpoint(SiamMCVAE(TINY), path)


@pytest.fixture(scope="module")
def tiny_mae(tmp_path_factory) -> Path:
    """A valid tiny single-frame MAE checkpoint."""
    path = tmp_path_factory.mktemp("w") / "tiny_mae.safetensors"
    return save_checkpoint(SingleFrameMAE(TINY.replace(architecture="mae")), path)


def with_config(source: Path, target: Path, raw: str | None = None, **changes) -> Path:
    """Copy ``source`` to ``target`` with its header config changed (or replaced by ``raw``)."""
    with safe_open(str(source), "pt") as handle:
        metadata = dict(handle.metadata())
    config = json.loads(metadata["config"])
    config.update(changes)
    metadata["config"] = raw if raw is not None else json.dumps(config)
    save_file(load_file(str(source)), str(target), metadata=metadata)
    return target


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"patch_size": 0}, "patch_size must be in [1, 8192], got 0"),
        ({"patch_size": -8}, "patch_size must be in [1, 8192], got -8"),
        ({"input_size": [224000, 400000]}, "input height 224000 is above the limit of 8192"),
        ({"input_size": [8192, 8192], "patch_size": 8}, "1048576 patches, above the limit"),
        ({"norm_eps": float("nan")}, "norm_eps must be a finite number in (0, 1), got nan"),
        ({"norm_eps": float("inf")}, "norm_eps must be a finite number in (0, 1), got inf"),
        ({"norm_eps": 0.0}, "norm_eps must be a finite number in (0, 1), got 0.0"),
        ({"norm_eps": -1e-6}, "norm_eps must be a finite number"),
        ({"mlp_ratio": float("nan")}, "mlp_ratio must be a finite number in (0, 64], got nan"),
        ({"mlp_ratio": float("-inf")}, "mlp_ratio must be a finite number"),
        ({"mlp_ratio": 0}, "mlp_ratio must be a finite number in (0, 64], got 0"),
        ({"mlp_ratio": 0.01}, "mlp_ratio 0.01 leaves the MLP without a hidden unit"),
        ({"mlp_ratio": "4"}, "mlp_ratio must be a number, got '4'"),
        ({"patch_size": 8.5}, "patch_size must be an integer, got 8.5"),
        ({"enc_depth": True}, "enc_depth must be an integer, got True"),
        ({"input_size": [32]}, "input_size must be (height, width) integers"),
        ({"input_size": [32.5, 48]}, "input_size must be (height, width) integers"),
        ({"input_size": "32x48"}, "input_size must be (height, width) integers"),
        ({"enc_dim": 8192, "enc_heads": 2}, "enc_dim 8192 must be a multiple of 4"),
        ({"enc_depth": 100000}, "enc_depth must be in [1, 256], got 100000"),
        ({"enc_dim": 4096, "enc_heads": 4, "enc_depth": 200}, "M parameters, above the limit"),
        ({"in_channels": 7}, "in_channels must be in [1, 3], got 7"),
    ],
)
def test_a_bad_header_config_is_a_clear_checkpoint_error(tiny_weights, tmp_path, changes, words):
    path = with_config(tiny_weights, tmp_path / "bad.safetensors", **changes)
    with pytest.raises(CheckpointError, match="invalid model config") as error:
        read_metadata(path)
    assert words in str(error.value)


def test_json_infinity_in_input_size_is_not_an_overflow(tiny_weights, tmp_path):
    good = json.loads(TINY.to_json())
    raw = json.dumps(good).replace('"input_size": [32, 48]', '"input_size": [Infinity, 48]')
    path = with_config(tiny_weights, tmp_path / "inf.safetensors", raw=raw)
    with pytest.raises(CheckpointError, match="input_size must be \\(height, width\\) integers"):
        read_metadata(path)


def test_every_preset_is_within_the_bounds():
    for name in ("tiny", "small", "base"):
        cfg = preset(name)
        assert SiamMCVAEConfig.from_json(cfg.to_json()) == cfg
    assert SiamMCVAEConfig.from_dict({"input_size": [MAX_INPUT_SIDE, 512]}).input_size[0] == 8192


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"patch_size": 0}, "patch_size must be in [1, 8192], got 0"),
        ({"input_size": [224000, 400000]}, "input height 224000 is above the limit of 8192"),
        ({"norm_eps": float("nan")}, "norm_eps must be a finite number"),
    ],
)
def test_info_and_export_refuse_a_bad_header_with_exit_code_2(
    tiny_weights, tmp_path, caplog, changes, words
):
    path = with_config(tiny_weights, tmp_path / "bad.safetensors", **changes)
    assert main(["info", "--weights", str(path)]) == 2
    assert main(["export", "--weights", str(path), "-o", str(tmp_path / "m.onnx")]) == 2
    assert caplog.text.count(words) == 2 and "Traceback" not in caplog.text
    assert not (tmp_path / "m.onnx").exists()


def test_a_directory_as_weights_says_it_is_a_directory(tmp_path, caplog):
    folder = tmp_path / "some_dir"
    folder.mkdir()
    with pytest.raises(CheckpointError, match="some_dir: is a directory, not a weight file"):
        read_metadata(folder)
    assert main(["info", "--weights", f"{folder}/"]) == 2
    assert "is a directory, not a weight file" in caplog.text
    with pytest.raises(IsADirectoryError, match="is a directory, not a weight file"):
        load_backend("torch-cpu", folder)


def test_the_architecture_is_checked_against_the_role(tiny_weights, tiny_mae):
    mae = tiny_mae
    assert check_architecture(tiny_weights, "siammcvae").architecture == "siammcvae"
    assert check_architecture(mae, "mae", "--mae").architecture == "mae"
    with pytest.raises(
        CheckpointError,
        match="--mae .*tiny.safetensors holds a SiamMCVAE \\(architecture siammcvae\\); --mae "
        "takes a single-frame MAE \\(architecture mae\\)",
    ):
        check_architecture(tiny_weights, "mae", "--mae")
    with pytest.raises(CheckpointError, match="--weights .* holds a single-frame MAE"):
        load_backend("torch-cpu", mae, architecture="siammcvae")
    assert load_backend("torch-cpu", mae).config.architecture == "mae"  # None: either
