"""package.xml declares what the node imports at run time (rosdep installs from it)."""

from __future__ import annotations

import ast
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Top-level imports of the package -> the rosdep key, or None where no key exists (README).
ROSDEP_KEYS = {
    "numpy": "python3-numpy",
    "cv2": "python3-opencv",
    "torch": "python3-torch",
    "ruamel": "python3-ruamel.yaml",
    "tqdm": "python3-tqdm",
    "matplotlib": "python3-matplotlib",
    "skimage": "python3-skimage",
    "rosbags": "python3-rosbags-pip",
    "onnxruntime": "python3-onnxruntime-pip",
    "rclpy": "rclpy",
    "sensor_msgs": "sensor_msgs",
    "std_msgs": "std_msgs",
    "diagnostic_msgs": "diagnostic_msgs",
    "rcl_interfaces": "rcl_interfaces",
    "builtin_interfaces": "builtin_interfaces",
    "safetensors": None,
    "onnx": None,
    "onnxscript": None,
    "openvino": None,
    "mcap": None,  # replay --salvage only; pip, like rosbags-image
    "tensorrt": None,  # comes with JetPack / the TensorRT install, not rosdep
}


def third_party_imports() -> set[str]:
    stdlib = set(__import__("sys").stdlib_module_names)
    found = set()
    for path in (ROOT / "frame_restore_ros").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found.update(n.split(".")[0] for n in names)
    return {n for n in found if n not in stdlib and n != "frame_restore_ros"}


def test_every_runtime_import_is_declared_or_documented():
    root = ElementTree.parse(ROOT / "package.xml").getroot()
    declared = {e.text for e in root.iter("exec_depend")}
    imports = third_party_imports()
    unknown = imports - set(ROSDEP_KEYS)
    assert not unknown, f"imports without a rosdep decision: {sorted(unknown)}"
    missing = {ROSDEP_KEYS[n] for n in imports if ROSDEP_KEYS[n]} - declared
    assert not missing, f"package.xml lacks exec_depend {sorted(missing)}"
    manifest = (ROOT / "package.xml").read_text()
    for name in sorted(n for n in imports if ROSDEP_KEYS[n] is None and n != "tensorrt"):
        assert name in manifest, f"package.xml should say how to get {name}"


def test_keys_without_a_package_on_jazzys_ubuntu_are_conditional():
    """Ubuntu 24.04 has no python3-torch: rosdep stops on an unconditional key there
    (autowarefoundation/autoware_universe#11942); Humble's Ubuntu 22.04 has it."""
    root = ElementTree.parse(ROOT / "package.xml").getroot()
    torch = [e for e in root.iter("exec_depend") if e.text == "python3-torch"]
    assert [e.get("condition") for e in torch] == ["$ROS_DISTRO == humble"]
    readme = (ROOT / "README.md").read_text()
    assert "PIP_BREAK_SYSTEM_PACKAGES=1 rosdep install" in readme
    assert "pip install torch " in readme
