"""safetensors checkpoints: exact round trip, strict matching, clear errors, no pickle."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from frame_restore_ros.model import (
    CheckpointError,
    SiamMCVAE,
    load_checkpoint,
    preset,
    read_metadata,
    save_checkpoint,
)
from frame_restore_ros.model.checkpoint import FORMAT_NAME

TINY = preset("tiny")


def test_roundtrip_is_exact_and_keeps_config_and_notes(tmp_path):
    model = SiamMCVAE(TINY)
    path = save_checkpoint(model, tmp_path / "w.safetensors", extra={"steps": 3})
    loaded = load_checkpoint(path)
    assert loaded.cfg == TINY and not loaded.training
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    assert read_metadata(path)[1] == {"steps": 3}
    assert not list(tmp_path.glob("*.tmp")), "atomic write leaves no temporary file"


def _write(path, tensors, config=TINY, version="1"):
    metadata = {
        "format": FORMAT_NAME,
        "format_version": version,
        "config": config.to_json(),
        "extra": "{}",
    }
    save_file(tensors, str(path), metadata=metadata)


def test_missing_extra_and_misshaped_tensors_are_named(tmp_path):
    tensors = {k: v.clone() for k, v in SiamMCVAE(TINY).state_dict().items()}
    tensors.pop("mask_token")
    tensors["encoder.extra_weight"] = torch.zeros(2)
    tensors["to_pixels.bias"] = torch.zeros(5)
    _write(tmp_path / "bad.safetensors", tensors)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(tmp_path / "bad.safetensors")
    message = str(info.value)
    assert "missing mask_token" in message
    assert "unexpected encoder.extra_weight" in message
    assert "to_pixels.bias has shape (5,), expected (192,)" in message


def test_weights_of_another_preset_config_do_not_load(tmp_path):
    tensors = SiamMCVAE(TINY).state_dict()
    _write(tmp_path / "mix.safetensors", dict(tensors), config=TINY.replace(latent_dim=32))
    with pytest.raises(CheckpointError, match="do not match config"):
        load_checkpoint(tmp_path / "mix.safetensors")


@pytest.mark.parametrize("cut", [10, 200, -100])
def test_truncated_file_is_a_clear_error(tmp_path, cut):
    path = save_checkpoint(SiamMCVAE(TINY), tmp_path / "w.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(CheckpointError, match="w.safetensors"):
        load_checkpoint(path)


def test_garbage_pickle_and_missing_files_are_clear_errors(tmp_path):
    (tmp_path / "garbage.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(tmp_path / "garbage.safetensors")
    pickled = tmp_path / "model.pt"
    pickled.write_bytes(pickle.dumps(SiamMCVAE(TINY).state_dict()))
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(pickled)
    with pytest.raises(CheckpointError, match="no such weight file"):
        load_checkpoint(tmp_path / "absent.safetensors")


def test_wrong_format_version_and_foreign_files(tmp_path):
    tensors = SiamMCVAE(TINY).state_dict()
    _write(tmp_path / "v9.safetensors", dict(tensors), version="9")
    with pytest.raises(CheckpointError, match="format version 9 is not supported"):
        load_checkpoint(tmp_path / "v9.safetensors")
    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(CheckpointError, match="not a SiamMCVAE checkpoint"):
        load_checkpoint(tmp_path / "other.safetensors")


def test_non_finite_weights_are_rejected(tmp_path):
    tensors = {k: v.clone() for k, v in SiamMCVAE(TINY).state_dict().items()}
    tensors["mask_token"][0, 0, 0] = float("nan")
    _write(tmp_path / "nan.safetensors", tensors)
    with pytest.raises(CheckpointError, match="mask_token holds non-finite"):
        load_checkpoint(tmp_path / "nan.safetensors")


def test_bad_config_json_in_header(tmp_path):
    tensors = SiamMCVAE(TINY).state_dict()
    metadata = {
        "format": FORMAT_NAME,
        "format_version": "1",
        "config": json.dumps({"patch_size": "x"}),
        "extra": "{}",
    }
    save_file(dict(tensors), str(tmp_path / "cfg.safetensors"), metadata=metadata)
    with pytest.raises(CheckpointError, match="invalid model config"):
        load_checkpoint(tmp_path / "cfg.safetensors")


def test_written_files_get_the_usual_permissions(tmp_path):
    import os

    path = save_checkpoint(SiamMCVAE(TINY), tmp_path / "w.safetensors")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_the_umask_is_read_as_the_process_has_it_whether_or_not_proc_shows_it(monkeypatch):
    """/proc/self/status's Umask line (no moment with another umask), else set and restored."""
    import builtins
    import os

    from frame_restore_ros.model.checkpoint import current_umask

    before = os.umask(0o027)
    try:
        assert current_umask() == 0o027
        real_open = builtins.open

        def no_proc(path, *args, **kwargs):
            if str(path) == "/proc/self/status":
                raise FileNotFoundError(path)
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", no_proc)
        assert current_umask() == 0o027
        assert os.umask(0o027) == 0o027  # and left as it was
    finally:
        os.umask(before)


@pytest.mark.parametrize(
    ("extra", "words"),
    [("[1]", "must be a JSON object, got list [1]"), ("not json", "is not JSON")],
)
def test_training_notes_that_are_not_a_json_object_are_named(tmp_path, extra, words):
    path = save_checkpoint(SiamMCVAE(TINY), tmp_path / "w.safetensors")
    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    metadata["extra"] = extra
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(CheckpointError, match=r"header 'extra' \(training notes\) ") as error:
        read_metadata(path)
    assert str(path) in str(error.value) and words in str(error.value)


def test_reference_skip_that_is_not_a_bool_is_refused(tmp_path):
    """A header (or YAML) string "no" is truthy: it must not turn the skip on."""
    with pytest.raises(ValueError, match="reference_skip must be true or false, got 'no'"):
        TINY.replace(reference_skip="no")
    path = save_checkpoint(SiamMCVAE(TINY), tmp_path / "w.safetensors")
    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    config = json.loads(metadata["config"])
    config["reference_skip"] = "no"
    metadata["config"] = json.dumps(config)
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(CheckpointError, match="invalid model config.*reference_skip must be"):
        read_metadata(path)


def test_atomic_file_errors_name_the_real_path_not_the_temporary_one(tmp_path):
    from frame_restore_ros.model.checkpoint import atomic_file

    (tmp_path / "a_file").write_text("x")
    target = tmp_path / "a_file" / "w.safetensors"
    with pytest.raises(OSError) as error:
        with atomic_file(target):
            pass
    assert error.value.filename == str(target) and ".tmp" not in str(error.value)
