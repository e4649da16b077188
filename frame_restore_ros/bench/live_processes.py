"""The processes of a live run: the node as a user starts it, the camera publisher, their CPU.

Every process of one run shares a ROS domain of its own and discovers on localhost only
(:func:`ros_environment`), so concurrent runs never see each other. The node is started with its
console script, ``frame_restore --ros-args --params-file FILE``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ruamel.yaml import YAML

if TYPE_CHECKING:  # the publisher module pulls OpenCV and the codec; the CLI parser imports this
    from frame_restore_ros.bench.live_publisher import StreamPlan

TRANSPORTS = ("default", "udp", "shm", "large_data")  # FASTDDS_BUILTIN_TRANSPORTS choices
_FASTDDS = {"default": "DEFAULT", "udp": "UDPv4", "shm": "SHM", "large_data": "LARGE_DATA"}


def domain_for(seed: int) -> int:
    """Return a ROS domain id in 1..100 from ``seed`` (a pid, a run number)."""
    return 1 + seed % 100


def ros_environment(domain_id: int, transport: str = "default") -> dict[str, str]:
    """Return the environment of a run's processes: domain, localhost discovery, transport.

    ``transport`` sets Fast DDS's builtin transports (``FASTDDS_BUILTIN_TRANSPORTS``).
    """
    env = dict(os.environ)
    env.pop("ROS_LOCALHOST_ONLY", None)  # deprecated in Jazzy; it would override the range
    env["ROS_DOMAIN_ID"] = str(domain_id)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["PYTHONUNBUFFERED"] = "1"
    if transport == "default":
        env.pop("FASTDDS_BUILTIN_TRANSPORTS", None)
    else:
        env["FASTDDS_BUILTIN_TRANSPORTS"] = _FASTDDS[transport]
    return env


def node_command() -> list[str]:
    """Return the node's console script beside this Python (else ``python -m ...entry``)."""
    script = Path(sys.executable).parent / "frame_restore"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "frame_restore_ros.node.entry"]


def write_parameters(path: Path, plan: StreamPlan, parameters: Mapping[str, object]) -> Path:
    """Write the node's parameter file: one camera per plan camera, then ``parameters``."""
    names = [f"camera{i}" for i in range(len(plan.cameras))]
    body: dict[str, object] = {"cameras": names, **parameters}
    for name, camera in zip(names, plan.cameras, strict=True):
        body[name] = {"input_topic": camera.topic, "transport": camera.transport}
    with path.open("w") as stream:
        YAML().dump({"frame_restore": {"ros__parameters": body}}, stream)
    return path


@dataclass
class Process:
    """A started process with its log file."""

    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = 10.0) -> tuple[int, float]:
        """Send ``sig`` and wait; return (exit code, seconds it took). Kills after the timeout."""
        start = time.monotonic()
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode, time.monotonic() - start


def start(command: list[str], env: Mapping[str, str], log: Path) -> Process:
    """Start ``command`` with stdout and stderr to ``log``."""
    with log.open("wb") as stream:
        popen = subprocess.Popen(command, env=dict(env), stdout=stream, stderr=subprocess.STDOUT)
    return Process(popen, log)


def start_node(params: Path, env: Mapping[str, str], log: Path) -> Process:
    """Start the node as a user does: its console script with ``--params-file``."""
    return start([*node_command(), "--ros-args", "--params-file", str(params)], env, log)


def start_publisher(plan: StreamPlan, report: Path, env: Mapping[str, str], log: Path) -> Process:
    """Start the camera publisher process streaming ``plan``; it writes ``report`` when done."""
    module = "frame_restore_ros.bench.live_publisher"
    return start([sys.executable, "-m", module, plan.to_json(), str(report)], env, log)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
