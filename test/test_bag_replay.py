"""make-bag and replay on real frames: formats, stamps, byte-identity, encodings, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fakes import CopyBackend
from rosbags.rosbag1 import Writer as Ros1Writer
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore
from ruamel.yaml import YAML

from frame_restore_ros.backends.hold import HoldBackend
from frame_restore_ros.bag.bag_io import BagError, BagReader
from frame_restore_ros.bag.from_video import CameraSource, make_bag
from frame_restore_ros.bag.output_claim import OutputError
from frame_restore_ros.bag.replay import ReplayOptions, replay
from frame_restore_ros.bag.replay_report import write_report
from frame_restore_ros.cli.main import main
from frame_restore_ros.codec.image_codec import (
    bgr_to_native,
    decode_compressed,
    encode_compressed,
    native_to_fields,
    read_native,
)
from frame_restore_ros.codec.messages import OUTPUT_TYPESTORE
from frame_restore_ros.node.core import NodeCore
from frame_restore_ros.node.message_factory import RosbagsMessageFactory
from frame_restore_ros.node.parameters import NodeSettings
from frame_restore_ros.node.restorer_settings import restorer_config
from frame_restore_ros.synthetic.injection import InjectionSpec

ROS2 = get_typestore(Stores.ROS2_HUMBLE)
ROS1 = get_typestore(Stores.ROS1_NOETIC)
IMAGE, COMPRESSED, STRING = (
    "sensor_msgs/msg/Image",
    "sensor_msgs/msg/CompressedImage",
    "std_msgs/msg/String",
)
START = 1_700_000_000_000_000_000
PERIOD = 100_000_000  # 10 Hz


@pytest.fixture(scope="module")
def frames(bikes_frames) -> list[np.ndarray]:
    """12 real frames, 136x320 (half size keeps the suite fast)."""
    return [np.ascontiguousarray(f[::2, ::2]) for f in bikes_frames[:12]]


def header(typestore, index: int, frame_id: str = "cam"):
    types = typestore.types
    stamp = START + index * PERIOD + 12345
    time = types["builtin_interfaces/msg/Time"](sec=stamp // 10**9, nanosec=stamp % 10**9)
    fields = {"stamp": time, "frame_id": frame_id}
    if "seq" in types["std_msgs/msg/Header"].__dataclass_fields__:
        fields["seq"] = index
    return types["std_msgs/msg/Header"](**fields)


def image_msg(typestore, index: int, native: np.ndarray, native_encoding: str, **override):
    fields = native_to_fields(native, native_encoding)
    fields.update(override)
    return typestore.types[IMAGE](header=header(typestore, index), **fields)


def write_ros2_bag(
    path: Path,
    frames: list[np.ndarray],
    encoding: str = "bgr8",
    storage: StoragePlugin = StoragePlugin.MCAP,
    bad: dict[int, dict] | None = None,
) -> None:
    """/cam/image_raw (Image), /cam2/image_raw/compressed (JPEG) and /chatter (String)."""
    bad = bad or {}
    with Writer(path, version=9, storage_plugin=storage) as writer:
        image = writer.add_connection("/cam/image_raw", IMAGE, typestore=ROS2)
        jpeg = writer.add_connection("/cam2/image_raw/compressed", COMPRESSED, typestore=ROS2)
        chatter = writer.add_connection("/chatter", STRING, typestore=ROS2)
        for i, frame in enumerate(frames):
            t = START + i * PERIOD
            native = bgr_to_native(frame, encoding)
            msg = image_msg(ROS2, i, native, encoding, **bad.get(i, {}))
            writer.write(image, t, ROS2.serialize_cdr(msg, IMAGE))
            data = np.frombuffer(encode_compressed(frame, "jpeg"), np.uint8)
            compressed = ROS2.types[COMPRESSED](header=header(ROS2, i), format="jpeg", data=data)
            writer.write(jpeg, t + 1000, ROS2.serialize_cdr(compressed, COMPRESSED))
            text = ROS2.types[STRING](data=f"tick {i}")
            writer.write(chatter, t + 2000, ROS2.serialize_cdr(text, STRING))


def read_all(path: Path) -> dict[str, list[tuple[int, bytes, object]]]:
    out: dict[str, list] = {}
    with BagReader(path) as reader:
        for message in reader.messages():
            out.setdefault(message.topic, []).append(
                (message.timestamp, message.cdr, reader.deserialize(message))
            )
    return out


def stamp_ns(msg) -> int:
    return msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec


@pytest.mark.parametrize("storage", [StoragePlugin.MCAP, StoragePlugin.SQLITE3])
def test_replay_copies_inputs_byte_identical_and_keeps_stamps(frames, tmp_path, storage):
    source, output = tmp_path / "in", tmp_path / "out"
    write_ros2_bag(source, frames, storage=storage)
    result = replay(source, output, HoldBackend(), ReplayOptions(progress=False))
    assert (output / "metadata.yaml").is_file()
    metadata = (output / "metadata.yaml").read_text()
    assert "version: 9" in metadata and "/cam/image_raw/restored" in metadata
    assert not list(tmp_path.glob(".out.partial*"))
    info = YAML(typ="safe").load(metadata)[
        "rosbag2_bagfile_information"
    ]  # what ros2 bag info reads
    assert info["storage_identifier"] == "mcap"  # the default output storage
    assert all((output / name).is_file() for name in info["relative_file_paths"])
    counts = {
        t["topic_metadata"]["name"]: t["message_count"] for t in info["topics_with_message_count"]
    }
    assert counts["/chatter"] == counts["/cam/image_raw/restored"] == len(frames)
    assert info["message_count"] == sum(counts.values()) == 7 * len(frames)
    before, after = read_all(source), read_all(output)
    for topic in before:  # every input topic, image or not, byte for byte at the same time
        assert [(t, raw) for t, raw, _ in after[topic]] == [
            (t, raw) for t, raw, _ in before[topic]
        ]
    for camera in ("/cam/image_raw", "/cam2/image_raw/compressed"):
        inputs = before[camera]
        for suffix in ("restored", "failure_mask"):
            outputs = after[f"{camera}/{suffix}"]
            assert [t for t, _, _ in outputs] == [t for t, _, _ in inputs]
            assert [stamp_ns(m) for _, _, m in outputs] == [stamp_ns(m) for _, _, m in inputs]
            assert {m.header.frame_id for _, _, m in outputs} == {"cam"}
        masks = [m for _, _, m in after[f"{camera}/failure_mask"]]
        assert {(m.encoding, m.height, m.width) for m in masks} == {("mono8", 136, 320)}
    restored_types = {m.__msgtype__ for _, _, m in after["/cam2/image_raw/compressed/restored"]}
    assert restored_types == {COMPRESSED}
    assert result.cameras["/cam/image_raw"].status["clean"] >= 10  # real clean video


def test_injected_replay_repairs_only_failed_pixels_and_scores(frames, tmp_path):
    source, output = tmp_path / "in", tmp_path / "out"
    write_ros2_bag(source, frames)
    options = ReplayOptions(
        topics=("/cam/image_raw",),
        inject=InjectionSpec.parse("patches:0.5,dead", rate=0.6, seed=1),
        progress=False,
    )
    result = replay(source, output, HoldBackend(), options)
    after = read_all(output)
    assert "/cam2/image_raw/compressed/restored" not in after  # not selected
    damaged = {t: m for t, _, m in after["/cam/image_raw/damaged"]}
    masks = {t: read_native(m) > 0 for t, _, m in after["/cam/image_raw/failure_mask"]}
    repaired = 0
    for t, _, restored in after["/cam/image_raw/restored"]:
        if t not in damaged:
            continue
        out, inp = read_native(restored), read_native(damaged[t])
        keep = ~masks[t]
        np.testing.assert_array_equal(out[keep], inp[keep])  # good pixels bit-identical
        repaired += int((out != inp).any())
    assert repaired >= 3
    camera = result.cameras["/cam/image_raw"]
    assert sum(camera.injected.values()) == len(damaged)
    assert len(camera.scores["restored"]) == len(damaged)
    summary = write_report(result, tmp_path / "report")
    methods = summary["cameras"]["/cam/image_raw"]["quality"]["methods"]
    # the hold backend at model resolution is close to the full-resolution hold baseline; both
    # far better than the damaged input
    restored, hold = methods["restored"]["failed"], methods["hold"]["failed"]
    assert abs(restored["psnr"] - hold["psnr"]) < 1.5, methods
    # Scored on the injected ground truth: better than the damaged input wherever the detector
    # found the failure. Dense random patches on 60 % of 12 frames, often in consecutive frames,
    # are mostly not onsets to the detector (docs/detection.md): pixel recall here is 0.09 at
    # precision 0.96 (0.13 at 0.88 before the fifth detection round), so the margin is small
    # (6.65 against 6.18 dB since the ninth round: in this dense stream some black patches have
    # cells brightened beside them and read as dark uncovered by a lit object, 7.14 with that
    # rule off); detection recall itself is measured by
    # `frame-restore eval-detection`. What must hold: repaired pixels only ever improve on the
    # damaged input.
    assert min(restored["psnr"], hold["psnr"]) > methods["damaged"]["failed"]["psnr"] + 0.3
    assert restored["mse"] < methods["damaged"]["failed"]["mse"]
    html = (tmp_path / "report" / "index.html").read_text()
    assert html.count("data:image/png;base64,") >= 3 and "PSNR failed" in html
    assert json.loads((tmp_path / "report" / "summary.json").read_text())["image_frames"] == 12


@pytest.mark.parametrize("encoding", ["mono16", "bayer_rggb8", "yuv422", "rgba8", "mono8"])
def test_other_encodings_come_back_in_their_own_encoding(frames, tmp_path, encoding):
    source, output = tmp_path / "in", tmp_path / "out"
    write_ros2_bag(source, frames[:6], encoding=encoding)
    options = ReplayOptions(
        topics=("/cam/image_raw",),
        inject=InjectionSpec.parse("dead", rate=1.0),
        progress=False,
    )
    replay(source, output, HoldBackend(), options)
    after = read_all(output)
    damaged = {t: m for t, _, m in after["/cam/image_raw/damaged"]}
    masks = {t: read_native(m) > 0 for t, _, m in after["/cam/image_raw/failure_mask"]}
    for t, _, restored in after["/cam/image_raw/restored"]:
        assert restored.encoding == encoding
        if t in damaged:
            out, inp = read_native(restored), read_native(damaged[t])
            assert out.dtype == inp.dtype and out.shape == inp.shape
            keep = ~masks[t]
            np.testing.assert_array_equal(out[keep], inp[keep])


def test_failing_inference_is_reported_and_logged_with_one_traceback(frames, tmp_path, caplog):
    """The restorer no longer logs each failed inference: the replay counts the frames (status
    ``error``) and logs the first few, as it logs skips, with the traceback once."""
    from fakes import FailingBackend

    from frame_restore_ros.bag.replay import MAX_LOGGED_SKIPS

    source, output = tmp_path / "in", tmp_path / "out"
    write_ros2_bag(source, frames)
    options = ReplayOptions(
        topics=("/cam/image_raw",),
        inject=InjectionSpec.parse("dead", rate=1.0),
        progress=False,
        strips=0,
    )
    with caplog.at_level("INFO"):
        result = replay(source, output, FailingBackend(), options)
    errors = result.cameras["/cam/image_raw"].status["error"]
    assert errors > MAX_LOGGED_SKIPS
    lines = [r for r in caplog.records if "passed through: inference failed" in r.getMessage()]
    assert len(lines) == errors  # every frame, the first MAX_LOGGED_SKIPS at WARNING
    assert [r.levelname for r in lines].count("WARNING") == MAX_LOGGED_SKIPS
    assert "RuntimeError: CUDA error: device lost" in lines[0].getMessage()
    assert [r for r in caplog.records if r.exc_info] == lines[:1]  # one traceback
    after = read_all(output)
    damaged = {t: raw for t, raw, _ in after["/cam/image_raw/damaged"]}
    passed = [raw == damaged[t] for t, raw, _ in after["/cam/image_raw/restored"] if t in damaged]
    assert len(passed) >= errors and all(passed)  # every damaged frame passed through as is


def test_ros1_bag_is_replayed_into_ros2(frames, tmp_path):
    source, output = tmp_path / "drive.bag", tmp_path / "out"
    with Ros1Writer(source) as writer:
        image = writer.add_connection("/cam/image_raw", IMAGE, typestore=ROS1)
        chatter = writer.add_connection("/chatter", STRING, typestore=ROS1)
        for i, frame in enumerate(frames[:5]):
            msg = image_msg(ROS1, i, bgr_to_native(frame, "bgr8"), "bgr8")
            writer.write(image, START + i * PERIOD, ROS1.serialize_ros1(msg, IMAGE))
            text = ROS1.types[STRING](data=f"tick {i}")
            writer.write(chatter, START + i * PERIOD + 1, ROS1.serialize_ros1(text, STRING))
    replay(source, output, HoldBackend(), ReplayOptions(progress=False))
    after = read_all(output)
    assert [m.data for _, _, m in after["/chatter"]] == [f"tick {i}" for i in range(5)]
    restored = after["/cam/image_raw/restored"]
    assert [stamp_ns(m) for _, _, m in restored] == [START + i * PERIOD + 12345 for i in range(5)]
    np.testing.assert_array_equal(read_native(restored[0][2]), frames[0])


def test_bad_messages_are_skipped_counted_and_passed_through(frames, tmp_path):
    source, output = tmp_path / "in", tmp_path / "out"
    bad = {
        3: {"data": np.zeros(100, np.uint8)},  # length disagrees with step x height
        5: {"encoding": "32FC1"},  # unsupported encoding
    }
    write_ros2_bag(source, frames[:8], bad=bad)
    result = replay(source, output, HoldBackend(), ReplayOptions(progress=False))
    camera = result.cameras["/cam/image_raw"]
    assert dict(camera.skipped) == {"bad_size": 1, "unsupported_encoding": 1}
    assert camera.messages == 8 and camera.frames == 6
    before, after = read_all(source), read_all(output)
    restored = after["/cam/image_raw/restored"]
    assert len(restored) == 8  # the stream is never blocked
    for index in bad:
        assert restored[index][1] == before["/cam/image_raw"][index][1]  # passed through as is
    assert len(after["/cam/image_raw/failure_mask"]) == 6


def node_outputs(
    source: Path, settings: NodeSettings, backend: object, damaged: dict[str, dict[int, bytes]]
) -> dict[str, list[bytes]]:
    """Feed the bag's camera messages to a NodeCore; return the CDR it publishes per topic.

    ``damaged``: per camera topic, record time -> CDR of the message to send instead.
    """
    core = NodeCore(settings, RosbagsMessageFactory(), loader=lambda request: backend)
    cameras = {settings[f"{name}.input_topic"]: name for name in settings.cameras}
    out: dict[str, list[bytes]] = {}
    with BagReader(source) as reader:
        for message in reader.messages(list(cameras)):
            cdr = damaged.get(message.topic, {}).get(message.timestamp, message.cdr)
            received = OUTPUT_TYPESTORE.deserialize_cdr(cdr, message.msgtype)
            camera = cameras[message.topic]
            core.receive(camera, received)
            for publication in core.process(camera, core.next_frame(camera, timeout=0)):
                sent = publication.message
                raw = (
                    cdr
                    if sent is received  # republished as is
                    else bytes(OUTPUT_TYPESTORE.serialize_cdr(sent, sent.__msgtype__))
                )
                out.setdefault(f"{message.topic}/{publication.output}", []).append(raw)
            core.idle(camera)
    return out


@pytest.mark.parametrize("inject", [None, "dead,patches:0.5"])
def test_replay_writes_what_the_node_publishes(frames, tmp_path, inject):
    """The replay's /restored and /failure_mask equal, byte for byte, the node's messages.

    Without injection the bag itself holds damaged frames (raw and JPEG camera); with it the
    node is fed the replay's /damaged message where there is one (raw camera: it decodes to the
    very frame the replay restored).
    """
    source, output = tmp_path / "in", tmp_path / "out"
    damaged = [f.copy() for f in frames]
    if inject is None:
        for index in (5, 7, 10):
            damaged[index][30:80, 90:200] = 0  # a dead block
    write_ros2_bag(source, damaged)
    values = {"cameras": ["cam"], "cam.input_topic": "/cam/image_raw", "backend": "torch-cpu"}
    if inject is None:  # the JPEG camera too
        values.update(
            {
                "cameras": ["cam", "cam2"],
                "cam2.input_topic": "/cam2/image_raw/compressed",
                "cam2.transport": "compressed",
            }
        )
    settings = NodeSettings.build(values)  # backend: the loader below builds a CopyBackend
    options = ReplayOptions(
        topics=tuple(settings[f"{name}.input_topic"] for name in settings.cameras),
        inject=InjectionSpec.parse(inject, rate=0.5, seed=3) if inject else None,
        restorer=restorer_config(settings, None),
        progress=False,
    )
    result = replay(source, output, CopyBackend(), options)
    after = read_all(output)
    sent = {
        topic: {t: raw for t, raw, _ in after.get(f"{topic}/damaged", [])}
        for topic in options.topics
    }
    node = node_outputs(source, settings, CopyBackend(), sent)
    for topic in options.topics:
        assert result.cameras[topic].status["repaired"] >= 3
        for suffix in ("restored", "failure_mask"):
            name = f"{topic}/{suffix}"
            assert [raw for _, raw, _ in after[name]] == node[name], name
    assert set(node) == {f"{t}/{s}" for t in options.topics for s in ("restored", "failure_mask")}


def test_corrupt_and_truncated_bags_fail_clearly_and_leave_no_output(frames, tmp_path):
    source = tmp_path / "in"
    write_ros2_bag(source, frames[:6])
    mcap = next(source.glob("*.mcap"))
    data = mcap.read_bytes()
    mcap.write_bytes(data[: len(data) // 2])  # truncated mid-recording
    with pytest.raises(BagError, match=str(source)):
        replay(source, tmp_path / "out", HoldBackend(), ReplayOptions(progress=False))
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.partial*"))
    (source / "metadata.yaml").write_text("rosbag2_bagfile_information: [not, a, mapping")
    with pytest.raises(BagError, match="cannot open bag"):
        replay(source, tmp_path / "out", HoldBackend(), ReplayOptions(progress=False))
    with pytest.raises(BagError, match="does not exist"):
        replay(tmp_path / "missing", tmp_path / "out", HoldBackend())


def test_unknown_topic_and_existing_output_are_errors(frames, tmp_path):
    source = tmp_path / "in"
    write_ros2_bag(source, frames[:3])
    with pytest.raises(BagError, match="/nope is not in the bag; image topics: /cam"):
        replay(source, tmp_path / "o", HoldBackend(), ReplayOptions(topics=("/nope",)))
    with pytest.raises(BagError, match="/chatter is std_msgs/msg/String, not an image topic"):
        replay(source, tmp_path / "o", HoldBackend(), ReplayOptions(topics=("/chatter",)))
    (tmp_path / "o").mkdir()
    with pytest.raises(OutputError, match="exists; remove it or pass --overwrite"):
        replay(source, tmp_path / "o", HoldBackend(), ReplayOptions(progress=False))


class ExplodingBackend(CopyBackend):
    """Interrupts the run on the third inference, as Ctrl-C would."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def infer(self, *args):
        self.calls += 1
        if self.calls == 3:
            raise KeyboardInterrupt
        return super().infer(*args)


