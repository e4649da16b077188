"""ROS 1 bags without a readable index: refused with the offer of --salvage, which reindexes them.

A killed ``rosbag record`` leaves ``index_pos=0`` in the bag header, no index, and the chunk it
was writing with placeholder lengths of 0 followed by its records; a file cut short loses its
index and part of a chunk. Each layout is built from a bag rosbags wrote, byte for byte.
"""

from __future__ import annotations

import json
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from rosbags.rosbag1 import Reader as Ros1Reader
from rosbags.rosbag1 import Writer as Ros1Writer
from rosbags.typesys import Stores, get_typestore

from frame_restore_ros.bag.bag_io import BagError, BagReader
from frame_restore_ros.bag.ros1_reindex import reindex_ros1
from frame_restore_ros.cli.main import main

ROS1 = get_typestore(Stores.ROS1_NOETIC)
IMAGE = "sensor_msgs/msg/Image"
STRING = "std_msgs/msg/String"
START = 1_700_000_000_000_000_000
PERIOD = 100_000_000
FRAMES = 12


def image_bytes(index: int) -> bytes:
    """A 32x48 bgr8 Image whose every byte is ``index``, ROS 1 serialized."""
    types = ROS1.types
    stamp = types["builtin_interfaces/msg/Time"](sec=1, nanosec=index)
    message = types[IMAGE](
        header=types["std_msgs/msg/Header"](seq=index, stamp=stamp, frame_id="cam"),
        height=32,
        width=48,
        encoding="bgr8",
        is_bigendian=0,
        step=48 * 3,
        data=np.full(32 * 48 * 3, index * 20 % 256, np.uint8),
    )
    return bytes(ROS1.serialize_ros1(message, IMAGE))


def write_bag(path: Path, compression: str | None = None) -> Path:
    """Write FRAMES images on /cam and a String on /chatter after each, ~3 images a chunk."""
    writer = Ros1Writer(path)
    if compression:
        writer.set_compression(Ros1Writer.CompressionFormat[compression.upper()])
    with writer:
        writer.chunk_threshold = 12_000  # a few messages a chunk, as a real recorder's 768 KiB
        cam = writer.add_connection("/cam", IMAGE, typestore=ROS1, callerid="/camera")
        chatter = writer.add_connection("/chatter", STRING, typestore=ROS1)
        for i in range(FRAMES):
            writer.write(cam, START + i * PERIOD, image_bytes(i))
            text = ROS1.serialize_ros1(ROS1.types[STRING](data=f"tick {i}"), STRING)
            writer.write(chatter, START + i * PERIOD + 1, text)
    return path


def messages(path: Path) -> list[tuple[str, int, bytes]]:
    """(topic, record time, raw bytes) of every message, in time order."""
    with AnyReader([path]) as reader:
        return [(c.topic, t, bytes(raw)) for c, t, raw in reader.messages()]


def index_layout(path: Path) -> tuple[int, list[tuple[int, int]]]:
    """(index_pos, [(chunk position, messages in it)]) as rosbags reads an intact bag."""
    data = path.read_bytes()
    at = data.index(b"index_pos=") + len(b"index_pos=")
    reader = Ros1Reader(path)
    reader.open()
    try:
        chunks = [(c.pos, sum(c.connection_counts.values())) for c in reader.chunk_infos]
    finally:
        reader.close()
    return struct.unpack_from("<Q", data, at)[0], chunks


def killed_recorder(intact: Path, target: Path) -> Path:
    """The file ``rosbag record`` leaves when killed while writing the last chunk.

    The bag header's index_pos is 0, nothing follows the last chunk's records, and that chunk's
    header still has the placeholder lengths (size 0, data length 0).
    """
    index_pos, chunks = index_layout(intact)
    data = bytearray(intact.read_bytes()[:index_pos])
    at = data.index(b"index_pos=") + len(b"index_pos=")
    data[at : at + 8] = bytes(8)
    last = chunks[-1][0]
    header_length = struct.unpack_from("<I", data, last)[0]
    header = bytes(data[last + 4 : last + 4 + header_length])
    size_at = last + 4 + header.index(b"size=") + len(b"size=")
    data[size_at : size_at + 4] = bytes(4)
    length_at = last + 4 + header_length
    chunk_length = struct.unpack_from("<I", data, length_at)[0]
    data[length_at : length_at + 4] = bytes(4)
    # The chunk's own index records follow its data in a closed bag; a killed recorder has
    # not written them yet.
    del data[length_at + 4 + chunk_length :]
    target.write_bytes(bytes(data))
    return target


