"""Fault injection on make-bag and replay: every case of issue 14 on small bags.

Each case asserts the exit code, that the message names the file, that the input is untouched
(hash before and after), that nothing partial is left under the final name, and for salvage
exactly the lost messages. Full disk (RLIMIT_FSIZE, a failing writer) and read-only folders need
no root.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from mcap.records import Chunk
from mcap.stream_reader import StreamReader, get_chunk_data_stream
from ruamel.yaml import YAML

from frame_restore_ros.bag.bag_io import BagReader
from frame_restore_ros.bag.checksummed_mcap import CHUNK_OPCODE, CRC_OFFSET
from frame_restore_ros.bag.output_claim import BAG_MARK, why_not_replaceable
from frame_restore_ros.cli.main import main
from frame_restore_ros.codec.image_codec import decode_compressed
from frame_restore_ros.node.parameters import NodeSettings, ParameterError

START = 1_700_000_000_000_000_000
PERIOD = 100_000_000  # make-bag's 10 Hz for image folders
TOPIC = "/cam/image_raw"


@pytest.fixture(scope="module")
def images(bikes_frames, tmp_path_factory) -> Path:
    """30 small real frames (68x160) as PNG files."""
    folder = tmp_path_factory.mktemp("images")
    for i, frame in enumerate(bikes_frames[:30]):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.ascontiguousarray(frame[::4, ::4]))
    return folder


def make(images: Path, out: Path, *extra: str) -> int:
    return main(
        ["make-bag", str(images), "-o", str(out), "--topic", TOPIC, "--no-progress", *extra]
    )


def replay(source: Path, out: Path, *extra: str) -> int:
    return main(["replay", str(source), str(out), "--backend", "hold", "--no-progress", *extra])


def tree_hash(path: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name)


@pytest.fixture
def bag(images, tmp_path) -> Path:
    path = tmp_path / "data" / "drive"
    assert make(images, path) == 0
    return path


@pytest.fixture
def no_backend(monkeypatch):
    """Fail the test if a backend is loaded: every check must come before."""

    def refuse(*args, **kwargs):
        raise AssertionError("backend loaded before the paths were checked")

    monkeypatch.setattr("frame_restore_ros.backends.selection.load_backend", refuse)


def error_text(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


# 1: --overwrite replaces only what this tool made; never the input


@pytest.mark.parametrize("target", ["parent", "same", "inside"])
def test_output_that_is_near_the_input_is_refused(bag, target, caplog, no_backend):
    (bag.parent / "notes.txt").write_text("keep")
    before = tree_hash(bag.parent)
    out = {"parent": bag.parent, "same": bag, "inside": bag / "out"}[target]
    assert replay(bag, out, "--overwrite") == 2
    assert str(out) in error_text(caplog) and "input" in error_text(caplog)
    assert tree_hash(bag.parent) == before


def test_overwrite_refuses_a_folder_that_is_not_a_bag(images, bag, tmp_path, caplog, no_backend):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    assert replay(bag, other, "--overwrite") == 2
    assert f"{other} is not one: it is not a ROS 2 bag" in error_text(caplog)
    assert make(images, other, "--overwrite") == 2
    assert (other / "notes.txt").read_text() == "keep"
    (bag / "notes.txt").write_text("mine")  # a bag with a stranger inside is not ours either
    assert make(images, bag, "--overwrite") == 2 and (bag / "notes.txt").exists()
    assert "files that are not part of the bag: notes.txt" in error_text(caplog)


def edit_metadata(bag: Path, **fields) -> None:
    """Set (or, with None, remove) fields of the bag's rosbag2_bagfile_information."""
    yaml = YAML(typ="safe")
    data = yaml.load((bag / "metadata.yaml").read_text())
    info = data["rosbag2_bagfile_information"]
    for key, value in fields.items():
        if value is None:
            info.pop(key, None)
        else:
            info[key] = value
    with (bag / "metadata.yaml").open("w") as stream:
        yaml.dump(data, stream)


