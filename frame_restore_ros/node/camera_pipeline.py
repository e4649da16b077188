"""One camera inside the node: message in -> restorer -> messages out.

Rules: a clean frame, and every frame that cannot be restored, is republished as the very input
message object (no conversion, nothing withheld); a repaired frame keeps the input's header and
encoding and every byte of its good pixels (``image_codec.merge_into_native``); a message that
cannot be decoded is republished unchanged, counted by kind and logged at a limited rate.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from frame_restore_ros.codec.image_codec import (
    DecodedImage,
    ImageDecodeError,
    decode_compressed,
    decode_image,
    encode_compressed,
    float32_fields,
    merge_into_native,
    native_to_fields,
)
from frame_restore_ros.codec.messages import stamp_seconds
from frame_restore_ros.node.camera_stats import CameraStats
from frame_restore_ros.node.message_factory import MessageFactory
from frame_restore_ros.node.model_holder import LockedBackend
from frame_restore_ros.node.throttle import ThrottledLog
from frame_restore_ros.pipeline.restorer import Restorer, RestorerConfig, Status

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Publication:
    """A message to publish on ``<camera's resolved input topic>/<output>``."""

    camera: str
    output: str  # "restored", "failure_mask" or "uncertainty"
    message: object


@dataclass(frozen=True)
class OutputOptions:
    restore: bool = True
    publish_mask: bool = True
    publish_uncertainty: bool = False
    jpeg_quality: int = 95
    repaired_format: str = "same"  # compressed cameras: "same" or "png"


class CameraPipeline:
    """The state of one camera: restorer (detector history, reference), statistics."""

    def __init__(
        self,
        name: str,
        compressed: bool,
        config: RestorerConfig,
        backend: LockedBackend | None,
        factory: MessageFactory,
        warnings: ThrottledLog,
    ) -> None:
        self.name = name
        self.compressed = compressed
        self.restorer = Restorer(backend, config)
        self.stats = CameraStats()
        self.factory = factory
        self.warnings = warnings
        self._lock = threading.Lock()  # process vs. runtime reconfiguration

    def reconfigure(self, config: RestorerConfig, backend: LockedBackend | None) -> None:
        """Apply new parameters, keeping the reference.

        The detector restarts (loses its history) only if its own settings changed.
        """
        with self._lock:
            self.restorer.reconfigure(config, backend)

    def idle(self) -> None:
        """Use idle time after publishing: prepare a new reference for the model."""
        with self._lock:
            try:
                self.restorer.prepare_reference()
            except Exception:  # the next damaged frame retries, and reports, if it fails
                log.exception("%s: preparing the reference failed", self.name)

    def _decode(self, message: object) -> DecodedImage:
        try:
            if self.compressed:
                return decode_compressed(str(message.format), message.data)
            return decode_image(message)
        except ImageDecodeError:
            raise
        except (AttributeError, TypeError, ValueError) as exc:
            raise ImageDecodeError(f"malformed message: {exc}", "malformed") from exc

    def _bad(self, message: object, kind: str, text: str, now: float) -> list[Publication]:
        self.stats.bad_message(kind)
        self.warnings.warning(
            f"{self.name}:{kind}", f"{self.name}: message passed through unchanged: {text}", now
        )
        return [Publication(self.name, "restored", message)]

    def handle(self, message: object, options: OutputOptions, now: float) -> list[Publication]:
        """Process one received message; return what to publish (``now``: monotonic s)."""
        start = time.perf_counter()
        try:
            decoded = self._decode(message)
            stamp = stamp_seconds(message.header)
        except ImageDecodeError as exc:
            return self._bad(message, exc.kind, str(exc), now)
        except (AttributeError, TypeError, ValueError) as exc:
            return self._bad(message, "malformed", f"bad header: {exc}", now)
        self.stats.encoding = decoded.encoding
        self.stats.resolution = f"{decoded.bgr.shape[1]}x{decoded.bgr.shape[0]}"
        with self._lock:
            try:
                result = self.restorer.process(decoded.bgr, stamp, restore=options.restore)
            except Exception:  # detection bug or worse: never stop the stream
                log.exception("%s: restorer raised; frame passed through", self.name)
                self.stats.bad_message("restorer_exception")
                return [Publication(self.name, "restored", message)]
        status = result.status.value
        if result.status not in (Status.CLEAN, Status.REPAIRED, Status.RESTORE_OFF):
            self.warnings.warning(
                f"{self.name}:{status}", f"{self.name}: frame passed through: {result.reason}", now
            )
        restored = self._restored(message, decoded, result, options)
        publications = [Publication(self.name, "restored", restored)]
        if options.publish_mask:
            mask = result.mask.view(np.uint8) * np.uint8(255)
            publications.append(
                Publication(
                    self.name,
                    "failure_mask",
                    self.factory.image(message.header, native_to_fields(mask, "mono8")),
                )
            )
        if options.publish_uncertainty and result.uncertainty is not None:
            std = self.factory.image(message.header, float32_fields(result.uncertainty))
            publications.append(Publication(self.name, "uncertainty", std))
        done = time.perf_counter()
        restorer_ms = result.timings_ms["total"]
        overhead_ms = (done - start) * 1000 - restorer_ms
        self.stats.frame(
            status,
            result.reason,
            result.failed_ratio,
            result.counts,
            result.mask.size,
            restorer_ms,
            overhead_ms,
            (result.reference_age_frames, result.reference_age_seconds),
        )
        return publications

    def _restored(
        self, message: object, decoded: DecodedImage, result: object, options: OutputOptions
    ) -> object:
        if result.status is not Status.REPAIRED:
            return message  # unchanged, the very same object
        if self.compressed:
            fmt = str(message.format) if options.repaired_format == "same" else "png"
            payload = encode_compressed(result.frame, fmt, options.jpeg_quality)
            return self.factory.compressed(message.header, fmt, payload)
        merged = merge_into_native(decoded.native, result.frame, result.mask, decoded.encoding)
        return self.factory.image(message.header, native_to_fields(merged, decoded.encoding))
