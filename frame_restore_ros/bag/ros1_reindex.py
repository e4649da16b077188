"""What still reads in a ROS 1 bag whose index is missing or damaged, for ``replay --salvage``.

A ROS 1 bag (format 2.0) keeps its index (connections and chunk infos) at the end of the file
and its position in the bag header. A recorder that was killed (``rosbag record`` leaves
``NAME.bag.active``) writes no index, so the header says ``index_pos=0``; a file cut short loses
the index the header points to. rosbags then refuses the bag ("reindex before reading", "Bag
index looks damaged") and ``rosbag reindex`` needs a ROS 1 install. Every message is still in
the chunks, each preceded by its connection record: this module reads the records in file order
up to where they stop reading and writes them, with a new index, into a copy with rosbags' own
writer, which the rest of the replay reads as any bag. Built on rosbags' record primitives
(``Header``, ``read_uint32``, ``read_bytes``, its decompressors), not a parser of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from rosbags.interfaces import Connection
from rosbags.rosbag1 import Writer
from rosbags.rosbag1.reader import (
    Header,
    ReaderError,
    RecordType,
    decompressors,
    read_bytes,
    read_uint32,
)
from rosbags.typesys.msg import normalize_msgtype

log = logging.getLogger(__name__)
MAGIC = b"#ROSBAG V2.0\n"


@dataclass
class Ros1Salvage:
    """What :func:`reindex_ros1` found: messages copied, per topic, and what it lost where.

    Attributes:
        messages: topic -> messages copied into the reindexed bag.
        damage: one line per loss (a chunk that did not decompress or parse, where reading
            stopped, messages of an unknown connection), each with its byte offset.
        size: the input file's size in bytes; ``stopped_at``: the byte reading stopped at
            (``size`` when it read to the end).
    """

    messages: dict[str, int] = field(default_factory=dict)
    damage: list[str] = field(default_factory=list)
    size: int = 0
    stopped_at: int = 0


class _Copier:
    """Writes the records read from the damaged bag into a rosbags ``Writer``."""

    def __init__(self, writer: Writer, result: Ros1Salvage) -> None:
        self.writer, self.result = writer, result
        self.connections: dict[int, Connection] = {}  # the input's conn id -> written connection
        self.unknown: dict[int, int] = {}  # conn id -> messages before (or without) its record

    def connection(self, header: Header, data: bytes) -> None:
        """Register a CONNECTION record (``data``: its second header, the type's fields)."""
        conn = header.get_uint32("conn")
        if conn in self.connections:
            return  # written again in the index section or another chunk
        fields = Header.read(_Bytes(len(data).to_bytes(4, "little") + data))
        latching = fields.get_string("latching") if "latching" in fields else ""
        wanted = (
            header.get_string("topic"),
            normalize_msgtype(fields.get_string("type")),
            fields.get_string("message_definition"),
            fields.get_string("md5sum"),
            fields.get_string("callerid") if "callerid" in fields else None,
            int(latching) if latching else None,
        )
        for written in self.writer.connections:  # two ids of one publisher: one connection
            if (written.topic, written.msgtype, written.msgdef.data, written.digest) == wanted[:4]:
                if (written.ext.callerid, written.ext.latching) == wanted[4:]:
                    self.connections[conn] = written
                    return
        topic, msgtype, msgdef, md5sum, callerid, latched = wanted
        self.connections[conn] = self.writer.add_connection(
            topic, msgtype, msgdef=msgdef, md5sum=md5sum, callerid=callerid, latching=latched
        )

    def message(self, header: Header, data: bytes) -> None:
        """Copy a MSGDATA record, or count it lost when its connection is not known yet."""
        conn = header.get_uint32("conn")
        target = self.connections.get(conn)
        if target is None:
            self.unknown[conn] = self.unknown.get(conn, 0) + 1
            return
        self.writer.write(target, header.get_time("time"), data)
        self.result.messages[target.topic] = self.result.messages.get(target.topic, 0) + 1


class _Bytes:
    """The smallest ``BinaryIO`` over bytes that rosbags' ``Header.read`` needs."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, size: int) -> bytes:
        chunk = self.data[self.pos : self.pos + size]
        self.pos += len(chunk)
        return chunk

    def tell(self) -> int:
        return self.pos


def _record(src: BinaryIO | _Bytes) -> tuple[Header, bytes]:
    """Read one record (header and data) at the current position; ReaderError if cut."""
    header = Header.read(src)
    return header, read_bytes(src, read_uint32(src))


def _chunk_records(header: Header, data: bytes, offset: int, copier: _Copier) -> str | None:
    """Copy the records of one CHUNK; return why it stopped early (with its offset), or None."""
    compression = header.get_string("compression")
    try:
        inner = decompressors[compression](data)
    except KeyError:
        return f"chunk at byte {offset}: compression {compression!r} is not supported: lost"
    except Exception as exc:  # bz2 / lz4 raise their own types for damaged data
        return f"chunk at byte {offset} does not decompress ({type(exc).__name__}: {exc}): lost"
    src = _Bytes(inner)
    while src.pos < len(inner):
        try:
            record, payload = _record(src)
            op = record.get_uint8("op")
        except ReaderError as exc:
            return (
                f"chunk at byte {offset}: record {src.pos} bytes into it does not read "
                f"({exc}): the rest of the chunk is lost"
            )
        if op == RecordType.CONNECTION:
            copier.connection(record, payload)
        elif op == RecordType.MSGDATA:
            copier.message(record, payload)
    return None


def reindex_ros1(path: Path, target: Path) -> Ros1Salvage:
    """Copy every message of the ROS 1 bag ``path`` that reads into a new bag ``target``.

    Records are read in file order: connection records and the messages inside chunks (the
    index section, if any, adds nothing). A chunk that does not decompress or parse costs that
    chunk (the next one is found from its length); a record header that does not read ends
    reading there (a file cut off, or damage that leaves no length to skip by). Raises
    ReaderError when ``path`` is no ROS 1 bag (its magic line or bag header do not read).
    """
    result = Ros1Salvage(size=path.stat().st_size)
    with path.open("rb") as src, Writer(target) as writer:
        if src.read(len(MAGIC)) != MAGIC:
            raise ReaderError(f"{path} is not a ROS 1 bag (version 2.0): its first line differs")
        bag_header, _ = _record(src)
        if bag_header.get_uint8("op") != RecordType.BAGHEADER:
            raise ReaderError(f"{path}: the bag header record does not follow the first line")
        if bag_header.get("encryptor"):
            raise ReaderError(f"{path} is encrypted ({bag_header['encryptor'].decode()})")
        copier = _Copier(writer, result)
        result.stopped_at = result.size
        while (offset := src.tell()) < result.size:
            try:
                header = Header.read(src)
                op = header.get_uint8("op")
                length = read_uint32(src)
            except ReaderError as exc:
                result.damage.append(
                    f"reading stopped at byte {offset} of {result.size}: {exc} (a file cut off "
                    "or damaged there); anything after it is lost"
                )
                result.stopped_at = offset
                break
            data = src.read(length)
            if len(data) < length:  # the file ends inside this record
                result.stopped_at = offset
                cut = f"the file ends at byte {result.size}, inside the record at byte {offset}"
                if op == RecordType.CHUNK and header.get_string("compression") == "none":
                    problem = _chunk_records(header, data, offset, copier)
                    result.damage.append(f"{cut} (a chunk: its whole records before the cut kept)")
                    if problem and "does not read" not in problem:
                        result.damage.append(problem)
                else:
                    result.damage.append(f"{cut}: that record is lost")
                break
            if op == RecordType.CHUNK:
                if problem := _chunk_records(header, data, offset, copier):
                    result.damage.append(problem)
            elif op == RecordType.CONNECTION:
                copier.connection(header, data)
            elif op == RecordType.MSGDATA:  # the chunk a killed recorder was writing: rosbag
                copier.message(header, data)  # leaves its lengths 0, its records follow it
    for conn, count in copier.unknown.items():
        result.damage.append(
            f"{count} messages of connection {conn} (its record never read): lost"
        )
    return result