def test_overwrite_refuses_a_bag_this_tool_did_not_write(images, bag, tmp_path, caplog):
    """A recording is never replaced; what frame-restore wrote carries its mark."""
    info = YAML(typ="safe").load((bag / "metadata.yaml").read_text())
    assert info["rosbag2_bagfile_information"]["custom_data"] == {BAG_MARK[0]: BAG_MARK[1]}
    recorded = tmp_path / "recorded"
    shutil.copytree(bag, recorded)
    edit_metadata(recorded, custom_data=None, ros_distro="jazzy")
    before = tree_hash(recorded)
    assert replay(bag, recorded, "--overwrite") == 2
    assert make(images, recorded, "--overwrite") == 2
    assert tree_hash(recorded) == before
    assert (
        f"{recorded} is not one: it is a ROS 2 bag frame-restore did not write "
        f"(ros_distro: jazzy; no {BAG_MARK[0]} in the custom_data"
    ) in error_text(caplog)
    out = tmp_path / "out"
    assert replay(bag, out) == 0
    edit_metadata(out, custom_data=None)  # as replay wrote it before the mark
    assert why_not_replaceable(out, "bag") is None
    edit_metadata(out, ros_distro="jazzy")
    assert "did not write" in why_not_replaceable(out, "bag")


def test_overwrite_replaces_its_own_bag_and_report_completely(bag, tmp_path):
    out = tmp_path / "out"
    assert replay(bag, out) == 0
    report = tmp_path / "out_report"
    cv2.imwrite(str(report / "strip_cam_old.png"), np.zeros((4, 4, 3), np.uint8))
    assert replay(bag, out, "--overwrite", "--storage", "sqlite3") == 0
    assert not (report / "strip_cam_old.png").exists()  # no stale strips of the previous run
    assert {p.suffix for p in out.iterdir()} == {".yaml", ".db3"}
    assert leftovers(tmp_path) == []


def test_report_of_another_run_needs_overwrite(bag, tmp_path, caplog, no_backend):
    assert main(["replay", str(bag), str(tmp_path / "o"), "--report", str(bag)]) == 2
    (tmp_path / "r").mkdir()
    assert replay(bag, tmp_path / "o", "--report", str(tmp_path / "r")) == 2
    assert f"report {tmp_path / 'r'} exists" in error_text(caplog)
    assert not (tmp_path / "o").exists()


def test_replay_options_the_node_would_refuse_are_errors(
    bag, tmp_path, caplog, capsys, no_backend
):
    from frame_restore_ros.cli.main import build_parser
    from frame_restore_ros.node.parameters import NODE_PARAMETERS

    feather = next(spec for spec in NODE_PARAMETERS if spec.name == "feather_px")
    args = build_parser().parse_args(["replay", str(bag), str(tmp_path / "o")])
    assert args.feather_px == feather.default
    with pytest.raises(SystemExit) as exit_:
        replay(bag, tmp_path / "o", "--feather-px", "100000")
    assert exit_.value.code == 2
    assert (
        "argument --feather-px: must be in [0, 128] (the node's feather_px range), got 100000"
    ) in capsys.readouterr().err
    assert replay(bag, tmp_path / "o", "--inject", "") == 2  # not "no injection"
    assert "--inject needs at least one failure" in error_text(caplog)
    assert not (tmp_path / "o").exists()


# 2: a damaged MCAP never loses messages silently


@pytest.fixture
def damaged(bag) -> Path:
    """Zero 4 KiB over frame 15's record header: the reader silently stops in that chunk.

    The chunk's CRC is zeroed too ("not computed", as rosbags and other writers leave it): a
    chunk with a CRC that fails is lost as a whole (`test_a_flipped_pixel_byte_...`).
    """
    mcap = next(bag.glob("*.mcap"))
    (chunk,) = chunk_offsets(mcap)
    data = bytearray(mcap.read_bytes())
    data[chunk + CRC_OFFSET : chunk + CRC_OFFSET + 4] = bytes(4)
    start = data.find(struct.pack("<Q", START + 15 * PERIOD)) - 15  # opcode of the record
    data[start - 1024 : start + 3072] = bytes(4096)
    mcap.write_bytes(bytes(data))
    return bag