def test_interrupted_run_leaves_no_half_bag(frames, tmp_path):
    source, output = tmp_path / "in", tmp_path / "out"
    write_ros2_bag(source, frames)
    options = ReplayOptions(inject=InjectionSpec.parse("dead", rate=1.0), progress=False)
    with pytest.raises(KeyboardInterrupt):
        replay(source, output, ExplodingBackend(), options)
    assert not output.exists() and not list(tmp_path.glob(".out.partial*"))


def test_make_bag_from_folder_and_video(frames, tmp_path):
    import cv2

    folder = tmp_path / "images"
    folder.mkdir()
    for i, frame in enumerate(frames[:4]):
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame)
    from frame_restore_ros.media.video import sample_video_path

    summary = make_bag(
        [
            CameraSource(folder, "/left/image_raw", "left", "rgb8"),
            CameraSource(sample_video_path("bikes.mp4"), "right/compressed", compressed="png"),
        ],
        tmp_path / "bag",
        rate_hz=20.0,
        max_frames=6,
        storage="sqlite3",
        progress=False,
    )
    assert summary["frames"] == {"/left/image_raw": 4, "/right/compressed": 6}
    after = read_all(tmp_path / "bag")
    left = after["/left/image_raw"]
    assert [t for t, _, _ in left] == [START + i * 50_000_000 for i in range(4)]
    assert [stamp_ns(m) for _, _, m in left] == [t for t, _, _ in left]
    assert left[0][2].encoding == "rgb8" and left[0][2].header.frame_id == "left"
    np.testing.assert_array_equal(read_native(left[2][2])[..., ::-1], frames[2])
    right = after["/right/compressed"][0][2]
    assert decode_compressed(right.format, right.data).bgr.shape == (272, 640, 3)


