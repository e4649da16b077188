"""Replay a recorded drive through the restorer, as the node would have run it, into a new bag.

For every image message (sensor_msgs/Image or CompressedImage, any number of cameras, in record
order) the camera's own node pipeline (``node.camera_pipeline.CameraPipeline``: decode, restore,
publications, built with the rosbags message factory and serialized to CDR) runs; the output bag
holds every input message unchanged plus, per camera topic T:

  T/restored        the repaired image, same header and encoding as the input (pass-through on
                    every status but ``repaired``, and for messages that cannot be decoded)
  T/failure_mask    mono8, 255 = failed pixel, same header
  T/uncertainty     32FC1 std on the 0-255 scale (with ``uncertainty``; repaired frames only)
  T/damaged         the input after ``--inject`` (with injection only)

All are written at the input message's record time. With an injection spec the failures are
written into the decoded message between decode and restore; the real frame is the ground truth
and each damaged frame is scored (``evaluation.metrics``) for the output, for a hold baseline
(the same reference copied into the same detected mask) and for the damaged input.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from frame_restore_ros.backends.base import RestorationBackend
from frame_restore_ros.backends.hold import HoldBackend
from frame_restore_ros.bag.bag_io import (
    COMPRESSED_TYPE,
    IMAGE_TYPE,
    AtomicBagWriter,
    BagError,
    BagMessage,
    BagReader,
    TopicLoss,
)
from frame_restore_ros.codec.image_codec import ImageDecodeError
from frame_restore_ros.codec.messages import OUTPUT_TYPESTORE
from frame_restore_ros.detection.detector import DefectMaskSizeError
from frame_restore_ros.evaluation.metrics import quality
from frame_restore_ros.node.camera_pipeline import CameraPipeline, OutputOptions
from frame_restore_ros.node.message_factory import RosbagsMessageFactory
from frame_restore_ros.node.throttle import ThrottledLog
from frame_restore_ros.pipeline.reference import ResetCause
from frame_restore_ros.pipeline.repair import RepairPipeline
from frame_restore_ros.pipeline.restorer import RestorerConfig, RestoreResult, Status
from frame_restore_ros.synthetic.injection import InjectionSpec, Injector

log = logging.getLogger(__name__)
STAGES = ("read", "decode", "inject", "restore", "encode", "write", "score")
MAX_LOGGED_SKIPS = 5  # per reason and camera at WARNING; the rest at INFO
MAX_LOGGED_CLOCK_JUMPS = 5  # per camera at WARNING; the rest at INFO, and a total at the end
MAX_KEPT_CLOCK_JUMPS = 100  # (from, to) stamps kept per camera for the report
HOLD = RepairPipeline(HoldBackend())  # the baseline each repaired frame is scored against
FACTORY = RosbagsMessageFactory()  # the node pipeline's outputs, serialized with OUTPUT_TYPESTORE


@dataclass
class ReplayOptions:
    """What to replay and how (``frame-restore replay --help`` documents each)."""

    topics: tuple[str, ...] | None = None  # None: every image topic
    inject: InjectionSpec | None = None
    uncertainty: bool = False
    storage: str = "mcap"
    overwrite: bool = False
    restorer: RestorerConfig = field(default_factory=RestorerConfig)
    strips: int = 3  # before/after examples kept per camera
    progress: bool = True
    score: bool = True  # score injected frames against ground truth (costs SSIM time)
    salvage: bool = False  # keep what reads from a damaged bag; report what was lost


@dataclass
class Example:
    """A before/after example: panels of (H, W, 3) uint8 and their captions."""

    topic: str
    index: int
    panels: list[np.ndarray]
    captions: list[str]


@dataclass
class CameraLog:
    """Everything one camera topic produced during a replay."""

    topic: str
    msgtype: str
    messages: int = 0
    frames: int = 0
    encodings: Counter = field(default_factory=Counter)
    status: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    skips: list[tuple[int, str]] = field(default_factory=list)  # (record time ns, reason)
    failure_frames: Counter = field(default_factory=Counter)
    failure_pixels: Counter = field(default_factory=Counter)
    injected: Counter = field(default_factory=Counter)
    restorer_ms: list[float] = field(default_factory=list)
    pipeline_ms: list[float] = field(default_factory=list)
    timeline: list[dict] = field(default_factory=list)  # per decoded frame
    scores: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    examples: list[Example] = field(default_factory=list)
    resolution_resets: int = 0
    clock_jump_resets: int = 0  # header stamp went backwards: reference and detector restart
    scene_cut_resets: int = 0  # the view changed at once while part of it failed: reference
    clock_jumps: list[tuple[float, float]] = field(default_factory=list)  # (from, to) stamp s
    detection: list[tuple[int, int, int]] = field(
        default_factory=list
    )  # (hit, detected, truth) px


@dataclass
class ReplayResult:
    """What :func:`replay` returns: per-camera logs and run-wide figures."""

    input_bag: Path
    output_bag: Path
    cameras: dict[str, CameraLog]
    copied_messages: int
    wall_seconds: float
    stage_seconds: dict[str, float]
    backend: str
    inject: str | None
    lost: list[TopicLoss] = field(default_factory=list)  # with salvage: what did not read
    read_error: str | None = None  # with salvage: why reading stopped early


class _Camera:
    """Per-topic state: the node's camera pipeline, injector, log, where the next example is."""

    def __init__(
        self,
        topic: str,
        msgtype: str,
        backend: RestorationBackend | None,
        options: ReplayOptions,
        expected: int,
        grid: tuple[int, int],
    ) -> None:
        compressed = msgtype == COMPRESSED_TYPE
        warnings = ThrottledLog(log, 1.0)  # unused: the replay counts and logs skips itself
        self.pipeline = CameraPipeline(
            topic, compressed, options.restorer, backend, FACTORY, warnings
        )
        self.output = OutputOptions(publish_uncertainty=options.uncertainty)
        self.injector = None
        if options.inject:
            lead_in = options.restorer.detector.onset_warmup_frames
            self.injector = Injector(options.inject, grid, topic, lead_in)
        self.log = CameraLog(topic, msgtype)
        self.last_stamp: float | None = None  # header stamp (s) of the last decoded frame
        count = max(options.strips, 0)
        self.example_at = [int(expected * (i + 0.5) / count) for i in range(count)]


