"""The subscription reliability rule of the node (ROS-free), as ``ros2 bag record`` applies it."""

from __future__ import annotations

import pytest

from frame_restore_ros.node.qos import choose_reliability


@pytest.mark.parametrize(
    ("setting", "offered", "expected"),
    [
        ("auto", [], "best_effort"),  # nothing known yet: the choice that matches any publisher
        ("auto", ["reliable"], "reliable"),
        ("auto", ["reliable", "reliable"], "reliable"),
        ("auto", ["reliable", "best_effort"], "best_effort"),  # reliable would miss one
        ("auto", ["unknown"], "best_effort"),
        ("best_effort", ["reliable"], "best_effort"),
        ("reliable", ["best_effort"], "reliable"),  # forced, even if it then matches nothing
    ],
)
def test_reliability_choice(setting, offered, expected):
    assert choose_reliability(setting, offered) == expected


def test_unknown_setting_is_a_clear_error():
    with pytest.raises(ValueError, match="qos.reliability must be one of"):
        choose_reliability("sometimes", [])
