"""The node's parameter table: one source of defaults, parameter files, the defect mask, words."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from frame_restore_ros.cli.main import main
from frame_restore_ros.detection.detector import DetectorConfig
from frame_restore_ros.node.camera_pipeline import OutputOptions
from frame_restore_ros.node.parameters import (
    NODE_PARAMETERS,
    NodeSettings,
    ParameterError,
    all_specs,
    load_settings,
    markdown_table,
    read_parameter_file,
)
from frame_restore_ros.node.restorer_settings import (
    load_defect_masks,
    output_options,
    restorer_config,
)
from frame_restore_ros.pipeline.reference import TrackerConfig
from frame_restore_ros.pipeline.repair import RepairOptions
from frame_restore_ros.pipeline.restorer import RestorerConfig

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS_FILE = ROOT / "config" / "frame_restore.yaml"


# --- one source of defaults ------------------------------------------------------------------


def test_default_parameter_file_lists_every_parameter_at_its_table_default():
    values = read_parameter_file(DEFAULTS_FILE)
    specs = all_specs(["camera"])
    assert set(values) == set(specs)
    differing = {n: (v, specs[n].default) for n, v in values.items() if v != specs[n].default}
    assert differing == {}, "(file, table)"
    assert load_settings(DEFAULTS_FILE).values == NodeSettings.build().values


def test_table_defaults_are_the_config_dataclass_defaults():
    instances = {
        owner: owner() for owner in (DetectorConfig, TrackerConfig, RepairOptions, OutputOptions)
    }
    specs = list(all_specs(["camera"]).values())
    targets = [(spec, *target) for spec in specs for target in spec.config_fields]
    assert {owner for _, owner, _ in targets} == set(instances)
    for spec, owner, field_name in targets:
        assert spec.default == getattr(instances[owner], field_name), spec.name
    defaults = NodeSettings.build()  # and the values reach the fields they name
    assert restorer_config(defaults, None) == RestorerConfig()
    assert output_options(defaults, "camera") == OutputOptions()


def test_every_parameter_reaches_the_field_it_names():
    settings = NodeSettings.build(
        {
            "feather_px": 3, "detail_transfer": False, "change_tau": 7.0, "align": "none",
            "publish_uncertainty": True, "reference.max_failed_ratio": 0.2,
            "reference.max_age_frames": 4, "reference.max_age_s": 0.3,
            "detector.whole_frame_ratio": 0.5, "detector.frozen_frames": 9,
            "detector.onset_warmup_frames": 0,
            "detector.dead_max_gray": 1.0, "detector.saturated_min_gray": 200.0,
            "detector.noise_min_texture": 99.0, "restore": False, "publish_mask": False,
            "jpeg_quality": 60, "camera.repaired_format": "png",
        }
    )  # fmt: skip
    config = restorer_config(settings, None)
    assert config.repair == RepairOptions(3, False, 7.0, "none", True)
    assert config.tracker == TrackerConfig(0.2, 4, 0.3)
    assert config.detector == DetectorConfig(
        whole_frame_ratio=0.5, frozen_frames=9, dead_max_gray=1.0, saturated_min_gray=200.0,
        noise_min_texture=99.0, onset_warmup_frames=0,
    )  # fmt: skip
    assert output_options(settings, "camera") == OutputOptions(False, False, True, 60, "png")
    off = NodeSettings.build({"change_tau": 0.0})
    assert restorer_config(off, None).repair.change_tau is None  # 0 turns the gate off


def test_readme_parameter_table_is_the_generated_one():
    assert markdown_table() in (ROOT / "README.md").read_text()


def test_every_parameter_has_a_description_and_ranges_hold_their_default():
    for spec in (*NODE_PARAMETERS, *all_specs(["front"]).values()):
        assert len(spec.description) > 20, spec.name
        assert spec.validate(spec.default) is None, spec.name


def test_one_word_per_concept_in_descriptions_and_docs():
    texts = {
        "table": markdown_table(),
        "docs/node.md": (ROOT / "docs" / "node.md").read_text(),
        "config": DEFAULTS_FILE.read_text(),
    }
    for where, text in texts.items():
        assert "grey" not in text.lower(), where  # one spelling: gray levels
        assert "failed fraction" not in text, where  # failed ratio


# --- parameter files -------------------------------------------------------------------------


def test_multi_camera_example_loads():
    settings = load_settings(ROOT / "config" / "multi_camera_example.yaml")
    assert settings.cameras == ["front", "left", "rear"]
    assert settings["rear.transport"] == "compressed"
    assert settings["front.input_topic"] == "/sensing/camera/front/image_raw"
    assert settings["left.transport"] == "raw" and settings["overload_policy"] == "passthrough"


def test_parameter_file_errors_name_the_problem(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("frame_restore:\n  ros__parameters:\n    change_tau: 24\n    feather_px: -3\n")
    with pytest.raises(ParameterError) as error:
        load_settings(path)
    assert "change_tau is a double: write 24.0" in str(error.value)
    assert "feather_px must be >= 0" in str(error.value)
    path.write_text("other_node:\n  ros__parameters:\n    feather_px: 3\n")
    with pytest.raises(ParameterError, match="no section for node frame_restore"):
        load_settings(path)
    path.write_text("/**:\n  ros__parameters:\n    fether_px: 3\n")
    with pytest.raises(ParameterError, match="unknown parameter 'fether_px'"):
        load_settings(path)
    path.write_text("/**: [unclosed\n")
    with pytest.raises(ParameterError, match="cannot read parameter file"):
        load_settings(path)
    path.write_text("/perception/frame_restore:\n  ros__parameters:\n    feather_px: 3\n")
    assert load_settings(path)["feather_px"] == 3  # namespaced section


def test_camera_names_are_validated():
    for names, text in (([], "at least one"), (["a", "a"], "repeat"), (["9x"], "letters")):
        with pytest.raises(ParameterError, match=text):
            NodeSettings.build({"cameras": names})
    with pytest.raises(ParameterError, match="clashes"):
        NodeSettings.build({"cameras": ["backend"]})


# --- <camera>.defect_mask ----------------------------------------------------------------------


def defect_map(path: Path, shape: tuple[int, int] = (272, 640)) -> np.ndarray:
    """Write a defect map with a 6x10 block (image or .npy by suffix); return it (H, W) bool."""
    mask = np.zeros(shape, bool)
    mask[100:106, 200:210] = True
    if path.suffix == ".npy":
        np.save(path, mask)
    else:
        cv2.imwrite(str(path), mask.astype(np.uint8) * 255)
    return mask


@pytest.mark.parametrize("name", ["front.png", "front.npy"])
def test_defect_mask_loads_per_camera(tmp_path, name):
    mask = defect_map(tmp_path / name)
    settings = NodeSettings.build(
        {"cameras": ["front", "rear"], "front.defect_mask": str(tmp_path / name)}
    )
    masks = load_defect_masks(settings)
    np.testing.assert_array_equal(masks["front"], mask)
    assert masks["rear"] is None
    config = restorer_config(settings, masks["front"])
    assert config.detector.defect_mask is masks["front"]
    assert restorer_config(settings, masks["front"]) == config  # same array: equal configs


def test_bad_defect_mask_is_rejected_with_the_loader_reason(tmp_path):
    missing = tmp_path / "missing.png"
    with pytest.raises(ParameterError) as error:
        NodeSettings.build({"camera.defect_mask": str(missing)})
    reason = f"defect mask {missing} does not exist or is not a file"  # the loader's words
    assert str(error.value) == f"camera.defect_mask: {reason}"
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    path = tmp_path / "p.yaml"
    path.write_text(f"/**:\n  ros__parameters:\n    camera:\n      defect_mask: '{junk}'\n")
    with pytest.raises(ParameterError, match=r"p\.yaml: camera\.defect_mask: cannot read defect"):
        load_settings(path)
    defect_map(tmp_path / "m.npy")
    valid = NodeSettings.build({"camera.defect_mask": str(tmp_path / "m.npy")})
    (tmp_path / "m.npy").unlink()  # gone between validation and loading: still named
    with pytest.raises(ParameterError, match=r"camera\.defect_mask: defect mask .*m\.npy does"):
        load_defect_masks(valid)


def test_defect_mask_is_read_only(tmp_path):
    settings = NodeSettings.build()
    defect_map(tmp_path / "m.png")
    with pytest.raises(ParameterError, match="camera.defect_mask is read-only"):
        settings.changed({"camera.defect_mask": str(tmp_path / "m.png")})


def test_node_params_check_validates_the_defect_mask(tmp_path, caplog, capsys):
    path = tmp_path / "p.yaml"
    body = (
        "/**:\n  ros__parameters:\n    cameras: ['front']\n    front:\n      defect_mask: '{}'\n"
    )
    path.write_text(body.format(tmp_path / "none.png"))
    with caplog.at_level(logging.ERROR):
        assert main(["node-params", "--check", str(path)]) == 2
    assert "front.defect_mask: defect mask" in caplog.text and "none.png" in caplog.text
    defect_map(tmp_path / "front.png")
    path.write_text(body.format(tmp_path / "front.png"))
    assert main(["node-params", "--check", str(path)]) == 0
    assert str(tmp_path / "front.png") in capsys.readouterr().out


def test_node_params_check_validates_the_weights_file(tmp_path, caplog):
    """A missing file, a text file or another safetensors file is named with the reason."""
    from safetensors.numpy import save_file

    from frame_restore_ros.model.bundled import default_weights_path

    path = tmp_path / "p.yaml"
    (tmp_path / "notes.safetensors").write_text("not weights\n")
    save_file({"x": np.zeros(3, np.float32)}, str(tmp_path / "other.safetensors"))
    cases = {
        "missing.safetensors": "no such weight file",
        "notes.safetensors": "not a readable safetensors file",
        "other.safetensors": "not a SiamMCVAE checkpoint",
    }
    for name, reason in cases.items():
        path.write_text(f"/**:\n  ros__parameters:\n    weights: '{tmp_path / name}'\n")
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            assert main(["node-params", "--check", str(path)]) == 2
        assert f"{path}: weights: {tmp_path / name}: {reason}" in caplog.text
    path.write_text(f"/**:\n  ros__parameters:\n    weights: '{default_weights_path()}'\n")
    with caplog.at_level(logging.INFO):
        assert main(["node-params", "--check", str(path)]) == 0
    assert f"{path}: valid" in caplog.text


def test_shipped_parameter_files_apply_under_any_namespace_and_node_name():
    for path in sorted((ROOT / "config").glob("*.yaml")):
        if path.name.startswith("train_"):
            continue  # training settings, not node parameters
        keys = [line for line in path.read_text().splitlines() if line and line[0] not in "# "]
        assert keys == ["/**:"], f"{path.name}: top-level keys {keys}"
        assert load_settings(path, node_name="front_restore").cameras