def test_damaged_mcap_stops_with_the_loss_named(damaged, tmp_path, caplog):
    before = tree_hash(damaged)
    out = tmp_path / "out"
    assert replay(damaged, out) == 2
    text = error_text(caplog)
    assert str(damaged) in text and f"{TOPIC}: 15 of 30 lost" in text and "--salvage" in text
    assert not out.exists() and leftovers(tmp_path) == [] and tree_hash(damaged) == before


def test_salvage_keeps_what_reads_and_reports_exactly_what_was_lost(damaged, tmp_path, capsys):
    out = tmp_path / "out"
    assert replay(damaged, out, "--salvage") == 0
    with BagReader(out) as reader:
        times = [m.timestamp for m in reader.messages([TOPIC])]
    assert times == [START + i * PERIOD for i in range(15)]
    summary = json.loads((tmp_path / "out_report" / "summary.json").read_text())
    (loss,) = summary["lost_messages"]
    assert (loss["topic"], loss["declared"], loss["read"], loss["lost"]) == (TOPIC, 30, 15, 15)
    assert loss["where"] == [{"after_ns": START + 14 * PERIOD, "before_ns": None, "lost": 15}]
    assert "salvaged: 15 of 30 messages of /cam/image_raw lost" in capsys.readouterr().out


def test_salvage_reads_on_past_a_corrupt_chunk(bikes_frames, tmp_path, capsys):
    """Full-size frames: a chunk holds two; the reader resumes at the next intact chunk."""
    folder, bag, out = tmp_path / "full", tmp_path / "bag", tmp_path / "out"
    folder.mkdir()
    for i, frame in enumerate(bikes_frames[:12]):
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame)
    assert make(folder, bag) == 0
    mcap = next(bag.glob("*.mcap"))
    data = bytearray(mcap.read_bytes())
    start = data.find(struct.pack("<Q", START + 6 * PERIOD)) - 15
    data[start : start + 4096] = bytes(4096)  # frame 6's record header, inside its chunk
    mcap.write_bytes(bytes(data))
    before = tree_hash(bag)
    assert replay(bag, out, "--salvage") == 0
    with BagReader(out) as reader:
        kept = [(m.timestamp - START) // PERIOD for m in reader.messages([TOPIC])]
    lost = sorted(set(range(12)) - set(kept))
    assert lost == [6, 7, 8] and kept[-1] == 11  # only the damaged chunk (3 frames) is lost
    summary = json.loads((tmp_path / "out_report" / "summary.json").read_text())
    (loss,) = summary["lost_messages"]
    (gap,) = loss["where"]
    assert (loss["declared"], loss["read"], loss["lost"]) == (12, len(kept), len(lost))
    assert gap == {
        "after_ns": START + (lost[0] - 1) * PERIOD,
        "before_ns": START + (lost[-1] + 1) * PERIOD,
        "lost": len(lost),
    }
    assert tree_hash(bag) == before


@pytest.fixture(scope="module")
def full_bag(bikes_frames, tmp_path_factory) -> Path:
    """12 full-size frames (640x272): the MCAP file holds several chunks of about 3 frames."""
    folder = tmp_path_factory.mktemp("full")
    for i, frame in enumerate(bikes_frames[:12]):
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame)
    bag = tmp_path_factory.mktemp("full_bag") / "bag"
    assert make(folder, bag) == 0
    return bag


def chunk_offsets(mcap: Path) -> list[int]:
    """Byte offsets of the file's chunk records (read with the mcap library)."""
    offsets, position = [], 8
    with mcap.open("rb") as stream:
        for record in StreamReader(stream, emit_chunks=True).records:
            if isinstance(record, Chunk):
                offsets.append(position)
            position = stream.tell()
    return offsets