@pytest.fixture
def intact(tmp_path) -> Path:
    return write_bag(tmp_path / "drive.bag")


def test_a_killed_recorders_bag_is_reindexed_with_every_message(intact, tmp_path):
    active = killed_recorder(intact, tmp_path / "drive.bag.active.bag")
    with pytest.raises(Exception, match="not indexed"):
        messages(active)  # what rosbags says: "Bag is not indexed, reindex before reading."
    found = reindex_ros1(active, tmp_path / "copy.bag")
    assert found.damage == []
    assert found.messages == {"/cam": FRAMES, "/chatter": FRAMES}
    assert messages(tmp_path / "copy.bag") == messages(intact)  # topics, times, bytes


def test_a_cut_file_keeps_the_whole_records_before_the_cut(intact, tmp_path):
    _, chunks = index_layout(intact)
    assert len(chunks) >= 4
    third = chunks[2][0]
    cut = third + 100 + len(image_bytes(0))  # inside the third chunk, after its first image
    cut_bag = tmp_path / "cut.bag"
    cut_bag.write_bytes(intact.read_bytes()[:cut])
    found = reindex_ros1(cut_bag, tmp_path / "copy.bag")
    kept, every = messages(tmp_path / "copy.bag"), messages(intact)
    whole_chunks = chunks[0][1] + chunks[1][1]
    assert kept == every[: len(kept)]  # a prefix, byte for byte
    assert whole_chunks < len(kept) < whole_chunks + chunks[2][1]
    assert found.stopped_at == third
    assert f"the file ends at byte {cut}, inside the record at byte {third}" in found.damage[0]


def test_a_damaged_compressed_chunk_costs_that_chunk_only(tmp_path):
    intact = write_bag(tmp_path / "drive.bag", compression="bz2")
    _, chunks = index_layout(intact)
    second, lost = chunks[1]
    data = bytearray(intact.read_bytes())
    start = second + 4 + struct.unpack_from("<I", data, second)[0] + 4  # the chunk's data
    data[start + 10 : start + 40] = b"\xff" * 30  # inside its bz2 stream
    broken = tmp_path / "broken.bag"
    broken.write_bytes(bytes(data))
    found = reindex_ros1(broken, tmp_path / "copy.bag")
    assert len(found.damage) == 1 and found.damage[0].startswith(
        f"chunk at byte {second} does not decompress"
    )
    every, first = messages(intact), chunks[0][1]
    assert messages(tmp_path / "copy.bag") == every[:first] + every[first + lost :]


def test_replay_offers_salvage_then_salvages_a_killed_recorders_bag(
    intact, tmp_path, caplog, monkeypatch
):
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # where the copy goes
    active = killed_recorder(intact, tmp_path / "active.bag")
    out = tmp_path / "out"
    assert main(["replay", str(active), str(out), "--backend", "hold", "--no-progress"]) == 2
    assert "its ROS 1 index is missing or damaged" in caplog.text
    assert "replay --salvage reads its messages from the chunks" in caplog.text
    assert not out.exists()
    args = ["replay", str(active), str(out), "--backend", "hold", "--no-progress", "--salvage"]
    assert main(args) == 0
    with BagReader(out) as reader:
        assert reader.declared_counts()["/cam/restored"] == FRAMES
        assert reader.declared_counts()["/chatter"] == FRAMES
    summary = json.loads((tmp_path / "out_report" / "summary.json").read_text())
    assert "its ROS 1 index is missing or damaged" in summary["read_error"]
    assert list((tmp_path / "tmp").iterdir()) == []  # the reindexed copy is gone


def test_a_file_that_is_no_ros1_bag_is_named_not_reindexed(tmp_path):
    fake = tmp_path / "fake.bag"
    fake.write_bytes(b"#ROSBAG V2.0\n" + bytes(3))
    with pytest.raises(BagError, match="nor reindex it"):
        with BagReader(fake, salvage=True):
            pass
