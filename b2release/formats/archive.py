"""Deterministic, parallel zip writer for packages.

The same input gives the same bytes on every machine and run of one b2release version:
entries sorted by name, one fixed timestamp, fixed permissions, no extra fields, and a
compressor chosen by the input alone (never by core count, memory or timing):

- files up to `LARGE_FILE` bytes are read once, whole, and deflated by libdeflate at
  `LEVEL`; sha256 and CRC-32 come from the same bytes;
- larger files are streamed in 1 MiB chunks through zlib-ng at `STREAM_LEVEL`, so memory
  stays flat whatever the file size;
- an entry that deflate does not shrink is stored; stored entries are copied from their
  source at write time and their CRC-32 checked again, so a file changed meanwhile is refused;
- a file whose content (sha256) another file of the package already has is not deflated
  again: deflate is deterministic, so its entry points at the same compressed bytes in the
  spool. Releases repeat files (the same assembly beside several programs, per-framework
  folders); the output is byte for byte what deflating it again would give.

`formats.compressors` holds the pinned compressors and `COMPRESSOR`, the manifest's name for
them. Files are prepared on all cores (the compressors, hashlib and reads release the GIL),
largest first, with at most `MEMORY_BUDGET` bytes of whole files and their compressed
copies held at once; compressed bytes go to one spool file, and `write` copies them out in
the fixed sorted order. `progress`, when given, hears of every byte read.

The layout is the one `archive_reader` accepts (its constants are the writer's too), and
`write` refuses names that reader would refuse, so a package we write always verifies.
"""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

from b2release.errors import InputError
from b2release.formats import compressors
from b2release.formats.compressors import COMPRESSOR, LARGE_FILE, LEVEL, STREAM_LEVEL
from b2release.formats.names import NameSet, entry_name_problem
from b2release.formats.spool import Budget, Spool, SpoolReader, new_spool_file
from b2release.formats.twins import Twins, twin_rank
from b2release.formats.zip_layout import (
    CENTRAL,
    CENTRAL_SIG,
    DEFLATED,
    END,
    END_SIG,
    EXTERNAL_ATTR,
    FILE_MODE,
    LOCAL,
    LOCAL_SIG,
    MAX_CENTRAL_BYTES,
    MAX_ENTRIES,
    MAX_FIELD,
    STORED,
    UTF8_FLAG,
    VERSION_MADE_BY,
    VERSION_NEEDED,
)

__all__ = [
    "COMPRESSOR",
    "DEFLATED",
    "FILE_MODE",
    "LARGE_FILE",
    "LEVEL",
    "STREAM_LEVEL",
    "STORED",
    "Entry",
    "dos_datetime",
    "prepare_bytes",
    "prepare_file",
    "prepare_files",
    "write",
]

CHUNK = 1 << 20
# Whole files and their compressed copies held in memory at once, across all workers: bounds
# peak RSS on any core count (a 32 MiB file costs 64 MiB of it).
MEMORY_BUDGET = 96 << 20
_MIN_DOS_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip can hold
_MAX_DOS_EPOCH = 4354819198  # 2107-12-31T23:59:58Z, the latest

# Told the number of bytes just read, from worker threads: must be thread-safe.
ProgressFn = Callable[[int], None]


@dataclass
class Entry:
    name: str
    size: int
    sha256: str
    crc32: int
    method: int
    compressed_size: int
    source: Path | None = None  # for stored entries: re-read (and its CRC checked) at write time
    spool: Path | None = None  # for deflated entries: the file holding the compressed bytes...
    spool_offset: int = 0  # ...from this offset on
    data: bytes | None = None  # small in-memory entries (manifest, signature)


