"""One camera inside the node: message in -> restorer -> messages out.

Rules: a clean frame, and every frame that cannot be restored, is republished as the very input
message object (no conversion, nothing withheld); a repaired frame keeps the input's header and
encoding and every byte of its good pixels (``image_codec.merge_into_native``); a message that
cannot be decoded (or is too small for the detector) is republished unchanged, counted by kind and
logged at a limited rate; so is a frame the node's own code raised on, counted as an exception,
and a frame whose inference raised (status ``error``), each with its traceback the first time only.

:meth:`CameraPipeline.handle` is the node's whole path; its steps (:meth:`~CameraPipeline.decode`,
:meth:`~CameraPipeline.restore`, :meth:`~CameraPipeline.publications`) are public so that the bag
replay runs the same path with its own work (injected failures, scoring) between them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np

from frame_restore_ros.backends.base import RestorationBackend
from frame_restore_ros.codec.image_codec import (
    DecodedImage,
    ImageDecodeError,
    decode_compressed,
    decode_image,
    encode_compressed,
    encode_png,
    float32_fields,
    merge_into_native,
    native_to_fields,
)
from frame_restore_ros.codec.messages import stamp_seconds
from frame_restore_ros.detection.detector import MIN_FRAME_SIDE
from frame_restore_ros.node.camera_stats import CameraStats
from frame_restore_ros.node.message_factory import MessageFactory
from frame_restore_ros.node.throttle import ThrottledLog
from frame_restore_ros.pipeline.reference import ResetCause
from frame_restore_ros.pipeline.restorer import Restorer, RestorerConfig, RestoreResult, Status


@dataclass(frozen=True)
class Publication:
    """A message to publish on ``<camera's resolved input topic>/<output>``."""

    camera: str
    output: str  # "restored", "failure_mask" or "uncertainty"
    message: object
    seq: int = 0  # the frame's place in the camera's arrival order (``frame_slot``)


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
        self._resets_seen: Counter[ResetCause] = Counter()  # the tracker's, at the last frame
        self._tracebacks: set[str] = set()  # stages whose exception was logged with traceback

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
            except Exception as exc:  # the next damaged frame retries, and reports, if it fails
                self._log_exception("preparing the reference", exc, time.monotonic())

    def decode(self, message: object) -> DecodedMessage:
        """Decode ``message``; raise ImageDecodeError (``kind`` says why) if it cannot be.

        A frame thinner than the detector's MIN_FRAME_SIDE is refused as ``too_small``.
        """
        try:
            if self.compressed:
                image = decode_compressed(str(message.format), message.data)
            else:
                image = decode_image(message)
        except ImageDecodeError:
            raise
        except (AttributeError, TypeError, ValueError) as exc:
            raise ImageDecodeError(f"malformed message: {exc}", "malformed") from exc
        height, width = image.bgr.shape[:2]
        if min(height, width) < MIN_FRAME_SIDE:
            raise ImageDecodeError(
                f"{width}x{height} frame is smaller than {MIN_FRAME_SIDE}x{MIN_FRAME_SIDE}, the "
                "smallest the detector takes",
                "too_small",
            )
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
        png: bool = False,
    ) -> DecodedMessage:
        """Return a new message: ``received`` with the pixels under ``mask`` taken from ``bgr``.

        Image: written into the input's own encoding, every byte of the other pixels kept, same
        header. CompressedImage: ``bgr`` (H, W, 3) uint8 re-encoded in the input's format at
        ``options.jpeg_quality``, or with ``png`` as lossless PNG in the format that says so
        (``image_codec.png_format``). ``mask``: (H, W) bool.
        """
        message, image = received.message, received.image
        if self.compressed:
            # the input's own pixels (bit depth, channels) with only the masked ones replaced
            fmt = str(message.format)
            if png:
                fmt, payload = encode_png(bgr, fmt, native=image.native, mask=mask)
            else:
                payload = encode_compressed(
                    bgr, fmt, options.jpeg_quality, native=image.native, mask=mask
                )
            edited = self.factory.compressed(message.header, fmt, payload)
            return DecodedMessage(edited, DecodedImage(bgr, image.native, fmt), received.stamp)
        native = merge_into_native(image.native, bgr, mask, image.encoding)
        fields = native_to_fields(native, image.encoding, image.bigendian)  # the input's order
        edited = self.factory.image(message.header, fields)
        decoded = DecodedImage(bgr, native, image.encoding, image.bigendian)
        return DecodedMessage(edited, decoded, received.stamp)

    def publications(
        self, received: DecodedMessage, result: RestoreResult, options: OutputOptions
    ) -> list[Publication]:
        """Return the messages to publish for ``received`` restored into ``result``."""
        restored = received.message  # unchanged, the very same object, unless repaired
        if result.status is Status.REPAIRED:
            png = options.repaired_format == "png"
            changed = result.mask if result.repaired is None else result.repaired
            restored = self.with_pixels(received, result.frame, changed, options, png).message
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
        self.stats.bad_message(kind, text)
        self.warnings.warning(
            f"{self.name}:{kind}", f"{self.name}: message passed through unchanged: {text}", now
        )
        return [Publication(self.name, "restored", message)]

    def raised(
        self, message: object, stage: str, error: Exception, now: float
    ) -> list[Publication]:
        """Pass through a frame that ``stage`` raised on: count it, log it (traceback once)."""
        self.stats.exception(stage, error)
        self._log_exception(stage, error, now, "; frame passed through")
        return [Publication(self.name, "restored", message)]

    def _log_exception(self, stage: str, error: Exception, now: float, then: str = "") -> None:
        """Log ``error`` at ERROR, at a limited rate; with its traceback the first time only."""
        text = f"{self.name}: {stage} raised {type(error).__name__}: {error}{then}"
        key = f"{self.name}:exception:{stage}"
        traceback = error if stage not in self._tracebacks else None
        if self.warnings.log(logging.ERROR, key, text, now, traceback):
            self._tracebacks.add(stage)

    def _note_resets(self, now: float) -> None:
        """Count the reference resets of the last frame; log each cause at a limited rate."""
        tracker = self.restorer.tracker
        new = tracker.resets - self._resets_seen
        self._resets_seen = tracker.resets.copy()
        reason = tracker.last_reset.reason if new and tracker.last_reset is not None else ""
        self.stats.record_resets(new, reason)
        for cause in new:
            if cause is ResetCause.SCENE_CUT:  # the detector keeps its history across a cut
                self.warnings.warning(
                    f"{self.name}:reset:{cause.value}",
                    f"{self.name}: reference dropped ({reason}): the failed regions pass "
                    "through until they show the new scene",
                    now,
                )
            elif cause is not ResetCause.REQUESTED:
                self.warnings.warning(
                    f"{self.name}:reset:{cause.value}",
                    f"{self.name}: reference and detector reset ({reason}): failures are not "
                    "detected until a new reference and history build up",
                    now,
                )

    def handle(self, message: object, options: OutputOptions, now: float) -> list[Publication]:
        """Process one received message; return what to publish (``now``: monotonic s).

        Never raises: a message that cannot be decoded, and a frame the node raised on, pass
        through unchanged and are counted.
        """
        start = time.perf_counter()
        try:
            received = self.decode(message)
        except ImageDecodeError as exc:
            return self._bad(message, exc.kind, str(exc), now)
        except Exception as exc:  # a decoder bug: never stop the stream
            return self.raised(message, "decode", exc, now)
        image = received.image
        self.stats.encoding = image.encoding
        self.stats.resolution = f"{image.bgr.shape[1]}x{image.bgr.shape[0]}"
        stage = "restore"
        try:
            result = self.restore(received, options)
            self._note_resets(now)
            stage = "outputs"
            publications = self.publications(received, result, options)
        except Exception as exc:  # detection bug or worse: never stop the stream
            return self.raised(message, stage, exc, now)
        status = result.status.value
        if result.error is not None:  # inference raised (status error): throttled, traceback once
            self._log_exception("inference", result.error, now, "; frame passed through")
        elif result.status not in (Status.CLEAN, Status.REPAIRED, Status.RESTORE_OFF):
            self.warnings.warning(
                f"{self.name}:{status}", f"{self.name}: frame passed through: {result.reason}", now
            )
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
