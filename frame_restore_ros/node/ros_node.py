"""The ``frame_restore`` ROS 2 node: a thin rclpy adapter over :mod:`frame_restore_ros.node`.

It declares the parameters of ``node.parameters`` with descriptors, subscribes to each camera's
input (reliability matched to the publishers by default, ``node/qos.py``), hands messages to the
core and publishes what the core returns. Threads: the executor delivers images (one mutually
exclusive group per camera: a camera's frames in order, cameras in parallel) and parameter changes
(the default group, so a model reload never stalls the image callbacks); one worker per camera
restores the newest waiting frame; a timer publishes /diagnostics.

Run: ``ros2 launch frame_restore_ros frame_restore.launch.py`` or
``ros2 run frame_restore_ros frame_restore --ros-args --params-file config/frame_restore.yaml``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence

import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.exceptions import (
    InvalidHandle,
    InvalidTopicNameException,
    ParameterException,
    ParameterUninitializedException,
)
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
)
from rclpy.subscription import Subscription
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

try:  # rclpy >= Iron
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:  # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks

from frame_restore_ros.media.file_checks import echo
from frame_restore_ros.media.frame_memory import keep_frame_buffers_resident
from frame_restore_ros.node.camera_pipeline import Publication
from frame_restore_ros.node.core import NodeCore
from frame_restore_ros.node.diagnostics import DiagnosticReport
from frame_restore_ros.node.frame_slot import PendingFrame
from frame_restore_ros.node.message_factory import uint8_array
from frame_restore_ros.node.parameters import (
    NODE_NAME,
    NODE_PARAMETERS,
    OUTPUT_TOPICS,
    NodeSettings,
    ParameterError,
    ParameterSpec,
    all_specs,
)
from frame_restore_ros.node.qos import RECHECK_PERIOD_S, choose_reliability, output_depth

WORKER_POLL_S = 0.25
WORKER_JOIN_S = 2.0  # at shutdown, how long the cameras' workers may take to finish together
FLUSH_PERIOD_S = 0.1  # passed-through frames leave at most this late after their hold
_RELIABILITY_POLICIES = {
    "reliable": ReliabilityPolicy.RELIABLE,
    "best_effort": ReliabilityPolicy.BEST_EFFORT,
}
_RELIABILITY_NAMES = {policy: name for name, policy in _RELIABILITY_POLICIES.items()}


class RclpyMessageFactory:
    """The core's MessageFactory for rclpy's generated message classes."""

    def image(self, header: object, fields: dict[str, object]) -> Image:
        msg = Image()
        msg.header = header
        msg.height = int(fields["height"])
        msg.width = int(fields["width"])
        msg.encoding = str(fields["encoding"])
        msg.is_bigendian = int(fields["is_bigendian"])
        msg.step = int(fields["step"])
        msg.data = uint8_array(fields["data"])
        return msg

    def compressed(self, header: object, fmt: str, data: bytes) -> CompressedImage:
        msg = CompressedImage()
        msg.header = header
        msg.format = fmt
        msg.data = uint8_array(data)
        return msg

    def diagnostic_array(
        self, stamp_ns: int, reports: Sequence[DiagnosticReport]
    ) -> DiagnosticArray:
        stamp = Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)
        msg = DiagnosticArray(header=Header(stamp=stamp))
        msg.status = [
            DiagnosticStatus(
                level=bytes([r.level]),  # diagnostic_msgs' level is a byte field in ROS 2
                name=r.name,
                message=r.message,
                hardware_id=r.hardware_id,
                values=[KeyValue(key=k, value=v) for k, v in r.values],
            )
            for r in reports
        ]
        return msg


def descriptor(spec: ParameterSpec) -> ParameterDescriptor:
    """Build the ROS ParameterDescriptor of a spec: description, range, read-only."""
    desc = ParameterDescriptor(
        name=spec.name, description=spec.full_description(), read_only=spec.read_only
    )
    if spec.choices:
        desc.additional_constraints = "one of: " + ", ".join(spec.choices)
    if spec.minimum is not None and spec.kind is int:
        desc.integer_range = [
            IntegerRange(from_value=int(spec.minimum), to_value=int(spec.maximum), step=0)
        ]
    elif spec.minimum is not None:
        desc.floating_point_range = [
            FloatingPointRange(
                from_value=float(spec.minimum), to_value=float(spec.maximum), step=0.0
            )
        ]
    return desc


class _RosLogHandler(logging.Handler):
    """Forward the core's Python log records to the node's ROS logger."""

    def __init__(self, node: Node) -> None:
        super().__init__()
        self.node = node

    def emit(self, record: logging.LogRecord) -> None:
        logger = self.node.get_logger()
        text = self.format(record)
        if record.levelno >= logging.ERROR:
            logger.error(text)
        elif record.levelno >= logging.WARNING:
            logger.warning(text)
        else:
            logger.info(text)


class FrameRestoreNode(Node):
    """Subscribes to each camera, publishes repaired images, masks and diagnostics."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._running = False
        self._stopping = False
        # Held while a subscription is re-created (timer thread) and while the node stops: no
        # subscription is made on a node being destroyed (rclpy's Executor.shutdown() does not
        # wait for running callbacks, and one made then would outlive the node).
        self._entities = threading.Lock()
        self._log_handler = _RosLogHandler(self)
        logging.getLogger("frame_restore_ros").addHandler(self._log_handler)
        logging.getLogger("frame_restore_ros").setLevel(logging.INFO)
        try:
            self._start()
        except BaseException:  # also Ctrl-C during a slow model load: nothing stays half-built
            self._abandon()
            raise

    def _given(self, name: str) -> object:
        """Return the declared parameter's value; None for an empty YAML list (rcl: NOT_SET).

        rclpy refuses to read a statically typed parameter that is NOT_SET; the settings check
        then names the parameter and the type it needs.
        """
        try:
            return self.get_parameter(name).value
        except ParameterUninitializedException:
            return None

    def _undeclared_overrides(self) -> dict[str, object]:
        """Name -> value of the parameter overrides (file, ``-p``) no parameter was declared for.

        rclpy keeps every override given for this node in ``_parameter_overrides`` (Humble to
        Jazzy) and uses only those of declared names; its own (``use_sim_time``, ...) are
        declared by then.
        """
        overrides = getattr(self, "_parameter_overrides", {}) or {}
        return {
            name: parameter.value
            for name, parameter in overrides.items()
            if not self.has_parameter(name)
        }

    def _abandon(self) -> None:
        """Undo a start that failed: nothing half-built stays registered (log handler, topics)."""
        if hasattr(self, "core"):
            self.core.close()
        logging.getLogger("frame_restore_ros").removeHandler(self._log_handler)
        super().destroy_node()  # no workers run yet: Node's own teardown

    def _start(self) -> None:
        """Declare the parameters, build the core, and create the topics, timers and workers.

        Topic names are checked for this node's real name and namespace; a name rclpy still
        refuses (e.g. after remapping) is a ParameterError naming the camera's input_topic.
        """
        cameras_spec = NODE_PARAMETERS[0]
        declared = self.declare_parameter(
            cameras_spec.name, cameras_spec.default, descriptor(cameras_spec)
        ).value
        cameras = [] if declared is None else list(declared)  # rcl types an empty list NOT_SET
        specs = all_specs(cameras)
        for spec in specs.values():
            if spec.name != cameras_spec.name:
                self.declare_parameter(spec.name, spec.default, descriptor(spec))
        self._specs = specs
        values: dict[str, object] = {name: self._given(name) for name in specs}
        values[cameras_spec.name] = cameras
        # Values given for this node that no parameter takes (a misspelt name, a camera missing
        # from `cameras`): rclpy would ignore them silently; they are refused with the rest, as
        # `frame-restore node-params --check` refuses them.
        values.update(self._undeclared_overrides())
        settings = NodeSettings.build(
            values, node_name=self.get_name(), namespace=self.get_namespace()
        )
        self.core = NodeCore(settings, RclpyMessageFactory(), node_name=self.get_name())
        self._subscribed_reliability: dict[str, str] = {}
        self.add_on_set_parameters_callback(self._on_set_parameters)

        depth = output_depth(settings["qos.depth"])  # as many as a burst after a stall
        output_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth)
        # One group per camera: its callbacks run one at a time, so its frames enter the slot in
        # the order DDS delivered them (a reentrant group let two of one camera's callbacks
        # race, and a passed-through frame could leave after a newer one); cameras overlap.
        self._image_groups = {c: MutuallyExclusiveCallbackGroup() for c in settings.cameras}
        self._input_names = dict(self.core.topics)  # as configured, before remapping
        self._image_subscriptions: dict[str, Subscription] = {}
        self._outputs: dict[tuple[str, str], Publisher] = {}
        for camera in settings.cameras:
            kind = self._message_type(camera)
            # auto starts best effort (it matches any publisher) and follows the publishers below
            self._subscribe(camera, choose_reliability(settings["qos.reliability"], []))
            resolved = self._image_subscriptions[camera].topic_name  # after namespace, remapping
            self._refuse_shared_topic(camera, resolved)
            self.core.topics[camera] = resolved
            for output in OUTPUT_TOPICS:
                with self._topic_of(camera, f"{resolved}/{output}"):
                    self._outputs[camera, output] = self.create_publisher(
                        self._output_type(camera, output), f"{resolved}/{output}", output_qos
                    )
            self.get_logger().info(
                f"camera {camera}: {resolved} ({kind.__name__}, "
                f"{self._subscribed_reliability[camera]}) -> {resolved}/restored"
            )
        self._check_publishers()
        # On the steady clock: with use_sim_time a bag that has not started (or is paused)
        # publishes no /clock, and a sim-time timer would never follow the publishers.
        self._qos_timer = self.create_timer(
            RECHECK_PERIOD_S,
            self._check_publishers,
            callback_group=MutuallyExclusiveCallbackGroup(),
            clock=Clock(clock_type=ClockType.STEADY_TIME),
        )
        # Frames passed through wait behind a restoration for the hold at most, also when the
        # stream pauses and no callback comes to let them out (steady clock: a paused bag too).
        self._flush_timers = [
            self.create_timer(
                FLUSH_PERIOD_S,
                lambda c=camera: self._flush(c),
                callback_group=self._image_groups[camera],
                clock=Clock(clock_type=ClockType.STEADY_TIME),
            )
            for camera in settings.cameras
        ]
        self._diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._timer = self.create_timer(
            settings["diagnostics.period_s"],
            self._publish_diagnostics,
            callback_group=MutuallyExclusiveCallbackGroup(),
        )
        self._running = True
        self._workers = [
            threading.Thread(target=self._work, args=(c,), name=f"restore-{c}", daemon=True)
            for c in settings.cameras
        ]
        for worker in self._workers:
            worker.start()

    def _message_type(self, camera: str) -> type:
        return CompressedImage if self.core.cameras[camera].compressed else Image

    def _output_type(self, camera: str, output: str) -> type:
        """``restored`` carries the input's message type; the other outputs are Images."""
        return self._message_type(camera) if output == "restored" else Image

    def _reliability_for(self, topic: str) -> str:
        """Return the reliability to use, given the publishers of the resolved ``topic``."""
        offered = [
            _RELIABILITY_NAMES.get(info.qos_profile.reliability, "unknown")
            for info in self.get_publishers_info_by_topic(topic)
        ]
        return choose_reliability(self.core.settings["qos.reliability"], offered)

    def _subscribe(self, camera: str, reliability: str) -> None:
        """(Re)create the camera's image subscription with ``reliability``."""
        old = self._image_subscriptions.pop(camera, None)
        if old is not None:
            self.destroy_subscription(old)
            self.core.resubscribed(camera)  # what the old one could not match is past
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=self.core.settings["qos.depth"],
            reliability=_RELIABILITY_POLICIES[reliability],
            durability=DurabilityPolicy.VOLATILE,  # matches volatile and transient-local offers
        )
        with self._topic_of(camera, self._input_names[camera]):
            self._image_subscriptions[camera] = self.create_subscription(
                self._message_type(camera),
                self._input_names[camera],
                lambda msg, c=camera: self._on_image(c, msg),
                qos,
                callback_group=self._image_groups[camera],
                event_callbacks=SubscriptionEventCallbacks(
                    incompatible_qos=lambda info, c=camera: self._count_unmatched(c)
                ),
            )
        self._subscribed_reliability[camera] = reliability

    def _refuse_shared_topic(self, camera: str, resolved: str) -> None:
        """Raise ParameterError if another camera already reads ``resolved``.

        The parameter check compares the topics as written; in a namespace, or after a remap,
        two different names (``a`` and ``/ns/a``) can resolve to one topic, and the cameras'
        outputs would then clash.
        """
        for other, topic in self.core.topics.items():
            if other != camera and other in self._image_subscriptions and topic == resolved:
                raise ParameterError(
                    f"{camera}.input_topic: {echo(self._input_names[camera])} resolves to "
                    f"{echo(resolved)}, which camera {other} reads too (as "
                    f"{echo(self._input_names[other])}, namespace {self.get_namespace()!r}, after "
                    "any remapping): their outputs would clash"
                )

    @contextlib.contextmanager
    def _topic_of(self, camera: str, topic: str) -> Iterator[None]:
        """Turn rclpy refusing ``camera``'s ``topic`` into a ParameterError naming input_topic.

        The parameters were checked for this node's name and namespace, but a remapping (``-r``)
        can still make a name rclpy refuses: InvalidTopicNameException, or an RCLError when the
        remapped name itself does not resolve.
        """
        try:
            yield
        except InvalidTopicNameException as exc:
            raise self._topic_error(camera, topic, exc) from None
        except _rclpy.RCLError as exc:
            if self._resolves(topic):
                raise
            raise self._topic_error(camera, topic, exc) from None

    def _resolves(self, topic: str) -> bool:
        """Whether rclpy resolves ``topic`` for this node (namespace, remapping)."""
        try:
            self.resolve_topic_name(topic)
        except (InvalidTopicNameException, RuntimeError):
            return False
        return True

    def _topic_error(self, camera: str, topic: str, exc: Exception) -> ParameterError:
        """Return a ParameterError naming ``camera``'s input_topic, ``topic``, rclpy's reason."""
        reason = str(exc).splitlines()[0].rstrip(":").split(", at /")[0]
        configured = self._input_names[camera]
        via = "" if topic == configured else f" for its output {echo(topic)}"
        return ParameterError(
            f"{camera}.input_topic: rclpy refuses {echo(configured)}{via} in namespace "
            f"{self.get_namespace()!r} (after any remapping): {echo(reason, quote=False)}"
        )

    def _check_publishers(self) -> None:
        """Each second: follow the publishers (``auto``); count those no subscription matches."""
        if self.core.settings["qos.reliability"] == "auto":
            self._match_publishers()
        for camera in self._subscribed_reliability:
            self._count_unmatched(camera)

    def _count_unmatched(self, camera: str) -> None:
        """Tell the core how many publishers the camera's subscription cannot match.

        Only reliability can fail to match here (the subscription is volatile and sets no
        deadline or liveliness): best-effort offers to a reliable subscription. Counted on the
        graph, so it falls back to 0 when they leave (rclpy's event only counts up).
        """
        unmatched = 0
        if self._subscribed_reliability.get(camera) == "reliable":
            unmatched = sum(
                info.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
                for info in self.get_publishers_info_by_topic(self.core.topics[camera])
            )
        self.core.unmatched_publishers(camera, unmatched)

    def _match_publishers(self) -> None:
        """``qos.reliability: auto``: follow the publishers' reliability as they come and go."""
        with self._entities:
            if not self._stopping:
                self._follow_publishers()

    def _follow_publishers(self) -> None:
        for camera, current in list(self._subscribed_reliability.items()):
            wanted = self._reliability_for(self.core.topics[camera])
            if wanted != current:
                self.get_logger().info(
                    f"camera {camera}: publishers of {self.core.topics[camera]} now call for "
                    f"{wanted} (was {current}); re-subscribing"
                )
                self._subscribe(camera, wanted)

    def _publish(self, publications: list[Publication]) -> None:
        for publication in publications:
            self._outputs[publication.camera, publication.output].publish(publication.message)

    def _on_image(self, camera: str, msg: object) -> None:
        self.core.receive(camera, msg)
        self._flush(camera)

    def _flush(self, camera: str) -> None:
        """Publish the frames passed through that may go now (callback, timer)."""
        try:
            self.core.flush(camera, self._publish)
        except Exception as exc:  # e.g. the context shut down under us; they stay queued
            self.get_logger().warning(f"{camera}: publish failed: {exc!r}")

    def _work(self, camera: str) -> None:
        while self._running and rclpy.ok(context=self.context):
            frame = self.core.next_frame(camera, WORKER_POLL_S)
            if frame is None:
                continue
            try:
                self._restore_and_publish(camera, frame)
            except Exception as exc:  # never stop the worker
                self.get_logger().error(f"{camera}: worker step failed: {exc!r}")
            finally:
                self._finish(camera)

    def _restore_and_publish(self, camera: str, frame: PendingFrame) -> None:
        try:
            clock_now = self.get_clock().now().nanoseconds * 1e-9
            publications = self.core.process(camera, frame, clock_now)
        except Exception as exc:  # never lose the frame; counted
            publications = self.core.raised(camera, frame, exc)
        try:
            self.core.publish(camera, publications, self._publish)
        except Exception as exc:  # e.g. the context shut down under us
            self.get_logger().warning(f"{camera}: publish failed: {exc!r}")

    def _finish(self, camera: str) -> None:
        """Publish the frames passed through behind the restored one; then do idle-time work."""
        try:
            self.core.finish(camera, self._publish)
        except Exception as exc:
            self.get_logger().warning(f"{camera}: publish failed: {exc!r}")
        try:
            self.core.idle(camera)  # after publishing: a new reference is prepared now
        except Exception as exc:
            self.get_logger().error(f"{camera}: preparing the reference failed: {exc!r}")

    def _on_set_parameters(self, parameters: list) -> SetParametersResult:
        changes = {p.name: p.value for p in parameters if p.name in self._specs}
        if not changes:
            return SetParametersResult(successful=True)
        if "cameras" in changes:
            changes["cameras"] = list(changes["cameras"])
        ok, reason = self.core.update_parameters(changes)
        if not ok:
            self.get_logger().warning(f"parameter change rejected: {reason}")
        return SetParametersResult(successful=ok, reason=reason)

    def _publish_diagnostics(self) -> None:
        reports = self.core.diagnostics()
        stamp_ns = self.get_clock().now().nanoseconds
        self._diagnostics.publish(self.core.factory.diagnostic_array(stamp_ns, reports))

    def destroy_node(self) -> None:
        with self._entities:
            self._stopping = True
        self._running = False
        self.core.close()
        deadline = time.monotonic() + WORKER_JOIN_S  # one deadline for all the cameras
        for worker in self._workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
        logging.getLogger("frame_restore_ros").removeHandler(self._log_handler)
        super().destroy_node()