def dos_datetime(epoch: int) -> tuple[int, int]:
    """DOS time and date (UTC) of an epoch, clamped to what a zip can hold (1980 to 2107)."""
    t = time.gmtime(min(max(int(epoch), _MIN_DOS_EPOCH), _MAX_DOS_EPOCH))
    dos_time = (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2)
    dos_date = ((t.tm_year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday
    return dos_time, dos_date


# --- preparing: one read of each file for sha256, CRC-32 and deflate -------------------------
def _changed(source: Path) -> InputError:
    return InputError(f"{source} changed while it was being packaged; package again")


def _too_large(source: Path | str) -> InputError:
    return InputError(f"{source} is 4 GiB or larger, which b2release packages (no zip64) do not support")


@dataclass(frozen=True)
class _Settings:
    """What every file of one `prepare_files` call shares."""

    spool: Spool
    spool_dir: Path
    budget: Budget
    level: int
    large_file: int
    progress: ProgressFn | None
    twins: Twins[Entry]


def _prepare_whole(name: str, source: Path, data: bytes, how: _Settings) -> Entry:
    sha = hashlib.sha256(data).hexdigest()
    crc = compressors.crc32(data)
    twin = how.twins.claim(sha)
    if twin is not None:  # same content, same deflate output: share it
        return Entry(name, len(data), sha, crc, twin.method, twin.compressed_size,
                     source=source if twin.method == STORED else None, spool=twin.spool,
                     spool_offset=twin.spool_offset)
    entry = None
    try:
        compressed = compressors.compress(data, how.level)
        if len(compressed) >= len(data):
            entry = Entry(name, len(data), sha, crc, STORED, len(data), source=source)
        else:
            offset = how.spool.append(compressed)
            entry = Entry(name, len(data), sha, crc, DEFLATED, len(compressed), spool=how.spool.path,
                          spool_offset=offset)
        return entry
    finally:
        how.twins.publish(sha, entry)


def _prepare_stream(name: str, source: Path, src: BinaryIO, how: _Settings) -> Entry:
    chunk = src.read(CHUNK)
    # Data whose first MiB libdeflate's fastest level cannot shrink (compressed or encrypted
    # resources) is stored without deflating it all first (compressors.PROBE_LEVEL).
    if not compressors.shrinks(chunk):
        sha, crc, size, _ = _stream(chunk, src, None, how)
        return _stored_stream(name, source, size, sha, crc, how)
    fd, spool_name = new_spool_file(how.spool_dir)
    spool = Path(spool_name)
    with os.fdopen(fd, "wb") as out:
        sha, crc, size, compressed = _stream(chunk, src, out, how)
    if compressed >= size:
        spool.unlink()
        return _stored_stream(name, source, size, sha, crc, how)
    if size <= how.large_file:  # shrank since fstat: the whole-file compressor would have been chosen
        spool.unlink()
        raise _changed(source)
    return Entry(name, size, sha, crc, DEFLATED, compressed, spool=spool)


def _stream(chunk: bytes, src: BinaryIO, out: BinaryIO | None, how: _Settings) -> tuple[str, int, int, int]:
    """(sha256, CRC-32, size, compressed size) of `chunk` and the rest of `src`, deflated into `out` if given."""
    sha = hashlib.sha256()
    crc = size = compressed = 0
    compressor = compressors.stream_compressor() if out is not None else None
    while chunk:
        sha.update(chunk)
        crc = compressors.crc32(chunk, crc)
        size += len(chunk)
        if compressor is not None and out is not None:
            piece = compressor.compress(chunk)
            compressed += len(piece)
            out.write(piece)
        if how.progress is not None:
            how.progress(len(chunk))
        chunk = src.read(CHUNK)
    if compressor is not None and out is not None:
        piece = compressor.flush()
        compressed += len(piece)
        out.write(piece)
    return sha.hexdigest(), crc, size, compressed


def _stored_stream(name: str, source: Path, size: int, sha: str, crc: int, how: _Settings) -> Entry:
    if size <= how.large_file:  # shrank since fstat: the whole-file compressor would have been chosen
        raise _changed(source)
    return Entry(name, size, sha, crc, STORED, size, source=source)


def _prepare(name: str, source: Path, how: _Settings) -> Entry:
    """One file: read once (whole, or streamed when large), hashed, compressed, spooled."""
    with open(source, "rb") as src:
        size = os.fstat(src.fileno()).st_size
        if size > MAX_FIELD:
            raise _too_large(source)
        if size > how.large_file:
            entry = _prepare_stream(name, source, src, how)
        else:
            # Input plus (at worst, for incompressible data) as much output.
            with how.budget.hold(2 * size):
                data = src.read()
                if len(data) > how.large_file:  # grew since fstat: the stream compressor would apply
                    raise _changed(source)
                entry = _prepare_whole(name, source, data, how)
                if how.progress is not None:
                    how.progress(len(data))
                del data
    if entry.size > MAX_FIELD:
        raise _too_large(source)
    return entry


def prepare_file(name: str, source: Path, spool_dir: Path, level: int = LEVEL, *, large_file: int = LARGE_FILE) -> Entry:
    """Hash and compress one file in a single read, spooling the deflated bytes."""
    return prepare_files([(name, source)], spool_dir, workers=1, level=level, large_file=large_file)[0]


def prepare_files(files: Iterable[tuple[str, Path]], spool_dir: Path, workers: int | None = None, *,
                  level: int = LEVEL, large_file: int = LARGE_FILE, memory_budget: int = MEMORY_BUDGET,
                  progress: ProgressFn | None = None) -> list[Entry]:
    """Prepare (name, source) pairs on all cores; entries come back in the order given.

    The bytes each entry gets depend only on its content, `level` and `large_file`: worker
    count, budget and scheduling change the speed, never the output. `progress(n)` is told
    of the bytes of each file as they are done (from the worker threads).
    """
    files = list(files)
    if not files:
        return []
    workers = max(1, min(workers or os.cpu_count() or 1, len(files)))
    how = _Settings(Spool(Path(spool_dir)), Path(spool_dir), Budget(memory_budget), level, large_file, progress,
                    Twins())
    try:
        if workers == 1:
            return [_prepare(name, src, how) for name, src in files]
        # Largest first (by a cheap stat; the real size is what is read): the long jobs start
        # early and the small ones fill the gaps, so both cores stay busy to the end. Files of
        # a size seen before go after every first one: likely twins, they then find their
        # content deflated instead of waiting for it side by side.
        sizes = [_stat_size(src) for _, src in files]
        rank = twin_rank(sizes)
        order = sorted(range(len(files)), key=lambda i: (rank[i], -sizes[i]))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="package") as pool:
            futures = {i: pool.submit(_prepare, files[i][0], files[i][1], how) for i in order}
            try:
                return [futures[i].result() for i in range(len(files))]
            except BaseException:
                for future in futures.values():
                    future.cancel()
                raise
    finally:
        how.spool.close()


def _stat_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # opening it reports the problem


def prepare_bytes(name: str, data: bytes, level: int = LEVEL) -> Entry:
    """An in-memory entry (manifest, signature, SBOM), compressed like a small file."""
    crc = compressors.crc32(data)
    digest = hashlib.sha256(data).hexdigest()
    deflated = bytes(compressors.compress(data, level))
    if len(deflated) >= len(data):
        return Entry(name, len(data), digest, crc, STORED, len(data), data=bytes(data))
    return Entry(name, len(data), digest, crc, DEFLATED, len(deflated), data=deflated)


# --- writing -----------------------------------------------------------------------------
def _check_names(entries: list[Entry]) -> None:
    """Refuse what archive_reader would refuse, before a byte is written."""
    if len(entries) > MAX_ENTRIES:
        raise InputError(f"too many files for one package ({len(entries)}; {MAX_ENTRIES} at most)")
    names = NameSet()
    central_bytes = 0
    for entry in entries:
        problem = entry_name_problem(entry.name) or names.add(entry.name)
        if problem:
            raise InputError(f"entry name {entry.name!r} {problem}; it cannot be part of a package")
        if entry.size > MAX_FIELD or entry.compressed_size > MAX_FIELD:
            raise _too_large(entry.source or entry.name)
        central_bytes += CENTRAL.size + len(entry.name.encode("utf-8"))
    if central_bytes > MAX_CENTRAL_BYTES:
        raise InputError(f"the package's file names take more than {MAX_CENTRAL_BYTES >> 20} MiB; use fewer or shorter names")


def _copy_stored(entry: Entry, out: BinaryIO) -> None:
    """Copy a stored entry from its source, checking it did not change since it was hashed."""
    assert entry.source is not None
    crc = 0
    size = 0
    with open(entry.source, "rb") as src:
        while chunk := src.read(CHUNK):
            crc = compressors.crc32(chunk, crc)
            size += len(chunk)
            if size > entry.size:
                break
            out.write(chunk)
    if crc != entry.crc32 or size != entry.size:
        raise _changed(entry.source)


def write(out: BinaryIO, entries: list[Entry], epoch: int, progress: ProgressFn | None = None) -> None:
    """Write entries (sorted by name) as a zip archive to a binary stream; `progress` hears
    of each entry's compressed size once it is written."""
    entries = sorted(entries, key=lambda e: e.name)
    _check_names(entries)
    dos_time, dos_date = dos_datetime(epoch)
    central = bytearray()
    offset = 0
    spools = SpoolReader()
    try:
        for entry in entries:
            name = entry.name.encode("utf-8")
            flags = 0 if name.isascii() else UTF8_FLAG
            if offset > MAX_FIELD:
                raise InputError("package would be larger than 4 GiB, which b2release does not support")
            fields = (VERSION_NEEDED, flags, entry.method, dos_time, dos_date, entry.crc32, entry.compressed_size, entry.size)
            out.write(LOCAL.pack(LOCAL_SIG, *fields, len(name), 0) + name)
            central += CENTRAL.pack(CENTRAL_SIG, VERSION_MADE_BY, *fields, len(name), 0, 0, 0, 0, EXTERNAL_ATTR, offset)
            central += name
            if entry.data is not None:
                out.write(entry.data)
            elif entry.method == STORED:
                _copy_stored(entry, out)
            else:
                assert entry.spool is not None
                spools.copy(entry.spool, entry.spool_offset, entry.compressed_size, out)
            offset += LOCAL.size + len(name) + entry.compressed_size
            if progress is not None:
                progress(entry.compressed_size)
    finally:
        spools.close()
    if offset > MAX_FIELD:
        raise InputError("package would be larger than 4 GiB, which b2release does not support")
    out.write(central)
    out.write(END.pack(END_SIG, 0, 0, len(entries), len(entries), len(central), offset, 0))
