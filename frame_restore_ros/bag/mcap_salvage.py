"""What still reads in a damaged or truncated MCAP file, for ``replay --salvage``.

rosbags needs an MCAP file's footer and summary and stops at the first damaged chunk.
:class:`SalvagingMcapStorage` is a storage plugin for rosbags' rosbag2 reader (the interface of
rosbags' own ``McapReader``) built on the ``mcap`` library (foxglove's reference Python
implementation), so that

* a chunk whose CRC, size, compression or records are wrong costs that chunk only: reading goes
  on with the next chunk (each chunk is read on its own where the summary's chunk index lists it,
  as rosbags does);
* a file without its footer or summary (a recorder that was killed) is read record by record with
  the library's ``StreamReader`` up to where it ends; a damaged chunk is skipped there too, a
  damaged record outside chunks ends reading.

Every skipped chunk and the place where reading stopped are logged and kept in ``damage``.
"""

from __future__ import annotations

import heapq
import io
import itertools
import logging
import struct
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mcap.data_stream import ReadDataStream
from mcap.exceptions import EndOfFile, McapError
from mcap.opcode import Opcode
from mcap.reader import make_reader
from mcap.records import Channel, Chunk, ChunkIndex, Header, McapRecord, Message, Schema
from mcap.stream_reader import StreamReader, get_chunk_data_stream
from mcap.summary import Summary
from rosbags.interfaces import (
    Connection,
    ConnectionExtRosbag2,
    MessageDefinition,
    MessageDefinitionFormat,
)
from rosbags.rosbag2 import ReaderError
from rosbags.rosbag2.metadata import ReaderMetadata, parse_qos

log = logging.getLogger(__name__)

MAGIC = b"\x89MCAP0\r\n"
MAXSIZE = 2**63 - 1
NEXT = ": its messages are lost, reading went on with the next chunk"
SCHEMA_FORMATS = {
    "ros2msg": MessageDefinitionFormat.MSG,
    "ros2idl": MessageDefinitionFormat.IDL,
    "omgidl": MessageDefinitionFormat.IDL,
    "": MessageDefinitionFormat.NONE,
}
RECORD_HEAD = 9  # opcode (1 byte) and length (8 bytes) of every record
MESSAGE_FIELDS = 22  # channel id, sequence, log time and publish time of a message record
# An uncompressed chunk's records start after its opcode, length, start and end time,
# uncompressed size, CRC, compression name (empty: its 4-byte length) and records length.
PLAIN_CHUNK_HEAD = RECORD_HEAD + 8 + 8 + 8 + 4 + 4 + 8
# what a damaged record can raise inside the mcap library (lz4 / zstd raise their own errors)
DAMAGE = (McapError, ValueError, OverflowError, struct.error, MemoryError, RuntimeError)


def lacks_footer(file: Path) -> bool:
    """Whether ``file`` starts as an MCAP file but does not end as one (cut off while written)."""
    try:
        with open(file, "rb") as stream:
            head = stream.read(len(MAGIC))
            stream.seek(0, 2)
            size = stream.tell()
            stream.seek(max(size - len(MAGIC), 0))
            tail = stream.read()
    except OSError:
        return False
    return head == MAGIC and (size < 2 * len(MAGIC) or tail != MAGIC)


def truncated_mcap_files(path: Path) -> list[Path]:
    """Return the MCAP files of bag ``path`` (a folder or a bare .mcap file) without footer."""
    files = sorted(path.glob("*.mcap")) if path.is_dir() else [path]
    return [file for file in files if file.suffix == ".mcap" and lacks_footer(file)]


@dataclass
class _Batch:
    """The messages of one chunk (or one message outside chunks), sorted by log time."""

    start_time: int
    messages: list[Message]


