"""The layering of docs/architecture.md, checked on every import of the package's source."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "frame_restore_ros"
LEAVES = {"media", "codec"}
DOMAIN = LEAVES | {"model", "detection", "synthetic"}
INFERENCE = DOMAIN | {"backends"}
PIPELINE = INFERENCE | {"pipeline"}
ALLOWED: dict[str, set[str]] = {
    "media": set(),
    "codec": set(),
    "model": {"media"},
    "detection": {"media"},
    "synthetic": {"media", "detection"},
    "backends": DOMAIN,
    "pipeline": INFERENCE,
    "node": PIPELINE,
    "evaluation": PIPELINE,
    "bag": PIPELINE | {"node", "evaluation"},  # the replay runs the node's per-camera path
    "training": PIPELINE | {"bag", "evaluation"},  # reads bags; reports PSNR
    "bench": PIPELINE | {"node", "bag", "evaluation", "training"},
    "cli": PIPELINE | {"node", "bag", "evaluation", "training", "bench"},
}
ROS_OR_GPU = ("rclpy", "cv_bridge", "launch", "launch_ros", "tensorrt", "sensor_msgs", "std_msgs")
ADAPTERS = {"node/ros_node.py"}  # the only module that may import rclpy at module level


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(tree: ast.AST) -> list[tuple[str, bool]]:
    """(imported module, at module level) for every import statement of a module."""
    top = {id(node) for node in getattr(tree, "body", [])}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, id(node) in top))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, id(node) in top) for alias in node.names)
    return found


def test_every_folder_is_a_known_layer():
    folders = {p.parent.name for p in _modules() if p.parent != PACKAGE}
    assert folders == set(ALLOWED), "new folder: add it to docs/architecture.md and ALLOWED"
    loose = {p.name for p in _modules() if p.parent == PACKAGE}
    assert loose == {"__init__.py"}, f"modules belong in a role folder: {loose}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layers(path):
    relative = path.relative_to(PACKAGE)
    layer = relative.parts[0] if len(relative.parts) > 1 else None
    tree = ast.parse(path.read_text())
    for module, top_level in _imports(tree):
        parts = module.split(".")
        if parts[0] == "frame_restore_ros" and layer is not None and len(parts) > 1:
            target = parts[1]
            assert target == layer or target in ALLOWED[layer], (
                f"{relative} imports {module}: {layer}/ may not depend on {target}/ "
                "(docs/architecture.md)"
            )
        if parts[0] in ROS_OR_GPU and top_level:
            assert relative.as_posix() in ADAPTERS, (
                f"{relative} imports {module} at module level: only the thin adapters may"
            )


def test_the_core_imports_without_ros_or_tensorrt():
    modules = [
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)
        for p in _modules()
        if p.relative_to(PACKAGE).as_posix() not in ADAPTERS and p.name != "__main__.py"
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name.removesuffix('.__init__'))\n"
        f"loaded = sorted(m for m in {ROS_OR_GPU!r} if m in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)