def _skip(camera: _Camera, kind: str, text: str, stamp_ns: int) -> None:
    """Count and log a message the pipeline cannot take (it is passed through)."""
    camera.log.skipped[kind] += 1
    camera.log.skips.append((stamp_ns, kind))
    level = logging.WARNING if camera.log.skipped[kind] <= MAX_LOGGED_SKIPS else logging.INFO
    log.log(
        level,
        "%s: message at t=%.3fs skipped (passed through): %s",
        camera.log.topic,
        stamp_ns / 1e9,
        text,
    )


def _restorer_raised(
    camera: _Camera,
    exc: Exception,
    passed: bytes,
    outputs: list[tuple[str, bytes]],
    stages: dict[str, float],
    tick: float,
    stamp_ns: int,
) -> list[tuple[str, bytes]]:
    """Pass a frame the restorer raised on through, as the node does; count and log why.

    ``exc``: what the restorer raised; ``passed``: the CDR of the frame as the node received it
    (the damaged one when injecting). A defect map of another resolution after the camera's
    first frame (the camera changed mode) is such a frame.
    """
    stages["restore"] += time.perf_counter() - tick
    record = camera.log
    record.status["restorer_exception"] += 1
    count = record.status["restorer_exception"]
    level = logging.WARNING if count <= MAX_LOGGED_SKIPS else logging.INFO
    log.log(
        level,
        "%s: frame at t=%.3fs passed through, the restorer raised %s: %s",
        record.topic,
        stamp_ns / 1e9,
        type(exc).__name__,
        exc,
        exc_info=level == logging.WARNING and not isinstance(exc, DefectMaskSizeError),
    )
    return [*outputs, (f"{record.topic}/restored", passed)]