def kept_frames(out: Path) -> list[int]:
    with BagReader(out) as reader:
        return [(m.timestamp - START) // PERIOD for m in reader.messages([TOPIC])]


@pytest.mark.parametrize("damage", ["garbage", "crc"])
def test_salvage_skips_a_damaged_chunk_and_reads_the_next(full_bag, damage, tmp_path, caplog):
    """Garbage records or a wrong CRC cost that chunk only: reading goes on with the next."""
    bag, out = tmp_path / "bag", tmp_path / "out"
    shutil.copytree(full_bag, bag)
    mcap = next(bag.glob("*.mcap"))
    second = chunk_offsets(mcap)[1]
    data = bytearray(mcap.read_bytes())
    if damage == "garbage":  # the first 32 bytes of the chunk's records
        data[second + 49 : second + 81] = b"\xff" * 32
    else:  # a wrong CRC is a mismatch
        data[second + CRC_OFFSET : second + CRC_OFFSET + 4] = struct.pack("<I", 12345)
    mcap.write_bytes(bytes(data))
    with BagReader(full_bag) as reader:
        intact = [(m.timestamp - START) // PERIOD for m in reader.messages([TOPIC])]
    assert replay(bag, out) == 2 and not out.exists()
    assert "--salvage" in error_text(caplog)
    assert replay(bag, out, "--salvage") == 0
    kept = kept_frames(out)
    lost = sorted(set(intact) - set(kept))
    assert kept == sorted(kept) and kept[-1] == 11 and 1 <= len(lost) <= 4
    assert lost == list(range(lost[0], lost[-1] + 1)) and lost[0] > 0  # one chunk, not the first
    summary = json.loads((tmp_path / "out_report" / "summary.json").read_text())
    assert f"at byte {second}" in summary["read_error"]
    assert "reading went on with the next chunk" in summary["read_error"]
    assert summary["lost_messages"][0]["lost"] == len(lost)


def test_written_chunks_carry_their_crc(full_bag):
    """Every chunk this project writes holds the CRC-32 of its records (rosbags alone: 0)."""
    mcap = next(full_bag.glob("*.mcap"))
    chunks = []
    with mcap.open("rb") as stream:
        for record in StreamReader(stream, emit_chunks=True).records:
            if isinstance(record, Chunk):
                chunks.append(record)
    assert len(chunks) >= 3
    for chunk in chunks:
        records, size = get_chunk_data_stream(chunk, validate_crc=False)
        assert chunk.uncompressed_crc == zlib.crc32(records.read(size)) != 0


def test_a_flipped_pixel_byte_inside_a_chunk_is_caught(full_bag, tmp_path, caplog):
    """A damaged payload (one byte of an image) is a CRC mismatch, not a silently wrong frame."""
    bag, out = tmp_path / "bag", tmp_path / "out"
    shutil.copytree(full_bag, bag)
    mcap = next(bag.glob("*.mcap"))
    second = chunk_offsets(mcap)[1]
    assert mcap.read_bytes()[second] == CHUNK_OPCODE
    data = bytearray(mcap.read_bytes())
    data[second + 20_000] ^= 0xFF  # deep inside the chunk's first image, past every header
    mcap.write_bytes(bytes(data))
    assert replay(bag, out) == 2 and not out.exists()
    assert "--salvage" in error_text(caplog)
    assert replay(bag, out, "--salvage") == 0
    kept = kept_frames(out)
    assert kept[0] == 0 and kept[-1] == 11 and 1 <= 12 - len(kept) <= 4  # that chunk only
    summary = json.loads((tmp_path / "out_report" / "summary.json").read_text())
    assert f"at byte {second}" in summary["read_error"]


@pytest.mark.parametrize("bare", [False, True])
def test_truncated_mcap_is_named_and_salvaged_up_to_the_cut(full_bag, bare, tmp_path, caplog):
    """A file cut off without its footer (a killed recorder): --salvage reads up to the cut."""
    bag, out = tmp_path / "bag", tmp_path / "out"
    shutil.copytree(full_bag, bag)
    mcap = next(bag.glob("*.mcap"))
    third = chunk_offsets(mcap)[2]
    mcap.write_bytes(mcap.read_bytes()[: third + 1000])  # inside the third chunk
    source = mcap if bare else bag
    before = tree_hash(bag)
    assert replay(source, out) == 2 and not out.exists()
    text = error_text(caplog)
    assert f"bag {source} is truncated: {mcap.name} ends without its MCAP footer" in text
    assert "--salvage" in text
    assert replay(source, out, "--salvage") == 0
    kept = kept_frames(out)
    assert kept == list(range(len(kept))) and 2 <= len(kept) < 12
    summary = json.loads((tmp_path / "out_report" / "summary.json").read_text())
    assert "the file is truncated" in summary["read_error"]
    assert f"inside or before the record at byte {third}" in summary["read_error"]
    if not bare:  # metadata.yaml declares 12: the loss is counted
        (loss,) = summary["lost_messages"]
        assert (loss["declared"], loss["read"]) == (12, len(kept))
        assert loss["where"][0]["before_ns"] is None  # to the end
    assert tree_hash(bag) == before


def test_salvage_reads_an_intact_bag_as_rosbags_does(full_bag):
    with BagReader(full_bag) as plain:
        expected = [(m.topic, m.timestamp, m.cdr) for m in plain.messages()]
        specs = plain.topic_specs()
    with BagReader(full_bag, salvage=True) as salvaging:
        assert [(m.topic, m.timestamp, m.cdr) for m in salvaging.messages()] == expected
        assert salvaging.topic_specs() == specs and salvaging.damage == []
        assert salvaging.losses() == []


# 3 and 5: the output is claimed for the whole run; partials of dead runs are removed


def test_second_run_to_a_claimed_output_fails_at_once_and_stale_partials_go(bag, tmp_path, caplog):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys, time; from pathlib import Path; "
            "from frame_restore_ros.bag.output_claim import OutputClaim, partial_path; "
            f"out = Path({str(out)!r}); OutputClaim(out).__enter__(); "
            "partial_path(out).mkdir(); (partial_path(out) / 'x.mcap').write_bytes(bytes(9999)); "
            "print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert replay(bag, out) == 2
        assert f"output {out} is being written by another run (pid {holder.pid})" in (
            error_text(caplog)
        )
    finally:
        holder.send_signal(signal.SIGKILL)  # as kill -9 or OOM: no cleanup ran
        holder.wait()
    assert leftovers(tmp_path) == [f".out.partial-{holder.pid}"]
    caplog.clear()
    assert replay(bag, out) == 0
    assert leftovers(tmp_path) == [] and not (tmp_path / ".out.lock").exists()
    assert any(f"partial-{holder.pid}" in r.getMessage() for r in caplog.records)


def test_sigterm_mid_replay_leaves_no_partial_bag_nor_claim(bag, tmp_path):
    """SIGTERM (a supervisor, `timeout`) unwinds like Ctrl-C: nothing half-written is left."""
    out = tmp_path / "out"
    slow_writes = (
        "import sys, time; import frame_restore_ros.bag.bag_io as bag_io; "
        "write = bag_io.AtomicBagWriter.write; "
        "bag_io.AtomicBagWriter.write = lambda self, *a: (time.sleep(0.2), write(self, *a)); "
        "from frame_restore_ros.cli.main import main; "
        f"sys.exit(main(['replay', {str(bag)!r}, {str(out)!r}, '--backend', 'hold', "
        "'--no-progress']))"
    )
    run = subprocess.Popen([sys.executable, "-c", slow_writes], stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):  # until the partial bag has messages in it
            if any(tmp_path.glob(".out.partial-*/*.mcap")):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the replay never started writing")
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=60) == 143
    finally:
        run.kill()
    assert "terminated (SIGTERM)" in run.stderr.read()
    assert leftovers(tmp_path) == [] and not (tmp_path / ".out.lock").exists()
    assert not out.exists() and not (tmp_path / "out_report").exists()


# 4: a frame the pipeline cannot take is a skipped message


def test_tiny_frames_are_skipped_counted_and_logged(images, tmp_path, caplog):
    folder = tmp_path / "tiny"
    folder.mkdir()
    for file in sorted(images.iterdir())[:10]:
        (folder / file.name).write_bytes(file.read_bytes())
    cv2.imwrite(str(folder / "003.png"), np.full((1, 1, 3), 90, np.uint8))
    cv2.imwrite(str(folder / "006.png"), np.full((1, 7, 3), 90, np.uint8))
    assert make(folder, tmp_path / "bag") == 0
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"{folder} frame 3 ({TOPIC}, t=1700000000.300s) is 1x1" in m for m in warned)
    assert any(f"{folder} frame 6 ({TOPIC}, t=1700000000.600s) is 7x1" in m for m in warned)
    assert replay(tmp_path / "bag", tmp_path / "out") == 0
    summary = json.loads((tmp_path / "out_report" / "summary.json").read_text())
    camera = summary["cameras"][TOPIC]
    assert camera["skipped"] == {"too_small": 2}
    assert (camera["messages"], camera["frames"]) == (10, 8)
    assert [s["t_ns"] for s in camera["skipped_messages"]] == [
        START + 3 * PERIOD,
        START + 6 * PERIOD,
    ]
    logged = [
        r.getMessage()
        for r in caplog.records
        if "too_small" in r.getMessage() or "smaller" in r.getMessage()
    ]
    assert any(TOPIC in m and "t=1700000000.300s" in m for m in logged)


