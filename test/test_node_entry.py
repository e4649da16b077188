"""The ``frame_restore`` console script names the module it cannot import."""

from __future__ import annotations

import subprocess
import sys

import pytest

BLOCK_AND_RUN = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
from frame_restore_ros.node.entry import main
sys.exit(main())
"""


@pytest.mark.parametrize(
    ("blocked", "advice"),
    [("torch", "pip install torch first"), ("rclpy", "source your ROS 2 setup")],
)
def test_missing_dependency_is_named_with_its_remedy(blocked, advice):
    run = subprocess.run(
        [sys.executable, "-c", BLOCK_AND_RUN.format(blocked=blocked)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    assert f"cannot import '{blocked}" in run.stderr and advice in run.stderr
    assert "Traceback" not in run.stderr