def _inference_failed(camera: _Camera, result: RestoreResult, stamp_ns: int) -> None:
    """Log a frame passed through because its inference raised (status ``error``).

    As skips are: the first MAX_LOGGED_SKIPS per camera at WARNING (the first with its
    traceback), then INFO.
    """
    count = camera.log.status[Status.ERROR.value]
    log.log(
        logging.WARNING if count <= MAX_LOGGED_SKIPS else logging.INFO,
        "%s: frame at t=%.3fs passed through: %s",
        camera.log.topic,
        stamp_ns / 1e9,
        result.reason,
        exc_info=result.error if count == 1 else None,
    )


def _clock_jump(camera: _Camera, before: float | None, after: float, record_ns: int) -> None:
    """Count and log a reset because the header stamp went backwards."""
    record = camera.log
    if len(record.clock_jumps) < MAX_KEPT_CLOCK_JUMPS:
        record.clock_jumps.append((before if before is not None else float("nan"), after))
    count = record.clock_jump_resets
    level = logging.WARNING if count <= MAX_LOGGED_CLOCK_JUMPS else logging.INFO
    previous = f"{before:.3f}" if before is not None else "?"
    log.log(
        level,
        "%s: header stamp went backwards %s -> %.3f s (message at t=%.3fs): reference and "
        "detector reset, this frame is not checked for failures (clock jump %d)",
        record.topic,
        previous,
        after,
        record_ns / 1e9,
        count,
    )


def _warn_clock_jumps(cameras: dict[str, _Camera]) -> None:
    """Once per camera at the end: how many frames a backwards clock left unchecked."""
    for camera in cameras.values():
        record = camera.log
        if record.clock_jump_resets > 1:
            log.warning(
                "%s: %d clock-jump resets in %d frames (header stamps went backwards); each "
                "reset drops the reference and the detector history, so damage right after "
                "one is published unrepaired; check the recording's header stamps",
                record.topic,
                record.clock_jump_resets,
                record.frames,
            )


def _output_topics(topic: str, options: ReplayOptions, msgtype: str) -> dict[str, str]:
    topics = {"restored": msgtype, "failure_mask": IMAGE_TYPE}
    if options.uncertainty:
        topics["uncertainty"] = IMAGE_TYPE
    if options.inject:
        topics["damaged"] = msgtype
    return {f"{topic}/{suffix}": kind for suffix, kind in topics.items()}


def select_topics(available: dict[str, str], wanted: tuple[str, ...] | None) -> list[str]:
    """Return the image topics to restore; raise BagError naming unknown or non-image topics."""
    images = sorted(t for t, kind in available.items() if kind in (IMAGE_TYPE, COMPRESSED_TYPE))
    if wanted is None:
        if not images:
            raise BagError(
                "no sensor_msgs/Image or CompressedImage topic in the bag; topics: "
                + ", ".join(f"{t} ({k})" for t, k in sorted(available.items()))
            )
        return images
    for topic in wanted:
        if topic not in available:
            raise BagError(f"topic {topic} is not in the bag; image topics: {', '.join(images)}")
        if topic not in images:
            raise BagError(f"topic {topic} is {available[topic]}, not an image topic")
    return list(dict.fromkeys(wanted))


