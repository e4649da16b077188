"""The node without ROS: cameras, mailboxes, parameters, model swaps, diagnostics.

The rclpy adapter calls, per camera: :meth:`NodeCore.receive` and :meth:`NodeCore.flush` from
the subscription callback; :meth:`NodeCore.next_frame`, :meth:`NodeCore.process`,
:meth:`NodeCore.publish`, :meth:`NodeCore.finish` and :meth:`NodeCore.idle` from the camera's
worker thread; :meth:`NodeCore.update_parameters` from the parameter callback; and
:meth:`NodeCore.diagnostics` from a timer. Every output leaves through the camera's slot, which
keeps them in arrival order. All of it is thread-safe per camera.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from frame_restore_ros.codec.messages import stamp_seconds
from frame_restore_ros.node.camera_pipeline import CameraPipeline, Publication
from frame_restore_ros.node.camera_stats import DropCause
from frame_restore_ros.node.diagnostics import (
    CameraInfo,
    DiagnosticReport,
    camera_report,
    model_report,
)
from frame_restore_ros.node.frame_slot import LatestFrameSlot, PendingFrame
from frame_restore_ros.node.message_factory import MessageFactory
from frame_restore_ros.node.model_holder import (
    MODEL_PARAMETERS,
    BackendRequest,
    Loader,
    ModelHolder,
    build_backend,
)
from frame_restore_ros.node.parameters import (
    NODE_NAME,
    NodeSettings,
    ParameterError,
    default_input_topic,
)
from frame_restore_ros.node.qos import output_depth
from frame_restore_ros.node.restorer_settings import (
    load_defect_masks,
    output_options,
    restorer_config,
)
from frame_restore_ros.node.throttle import ThrottledLog

log = logging.getLogger(__name__)
Publisher = Callable[[list[Publication]], None]  # publishes one frame's outputs


class NodeCore:
    """Everything the ``frame_restore`` node decides.

    Raises ParameterError at construction when a camera's ``defect_mask`` file does not load.
    """

    def __init__(
        self,
        settings: NodeSettings,
        factory: MessageFactory,
        loader: Loader = build_backend,
        node_name: str = NODE_NAME,
    ) -> None:
        self.settings = settings
        self.node_name = node_name
        self.factory = factory
        self.defect_masks = load_defect_masks(settings)  # before the slow model load
        self.models = ModelHolder(loader)
        self.warnings = ThrottledLog(log, settings["log_throttle_s"])
        try:
            self.models.load(BackendRequest.from_settings(settings))
        except Exception as exc:  # the node runs on: frames pass through, diagnostics say why
            log.error("no model at start-up, frames pass through: %s", exc)
        self.cameras = {
            name: CameraPipeline(
                name,
                settings[f"{name}.transport"] == "compressed",
                restorer_config(settings, self.defect_masks[name]),
                self.models.backend,
                factory,
                self.warnings,
            )
            for name in settings.cameras
        }
        depth = output_depth(settings["qos.depth"])  # the burst its outputs can hold
        self.slots = {
            name: LatestFrameSlot(settings["stall_timeout_s"], max_queued=depth)
            for name in settings.cameras
        }
        self.topics = {
            name: settings[f"{name}.input_topic"] or default_input_topic(name)
            for name in settings.cameras
        }

    def receive(self, camera: str, message: object, now: float | None = None) -> None:
        """Take a message from the subscription (then :meth:`flush` the camera).

        The message waits in the camera's one-frame slot. A frame it supersedes is counted as
        dropped and, with ``overload_policy: passthrough``, queued to be republished unchanged
        in arrival order: by :meth:`flush` when no older frame is being restored, otherwise
        right after that frame's outputs (:meth:`publish`, :meth:`finish`).
        """
        now = time.monotonic() if now is None else now
        pipeline = self.cameras[camera]
        pipeline.stats.arrived(now)
        passthrough = self.settings["overload_policy"] == "passthrough"
        superseded = self.slots[camera].put(message, now, pass_through=passthrough)
        if superseded is not None:
            self._dropped(camera, DropCause.SUPERSEDED, now)

    def _dropped(self, camera: str, cause: DropCause, now: float) -> None:
        """Count a frame not restored; warn (throttled) when it is not passed through either."""
        self.cameras[camera].stats.dropped(cause)
        if self.settings["overload_policy"] == "passthrough":
            return  # republished unchanged
        self.warnings.warning(
            f"{camera}:drop:{cause.value}",
            f"{camera}: dropped a {cause.value} frame (not restored)",
            now,
        )

    def next_frame(self, camera: str, timeout: float | None = None) -> PendingFrame | None:
        """Wait for the camera's newest frame (worker thread); :meth:`finish` it once published."""
        return self.slots[camera].take(timeout)

    def process(
        self, camera: str, frame: PendingFrame, clock_now: float | None = None
    ) -> list[Publication]:
        """Restore ``frame``; ``clock_now`` is the node clock (s, sim time in replays).

        With ``max_input_age_s`` > 0, a frame whose header stamp is older than that on the node
        clock is dropped (or passed through) instead of restored.
        """
        now = time.monotonic()
        max_age = self.settings["max_input_age_s"]
        if max_age > 0 and clock_now is not None:
            try:
                age = clock_now - stamp_seconds(frame.message.header)
            except (AttributeError, TypeError, ValueError):
                age = 0.0  # the pipeline reports the bad header
            if age > max_age:
                self._dropped(camera, DropCause.STALE, now)
                if self.settings["overload_policy"] != "passthrough":
                    return []
                return [Publication(camera, "restored", frame.message, frame.seq)]
        options = output_options(self.settings, camera)
        published = self.cameras[camera].handle(frame.message, options, now)
        return [replace(p, seq=frame.seq) for p in published]

    def raised(self, camera: str, frame: PendingFrame, exc: Exception) -> list[Publication]:
        """``frame`` passed through after :meth:`process` raised ``exc`` (counted, logged)."""
        pipeline = self.cameras[camera]
        published = pipeline.raised(frame.message, "processing", exc, time.monotonic())
        return [replace(p, seq=frame.seq) for p in published]

    def publish(self, camera: str, publications: list[Publication], publish: Publisher) -> None:
        """Hand the worker's ``publications`` (one frame's) to ``publish``, in arrival order.

        Frames queued to pass through that are older go first. A frame overtaken while it was
        restored (its restoration outlasted the pass-through hold, or the queue behind it
        filled) already left as received: its outputs are not published, and it is counted
        ``overtaken`` (not dropped: it was restored, too late).
        """
        slot, frame_out = self.slots[camera], self._passed_through(camera, publish)
        by_frame: dict[int, list[Publication]] = {}
        for publication in publications:
            by_frame.setdefault(publication.seq, []).append(publication)
        for seq, outputs in by_frame.items():
            if not slot.publish(seq, lambda outputs=outputs: publish(outputs), frame_out):
                self._overtaken(camera)

    def _overtaken(self, camera: str) -> None:
        """Count a frame that left as received because its restoration was overtaken."""
        slot = self.slots[camera]
        self.cameras[camera].stats.overtaken()
        self.warnings.warning(
            f"{camera}:overtaken",
            f"{camera}: a frame was passed through unrestored: its restoration took over "
            f"{slot.hold_s} s, or {slot.max_queued} frames waited behind it, so it left as "
            "received and its restored outputs were not published",
        )

    def flush(self, camera: str, publish: Publisher, now: float | None = None) -> None:
        """Publish the camera's frames queued to pass through that may go now (callback, timer).

        While a restoration outlasts the hold (a stalled backend), the newest frame passes
        through too, under either policy, counted ``dropped.stalled``: the stream never stops.
        """
        slot = self.slots[camera]

        def stalled() -> None:  # counted before it is published
            self.cameras[camera].stats.dropped(DropCause.STALLED)
            restoring = slot.restoring_s() or slot.hold_s
            self.warnings.warning(
                f"{camera}:stalled",
                f"{camera}: the restoration in progress has run {restoring:.1f} s (over the "
                f"{slot.hold_s} s hold): frames pass through unrestored until it returns",
                now,
            )

        slot.flush(self._passed_through(camera, publish), stalled)

    def finish(self, camera: str, publish: Publisher) -> None:
        """After publishing a frame's outputs: publish the frames passed through behind it."""
        self.slots[camera].finish(self._passed_through(camera, publish))

    @staticmethod
    def _passed_through(camera: str, publish: Publisher) -> Callable[[PendingFrame], None]:
        return lambda frame: publish([Publication(camera, "restored", frame.message, frame.seq)])

    def idle(self, camera: str) -> None:
        """Call after publishing a frame's outputs: off-critical-path work (worker thread)."""
        if self.settings["restore"]:
            self.cameras[camera].idle()

    def unmatched_publishers(self, camera: str, count: int) -> None:
        """Record how many publishers of the camera's topic its subscription cannot match.

        The adapter counts them on the ROS graph (best-effort offers while it subscribes
        reliable), at rclpy's incompatible-QoS event and each second: their frames never reach
        the node, so the camera's diagnostics say why while they exist (a stale camera
        otherwise says only "no frame yet"); 0 clears it.
        """
        stats = self.cameras[camera].stats
        if count <= 0:
            stats.incompatible_qos = ""
            return
        text = (
            f"{count} publisher(s) of {self.topics[camera]} offer best-effort reliability, which "
            f"this node's reliable subscription cannot match (qos.reliability: "
            f"{self.settings['qos.reliability']}; auto follows the publishers): none of their "
            "frames arrive"
        )
        if text != stats.incompatible_qos:
            self.warnings.warning(f"{camera}:incompatible_qos", f"{camera}: {text}")
        stats.incompatible_qos = text

    def resubscribed(self, camera: str) -> None:
        """Forget what the old subscription could not match (``auto`` made a new one)."""
        self.cameras[camera].stats.incompatible_qos = ""

    def update_parameters(self, changes: Mapping[str, object]) -> tuple[bool, str]:
        """Validate and apply runtime changes together; (False, reason) keeps the old values.

        A change to a model parameter loads the new model first; the cameras switch only when
        it loaded.
        """
        try:
            settings = self.settings.changed(changes)
            configs = {
                name: restorer_config(settings, self.defect_masks[name]) for name in self.cameras
            }
        except (ParameterError, ValueError) as exc:
            return False, str(exc)
        backend = self.models.backend
        if any(settings[name] != self.settings[name] for name in MODEL_PARAMETERS):
            try:
                backend = self.models.load(BackendRequest.from_settings(settings))
            except Exception as exc:
                kept = self.models.backend.name if self.models.backend else "no model"
                return False, f"new model did not load ({exc}); still running {kept}"
        self.settings = settings
        self.warnings.period_s = settings["log_throttle_s"]
        for slot in self.slots.values():
            slot.hold_s = settings["stall_timeout_s"]
        for name, pipeline in self.cameras.items():
            pipeline.reconfigure(configs[name], backend)
        log.info("parameters changed: %s", ", ".join(f"{k}={v!r}" for k, v in changes.items()))
        return True, ""

    def diagnostics(self, now: float | None = None) -> list[DiagnosticReport]:
        """One report per camera and one for the model; restarts each camera's window."""
        now = time.monotonic() if now is None else now
        s = self.settings
        model = self.models.state()
        reports = [model_report(self.node_name, model, s["restore"])]
        for name, pipeline in self.cameras.items():
            reports.append(
                camera_report(
                    self.node_name,
                    self._camera_info(name),
                    pipeline.stats,
                    model,
                    s["restore"],
                    s["diagnostics.stale_after_s"],
                    s["diagnostics.warn_failed_ratio"],
                    now,
                    s["diagnostics.period_s"],
                )
            )
        return reports

    def _camera_info(self, camera: str) -> CameraInfo:
        mask = self.defect_masks[camera]
        pixels = 0 if mask is None else int(mask.sum())
        slot = self.slots[camera]
        return CameraInfo(
            camera,
            self.topics[camera],
            self.settings[f"{camera}.defect_mask"],
            pixels,
            slot.restoring_s(),
            slot.hold_s,
        )

    def close(self) -> None:
        for slot in self.slots.values():
            slot.close()
