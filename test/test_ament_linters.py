"""ament linters (flake8, pep257, xmllint). They run where ROS 2's ament tools are installed."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    str(ROOT / "frame_restore_ros"),
    str(ROOT / "launch"),
    str(ROOT / "test"),
    str(ROOT / "setup.py"),
]


@pytest.mark.linter
@pytest.mark.flake8
def test_flake8():
    ament_flake8 = pytest.importorskip(
        "ament_flake8.main", reason="ament_flake8 needs a ROS 2 install"
    )
    rc, errors = ament_flake8.main_with_errors(
        argv=["--config", str(ROOT / "test" / "ament_flake8.ini"), *SOURCES]
    )
    assert rc == 0, f"Found {len(errors)} code style errors / warnings:\n" + "\n".join(errors)


@pytest.mark.linter
@pytest.mark.pep257
def test_pep257():
    ament_pep257 = pytest.importorskip(
        "ament_pep257.main", reason="ament_pep257 needs a ROS 2 install"
    )
    rc = ament_pep257.main(argv=[str(ROOT / "frame_restore_ros"), str(ROOT / "launch")])
    assert rc == 0, "Found code style errors / warnings"


@pytest.mark.linter
@pytest.mark.xmllint
def test_xmllint():
    ament_xmllint = pytest.importorskip(
        "ament_xmllint.main", reason="ament_xmllint needs a ROS 2 install"
    )
    assert ament_xmllint.main(argv=[str(ROOT / "package.xml")]) == 0