class SalvagingMcapStorage:
    """rosbags storage plugin: the intact messages of a damaged or truncated MCAP file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.connections: list[Connection] = []
        self.metadata = ReaderMetadata(0, MAXSIZE, 0, 0, None, None, None, None)
        self._damage: dict[int, str] = {}  # byte offset -> what was lost there
        self._logged: set[int] = set()  # offsets logged: once, when messages() meets them
        self._chunk_indexes: list[ChunkIndex] = []  # from the summary, if the file has one
        self._channels: dict[int, Channel] = {}  # every channel open() found
        self._stream: BinaryIO | None = None
        self._reading = False  # within messages(): the scan in open() notes without logging

    @property
    def damage(self) -> list[str]:
        """What could not be read, one sentence per place, in file order."""
        return [self._damage[offset] for offset in sorted(self._damage)]

    def open(self) -> None:
        """Read the schemas, channels and counts: from the summary, or by scanning the file."""
        self._stream = open(self.path, "rb")  # closed by close()
        if self._stream.read(len(MAGIC)) != MAGIC:
            self.close()
            raise ReaderError(f"{self.path.name} is not an MCAP file (no MCAP magic at its start)")
        summary = None if lacks_footer(self.path) else self._summary()
        if summary is not None and summary.statistics is not None:
            schemas, channels = summary.schemas, summary.channels
            counts = Counter(summary.statistics.channel_message_counts)
            self._chunk_indexes = sorted(
                summary.chunk_indexes, key=lambda index: index.chunk_start_offset
            )
            times = [(summary.statistics.message_start_time, summary.statistics.message_end_time)]
        else:
            schemas, channels, counts, times = self._scan()
        self._channels = dict(channels)
        self.connections = [
            self._connection(channel, schemas.get(channel.schema_id), counts[channel.id])
            for channel in channels.values()
        ]
        total = sum(counts.values())
        start, end = min(t[0] for t in times), max(t[1] for t in times)
        self.metadata = ReaderMetadata(
            end - start + 1 if total else 0,
            start if total else MAXSIZE,
            end + 1 if total else 0,
            total,
            None,
            None,
            None,
            None,
        )

    def close(self) -> None:
        """Close the file."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    def messages(
        self,
        connections: Collection[Connection],
        start: int | None = None,
        stop: int | None = None,
    ) -> Iterator[tuple[Connection, int, bytes]]:
        """Yield (connection, log time, data) of every intact message, in log-time order."""
        wanted = {c.id: c for c in connections}
        low, high = start or 0, MAXSIZE if stop is None else stop
        self._reading = True
        for message in _in_time_order(self._batches({}, dict(self._channels))):
            if message.channel_id in wanted and low <= message.log_time < high:
                yield wanted[message.channel_id], message.log_time, message.data

    def _summary(self) -> Summary | None:
        """Return the file's summary, or None when it has none or it does not read."""
        assert self._stream is not None
        self._stream.seek(0)  # the reader starts by reading the magic
        try:
            return make_reader(self._stream).get_summary()
        except DAMAGE as exc:
            log.info("%s: summary unreadable (%s); scanning the file", self.path, exc)
            return None

    def _scan(self) -> tuple[dict[int, Schema], dict[int, Channel], Counter, list]:
        """Collect schemas, channels, message counts and times by reading the whole file."""
        schemas: dict[int, Schema] = {}
        channels: dict[int, Channel] = {}
        counts: Counter = Counter()
        times = [(MAXSIZE, 0)]
        for batch in self._batches(schemas, channels):
            counts.update(m.channel_id for m in batch.messages)
            times.append((batch.messages[0].log_time, batch.messages[-1].log_time))
        return schemas, channels, counts, times

    def _batches(
        self, schemas: dict[int, Schema], channels: dict[int, Channel]
    ) -> Iterator[_Batch]:
        """Yield the messages of every intact chunk; fill ``schemas`` and ``channels``."""
        if self._chunk_indexes:
            return self._indexed_batches(schemas, channels)
        return self._streamed_batches(schemas, channels)

    def _indexed_batches(
        self, schemas: dict[int, Schema], channels: dict[int, Channel]
    ) -> Iterator[_Batch]:
        """Read each chunk the summary's index lists on its own, as rosbags does."""
        assert self._stream is not None
        for index in self._chunk_indexes:
            offset = index.chunk_start_offset
            self._stream.seek(offset)
            record = self._stream.read(index.chunk_length)
            try:
                if len(record) < index.chunk_length or record[0] != Opcode.CHUNK:
                    raise ValueError("no chunk record where the chunk index points")
                chunk = Chunk.read(ReadDataStream(io.BytesIO(record[9:])))
            except DAMAGE as exc:
                self._note(offset, f"damaged chunk at byte {offset} ({_reason(exc)}){NEXT}")
                continue
            yield from self._record(chunk, offset, schemas, channels)

    def _streamed_batches(
        self, schemas: dict[int, Schema], channels: dict[int, Channel]
    ) -> Iterator[_Batch]:
        """Read the file record by record (no summary).

        A damaged chunk is skipped; a damaged or cut-off record outside chunks ends reading.
        """
        assert self._stream is not None
        self._stream.seek(0)
        position = len(MAGIC)
        try:
            for record in StreamReader(self._stream, emit_chunks=True).records:
                offset, position = position, self._stream.tell()
                if isinstance(record, Header) and record.profile != "ros2":
                    raise ReaderError(f"MCAP profile is {record.profile!r}, not ros2")
                yield from self._record(record, offset, schemas, channels)
        except EndOfFile:
            self._note(position, f"{self._cut_off(position)}; reading stopped there")
        except DAMAGE as exc:
            self._note(
                position,
                f"damaged record at byte {position} ({_reason(exc)}); reading stopped there",
            )

    def _cut_off(self, position: int) -> str:
        """Say why the file ended inside the record at ``position``."""
        size = self.path.stat().st_size
        if lacks_footer(self.path):
            return (
                f"the file is truncated: it ends at byte {size}, inside or before the record at "
                f"byte {position}, without the MCAP footer"
            )
        return f"damaged record at byte {position}: its length runs past the end of the file"

    def _record(
        self,
        record: object,
        offset: int,
        schemas: dict[int, Schema],
        channels: dict[int, Channel],
    ) -> Iterator[_Batch]:
        """Handle one top-level record: remember definitions, decode chunks into batches."""
        if isinstance(record, Schema):
            schemas[record.id] = record
        elif isinstance(record, Channel):
            channels[record.id] = record
        elif isinstance(record, Message):
            if record.channel_id in channels:
                yield _Batch(record.log_time, [record])
        elif isinstance(record, Chunk):
            messages = self._chunk(record, offset, schemas, channels)
            if messages:
                yield _Batch(record.message_start_time, messages)

    def _chunk(
        self,
        chunk: Chunk,
        offset: int,
        schemas: dict[int, Schema],
        channels: dict[int, Channel],
    ) -> list[Message]:
        """Return the chunk's messages sorted by log time, or [] (noted) if it is damaged."""
        try:
            if not chunk.compression and len(chunk.data) != chunk.uncompressed_size:
                raise ValueError(f"{len(chunk.data)} bytes of {chunk.uncompressed_size}")
            records, overrun = chunk_records(chunk)
            found = dict(channels)
            found.update((r.id, r) for r in records if isinstance(r, Channel))
            messages = [r for r in records if isinstance(r, Message)]
            for message in messages:
                if message.channel_id not in found:
                    raise ValueError(f"message on unknown channel {message.channel_id}")
                if not chunk.message_start_time <= message.log_time <= chunk.message_end_time:
                    raise ValueError(f"message time {message.log_time} outside the chunk's")
        except DAMAGE as exc:
            self._note(
                offset,
                f"damaged chunk at byte {offset} (record times "
                f"{chunk.message_start_time / 1e9:.3f}s to {chunk.message_end_time / 1e9:.3f}s: "
                f"{_reason(exc)}){NEXT}",
            )
            return []
        schemas.update((r.id, r) for r in records if isinstance(r, Schema))
        channels.update(found)
        if overrun is not None:
            self._note(offset, _overrun_text(chunk, offset, overrun, len(messages)))
        return sorted(messages, key=lambda m: m.log_time)

    def _note(self, offset: int, text: str) -> None:
        """Record what was lost at ``offset``; log it when messages() meets it."""
        self._damage.setdefault(offset, f"{self.path.name}: {text}")
        if self._reading and offset not in self._logged:
            self._logged.add(offset)
            log.warning("%s: %s", self.path, text)

    def _connection(self, channel: Channel, schema: Schema | None, count: int) -> Connection:
        """Build the rosbags connection of ``channel``, as rosbags' own MCAP reader does."""
        msgdef = MessageDefinition(MessageDefinitionFormat.NONE, "")
        if schema is not None:
            msgdef = MessageDefinition(
                SCHEMA_FORMATS.get(schema.encoding, MessageDefinitionFormat.NONE),
                schema.data.decode(errors="replace"),
            )
        return Connection(
            channel.id,
            channel.topic,
            schema.name if schema is not None else "__schemaless__",
            msgdef,
            "",
            count,
            ConnectionExtRosbag2(
                channel.message_encoding,
                parse_qos(channel.metadata.get("offered_qos_profiles", "")),
            ),
            self,
        )