def replay(
    input_bag: Path,
    output_bag: Path,
    backend: RestorationBackend | None,
    options: ReplayOptions | None = None,
) -> ReplayResult:
    """Replay ``input_bag`` into ``output_bag`` (a ROS 2 bag, written atomically)."""
    options = options or ReplayOptions()
    start = time.perf_counter()
    stages = dict.fromkeys(STAGES, 0.0)
    grid = _patch_grid(backend)
    with BagReader(input_bag, salvage=options.salvage) as reader:
        topics = select_topics(reader.topics, options.topics)
        specs = reader.topic_specs()
        cameras = {
            t: _Camera(t, reader.topics[t], backend, options, reader.message_count([t]), grid)
            for t in topics
        }
        outputs = {
            name: kind
            for t in topics
            for name, kind in _output_topics(t, options, reader.topics[t]).items()
        }
        clash = sorted(set(outputs) & set(reader.topics))
        if clash:
            raise BagError(f"output topics already in the input bag: {', '.join(clash)}")
        total = reader.message_count()
        copied = 0
        read_error = None
        with AtomicBagWriter(
            output_bag, options.storage, options.overwrite, inputs=(Path(input_bag),)
        ) as writer:
            for spec in specs:
                writer.add_topic(spec)
            for name, kind in outputs.items():
                writer.add_output_topic(name, kind)
            bar = tqdm(total=total, desc="replay", unit="msg", disable=not options.progress)
            messages = reader.messages()
            while True:
                tick = time.perf_counter()
                try:
                    message = next(messages, None)
                except BagError as exc:  # a corrupt chunk or truncated storage
                    if not options.salvage:
                        raise BagError(_loss_text(exc, reader.losses())) from exc
                    read_error, message = str(exc), None
                stages["read"] += time.perf_counter() - tick
                if message is None:
                    break
                tick = time.perf_counter()
                writer.write(message.topic, message.timestamp, message.cdr)
                stages["write"] += time.perf_counter() - tick
                copied += 1
                camera = cameras.get(message.topic)
                if camera is not None:
                    for topic, cdr in _process(reader, message, camera, options, stages):
                        tick = time.perf_counter()
                        writer.write(topic, message.timestamp, cdr)
                        stages["write"] += time.perf_counter() - tick
                    tick = time.perf_counter()
                    camera.pipeline.idle()  # as the node does once it published
                    stages["restore"] += time.perf_counter() - tick
                bar.update()
            bar.close()
            _warn_clock_jumps(cameras)
            lost = reader.losses()
            read_error = "; ".join(filter(None, [read_error, *reader.damage])) or None
            if lost and not options.salvage:
                raise BagError(_loss_text(None, lost, input_bag))
            for loss in lost:
                log.warning("salvaged %s: %s", input_bag, loss.describe())
    return ReplayResult(
        input_bag=Path(input_bag),
        output_bag=Path(output_bag),
        cameras={t: c.log for t, c in cameras.items()},
        copied_messages=copied,
        wall_seconds=time.perf_counter() - start,
        stage_seconds=stages,
        backend=getattr(backend, "name", "none"),
        inject=str(options.inject) if options.inject else None,
        lost=lost,
        read_error=read_error,
    )


def _loss_text(error: BagError | None, lost: list[TopicLoss], bag: Path | None = None) -> str:
    """Say what a damaged bag lost, and that nothing was written unless salvaging."""
    head = str(error) if error else f"bag {bag} declares more messages than it holds"
    detail = "; ".join(loss.describe() for loss in lost)
    return f"{head}; {detail}; no output written (--salvage keeps what reads and reports the loss)"


def _patch_grid(backend: RestorationBackend | None) -> tuple[int, int]:
    if backend is None:
        return (14, 25)  # the small preset's grid, for injection without a model
    return (
        backend.input_size[0] // backend.patch_size,
        backend.input_size[1] // backend.patch_size,
    )


