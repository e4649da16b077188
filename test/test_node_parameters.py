"""The node's parameter table: one source of defaults, parameter files, the defect mask, words."""

from __future__ import annotations

import itertools
import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from fakes import unusable_file_cases

from frame_restore_ros.cli.main import main
from frame_restore_ros.detection.detector import DetectorConfig
from frame_restore_ros.node.camera_pipeline import OutputOptions
from frame_restore_ros.node.parameters import (
    NODE_NAME,
    NODE_PARAMETERS,
    NodeSettings,
    ParameterError,
    all_specs,
    echo,
    input_topic_problem,
    load_settings,
    markdown_table,
    node_name_problem,
    parameter_problems,
    read_parameter_file,
    topic_name_problem,
    validate_input_topics,
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


def test_bad_defect_mask_is_rejected_with_the_reason(tmp_path):
    missing = tmp_path / "missing.png"
    with pytest.raises(ParameterError) as error:
        NodeSettings.build({"camera.defect_mask": str(missing)})
    assert str(error.value) == f"camera.defect_mask: defect mask {missing} does not exist"
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


# --- hostile values: review item 26 ----------------------------------------------------------


def write_params(path: Path, body: str) -> Path:
    """Write a ``/**`` parameter file whose ros__parameters are ``body`` (indented lines)."""
    path.write_text("/**:\n  ros__parameters:\n" + body)
    return path


def check(path: Path, caplog, *extra: str) -> tuple[int, str]:
    """Run ``node-params --check path``; return its exit code and the logged errors."""
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        code = main(["node-params", "--check", str(path), *extra])
    return code, caplog.text


def test_node_params_check_refuses_a_topic_name_ros_refuses(tmp_path, caplog):
    path = tmp_path / "p.yaml"
    write_params(path, '    camera:\n      input_topic: "bad topic!!"\n')
    code, text = check(path, caplog)
    assert code == 2
    assert "camera.input_topic: 'bad topic!!' is not a valid ROS 2 topic name" in text
    assert "(' ' at index 3)" in text
    for good in ("", "image", "/cam/image_raw", "~/image", "{node}/image", "_x/y"):
        write_params(path, f'    camera:\n      input_topic: "{good}"\n')
        assert check(path, caplog) == (0, ""), good  # empty: the default <camera>/image_raw
    for bad, words in (
        ("cam/", "must not end with '/'"),
        ("cam/1st", "must not start with a number"),
        ("a//b", "once resolved to '/a//b': it must not repeat '/'"),
        ("{robot}/image", "unknown substitution {robot}"),
        ("image/~", "'~' may only be the first character"),
        ("caméra", "it may hold only letters"),
        ("a" * 240, "the output topic '/aaaa"),  # <input>/failure_mask is past 247 characters
    ):
        write_params(path, f'    camera:\n      input_topic: "{bad}"\n')
        code, text = check(path, caplog)
        assert code == 2 and words in text, bad


def test_a_camera_name_must_make_a_ros_name():
    with pytest.raises(ParameterError, match="camera name 'caméra' must be letters"):
        NodeSettings.build({"cameras": ["caméra"]})  # not ASCII: no ROS name accepts it
    with pytest.raises(
        ParameterError, match=r"a+\.\.\. \(240 chars\)\.input_topic \(empty: the default\): 'a+"
    ):
        NodeSettings.build({"cameras": ["a" * 240]})  # its default topic is too long


def _rclpy_validators():
    """rclpy's name checks, or skip (printing why) where rclpy is not importable."""
    try:
        from rclpy.expand_topic_name import expand_topic_name
        from rclpy.validate_full_topic_name import validate_full_topic_name
        from rclpy.validate_node_name import validate_node_name
        from rclpy.validate_topic_name import validate_topic_name
    except ImportError as exc:
        reason = f"rclpy is not importable ({exc}): cannot cross-check the name rules"
        print(reason)
        pytest.skip(reason)
    return expand_topic_name, validate_full_topic_name, validate_node_name, validate_topic_name


TOPIC_NAMES = [
    "image", "/image", "cam/image_raw", "/cam/image_raw", "_a", "a__b", "A1/b_2", "~", "~/image",
    "{node}", "{node}/image", "a/{node}", "{node}x", "{ns}/image", "{namespace}/image",
    "/{node}/x", "rt/a", "~a",  # rcl accepts a 2-character "~x"
    "", "bad topic!!", "a/", "/", "~/", "1a", "a/1b", "/1", "a//b", "//a", "~//a", "a/~",
    "~ab", "~{node}", "{foo}/x", "{}", "{1a}", "{a/b}", "{a{b}}", "a}", "{a", "{~}", "/{ns}/x",
    "a-b", "a.b", " a", "a\n", "caméra", "a" * 200, "a" * 240, "~/" + "a" * 230,
]  # fmt: skip


def test_topic_rules_agree_with_rclpy():
    """The pure-Python rules give rclpy's verdict: its checks, expanded in the root namespace or
    another, with the node's longest output suffix."""
    expand, validate_full, _, validate = _rclpy_validators()

    def rclpy_accepts(name: str) -> bool:
        try:
            validate(name)
        except Exception:
            return False
        for namespace in ("/", "/perception"):
            try:
                resolved = expand(name, NODE_NAME, namespace)
                validate_full(resolved)
                validate_full(f"{resolved}/failure_mask")
                return True
            except Exception:
                pass
        return False

    alphabet = ["a", "1", "_", "/", "~", "{", "}", "-", "{ns}"]
    names = TOPIC_NAMES + [
        "".join(p) for k in (1, 2, 3) for p in itertools.product(alphabet, repeat=k)
    ]
    verdicts = {name: rclpy_accepts(name) for name in names}
    assert 10 < sum(verdicts.values()) < len(names) - 10  # both kinds are covered
    differ = {
        n: topic_name_problem(n)
        for n, ok in verdicts.items()
        if ok != (topic_name_problem(n) is None)
    }
    assert differ == {}, "(name: our reason, None where we accept and rclpy refuses)"


# The node's real name and namespace (task: names checked for them, not for frame_restore in "/")
LONG_NAMESPACE = "/long_namespace_here"
PRIVATE_TOPIC = "~/" + "a" * 214  # fits /frame_restore in "/" and "/ns", not in LONG_NAMESPACE
REAL_NODES = [
    (NODE_NAME, "/"),
    (NODE_NAME, LONG_NAMESPACE),
    ("n" * 240, "/"),
    ("front_restore", "/car/sensors"),
]


@pytest.mark.parametrize(("node_name", "namespace"), REAL_NODES)
def test_topic_rules_for_a_real_name_and_namespace_agree_with_rclpy(node_name, namespace):
    """With the node's name and namespace given, the verdict is rclpy's in that namespace."""
    expand, validate_full, _, validate = _rclpy_validators()

    def rclpy_accepts(name: str) -> bool:
        try:
            validate(name)
            resolved = expand(name, node_name, namespace)
            validate_full(resolved)
            validate_full(f"{resolved}/failure_mask")
        except Exception:
            return False
        return True

    alphabet = ["a", "1", "_", "/", "~", "{node}", "{ns}"]
    names = TOPIC_NAMES + [PRIVATE_TOPIC, "{node}/x", "{ns}/x", "a" * 230]
    names += ["".join(p) for k in (1, 2, 3) for p in itertools.product(alphabet, repeat=k)]
    differ = {
        n: problem
        for n in names
        if rclpy_accepts(n) != ((problem := topic_name_problem(n, node_name, namespace)) is None)
    }
    assert differ == {}, "(name: our reason, None where we accept and rclpy refuses)"


def test_a_topic_is_checked_in_the_namespace_and_for_the_name_given():
    assert topic_name_problem(PRIVATE_TOPIC) is None  # in some namespace: "/"
    assert topic_name_problem(PRIVATE_TOPIC, namespace="/") is None
    problem = topic_name_problem(PRIVATE_TOPIC, namespace=LONG_NAMESPACE)
    assert "once resolved to '/long_namespace_here/frame_restore/aaa" in problem
    assert "it must be at most 247 characters" in problem
    assert topic_name_problem("{ns}/x") is None  # "/ns/x" somewhere
    assert "it must not repeat '/'" in topic_name_problem("{ns}/x", namespace="/")  # "//x"
    assert topic_name_problem("{node}/x") is None
    assert "the output topic '/nnnn" in topic_name_problem("{node}/x", node_name="n" * 240)
    assert input_topic_problem("", "n" * 240, LONG_NAMESPACE) is None  # empty: the default
    assert input_topic_problem(PRIVATE_TOPIC, namespace=LONG_NAMESPACE) == problem


def test_settings_name_the_camera_whose_topic_the_real_node_cannot_use():
    values = {"backend": "hold", "camera.input_topic": PRIVATE_TOPIC}
    NodeSettings.build(values)  # in some namespace
    NodeSettings.build(values, namespace="/")
    with pytest.raises(ParameterError) as error:
        NodeSettings.build(values, namespace=LONG_NAMESPACE)
    assert str(error.value).startswith(
        "camera.input_topic: '~/aaaa" + "a" * 194 + "'... (216 chars) is not a valid ROS 2 "
        "topic name once resolved to '/long_namespace_here/frame_restore/aaa"
    )
    assert parameter_problems({"camera.input_topic": "{node}/x"}, node_name="n" * 240) == [
        "camera.input_topic: " + topic_name_problem("{node}/x", "n" * 240)
    ]
    with pytest.raises(ParameterError, match=r"^camera\.input_topic \(empty: the default\): "):
        NodeSettings.build({}, namespace="/" + "n" * 230)  # /nnn.../camera/image_raw: too long
    problems = validate_input_topics(
        ["front", "rear"], {"front.input_topic": PRIVATE_TOPIC}, namespace=LONG_NAMESPACE
    )
    assert problems.startswith("front.input_topic: '~/aaa") and "rear" not in problems


def test_node_params_checks_topics_for_the_node_name_given(tmp_path, caplog):
    path = write_params(tmp_path / "p.yaml", '    camera:\n      input_topic: "{node}/x"\n')
    assert check(path, caplog) == (0, "")
    code, text = check(path, caplog, "--node-name", "n" * 240)
    assert code == 2
    assert "camera.input_topic: '{node}/x' is too long: the output topic '/nnn" in text


def test_node_name_rules_agree_with_rclpy(caplog, capsys):
    _, _, validate_node_name, _ = _rclpy_validators()
    names = ["frame_restore", "a", "_a", "A9", "a" * 255, "", "1a", "a-b", "/ns/a", "a b", "é"]
    names += ["a" * 256, "a\n"] + ["".join(p) for p in itertools.product("a1_-/", repeat=2)]
    for name in names:
        try:
            rclpy_accepts = validate_node_name(name)
        except Exception:
            rclpy_accepts = False
        assert rclpy_accepts == (node_name_problem(name) is None), (name, node_name_problem(name))
    with pytest.raises(SystemExit) as exited:
        main(["node-params", "--check", str(DEFAULTS_FILE), "--node-name", ""])
    assert exited.value.code == 2
    assert "'' is not a valid ROS 2 node name: it must not be empty" in capsys.readouterr().err
    with pytest.raises(ParameterError, match="'front-1' is not a valid ROS 2 node name"):
        read_parameter_file(DEFAULTS_FILE, node_name="front-1")


def test_long_values_are_echoed_short(tmp_path, caplog):
    huge = "a" * 10_000_000  # the review's 10 MB weights string
    assert echo(huge) == repr("a" * 200) + "... (10000000 chars)"
    assert echo("short") == "'short'" and echo(24) == "24"
    assert echo(["x"] * 100).endswith("... (100 items)")
    path = write_params(tmp_path / "p.yaml", f"    weights: '{huge}'\n")
    code, text = check(path, caplog)
    assert code == 2 and f"weights: {'a' * 200}... (10000000 chars): cannot be read" in text
    assert len(text) < 1000
    huge = huge[:1_000_000]  # 1 MB for the rest: reading the YAML takes the time
    for body in (
        f"    engine_cache_dir: '{huge}'\n",
        f"    backend: '{huge}'\n",
        f"    feather_px: '{huge}'\n",
        f"    camera:\n      input_topic: '{huge}'\n",
        f"    camera:\n      defect_mask: '{huge}'\n",
        f"    cameras: ['{huge}']\n",
        f"    cameras: ['{huge}', '{huge}']\n",
    ):
        write_params(path, body)
        code, text = check(path, caplog)
        assert code == 2 and "... (1000000 chars)" in text, body[:30]
        assert len(text) < 2000, body[:30]
    with pytest.raises(ParameterError) as error:
        NodeSettings.build({huge: 1.0})
    assert str(error.value) == f"unknown parameter {echo(huge)}"


def test_every_problem_is_reported_at_once(tmp_path, caplog):
    (tmp_path / "file").write_text("x")
    path = write_params(
        tmp_path / "p.yaml",
        f"    weights: /dev/zero\n    engine_cache_dir: '{tmp_path / 'file'}'\n"
        "    feather_px: -3\n    camera:\n      input_topic: 'a b'\n",
    )
    code, text = check(path, caplog)
    assert code == 2
    for words in (
        "weights: /dev/zero: not a regular file",
        f"engine_cache_dir: {tmp_path / 'file'} is not a folder",
        "feather_px must be >= 0",
        "camera.input_topic: 'a b' is not a valid ROS 2 topic name",
    ):
        assert words in text
    write_params(path, "    cameras: ['9x']\n    feather_px: -3\n")  # a bad camera list too
    code, text = check(path, caplog)
    assert code == 2 and "camera name '9x'" in text and "feather_px must be >= 0" in text


def test_defect_mask_problem_says_what_is_wrong(tmp_path):
    cases = unusable_file_cases(tmp_path)
    if os.geteuid() != 0:  # root reads any file
        defect_map(tmp_path / "locked.png")
        (tmp_path / "locked.png").chmod(0)
        cases[str(tmp_path / "locked.png")] = "exists but cannot be read: Permission denied"
    for path, words in cases.items():
        with pytest.raises(ParameterError) as error:
            NodeSettings.build({"camera.defect_mask": path})
        assert str(error.value) == f"camera.defect_mask: defect mask {path} {words}"
