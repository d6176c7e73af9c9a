"""The zip layout b2release packages use: record structures, the values the writer sets,
limits, the entry record, and the byte sources the reader reads from.

`formats.archive` writes exactly this layout and `formats.archive_reader` accepts exactly
it; both take the numbers from here, so the two cannot drift apart. In APPNOTE.TXT terms:

    [local header 1][name 1][data 1] ... [local header n][name n][data n]
    [central record 1][name 1] ...       [central record n][name n]
    [end of central directory record, no comment]

- the first local header at offset 0, entries contiguous in central-directory order;
- each local header equal to its central record (name, version, flags, method, time,
  date, CRC-32, sizes); no extra fields, no comments, no zip64, no data descriptors, no
  encryption; methods stored (0) and deflate (8) only; a deflated entry is smaller than
  its data (the writer stores entries that do not shrink); a stored one has equal sizes;
- flags, "version made by", "version needed" and attributes as the writer sets them; one
  valid DOS timestamp for all entries;
- names valid UTF-8 in NFC, safe on Windows and Linux (`names.entry_name_problem`), no
  directories, unique even under Windows' case-insensitive comparison, no file that is
  also another entry's folder, sorted by code point as the writer sorts them.
"""

from __future__ import annotations

import os
import stat
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from b2release.errors import VerificationError

# --- the layout the writer produces (formats.archive imports these) ----------------------
LOCAL_SIG = 0x04034B50
CENTRAL_SIG = 0x02014B50
END_SIG = 0x06054B50
ZIP64_END_SIG = 0x06064B50
ZIP64_LOCATOR_SIG = 0x07064B50
LOCAL = struct.Struct("<IHHHHHIIIHH")  # 30 bytes, APPNOTE 4.3.7
CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")  # 46 bytes, APPNOTE 4.3.12
END = struct.Struct("<IHHHHIIH")  # 22 bytes, APPNOTE 4.3.16
STORED, DEFLATED = 0, 8
VERSION_NEEDED = 20  # 2.0: deflate, no zip64
VERSION_MADE_BY = (3 << 8) | 20  # Unix, 2.0: so that the external attributes are a Unix mode
FILE_MODE = 0o100644  # regular file, rw-r--r--
EXTERNAL_ATTR = FILE_MODE << 16
UTF8_FLAG = 0x800  # bit 11: the name is UTF-8 (set only for non-ASCII names)
MAX_ENTRIES = 0xFFFE  # 0xFFFF in the end record means "see zip64" to other readers
MAX_CENTRAL_BYTES = 64 << 20
MAX_FIELD = 0xFFFFFFFE  # 0xFFFFFFFF in a size or offset means "see zip64" to other readers
# Deflate cannot expand data more than 1032:1 (a 258-byte match in at most 2 bits); a header
# claiming more is a lie told to make a reader allocate or loop.
MAX_DEFLATE_RATIO = 1032

CHUNK = 1 << 20  # compressed bytes read at once
OUT_CHUNK = 1 << 20  # inflated bytes produced at once


@dataclass(frozen=True)
class ZipEntry:
    name: str
    method: int
    flags: int
    crc32: int
    compressed_size: int
    size: int
    header_offset: int
    data_offset: int
    index: int = 0  # 1-based position in the archive, for messages


def valid_dos_datetime(dos_time: int, dos_date: int) -> bool:
    """What the writer's `dos_datetime` can produce; readers differ on the rest (some throw)."""
    month, day = (dos_date >> 5) & 0xF, dos_date & 0x1F
    hour, minute, second2 = dos_time >> 11, (dos_time >> 5) & 0x3F, dos_time & 0x1F
    return 1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second2 < 30


# --- byte sources: a file read with pread (thread-safe), or bytes ----------------------------
class Source(Protocol):
    size: int

    def pread(self, length: int, offset: int) -> bytes: ...

    def close(self) -> None: ...


class FileSource:
    def __init__(self, path: Path, label: str):
        flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            self._fd = os.open(path, flags)
        except OSError as exc:
            raise VerificationError(f"{label}: cannot be opened ({exc.strerror or exc})") from None
        try:
            info = os.fstat(self._fd)
            if not stat.S_ISREG(info.st_mode):
                raise VerificationError(f"{label}: is not a regular file")
        except BaseException:
            os.close(self._fd)
            raise
        self.size = info.st_size
        self._lock = threading.Lock()  # for systems without os.pread (Windows)

    def pread(self, length: int, offset: int) -> bytes:
        if hasattr(os, "pread"):
            parts = []
            while length > 0:
                piece = os.pread(self._fd, length, offset)
                if not piece:
                    break
                parts.append(piece)
                length -= len(piece)
                offset += len(piece)
            return b"".join(parts)
        with self._lock:  # pragma: no cover - Windows
            os.lseek(self._fd, offset, os.SEEK_SET)
            return os.read(self._fd, length)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class BytesSource:
    def __init__(self, data: bytes):
        self._data = memoryview(bytes(data))
        self.size = len(self._data)

    def pread(self, length: int, offset: int) -> bytes:
        return bytes(self._data[offset : offset + length])

    def close(self) -> None:
        pass
