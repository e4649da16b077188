"""The launch file's argument handling (ROS-free; the launch file itself needs launch_ros)."""

from __future__ import annotations

from pathlib import Path

import pytest

from frame_restore_ros.node.launch_arguments import (
    LaunchArgumentError,
    node_parameters,
    parse_camera_topics,
)

ROOT = Path(__file__).resolve().parents[1]
PARAMS = str(ROOT / "config" / "frame_restore.yaml")


def test_camera_topics_become_input_topic_overrides():
    assert parse_camera_topics(" front=/a , rear=/b,") == {
        "front.input_topic": "/a",
        "rear.input_topic": "/b",
    }
    with pytest.raises(LaunchArgumentError, match="'front' is not camera=topic"):
        parse_camera_topics("front")


def test_a_mistyped_params_file_stops_the_launch_instead_of_running_defaults(tmp_path):
    with pytest.raises(LaunchArgumentError, match="params_file:=.*cams.yml is not a file"):
        node_parameters(str(tmp_path / "cams.yml"), "", "")
    with pytest.raises(LaunchArgumentError, match="is not a file"):
        node_parameters(str(tmp_path), "", "")  # a folder


def test_use_sim_time_is_set_only_when_given():
    assert node_parameters(PARAMS, "", "") == [PARAMS]  # the file's use_sim_time stands
    assert node_parameters(PARAMS, "True", "") == [PARAMS, {"use_sim_time": True}]
    assert node_parameters(PARAMS, "false", "cam=/x") == [
        PARAMS,
        {"use_sim_time": False, "cam.input_topic": "/x"},
    ]
    with pytest.raises(LaunchArgumentError, match="use_sim_time:=yes must be true, false"):
        node_parameters(PARAMS, "yes", "")


def test_launch_file_uses_these_helpers():
    text = (ROOT / "launch" / "frame_restore.launch.py").read_text()
    assert "node_parameters(" in text and "default_value=''" in text
