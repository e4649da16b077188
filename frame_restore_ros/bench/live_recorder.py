"""The downstream side of the live tests and benchmark: an rclpy peer of the node.

:class:`LiveRecorder` runs in the calling process, on its own rclpy context (so its domain is its
own) and executor thread. It records, per camera, every ``T/restored`` and ``T/failure_mask``
message with its receive time, every ``/diagnostics`` status, and sets the node's parameters
through its real parameter service (``/frame_restore/set_parameters``, what ``ros2 param set``
calls). rclpy is imported only when a recorder starts.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from frame_restore_ros.bench.live_publisher import CameraStream

SERVICE_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Received:
    """One output message: its header stamp and system-clock receive time (ns)."""

    stamp_ns: int
    received_ns: int
    frame_id: str
    message: object | None  # kept only when the recorder keeps messages


@dataclass(frozen=True)
class Status:
    """One diagnostic_msgs/DiagnosticStatus, received at ``received_ns``."""

    received_ns: int
    level: int
    name: str
    message: str
    values: dict[str, str]


@contextmanager
def _environment(values: Mapping[str, str] | None) -> Iterator[None]:
    """Make ``values`` this process's environment while rcl and DDS read it, then restore it."""
    if values is None:
        yield
        return
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _stamp_ns(header: object) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


class LiveRecorder:
    """Subscribes to the node's outputs for ``cameras`` on ROS domain ``domain_id``.

    ``environment`` (``live_processes.ros_environment``) is the environment rcl and Fast DDS
    read (discovery range, transports) while the recorder starts. ``keep_messages`` keeps every
    output message (tests); otherwise only stamps and times (benchmarks). Use as a context
    manager, or call :meth:`close`.
    """

    def __init__(
        self,
        domain_id: int,
        cameras: tuple[CameraStream, ...],
        keep_messages: bool = False,
        environment: Mapping[str, str] | None = None,
        node_name: str = "frame_restore",
        depth: int = 100,
    ) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rcl_interfaces.srv import SetParameters
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CompressedImage, Image

        self.keep_messages = keep_messages
        self._lock = threading.Lock()
        self.restored: dict[str, list[Received]] = {c.topic: [] for c in cameras}
        self.masks: dict[str, list[Received]] = {c.topic: [] for c in cameras}
        self.statuses: list[Status] = []
        self.context = rclpy.Context()
        with _environment(environment):
            rclpy.init(context=self.context, domain_id=domain_id)
            self.node = rclpy.create_node("frame_restore_live_recorder", context=self.context)
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=ReliabilityPolicy.RELIABLE
        )
        for camera in cameras:
            kind = CompressedImage if camera.transport == "compressed" else Image
            for output, store, output_kind in (
                ("restored", self.restored, kind),
                ("failure_mask", self.masks, Image),
            ):
                self.node.create_subscription(
                    output_kind, f"{camera.topic}/{output}", self._keeper(store[camera.topic]), qos
                )
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 50)
        self._set_parameters = self.node.create_client(
            SetParameters, f"/{node_name}/set_parameters"
        )
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, name="live-recorder", daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        try:
            self.executor.spin()
        except ExternalShutdownException:
            pass

    def _keeper(self, store: list[Received]) -> Callable[[object], None]:
        def keep(msg: object) -> None:
            now = time.time_ns()
            item = Received(
                _stamp_ns(msg.header),
                now,
                msg.header.frame_id,
                msg if self.keep_messages else None,
            )
            with self._lock:
                store.append(item)

        return keep

    def _on_diagnostics(self, msg: object) -> None:
        now = time.time_ns()
        with self._lock:
            for status in msg.status:
                level = status.level[0] if isinstance(status.level, bytes) else int(status.level)
                values = {kv.key: kv.value for kv in status.values}
                self.statuses.append(Status(now, level, status.name, status.message, values))

    def latest(self, name_suffix: str, after_ns: int = 0) -> Status | None:
        """Return the newest status named ``*name_suffix`` received after ``after_ns``."""
        with self._lock:
            for status in reversed(self.statuses):
                if status.received_ns <= after_ns:
                    return None
                if status.name.endswith(name_suffix):
                    return status
        return None

    def count(self, topic: str) -> int:
        with self._lock:
            return len(self.restored[topic])

    def wait_until(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        """Poll ``condition`` until it holds (True) or ``timeout_s`` passes (False)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return condition()

    def wait_for_node(self, timeout_s: float = SERVICE_TIMEOUT_S) -> bool:
        """Wait until the node's parameter service and first diagnostics are up."""
        return self._set_parameters.wait_for_service(timeout_sec=timeout_s) and self.wait_until(
            lambda: bool(self.statuses), timeout_s
        )

    def set_parameters(
        self, values: Mapping[str, object], timeout_s: float = SERVICE_TIMEOUT_S
    ) -> list[tuple[bool, str]]:
        """Set the node's parameters as ``ros2 param set`` does; (successful, reason) each.

        Raises TimeoutError when the service does not answer within ``timeout_s``.
        """
        from rcl_interfaces.srv import SetParameters
        from rclpy.parameter import Parameter

        if not self._set_parameters.wait_for_service(timeout_sec=timeout_s):
            raise TimeoutError("the node's set_parameters service is not available")
        request = SetParameters.Request(
            parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in values.items()]
        )
        done = threading.Event()
        future = self._set_parameters.call_async(request)
        future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout_s):
            raise TimeoutError(f"set_parameters({dict(values)}) got no answer in {timeout_s} s")
        return [(r.successful, r.reason) for r in future.result().results]

    def close(self) -> None:
        import rclpy

        rclpy.try_shutdown(context=self.context)
        self._thread.join(timeout=5.0)
        self.node.destroy_node()

    def __enter__(self) -> LiveRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
