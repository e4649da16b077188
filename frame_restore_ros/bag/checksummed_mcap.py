"""MCAP bags written with each chunk's CRC-32, so that a reader can tell a damaged chunk.

rosbags (0.11) writes an MCAP chunk's ``uncompressed_crc`` as 0, which the MCAP specification
reads as "not computed": a bag this project wrote whose payload was later damaged (a bad disk
block, a copy cut short and patched) read back as valid messages with wrong pixels. rosbag2's
own MCAP plugin and the ``mcap`` library write the CRC, and every reader (rosbag2, the ``mcap``
library, rosbags, ``replay --salvage``) checks a non-zero one. Here rosbags' writer is kept and
the CRC is filled in after each chunk is written: the field's place is fixed by the MCAP
specification (https://mcap.dev/spec#chunk-op0x06), not by rosbags' code.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping

from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.rosbag2.storage_mcap import McapWriter

CHUNK_OPCODE = 0x06
# Chunk record: opcode (1 byte), record length (uint64), message_start_time,
# message_end_time, uncompressed_size (uint64 each), then uncompressed_crc (uint32).
CRC_OFFSET = 1 + 8 + 3 * 8


class ChecksummedMcapWriter(McapWriter):
    """rosbags' MCAP storage writer, with the CRC-32 of each chunk's uncompressed records."""

    def close_chunk(self) -> None:
        """Write the pending chunk (rosbags), then its CRC into the chunk record's field."""
        crc = zlib.crc32(self.chunk.bio.getbuffer())
        start = self.bio.tell()  # rosbags writes the chunk record first, from here
        super().close_chunk()
        end = self.bio.tell()
        if end - start < CRC_OFFSET + 4:  # nothing written: nothing to checksum
            return
        self.bio.seek(start + CRC_OFFSET)
        self.bio.write(struct.pack("<I", crc))
        self.bio.seek(end)


class ChecksummedWriter(Writer):
    """rosbags' rosbag2 writer whose MCAP storage writes chunk CRCs (SQLite3 unchanged)."""

    STORAGE_PLUGINS: Mapping[StoragePlugin, type] = {
        **Writer.STORAGE_PLUGINS,
        StoragePlugin.MCAP: ChecksummedMcapWriter,
    }


__all__ = ["CHUNK_OPCODE", "CRC_OFFSET", "ChecksummedMcapWriter", "ChecksummedWriter"]