#: Destroyed-entity races within this many seconds that mean something else is wrong (re-raised).
INVALID_HANDLE_BURST = (10, 1.0)


def spin_past_destroyed_entities(executor: MultiThreadedExecutor, node: Node) -> None:
    """``executor.spin()``, carried on past rclpy's destroyed-entity race.

    With ``qos.reliability: auto`` the node re-creates a camera's subscription from a timer
    callback (a pool thread) while the executor builds its wait set in another; rclpy 7.1
    (ros2/rclpy#1284) then raises InvalidHandle ("cannot use Destroyable because destruction
    was requested") out of ``spin()``, for an entity that is already gone. That must not stop
    the node: it spins on. Many in a burst, or after shutdown, are raised as they are.
    """
    count, window_s = INVALID_HANDLE_BURST
    recent: list[float] = []
    while True:
        try:
            executor.spin()
            return
        except InvalidHandle as exc:
            now = time.monotonic()
            recent = [t for t in recent if now - t < window_s] + [now]
            if not rclpy.ok(context=node.context) or len(recent) >= count:
                raise
            node.get_logger().warning(
                f"executor met an entity destroyed under it ({exc}); spinning on"
            )


def main(args: list[str] | None = None) -> int:
    """Entry point of ``ros2 run frame_restore_ros frame_restore``."""
    keep_frame_buffers_resident()  # no page faults on each frame's arrays (media/frame_memory)
    rclpy.init(args=args)
    try:
        node = FrameRestoreNode()
    except (ParameterError, ParameterException) as exc:
        logging.basicConfig()
        logging.getLogger(__name__).error("frame_restore: invalid parameters: %s", exc)
        rclpy.try_shutdown()
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):  # Ctrl-C while the model loads
        rclpy.try_shutdown()
        return 0
    except _rclpy.RCLError:
        # A SIGTERM while the node starts (a model load or TensorRT engine build takes seconds)
        # shuts the context down; the next topic the node creates then fails: a clean stop.
        if rclpy.ok():
            raise
        rclpy.try_shutdown()
        return 0
    executor = MultiThreadedExecutor(num_threads=len(node.core.cameras) + 2)
    executor.add_node(node)
    try:
        spin_past_destroyed_entities(executor, node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except _rclpy.RCLError:
        # A SIGTERM that shuts the context down while the executor builds its wait set makes
        # rclpy raise "the given context is not valid" instead of ExternalShutdownException (a
        # race in rclpy's executor): the same clean stop. Any other RCL error is raised.
        if rclpy.ok():
            raise
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