# 6: 16-bit and 1-channel compressed images stay so


def test_mono16_png_stays_16_bit_single_channel(images, tmp_path):
    bag, out = tmp_path / "bag", tmp_path / "out"
    assert (
        make(images, bag, "--compressed", "png", "--encoding", "mono16", "--max-frames", "8") == 0
    )
    topic = TOPIC
    assert replay(bag, out, "--inject", "dead", "--inject-rate", "1") == 0
    with BagReader(out) as reader:
        for message in reader.messages([topic, f"{topic}/restored"]):
            msg = reader.deserialize(message)
            assert msg.format == "mono16; png compressed mono16"
            pixels = cv2.imdecode(np.asarray(msg.data, np.uint8), cv2.IMREAD_UNCHANGED)
            assert pixels.dtype == np.uint16 and pixels.ndim == 2, message.topic
            assert decode_compressed(msg.format, msg.data).native.dtype == np.uint16


# 7: full disk, on either storage, for make-bag and replay


@pytest.fixture
def small_disk():
    """Limit file size to 600 kB for the test (RLIMIT_FSIZE, no root needed): EFBIG on write."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (600_000, hard))
    yield
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    signal.signal(signal.SIGXFSZ, previous)


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_full_disk_is_one_line_exit_2_and_no_output(
    bag, images, tmp_path, storage, caplog, request
):
    before = tree_hash(bag)
    request.getfixturevalue("small_disk")
    out, made = tmp_path / "out", tmp_path / "made"
    assert replay(bag, out, "--storage", storage) == 2
    assert make(images, made, "--storage", storage) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2 and errors[0].startswith(f"cannot write bag {out}: ")
    assert errors[1].startswith(f"cannot write bag {made}: ")
    assert not out.exists() and not made.exists() and leftovers(tmp_path) == []
    assert tree_hash(bag) == before


def test_full_disk_while_writing_the_report_leaves_no_report(bag, tmp_path, caplog, monkeypatch):
    monkeypatch.setattr("frame_restore_ros.bag.replay_report.cv2.imwrite", lambda *a: False)
    assert replay(bag, tmp_path / "out", "--strips", "1", "--inject", "dead") == 2
    assert f"cannot write report {tmp_path / 'out_report'}" in error_text(caplog)
    assert not (tmp_path / "out_report").exists() and leftovers(tmp_path) == []


# 8 and 9: read-only output folders, output that is a file, unreadable metadata: at once


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_names_the_output(bag, tmp_path, caplog, no_backend):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert replay(bag, locked / "out") == 2
        assert f"cannot write output {locked / 'out'}: {locked} is not writable" in (
            error_text(caplog)
        )
    finally:
        locked.chmod(0o755)


def _read_only(*args, **kwargs):
    raise OSError(errno.EROFS, os.strerror(errno.EROFS))


def _denied(*args, **kwargs):
    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))


@pytest.mark.parametrize(
    ("where", "target", "fault"),
    [
        ("claim", "frame_restore_ros.bag.output_claim.OutputClaim._lock", _read_only),
        ("write", "frame_restore_ros.bag.bag_io.Writer.write", _read_only),
        ("publish", "frame_restore_ros.bag.bag_io.AtomicBagWriter._publish", _denied),
    ],
)
def test_read_only_or_denied_anywhere_is_one_line_exit_2(
    bag, images, tmp_path, caplog, monkeypatch, where, target, fault
):
    """EROFS / EACCES simulated where each can happen (runs as root too, as CI does)."""
    before = tree_hash(bag)
    out, made = tmp_path / "out", tmp_path / "made"
    monkeypatch.setattr(target, fault)
    assert replay(bag, out) == 2
    assert make(images, made) == 2
    reason = os.strerror(errno.EACCES if fault is _denied else errno.EROFS)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2, errors
    for error, path in zip(errors, (out, made), strict=True):
        assert error.startswith("cannot write ") and f" {path}: {reason}" in error, error
        assert ".partial-" not in error  # the user's path, not the hidden one
    assert not out.exists() and not made.exists() and leftovers(tmp_path) == []
    assert not (tmp_path / "out_report").exists() and tree_hash(bag) == before


def test_unwritable_parent_is_refused_before_the_backend(bag, tmp_path, caplog, monkeypatch):
    """The check root would pass: simulated by os.access saying no, as for a non-root user."""
    real_access = os.access
    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr(
        "frame_restore_ros.bag.output_claim.os.access",
        lambda path, mode: Path(path) != locked and real_access(path, mode),
    )
    monkeypatch.setattr(
        "frame_restore_ros.backends.selection.load_backend",
        lambda *a, **k: pytest.fail("backend loaded before the output was checked"),
    )
    assert replay(bag, locked / "out") == 2
    assert f"cannot write output {locked / 'out'}: {locked} is not writable" in error_text(caplog)
    assert list(locked.iterdir()) == []


def test_output_file_and_bad_metadata_fail_before_the_backend(bag, tmp_path, caplog, no_backend):
    (tmp_path / "file").write_text("x")
    assert replay(bag, tmp_path / "file", "--overwrite") == 2
    assert f"output {tmp_path / 'file'} exists and is not a bag folder" in error_text(caplog)
    (bag / "metadata.yaml").write_bytes(b"\x00\xff\xfe binary")
    assert replay(bag, tmp_path / "out") == 2
    assert f"cannot open bag {bag}" in error_text(caplog)
    assert replay(tmp_path / "missing", tmp_path / "out") == 2
    assert f"bag {tmp_path / 'missing'} does not exist" in error_text(caplog)


# 10: two cameras on one input topic


def test_two_cameras_on_one_input_topic_are_refused():
    with pytest.raises(ParameterError, match="share an input topic.*/a \\(front, rear\\)"):
        NodeSettings.build(
            {"cameras": ["front", "rear"], "front.input_topic": "/a", "rear.input_topic": "/a"}
        )
    NodeSettings.build({"cameras": ["front", "rear"]})  # the defaults differ
