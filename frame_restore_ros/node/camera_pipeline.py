"""One camera inside the node: message in -> restorer -> messages out.

Rules: a clean frame, and every frame that cannot be restored, is republished as the very input
message object (no conversion, nothing withheld); a repaired frame keeps the input's header and
encoding and every byte of its good pixels (``image_codec.merge_into_native``); a message that
cannot be decoded is republished unchanged, counted by kind and logged at a limited rate.

:meth:`CameraPipeline.handle` is the node's whole path; its steps (:meth:`~CameraPipeline.decode`,
:meth:`~CameraPipeline.restore`, :meth:`~CameraPipeline.publications`) are public so that the bag
replay runs the same path with its own work (injected failures, scoring) between them.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from frame_restore_ros.backends.base import RestorationBackend
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
from frame_restore_ros.node.throttle import ThrottledLog
from frame_restore_ros.pipeline.restorer import Restorer, RestorerConfig, RestoreResult, Status

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
    jpeg_quality: int = 95  # re-encoded JPEG (repaired frames; the replay's damaged frames)
    repaired_format: str = "same"  # compressed cameras: "same" or "png"


@dataclass(frozen=True)
class DecodedMessage:
    """A received message with its pixels and header stamp.

    Attributes:
        message: the message object, republished as is when the frame is not repaired.
        image: its pixels: ``bgr`` (H, W, 3) uint8 is what the restorer works on.
        stamp: header stamp, seconds.
    """

    message: object
    image: DecodedImage
    stamp: float


class CameraPipeline:
    """The state of one camera: restorer (detector history, reference), statistics."""

    def __init__(
        self,
        name: str,
        compressed: bool,
        config: RestorerConfig,
        backend: RestorationBackend | None,  # the node's: a LockedBackend
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

    def reconfigure(self, config: RestorerConfig, backend: RestorationBackend | None) -> None:
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

    def decode(self, message: object) -> DecodedMessage:
        """Decode ``message``; raise ImageDecodeError (``kind`` says why) if it cannot be."""
        try:
            if self.compressed:
                image = decode_compressed(str(message.format), message.data)
            else:
                image = decode_image(message)
        except ImageDecodeError:
            raise
        except (AttributeError, TypeError, ValueError) as exc:
            raise ImageDecodeError(f"malformed message: {exc}", "malformed") from exc
        try:
            stamp = stamp_seconds(message.header)
        except (AttributeError, TypeError, ValueError) as exc:
            raise ImageDecodeError(f"bad header: {exc}", "malformed") from exc
        return DecodedMessage(message, image, stamp)

    def restore(self, received: DecodedMessage, options: OutputOptions) -> RestoreResult:
        """Run the restorer on the frame (raises what the restorer raises)."""
        with self._lock:
            return self.restorer.process(
                received.image.bgr, received.stamp, restore=options.restore
            )

    def with_pixels(
        self,
        received: DecodedMessage,
        bgr: np.ndarray,
        mask: np.ndarray,
        options: OutputOptions,
        fmt: str | None = None,
    ) -> DecodedMessage:
        """Return a new message: ``received`` with the pixels under ``mask`` taken from ``bgr``.

        Image: written into the input's own encoding, every byte of the other pixels kept, same
        header. CompressedImage: ``bgr`` (H, W, 3) uint8 re-encoded in ``fmt`` (default: the
        input's format) at ``options.jpeg_quality``. ``mask``: (H, W) bool.
        """
        message, image = received.message, received.image
        if self.compressed:
            fmt = str(message.format) if fmt is None else fmt
            # the input's own pixels (bit depth, channels) with only the masked ones replaced
            payload = encode_compressed(
                bgr, fmt, options.jpeg_quality, native=image.native, mask=mask
            )
            edited = self.factory.compressed(message.header, fmt, payload)
            return DecodedMessage(edited, DecodedImage(bgr, image.native, fmt), received.stamp)
        native = merge_into_native(image.native, bgr, mask, image.encoding)
        edited = self.factory.image(message.header, native_to_fields(native, image.encoding))
        return DecodedMessage(edited, DecodedImage(bgr, native, image.encoding), received.stamp)

    def publications(
        self, received: DecodedMessage, result: RestoreResult, options: OutputOptions
    ) -> list[Publication]:
        """Return the messages to publish for ``received`` restored into ``result``."""
        restored = received.message  # unchanged, the very same object, unless repaired
        if result.status is Status.REPAIRED:
            fmt = None if options.repaired_format == "same" else "png"
            changed = result.mask if result.repaired is None else result.repaired
            restored = self.with_pixels(received, result.frame, changed, options, fmt).message
        publications = [Publication(self.name, "restored", restored)]
        header = received.message.header
        if options.publish_mask:
            mask = result.mask.view(np.uint8) * np.uint8(255)
            fields = native_to_fields(mask, "mono8")
            publications.append(
                Publication(self.name, "failure_mask", self.factory.image(header, fields))
            )
        if options.publish_uncertainty and result.uncertainty is not None:
            std = self.factory.image(header, float32_fields(result.uncertainty))
            publications.append(Publication(self.name, "uncertainty", std))
        return publications

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
            received = self.decode(message)
        except ImageDecodeError as exc:
            return self._bad(message, exc.kind, str(exc), now)
        image = received.image
        self.stats.encoding = image.encoding
        self.stats.resolution = f"{image.bgr.shape[1]}x{image.bgr.shape[0]}"
        try:
            result = self.restore(received, options)
        except Exception:  # detection bug or worse: never stop the stream
            log.exception("%s: restorer raised; frame passed through", self.name)
            self.stats.bad_message("restorer_exception")
            return [Publication(self.name, "restored", message)]
        status = result.status.value
        if result.status not in (Status.CLEAN, Status.REPAIRED, Status.RESTORE_OFF):
            self.warnings.warning(
                f"{self.name}:{status}", f"{self.name}: frame passed through: {result.reason}", now
            )
        publications = self.publications(received, result, options)
        restorer_ms = result.timings_ms["total"]
        overhead_ms = (time.perf_counter() - start) * 1000 - restorer_ms
        self.stats.frame(
            status,
            result.reason,
            result.failed_ratio,
            result.counts,
            result.mask.size,
            restorer_ms,
            overhead_ms,
            (result.reference_age_frames, result.reference_age_seconds),
            result.unrepaired_pixels,
        )
        return publications