@dataclass(frozen=True)
class Overrun:
    """A record in a chunk whose length field runs past the chunk's end (or is too short)."""

    position: int  # byte offset of the record within the chunk's (decompressed) records
    problem: str  # what is wrong with it, e.g. "claims 1099511627776 bytes, but ..."


def chunk_records(chunk: Chunk) -> tuple[list[McapRecord], Overrun | None]:
    """Return the records of a chunk, each read within its own length (CRC checked if stored).

    Unlike the mcap library's ``breakup_chunk``, a record cannot swallow the records after it:
    reading stops at a record whose length runs past the chunk (or a message record shorter than
    its fixed fields), and that record is returned as an :class:`Overrun`; the records before
    it are returned, those after it are lost.
    """
    stream, size = get_chunk_data_stream(chunk, validate_crc=True)
    data = stream.read(size)
    records: list[McapRecord] = []
    position = 0
    while position < size:
        if size - position < RECORD_HEAD:
            left = size - position
            return records, Overrun(position, f"is {left} bytes, too short for a record header")
        opcode, length = struct.unpack_from("<BQ", data, position)
        body = position + RECORD_HEAD
        if length > size - body:
            left = size - body
            return records, Overrun(position, f"claims {length} bytes, but the chunk has {left}")
        if opcode == Opcode.MESSAGE and length < MESSAGE_FIELDS:
            problem = f"claims {length} bytes, fewer than a message's {MESSAGE_FIELDS} of fields"
            return records, Overrun(position, problem)
        record = ReadDataStream(io.BytesIO(data[body : body + length]))
        if opcode == Opcode.CHANNEL:
            records.append(Channel.read(record))
        elif opcode == Opcode.MESSAGE:
            records.append(Message.read(record, length))
        elif opcode == Opcode.SCHEMA:
            records.append(Schema.read(record))
        position = body + length  # other opcodes: skipped, as the library does
    return records, None