def test_cli_make_bag_then_replay_with_default_weights(tmp_path, capsys):
    from frame_restore_ros.media.video import sample_video_path

    bag, out = tmp_path / "bikes", tmp_path / "restored"
    video = str(sample_video_path("bikes.mp4"))
    assert main(["make-bag", video, "-o", str(bag), "--max-frames", "6", "--topic", "/f"]) == 0
    code = main(
        ["replay", str(bag), str(out), "--inject", "patches:0.5", "--inject-rate", "0.8",
         "--no-progress", "--uncertainty", "2"]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "failed-region PSNR" in printed and "index.html" in printed
    summary = json.loads((tmp_path / "restored_report" / "summary.json").read_text())
    from frame_restore_ros.backends.selection import resolve

    assert summary["backend"].startswith(resolve("auto"))  # the node's default: auto
    assert summary["image_frames"] == 6
    assert "/f/uncertainty" in read_all(out)
    assert main(["replay", str(bag), str(out)]) == 2  # exists: a clear error, exit code 2
    assert main(["replay", str(bag), str(tmp_path / "x"), "--inject", "smoke"]) == 2
    assert main(["bench", "replay", str(bag), "--json", str(tmp_path / "b.json")]) == 0
    bench = json.loads((tmp_path / "b.json").read_text())
    assert bench["bag_io_alone"]["frames"] == bench["whole_pipeline"]["frames"] == 6
    assert bench["bag_io_alone"]["frames_per_second"] > 0


@pytest.mark.parametrize("encoding", ["bayer_rggb8", "bayer_grbg8"])
def test_clean_bayer_bag_replays_without_repairs(bikes_frames, tmp_path, encoding):
    """A clean Bayer recording: the demosaiced border rows are no lost-rows onset."""
    source, output = tmp_path / "in", tmp_path / "out"
    write_ros2_bag(source, [np.ascontiguousarray(f) for f in bikes_frames[:14]], encoding)
    options = ReplayOptions(topics=("/cam/image_raw",), progress=False, strips=0)
    result = replay(source, output, HoldBackend(), options)
    status = result.cameras["/cam/image_raw"].status
    assert status["repaired"] == 0, dict(status)
    assert sum(status.values()) == 14


def forge_pre_iron(path: Path) -> None:
    """Rewrite metadata.yaml as a Humble recorder leaves it: version 5, no type hash."""
    metadata = path / "metadata.yaml"
    yaml = YAML(typ="safe")
    data = yaml.load(metadata.read_text())
    info = data["rosbag2_bagfile_information"]
    info["version"] = 5
    for topic in info["topics_with_message_count"]:
        topic["topic_metadata"].pop("type_description_hash")
        topic["topic_metadata"]["offered_qos_profiles"] = ""
    with metadata.open("w") as stream:
        yaml.dump(data, stream)


@pytest.mark.parametrize("bare_mcap", [False, True])
def test_pre_iron_bag_without_type_hash_replays(frames, tmp_path, bare_mcap):
    """Bags recorded before Iron (and bare .mcap files) store no RIHS01 hash."""
    source, output = tmp_path / "in", tmp_path / "out"
    write_ros2_bag(source, frames[:3])
    forge_pre_iron(source)
    if bare_mcap:
        source = source / "in.mcap"
    with BagReader(source) as reader:
        assert all(spec.rihs01.startswith("RIHS01_") for spec in reader.topic_specs())
    replay(source, output, HoldBackend(), ReplayOptions(progress=False))
    info = YAML(typ="safe").load((output / "metadata.yaml").read_text())
    hashes = {
        t["topic_metadata"]["name"]: t["topic_metadata"]["type_description_hash"]
        for t in info["rosbag2_bagfile_information"]["topics_with_message_count"]
    }
    assert hashes["/cam/image_raw"] == ROS2.hash_rihs01(IMAGE)
    assert hashes["/chatter"] == ROS2.hash_rihs01(STRING)
    assert len(read_all(output)["/cam/image_raw/restored"]) == 3


def test_writer_refuses_a_topic_without_type_hash(tmp_path):
    from frame_restore_ros.bag.bag_io import AtomicBagWriter, TopicSpec

    msgdef, _ = ROS2.generate_msgdef(STRING, ros_version=2)
    with pytest.raises(BagError, match="/chatter.*no RIHS01 type hash"):
        with AtomicBagWriter(tmp_path / "out") as writer:
            writer.add_topic(TopicSpec("/chatter", STRING, msgdef, ""))
    assert not (tmp_path / "out").exists()


def test_clock_jump_resets_are_counted_logged_and_reported(frames, tmp_path, caplog):
    """Header stamps going backwards reset the camera each time: never silently."""
    source, output = tmp_path / "in", tmp_path / "out"
    with Writer(source, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        image = writer.add_connection("/cam/image_raw", IMAGE, typestore=ROS2)
        for i, frame in enumerate(frames[:6]):
            msg = image_msg(ROS2, 5 - i, bgr_to_native(frame, "bgr8"), "bgr8")  # backwards
            writer.write(image, START + i * PERIOD, ROS2.serialize_cdr(msg, IMAGE))
    with caplog.at_level("WARNING"):
        result = replay(source, output, HoldBackend(), ReplayOptions(progress=False, strips=0))
    camera = result.cameras["/cam/image_raw"]
    assert camera.clock_jump_resets == 5 and camera.resolution_resets == 0
    first = (START + 5 * PERIOD + 12345) / 1e9
    second = (START + 4 * PERIOD + 12345) / 1e9
    assert f"/cam/image_raw: header stamp went backwards {first:.3f} -> {second:.3f} s" in (
        caplog.text
    )
    assert "/cam/image_raw: 5 clock-jump resets in 6 frames" in caplog.text
    summary = write_report(result, tmp_path / "report")["cameras"]["/cam/image_raw"]
    assert summary["clock_jump_resets"] == 5
    assert summary["clock_jumps"][0] == {"from_s": round(first, 6), "to_s": round(second, 6)}
    assert "clock jump 5" in (tmp_path / "report" / "index.html").read_text()
    from frame_restore_ros.cli.replay import format_summary

    full = write_report(result, tmp_path / "report2")
    assert "5 clock-jump resets" in format_summary(full, tmp_path / "report2")


def test_bag_frames_counts_and_logs_skips_and_names_a_topic_without_frames(
    frames, tmp_path, caplog
):
    """evaluate, train and eval-detection read bags through bag_frames: no silent skips."""
    from frame_restore_ros.bag.frame_sources import bag_frames

    source = tmp_path / "in"
    bad = {i: {"encoding": "BGR8"} for i in (2, 4)} | {5: {"step": 7}}
    write_ros2_bag(source, frames[:6], bad=bad)
    with caplog.at_level("WARNING"):
        clips = bag_frames(source)
    assert len(clips["/cam/image_raw"]) == 3 and len(clips["/cam2/image_raw/compressed"]) == 6
    (warning,) = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert "/cam/image_raw: skipped 3 of 6 image messages" in warning
    assert (
        "unsupported_encoding 2 (first t=1700000000.200s: unsupported encoding 'BGR8'" in warning
    )
    assert "bad_size 1 (first t=1700000000.500s" in warning
    everything_bad = tmp_path / "bad"
    write_ros2_bag(everything_bad, frames[:3], bad={i: {"encoding": "BGR8"} for i in range(3)})
    with pytest.raises(
        ValueError,
        match=r"no message of /cam/image_raw decodes to a frame \(3 "
        r"skipped: unsupported_encoding 3 \(first t=1700000000.000s",
    ):
        bag_frames(everything_bad)
