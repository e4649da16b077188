"""Reading ROS 1 / ROS 2 bags and writing ROS 2 bags atomically, with rosbags (no ROS install).

rosbags (Ternaris, Apache-2.0) is the maintained pure-Python implementation of the rosbag1 and
rosbag2 formats (sqlite3 and MCAP storage) and of CDR / ROS 1 serialization. This module only
adds error messages that name the bag, CDR for every message (ROS 1 input is converted), and a
writer that builds the bag under a temporary name and renames it only on success.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from rosbags.convert.converter import migrate_message
from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.interfaces import Connection
from rosbags.rosbag2 import Reader as Rosbag2Reader
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError
from rosbags.rosbag2.reader import DirectoryReader
from rosbags.rosbag2.storage_mcap import McapReader
from rosbags.typesys.store import Typestore

from frame_restore_ros.bag.checksummed_mcap import ChecksummedWriter
from frame_restore_ros.bag.mcap_salvage import SalvagingMcapStorage, truncated_mcap_files
from frame_restore_ros.bag.output_claim import (
    BAG_MARK,
    OutputClaim,
    bag_information,
    check_output,
    io_reason,
    partial_path,
    publish,
)
from frame_restore_ros.bag.ros1_reindex import reindex_ros1
from frame_restore_ros.codec.messages import COMPRESSED_TYPE, IMAGE_TYPE, OUTPUT_TYPESTORE

log = logging.getLogger(__name__)

IMAGE_TYPES = (IMAGE_TYPE, COMPRESSED_TYPE)
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
WRITE_ERRORS = (OSError, sqlite3.Error, WriterError)  # full disk, read-only, permission
SQLITE_KINDS = {str: "TEXT", int: "INTEGER", float: "REAL", type(None): "NULL"}


class BagError(ValueError):
    """A bag that cannot be read or written; the text names the bag and the problem."""


@dataclass(frozen=True)
class TopicSpec:
    """What a connection needs in the output bag: type, definition, hash and offered QoS."""

    topic: str
    msgtype: str
    msgdef: str
    rihs01: str
    qos: tuple = ()


@dataclass(frozen=True)
class TopicLoss:
    """Messages of one topic the bag declares but that could not be read.

    ``where``: the record times (ns) between which reading found gaps (``(last_read, None)``:
    after the last message read), each with the estimated number of messages lost there.
    """

    topic: str
    declared: int
    read: int
    where: tuple[tuple[int | None, int | None, int], ...]

    @property
    def lost(self) -> int:
        return self.declared - self.read

    def describe(self) -> str:
        """Say how many messages were lost and where, in one phrase."""
        places = "; ".join(
            f"~{count} after t={_seconds(before)}"
            + (f" before t={_seconds(after)}" if after is not None else " (to the end)")
            for before, after, count in self.where
        )
        return f"{self.topic}: {self.lost} of {self.declared} lost ({places})"

    def as_dict(self) -> dict:
        """Return the loss for summary.json (record times in ns)."""
        return {
            "topic": self.topic,
            "declared": self.declared,
            "read": self.read,
            "lost": self.lost,
            "where": [{"after_ns": a, "before_ns": b, "lost": n} for a, b, n in self.where],
        }


def _seconds(stamp_ns: int | None) -> str:
    return "start" if stamp_ns is None else f"{stamp_ns / 1e9:.3f}s"


def _agree(declared: Connection, stored: Connection) -> bool:
    """Whether rosbags matches a metadata.yaml connection to a storage one (its own rule)."""
    return (
        declared.msgtype == stored.msgtype
        and declared.ext == stored.ext
        and (not declared.digest or not stored.digest or declared.digest == stored.digest)
    )


def locate_gaps(times: list[int], lost: int) -> tuple[tuple[int | None, int | None, int], ...]:
    """Estimate where ``lost`` messages are missing from the read record ``times`` (sorted).

    Gaps wider than 1.5 median periods hold ``round(gap / period) - 1`` messages each; what is
    left is placed after the last message read (a truncated recording).
    """
    if not times:
        return ((None, None, lost),)
    where: list[tuple[int | None, int | None, int]] = []
    if len(times) > 2:
        steps = [b - a for a, b in zip(times, times[1:], strict=False)]
        period = sorted(steps)[len(steps) // 2]
        for before, after, step in zip(times, times[1:], steps, strict=False):
            if period > 0 and step > 1.5 * period and len(where) < 10:
                count = min(max(round(step / period) - 1, 1), lost - sum(w[2] for w in where))
                if count > 0:
                    where.append((before, after, count))
    rest = lost - sum(w[2] for w in where)
    if rest > 0:
        where.append((times[-1], None, rest))
    return tuple(where)


@dataclass
class BagMessage:
    """One message as stored: ``timestamp`` is the record time (ns); ``cdr`` the CDR bytes."""

    topic: str
    msgtype: str
    timestamp: int
    cdr: bytes
    connection: Connection


class BagReader:
    """Read any rosbag1 file or rosbag2 folder (sqlite3 or MCAP); use as a context manager.

    With ``salvage``, MCAP storage is read by :class:`SalvagingMcapStorage`: past damaged chunks
    and up to the end of a file cut off without its footer; a ROS 1 bag whose index is missing
    or damaged is read from a reindexed copy (:func:`reindex_ros1`, in a temporary folder removed
    on close); ``damage`` says what was skipped.
    """

    def __init__(self, path: Path, salvage: bool = False) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise BagError(f"bag {self.path} does not exist")
        try:
            self._reader = AnyReader([self.path], default_typestore=OUTPUT_TYPESTORE)
        except (AnyReaderError, OSError, ValueError) as exc:
            raise BagError(f"cannot open bag {self.path}: {exc}") from exc
        self.is_ros1 = not self._reader.is2
        self.salvage = salvage
        self._salvaged: list[SalvagingMcapStorage] = []
        self._notes: list[str] = []  # with salvage: damage found outside MCAP chunks
        self._reindexed: tempfile.TemporaryDirectory | None = None  # a ROS 1 bag's copy
        if salvage and not self.is_ros1:
            self._salvage_mcap()
        self._migration_cache: dict[str, object] = {}
        self.read_counts: Counter = Counter()  # topic -> messages read by messages()
        self._read_times: dict[str, list[int]] = defaultdict(list)

    def _salvage_mcap(self) -> None:
        """Let rosbags read MCAP storage through :class:`SalvagingMcapStorage`."""

        def storage(path: Path) -> SalvagingMcapStorage:
            self._salvaged.append(SalvagingMcapStorage(path))
            return self._salvaged[-1]

        for reader in self._reader.readers:
            assert isinstance(reader, Rosbag2Reader)
            if isinstance(reader.storage, DirectoryReader):  # a bag folder with metadata.yaml
                reader.storage.STORAGE_PLUGINS = {
                    **reader.storage.STORAGE_PLUGINS,
                    "mcap": storage,
                }
            elif isinstance(reader.storage, McapReader):  # a bare .mcap file
                reader.storage = storage(reader.path)

    @property
    def damage(self) -> list[str]:
        """With ``salvage``: the damaged chunks, rows and topics skipped; where reading stopped."""
        return self._notes + [note for storage in self._salvaged for note in storage.damage]

    def _damaged(self, text: str) -> None:
        """Raise BagError with ``text``; with ``salvage``, log and keep it in ``damage``."""
        if not self.salvage:
            raise BagError(text)
        log.warning("%s", text)
        self._notes.append(text)

    def __enter__(self) -> BagReader:
        try:
            self._reader.open()
        except Exception as exc:  # rosbags raises several types for corrupt files
            if self.is_ros1:
                self._open_reindexed(exc)
                return self
            cut = [] if self._salvaged else self._truncated_files()
            if cut:
                raise BagError(
                    f"bag {self.path} is truncated: {cut[0].name} ends without its MCAP footer "
                    "(a recording cut off, e.g. a killed recorder); replay --salvage reads "
                    "its messages up to where it ends"
                ) from exc
            raise BagError(f"cannot open bag {self.path}: {type(exc).__name__}: {exc}") from exc
        try:
            for text in self._metadata_mismatches():
                self._damaged(text)
        except BagError:
            self._reader.close()
            raise
        return self

    def _open_reindexed(self, error: Exception) -> None:
        """Open a ROS 1 bag that rosbags refused (``error``) from a reindexed copy, if salvaging.

        Without ``salvage`` raise BagError: offering ``--salvage`` where the index is missing or
        damaged (a killed ``rosbag record`` leaves none), otherwise naming rosbags' error.
        """
        said = f"{type(error).__name__}: {error}"
        if not self.salvage:
            if "index" in str(error):
                raise BagError(
                    f"bag {self.path}: its ROS 1 index is missing or damaged ({error}; a "
                    "recording cut off, e.g. a killed recorder); replay --salvage reads its "
                    "messages from the chunks"
                ) from error
            raise BagError(f"cannot open bag {self.path}: {said}") from error
        self._reindexed = tempfile.TemporaryDirectory(prefix="frame-restore-reindex-")
        copy = Path(self._reindexed.name) / self.path.name
        try:
            found = reindex_ros1(self.path, copy)
            self._reader = AnyReader([copy], default_typestore=OUTPUT_TYPESTORE)
            self._reader.open()
        except Exception as exc:  # not a ROS 1 bag after all, or the copy does not read
            self._reindexed.cleanup()
            self._reindexed = None
            raise BagError(f"cannot open bag {self.path}: {said}; nor reindex it: {exc}") from exc
        copied = sum(found.messages.values())
        self._damaged(
            f"bag {self.path}: its ROS 1 index is missing or damaged ({error}); {copied} "
            f"messages read from its chunks{'' if found.damage else ', to the end of the file'}"
        )
        for text in found.damage:
            self._damaged(f"bag {self.path}: {text}")

    def _metadata_mismatches(self) -> list[str]:
        """Topics whose metadata.yaml entry matches no connection of the bag's storage files.

        rosbags reads a topic's messages only where metadata.yaml and the storage agree on its
        type, type hash, serialization format and QoS; otherwise every message would be "lost".
        """
        notes = []
        for reader in self._reader.readers:
            directory = getattr(reader, "storage", None)
            if not isinstance(directory, DirectoryReader):
                continue  # a bare storage file: no metadata.yaml to disagree with
            stored = [c for storage in directory.storages for c in storage.connections]
            for declared in directory.connections:
                found = [c for c in stored if c.topic == declared.topic]
                if declared.msgcount and found and not any(_agree(declared, c) for c in found):
                    notes.append(self._mismatch(declared, found))
        return notes

    def _mismatch(self, declared: Connection, stored: list[Connection]) -> str:
        """Say how metadata.yaml and the storage disagree about one topic."""
        types = sorted({c.msgtype for c in stored})
        if declared.msgtype not in types:
            what = f"as {declared.msgtype}, but its storage holds {', '.join(types)}"
        elif all(c.digest and declared.digest != c.digest for c in stored):
            what = f"with type hash {declared.digest}, but its storage has {stored[0].digest}"
        else:
            what = "with a serialization format or QoS profiles other than its storage's"
        return (
            f"bag {self.path}: metadata.yaml declares topic {declared.topic} {what}; none of "
            f"its {declared.msgcount} messages can be read until the two agree"
        )

    def _truncated_files(self) -> list[Path]:
        """MCAP files cut off without their footer, in a bag whose metadata reads."""
        if self.path.is_dir() and bag_information(self.path) is None:
            return []  # the metadata is the first problem: rosbags' error says so
        return truncated_mcap_files(self.path)

    def declared_counts(self, topics: Iterable[str] | None = None) -> Counter:
        """Topic -> message count the bag declares (metadata, index or summary)."""
        wanted = set(topics) if topics is not None else None
        counts: Counter = Counter()
        for c in self._reader.connections:
            if wanted is None or c.topic in wanted:
                counts[c.topic] += c.msgcount
        return counts

    def losses(self, topics: Iterable[str] | None = None) -> list[TopicLoss]:
        """Topics of which :meth:`messages` read fewer messages than the bag declares."""
        out = []
        for topic, declared in sorted(self.declared_counts(topics).items()):
            read = self.read_counts[topic]
            if read < declared:
                times = self._read_times[topic]
                out.append(TopicLoss(topic, declared, read, locate_gaps(times, declared - read)))
        return out

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._reader.close()
        finally:
            if self._reindexed is not None:
                self._reindexed.cleanup()
                self._reindexed = None

    @property
    def topics(self) -> dict[str, str]:
        """Topic -> message type; raise BagError for a topic that carries several types."""
        return self._one_type_per_topic()

    def _one_type_per_topic(self) -> dict[str, str]:
        """Topic -> message type; raise BagError naming a topic recorded with several types."""
        types: dict[str, set[str]] = defaultdict(set)
        for c in self._reader.connections:
            types[c.topic].add(c.msgtype)
        for topic, kinds in types.items():
            if len(kinds) > 1:
                raise BagError(
                    f"bag {self.path}: topic {topic} carries {len(kinds)} message types "
                    f"({', '.join(sorted(kinds))}); each topic must have one type"
                )
        return {topic: kinds.pop() for topic, kinds in types.items()}

    def image_topics(self) -> list[str]:
        """Topics of sensor_msgs/Image or sensor_msgs/CompressedImage, sorted."""
        return sorted(t for t, kind in self.topics.items() if kind in IMAGE_TYPES)

    def message_count(self, topics: Iterable[str] | None = None) -> int:
        wanted = set(topics) if topics is not None else None
        return sum(
            c.msgcount for c in self._reader.connections if wanted is None or c.topic in wanted
        )

    def _cdr_store(self, msgtype: str) -> Typestore:
        """Return the typestore whose CDR layout messages of ``msgtype`` are handed out in.

        ROS 1 messages of types that ROS 2 also has are migrated to the ROS 2 definition (the
        Header loses ``seq``), as ``rosbags-convert`` does; other types keep the bag's definition.
        """
        if self.is_ros1 and msgtype in OUTPUT_TYPESTORE.fielddefs:
            return OUTPUT_TYPESTORE
        return self._reader.typestore

    def topic_specs(self) -> list[TopicSpec]:
        """One spec per input topic, as the output bag must declare it (ROS 2 CDR).

        A topic recorded over several connections of its type (ROS 1: one per publisher) gets
        the first one's; several types on one topic are a BagError (:attr:`topics`).
        """
        self._one_type_per_topic()
        specs: list[TopicSpec] = []
        for connection in self._reader.connections:
            if any(spec.topic == connection.topic for spec in specs):
                continue
            if self.is_ros1:
                store = self._cdr_store(connection.msgtype)
                msgdef, _ = store.generate_msgdef(connection.msgtype, ros_version=2)
                rihs01 = store.hash_rihs01(connection.msgtype)
                qos: tuple = ()
            else:
                msgdef, rihs01 = connection.msgdef.data, connection.digest
                if not msgdef or not rihs01:  # recorded before Iron: no type hash stored
                    msgdef, rihs01 = self._type_from_store(connection, msgdef, rihs01)
                qos = tuple(getattr(connection.ext, "offered_qos_profiles", ()) or ())
            specs.append(TopicSpec(connection.topic, connection.msgtype, msgdef, rihs01, qos))
        return specs

    def _type_from_store(
        self, connection: Connection, msgdef: str, rihs01: str
    ) -> tuple[str, str]:
        """Fill a missing definition / RIHS01 hash from the reader's typestore.

        Bags recorded before ROS 2 Iron (and bare .mcap files) store no
        ``type_description_hash``; the typestore holds the bag's own definitions (or the
        default ones), so the hash is computed as rosbags' writer would compute it.
        """
        store = self._reader.typestore
        missing = " and ".join(
            name for name, value in (("definition", msgdef), ("type hash", rihs01)) if not value
        )
        try:
            if not msgdef:
                msgdef, _ = store.generate_msgdef(connection.msgtype, ros_version=2)
            if not rihs01:
                rihs01 = store.hash_rihs01(connection.msgtype)
        except Exception as exc:  # an unknown type or a definition rosbags cannot hash
            raise BagError(
                f"bag {self.path}: topic {connection.topic} stores no {missing} (recorded "
                f"before ROS 2 Iron?) and type {connection.msgtype} is unknown: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return msgdef, rihs01

    def _ros1_to_cdr(self, raw: bytes, msgtype: str) -> bytes:
        source = self._reader.typestore
        message = source.deserialize_ros1(raw, msgtype)
        store = self._cdr_store(msgtype)
        if store is not source:
            message = migrate_message(
                source, store, msgtype, msgtype, self._migration_cache, message
            )
        return bytes(store.serialize_cdr(message, msgtype))

    def messages(self, topics: Sequence[str] | None = None) -> Iterator[BagMessage]:
        """Messages in record-time order (all topics interleaved), as CDR bytes.

        Raises BagError when the storage turns out to be truncated or corrupt mid-way.
        """
        connections = [c for c in self._reader.connections if topics is None or c.topic in topics]
        if not connections:
            return
        count = 0
        iterator = self._reader.messages(connections=connections)
        while True:
            try:
                connection, timestamp, raw = next(iterator)
            except StopIteration:
                return
            except Exception as exc:  # sqlite/MCAP/rosbag1 errors for damaged storage
                raise BagError(
                    f"bag {self.path} is corrupt or truncated after {count} messages: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            count += 1
            raw = self._stored_bytes(raw, connection, timestamp, count)
            if raw is None:
                continue  # a damaged row, dropped (salvage): counted as lost
            self.read_counts[connection.topic] += 1
            self._read_times[connection.topic].append(timestamp)
            if self.is_ros1:
                try:
                    raw = self._ros1_to_cdr(raw, connection.msgtype)
                except Exception as exc:
                    raise BagError(
                        f"bag {self.path}: message {count} on {connection.topic} does not "
                        f"convert from ROS 1: {exc}"
                    ) from exc
            yield BagMessage(connection.topic, connection.msgtype, timestamp, raw, connection)

    def _stored_bytes(
        self, raw: object, connection: Connection, timestamp: int, count: int
    ) -> bytes | memoryview | None:
        """Return ``raw`` if it is bytes; a sqlite3 row holding TEXT, a number or NULL is damage.

        Raises BagError naming the row; with ``salvage`` the row is noted and None returned.
        """
        if isinstance(raw, (bytes, bytearray, memoryview)):
            return raw
        kind = SQLITE_KINDS.get(type(raw), type(raw).__name__)
        self._damaged(
            f"bag {self.path}: message {count} on {connection.topic} (t={_seconds(timestamp)}) "
            f"is stored as {kind}, not as bytes (a damaged row); it cannot be copied"
        )
        return None

    def deserialize(self, message: BagMessage) -> object:
        """Return the message object; raise ValueError if its bytes are malformed."""
        try:
            return self._cdr_store(message.msgtype).deserialize_cdr(message.cdr, message.msgtype)
        except Exception as exc:
            raise ValueError(
                f"malformed {message.msgtype} on {message.topic} at t={message.timestamp}: {exc}"
            ) from exc


class AtomicBagWriter:
    """A ROS 2 bag (format version 9) written under a temporary name and renamed on success.

    The output is claimed (``output_claim.OutputClaim``) and checked against the overwrite rules
    on entry; on an exception or interruption inside the ``with`` block the partial bag is
    deleted, so a bag under the final name is always complete. Every write failure (full disk,
    read-only, permission; OSError or sqlite3.Error) is a BagError naming the output.
    """

    def __init__(
        self,
        path: Path,
        storage: str = "mcap",
        overwrite: bool = False,
        inputs: Sequence[Path] = (),
    ) -> None:
        if storage not in STORAGES:
            raise ValueError(f"storage must be one of {sorted(STORAGES)}, got {storage!r}")
        self.path = Path(path)
        self.storage = storage
        self.overwrite = overwrite
        self.inputs = tuple(Path(p) for p in inputs)
        self.partial = partial_path(self.path)
        self._claim = OutputClaim(self.path)
        self._writer: Writer | None = None
        self._connections: dict[str, Connection] = {}

    def _failed(self, exc: BaseException) -> BagError:
        return BagError(f"cannot write bag {self.path}: {io_reason(exc)}")

    def __enter__(self) -> AtomicBagWriter:
        check_output(self.path, self.inputs, self.overwrite)
        self._claim.__enter__()
        try:
            check_output(self.path, self.inputs, self.overwrite)  # again, now that it is ours
            if self.partial.exists():
                shutil.rmtree(self.partial)
            self._writer = ChecksummedWriter(
                self.partial, version=9, storage_plugin=STORAGES[self.storage]
            )
            self._writer.set_custom_data(*BAG_MARK)  # --overwrite may replace it later
            self._writer.open()
        except BaseException as exc:
            self._writer = None
            shutil.rmtree(self.partial, ignore_errors=True)
            self._claim.__exit__(None, None, None)
            if isinstance(exc, WRITE_ERRORS):
                raise self._failed(exc) from exc
            raise
        return self

    def add_topic(self, spec: TopicSpec) -> None:
        assert self._writer is not None, "use AtomicBagWriter as a context manager"
        if spec.topic in self._connections:
            raise BagError(f"topic {spec.topic} added twice to {self.path}")
        if not spec.msgdef or not spec.rihs01:  # rosbags would fail an assert
            missing = "message definition" if not spec.msgdef else "RIHS01 type hash"
            raise BagError(
                f"cannot write topic {spec.topic} ({spec.msgtype}) to {self.path}: no {missing}"
            )
        try:
            self._connections[spec.topic] = self._writer.add_connection(
                spec.topic,
                spec.msgtype,
                msgdef=spec.msgdef,
                rihs01=spec.rihs01,
                offered_qos_profiles=list(spec.qos),
            )
        except WRITE_ERRORS as exc:
            raise self._failed(exc) from exc

    def add_output_topic(self, topic: str, msgtype: str) -> None:
        """Declare a topic of a type this package writes (Image, CompressedImage)."""
        msgdef, _ = OUTPUT_TYPESTORE.generate_msgdef(msgtype, ros_version=2)
        self.add_topic(TopicSpec(topic, msgtype, msgdef, OUTPUT_TYPESTORE.hash_rihs01(msgtype)))

    def write(self, topic: str, timestamp: int, cdr: bytes | memoryview) -> None:
        assert self._writer is not None
        try:
            self._writer.write(self._connections[topic], timestamp, cdr)
        except WRITE_ERRORS as exc:
            raise self._failed(exc) from exc

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        try:
            if exc_type is not None:
                with contextlib.suppress(Exception):  # the storage may be what failed
                    writer.abort()
                shutil.rmtree(self.partial, ignore_errors=True)
                log.warning("output bag %s not written (%s)", self.path, exc_type.__name__)
                return
            try:
                writer.close()
                self._publish()
            except BaseException as error:
                shutil.rmtree(self.partial, ignore_errors=True)
                if isinstance(error, WRITE_ERRORS):
                    raise self._failed(error) from error
                raise
        finally:
            self._claim.__exit__(None, None, None)

    def _publish(self) -> None:
        """Rename the finished bag into place (its storage file is renamed to match)."""
        for child in self.partial.iterdir():  # rosbags names the storage file after the folder
            if child.stem == self.partial.name:
                child.rename(self.partial / (self.path.name + child.suffix))
        metadata = self.partial / "metadata.yaml"
        metadata.write_text(metadata.read_text().replace(self.partial.name, self.path.name))
        publish(self.partial, self.path, self.overwrite)
        log.info("wrote %s", self.path)
