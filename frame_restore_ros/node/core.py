"""The node without ROS: cameras, mailboxes, parameters, model swaps, diagnostics.

The rclpy adapter calls, per camera: :meth:`NodeCore.receive` from the subscription callback;
:meth:`NodeCore.next_frame`, :meth:`NodeCore.process` and, after publishing what it returned,
:meth:`NodeCore.idle` from the camera's worker thread; :meth:`NodeCore.update_parameters` from
the parameter callback; and :meth:`NodeCore.diagnostics` from a timer. All of it is thread-safe
per camera.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

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
from frame_restore_ros.node.restorer_settings import (
    load_defect_masks,
    output_options,
    restorer_config,
)
from frame_restore_ros.node.throttle import ThrottledLog

log = logging.getLogger(__name__)


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
        self.slots = {name: LatestFrameSlot() for name in settings.cameras}
        self.topics = {
            name: settings[f"{name}.input_topic"] or default_input_topic(name)
            for name in settings.cameras
        }

    def receive(self, camera: str, message: object, now: float | None = None) -> list[Publication]:
        """Take a message from the subscription; return what to publish right away.

        The message waits in the camera's one-frame slot. A frame it supersedes is counted as
        dropped and, with ``overload_policy: passthrough``, republished unchanged.
        """
        now = time.monotonic() if now is None else now
        pipeline = self.cameras[camera]
        pipeline.stats.arrived(now)
        superseded = self.slots[camera].put(message, now)
        if superseded is None:
            return []
        return self._drop(camera, superseded.message, DropCause.SUPERSEDED, now)

    def _drop(
        self, camera: str, message: object, cause: DropCause, now: float
    ) -> list[Publication]:
        self.cameras[camera].stats.dropped(cause)
        if self.settings["overload_policy"] == "passthrough":
            return [Publication(camera, "restored", message)]
        self.warnings.warning(
            f"{camera}:drop:{cause.value}",
            f"{camera}: dropped a {cause.value} frame (not restored)",
            now,
        )
        return []

    def next_frame(self, camera: str, timeout: float | None = None) -> PendingFrame | None:
        """Wait for the camera's newest frame (worker thread)."""
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
                return self._drop(camera, frame.message, DropCause.STALE, now)
        options = output_options(self.settings, camera)
        return self.cameras[camera].handle(frame.message, options, now)

    def idle(self, camera: str) -> None:
        """Call after publishing a frame's outputs: off-critical-path work (worker thread)."""
        if self.settings["restore"]:
            self.cameras[camera].idle()

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
        return CameraInfo(
            camera, self.topics[camera], self.settings[f"{camera}.defect_mask"], pixels
        )

    def close(self) -> None:
        for slot in self.slots.values():
            slot.close()
