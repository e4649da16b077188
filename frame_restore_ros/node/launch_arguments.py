"""The launch file's argument handling, ROS-free so it is tested everywhere.

``launch/frame_restore.launch.py`` calls these from an ``OpaqueFunction``. They exist because of
how launch_ros treats a node's ``parameters``: a path that is not a file is only logged as a
warning ("Parameter file path is not a file") and the node starts on its defaults, and a
dictionary listed after the file overrides whatever the file set.
"""

from __future__ import annotations

from pathlib import Path


class LaunchArgumentError(ValueError):
    """A launch argument that cannot be used; the message names it."""


def parse_camera_topics(text: str) -> dict[str, str]:
    """Turn "front=/a,rear=/b" into {"front.input_topic": "/a", "rear.input_topic": "/b"}."""
    overrides = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        camera, sep, topic = item.partition("=")
        if not sep or not camera.strip() or not topic.strip():
            raise LaunchArgumentError(f"camera_topics entry {item!r} is not camera=topic")
        overrides[f"{camera.strip()}.input_topic"] = topic.strip()
    return overrides


def checked_params_file(path: str) -> str:
    """Return ``path`` if it is a readable file; else raise naming the argument and the path."""
    file = Path(path)
    if not file.is_file():
        raise LaunchArgumentError(
            f"params_file:={path} is not a file (a mistyped path would start the node on its "
            "defaults); pass an existing YAML file"
        )
    try:
        file.read_bytes()
    except OSError as exc:
        raise LaunchArgumentError(f"params_file:={path} cannot be read: {exc}") from exc
    return str(file)


def sim_time_override(value: str) -> dict[str, bool]:
    """Return the ``use_sim_time`` parameter to set: none for "" (the file decides), else a bool.

    Raises LaunchArgumentError for anything but "", true or false (any case).
    """
    text = value.strip().lower()
    if text == "":
        return {}
    if text in ("true", "false"):
        return {"use_sim_time": text == "true"}
    raise LaunchArgumentError(f"use_sim_time:={value} must be true, false or empty")


def node_parameters(params_file: str, use_sim_time: str, camera_topics: str) -> list[object]:
    """Return the node's ``parameters``: the checked file, then only explicit overrides."""
    overrides = {**sim_time_override(use_sim_time), **parse_camera_topics(camera_topics)}
    return [checked_params_file(params_file), *([overrides] if overrides else [])]