def _process(
    reader: BagReader,
    message: BagMessage,
    camera: _Camera,
    options: ReplayOptions,
    stages: dict[str, float],
) -> list[tuple[str, bytes]]:
    """Run one image message through its camera's node pipeline; return (topic, CDR) to write."""
    began = time.perf_counter()
    topic, record, pipeline = message.topic, camera.log, camera.pipeline
    record.messages += 1
    try:
        msg = reader.deserialize(message)
    except ValueError as exc:
        stages["read"] += time.perf_counter() - began
        _skip(camera, "malformed_message", str(exc), message.timestamp)
        return [(f"{topic}/restored", message.cdr)]
    tick = time.perf_counter()
    stages["read"] += tick - began
    try:
        received = pipeline.decode(msg)
    except ImageDecodeError as exc:
        stages["decode"] += time.perf_counter() - tick
        _skip(camera, exc.kind, str(exc), message.timestamp)
        return [(f"{topic}/restored", message.cdr)]
    now = time.perf_counter()
    stages["decode"] += now - tick
    tick = now
    record.frames += 1
    record.encodings[received.image.encoding] += 1
    index = record.frames - 1
    cdr = _Serializer(msg, message.cdr)
    truth, corruption, item, outputs = received.image.bgr, None, None, []
    if camera.injector is not None:
        corruption, item = camera.injector(truth)
        if corruption is not None:
            record.injected[str(item)] += 1
            received = pipeline.with_pixels(
                received, corruption.damaged, corruption.changed, camera.output
            )
            outputs.append((f"{topic}/damaged", cdr(received.message)))
    frame = received.image.bgr
    reference = pipeline.restorer.tracker.lookup(received.stamp).reference
    wanted = reference is not None and corruption is not None and options.score
    held_reference = reference.frame.copy() if wanted else None  # the tracker reuses its buffer
    now = time.perf_counter()
    stages["inject"] += now - tick
    tick = now
    try:
        result = pipeline.restore(received, camera.output)
    except Exception as exc:  # the node's rule: a frame the restorer raised on passes through
        if isinstance(exc, DefectMaskSizeError) and record.frames == 1:
            raise  # the map does not fit this camera at all: stop at once
        passed = cdr(received.message)
        return _restorer_raised(camera, exc, passed, outputs, stages, tick, message.timestamp)
    resets = pipeline.restorer.tracker.resets
    record.resolution_resets = resets[ResetCause.RESOLUTION_CHANGE]
    record.scene_cut_resets = resets[ResetCause.SCENE_CUT]
    if resets[ResetCause.CLOCK_JUMP] > record.clock_jump_resets:
        record.clock_jump_resets = resets[ResetCause.CLOCK_JUMP]
        _clock_jump(camera, camera.last_stamp, received.stamp, message.timestamp)
    camera.last_stamp = received.stamp
    now = time.perf_counter()
    stages["restore"] += now - tick
    tick = now
    record.status[result.status.value] += 1
    if result.error is not None:
        _inference_failed(camera, result, message.timestamp)
    record.restorer_ms.append(result.timings_ms["total"])
    for kind, pixels in result.counts.items():
        record.failure_frames[kind] += 1
        record.failure_pixels[kind] += int(pixels)
    for publication in pipeline.publications(received, result, camera.output):
        outputs.append((f"{topic}/{publication.output}", cdr(publication.message)))
    now = time.perf_counter()
    stages["encode"] += now - tick
    tick = now
    record.pipeline_ms.append((now - began) * 1000)  # scoring below is not part of the node
    entry = {
        "index": index,
        "stamp": received.stamp,
        "status": result.status.value,
        "failed_ratio": result.failed_ratio,
        "injected": str(item) if item else None,
    }
    if corruption is not None and options.score:
        held = frame
        if held_reference is not None and held_reference.shape == frame.shape:
            held = HOLD.repair(held_reference, frame, result.mask).frame
        for method, image in (("restored", result.frame), ("hold", held), ("damaged", frame)):
            score = quality(image, truth, corruption.mask)
            record.scores[method].append(score)
            entry[f"psnr_failed_{method}"] = score["failed"]["psnr"]
        record.detection.append(
            (
                int((result.mask & corruption.mask).sum()),
                int(result.mask.sum()),
                int(corruption.mask.sum()),
            )
        )
        if (
            result.status is Status.REPAIRED
            and camera.example_at
            and index >= camera.example_at[0]
        ):
            camera.example_at.pop(0)
            record.examples.append(
                Example(
                    topic,
                    index,
                    [frame, held, result.frame, truth],
                    ["damaged", "hold", "SiamMCVAE", "ground truth"],
                )
            )
    elif (
        camera.injector is None
        and result.status is Status.REPAIRED
        and camera.example_at
        and index >= camera.example_at[0]
    ):
        camera.example_at.pop(0)
        record.examples.append(Example(topic, index, [frame, result.frame], ["input", "restored"]))
    record.timeline.append(entry)
    stages["score"] += time.perf_counter() - tick
    return outputs


class _Serializer:
    """CDR of the messages one input message yields, each serialized once.

    The input message itself is written as the bytes it was read as (a pass-through is
    byte-identical); every other message is a ``RosbagsMessageFactory`` object.
    """

    def __init__(self, message: object, cdr: bytes) -> None:
        self._known = {id(message): (message, cdr)}  # the object is kept: its id stays unique

    def __call__(self, message: object) -> bytes:
        known = self._known.get(id(message))
        if known is None:
            cdr = bytes(OUTPUT_TYPESTORE.serialize_cdr(message, message.__msgtype__))
            known = self._known[id(message)] = (message, cdr)
        return known[1]