def _overrun_text(chunk: Chunk, offset: int, overrun: Overrun, kept: int) -> str:
    """Say which record of the chunk at ``offset`` ran past it and what was lost there."""
    if chunk.compression:
        where = f"at byte {overrun.position} of its {chunk.compression}-decompressed records"
    else:
        where = f"at byte {offset + PLAIN_CHUNK_HEAD + overrun.position}"
    return (
        f"damaged chunk at byte {offset} (record times {chunk.message_start_time / 1e9:.3f}s "
        f"to {chunk.message_end_time / 1e9:.3f}s): the record {where} {overrun.problem}; that "
        f"record and the rest of the chunk are lost ({kept} messages before it kept), reading "
        "went on with the next chunk"
    )


def _in_time_order(batches: Iterator[_Batch]) -> Iterator[Message]:
    """Merge batches (each sorted, in order of their start times) into log-time order.

    A message is handed out once no later batch can hold an earlier one, so at most the
    messages of overlapping chunks are held at once.
    """
    heap: list[tuple[int, int, Message]] = []
    order = itertools.count()
    for batch in batches:
        while heap and heap[0][0] < batch.start_time:
            yield heapq.heappop(heap)[2]
        for message in batch.messages:
            heapq.heappush(heap, (message.log_time, next(order), message))
    while heap:
        yield heapq.heappop(heap)[2]


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
