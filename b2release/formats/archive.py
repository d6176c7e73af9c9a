"""Deterministic, streaming zip writer.

The same input gives the same bytes: entries sorted by name, one fixed timestamp, fixed
permissions, no extra fields, no dependence on cwd, umask or mtimes. Each file is read
once in chunks: sha256, CRC-32 and deflate are computed together and the compressed
bytes go to a spool file, so memory stays flat whatever the file size. Files are
prepared in parallel (zlib and hashlib release the GIL on large buffers), then written
in order. An entry that deflate does not shrink (signed assemblies, already-compressed
resources) is stored instead.
"""

from __future__ import annotations

import hashlib
import os
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable

from b2release.errors import InputError

CHUNK = 1 << 20
STORED, DEFLATED = 0, 8
FILE_MODE = 0o100644  # regular file, rw-r--r--
_LIMIT = 0xFFFFFFFF  # no zip64: entries and archives stay under 4 GiB
_MIN_DOS_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip can hold


@dataclass
class Entry:
    name: str
    size: int
    sha256: str
    crc32: int
    method: int
    compressed_size: int
    source: Path | None = None  # for stored entries: re-read at write time
    spool: Path | None = None  # for deflated entries: the compressed bytes
    data: bytes | None = None  # small in-memory entries (manifest, signature)


def dos_datetime(epoch: int) -> tuple[int, int]:
    t = time.gmtime(max(int(epoch), _MIN_DOS_EPOCH))
    dos_time = (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2)
    dos_date = ((t.tm_year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday
    return dos_time, dos_date


def prepare_file(name: str, source: Path, spool_dir: Path, level: int = 6) -> Entry:
    """Hash and compress one file in a single pass, spooling the deflated bytes."""
    sha = hashlib.sha256()
    crc = 0
    size = 0
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    spool = spool_dir / (hashlib.sha256(name.encode("utf-8")).hexdigest() + ".deflate")
    compressed = 0
    with open(source, "rb") as src, open(spool, "wb") as out:
        while chunk := src.read(CHUNK):
            sha.update(chunk)
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            piece = compressor.compress(chunk)
            compressed += len(piece)
            out.write(piece)
        piece = compressor.flush()
        compressed += len(piece)
        out.write(piece)
    if size > _LIMIT:
        raise InputError(f"{source} is larger than 4 GiB, which b2release packages do not support")
    if compressed >= size:
        spool.unlink()
        return Entry(name, size, sha.hexdigest(), crc, STORED, size, source=source)
    return Entry(name, size, sha.hexdigest(), crc, DEFLATED, compressed, spool=spool)


def prepare_bytes(name: str, data: bytes, level: int = 6) -> Entry:
    crc = zlib.crc32(data)
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    deflated = compressor.compress(data) + compressor.flush()
    digest = hashlib.sha256(data).hexdigest()
    if len(deflated) >= len(data):
        return Entry(name, len(data), digest, crc, STORED, len(data), data=data)
    return Entry(name, len(data), digest, crc, DEFLATED, len(deflated), data=deflated)


def prepare_files(files: Iterable[tuple[str, Path]], spool_dir: Path, workers: int | None = None) -> list[Entry]:
    files = list(files)
    workers = workers or min(len(files) or 1, os.cpu_count() or 1)
    if workers <= 1:
        return [prepare_file(name, src, spool_dir) for name, src in files]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda item: prepare_file(item[0], item[1], spool_dir), files))


def _copy_stored(entry: Entry, out: BinaryIO) -> None:
    """Copy a stored entry from its source, checking it did not change since it was hashed."""
    assert entry.source is not None
    crc = 0
    size = 0
    with open(entry.source, "rb") as src:
        while chunk := src.read(CHUNK):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            out.write(chunk)
    if crc != entry.crc32 or size != entry.size:
        raise InputError(f"{entry.source} changed while it was being packaged; package again")


def _copy_spool(entry: Entry, out: BinaryIO) -> None:
    assert entry.spool is not None
    with open(entry.spool, "rb") as src:
        while chunk := src.read(CHUNK):
            out.write(chunk)


def write(out: BinaryIO, entries: list[Entry], epoch: int) -> None:
    """Write entries (sorted by name) as a zip archive to a binary stream."""
    entries = sorted(entries, key=lambda e: e.name)
    if len(entries) >= 0xFFFF:
        raise InputError("too many files for one package (65535 at most)")
    dos_time, dos_date = dos_datetime(epoch)
    central = bytearray()
    offset = 0
    for entry in entries:
        name = entry.name.encode("utf-8")
        flags = 0x800 if not entry.name.isascii() else 0  # bit 11: UTF-8 names
        header = struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, flags, entry.method, dos_time, dos_date,
            entry.crc32, entry.compressed_size, entry.size, len(name), 0,
        )
        if offset > _LIMIT:
            raise InputError("package would be larger than 4 GiB, which b2release does not support")
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | 20, 20, flags, entry.method, dos_time, dos_date,
            entry.crc32, entry.compressed_size, entry.size, len(name), 0, 0, 0, 0, FILE_MODE << 16, offset,
        ) + name
        out.write(header + name)
        if entry.data is not None:
            out.write(entry.data)
        elif entry.method == STORED:
            _copy_stored(entry, out)
        else:
            _copy_spool(entry, out)
        offset += len(header) + len(name) + entry.compressed_size
    if offset > _LIMIT:
        raise InputError("package would be larger than 4 GiB, which b2release does not support")
    out.write(central)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), offset, 0))
