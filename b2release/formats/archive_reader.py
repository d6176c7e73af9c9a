"""Strict reader for b2release packages: accepts exactly the layout `formats.archive` writes.

Why strict: the release signature covers `.b2release/manifest.json`, not the zip's structure.
Zip readers disagree on malformed or merely unusual archives, so an archive that Python's
`zipfile` reads one way can be read another way by Info-ZIP, 7-Zip or .NET's
System.IO.Compression (what the connector's installer uses): a zip64 end record that only
some readers follow, a prefix that shifts absolute offsets for some readers and not others,
an Info-ZIP Unicode Path extra field that renames an entry for unzip only. Instead of
guessing how each reader resolves such things, this reader accepts one layout, the one the
writer produces and formats.zip_layout describes, which every zip reader reads the same way.

Anything else raises `VerificationError` with a one-line message naming the archive and the
rule; no other exception escapes for any input bytes. Only headers are read by `open`;
entry data is inflated in bounded chunks by `stream` (flat memory, decompression bombs
stop at the size the header declares) and checked against its size and CRC-32 at the end.
formats.archive_hash hashes many entries on all cores.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from b2release.errors import VerificationError
from b2release.formats.inflate import crc32, inflate, inflate_head
from b2release.formats.names import MAX_NAME_BYTES, NameSet, entry_name_problem, windows_name_key
from b2release.formats.zip_layout import (
    CENTRAL,
    CENTRAL_SIG,
    CHUNK,
    DEFLATED,
    END,
    END_SIG,
    EXTERNAL_ATTR,
    LOCAL,
    LOCAL_SIG,
    MAX_CENTRAL_BYTES,
    MAX_DEFLATE_RATIO,
    MAX_ENTRIES,
    MAX_FIELD,
    STORED,
    UTF8_FLAG,
    VERSION_MADE_BY,
    VERSION_NEEDED,
    ZIP64_LOCATOR_SIG,
    BytesSource,
    FileSource,
    Source,
    ZipEntry,
    valid_dos_datetime,
)

__all__ = ["DEFLATED", "STORED", "NameSet", "PackageArchive", "ZipEntry", "entry_name_problem", "windows_name_key"]

class _Cancelled(Exception):
    """Raised inside a worker when an earlier entry already failed; never escapes."""


@dataclass(frozen=True)
class _Record:
    """One central record while it is checked."""

    archive: PackageArchive
    index: int
    raw: bytes
    name: str
    fields: tuple[int, ...]  # CENTRAL's fields, in order

    @property
    def offset(self) -> int:
        return self.fields[16]

    @property
    def shared_fields(self) -> tuple[int, ...]:
        """version needed, flags, method, time, date, crc32, sizes: what the local header repeats."""
        return self.fields[2:10]

    @property
    def timestamp(self) -> tuple[int, int]:
        return self.fields[5], self.fields[6]

    def fail(self, rule: str) -> VerificationError:
        return self.archive._entry_fail(self.index, self.name, rule)

    def entry(self) -> ZipEntry:
        (_, _, _, flags, method, _, _, crc, csize, size, name_len, *_rest) = self.fields
        return ZipEntry(self.name, method, flags, crc, csize, size, self.offset, self.offset + LOCAL.size + name_len,
                        self.index)


# --- the archive ---------------------------------------------------------------------------
class PackageArchive:
    """A package zip whose whole layout has been checked. Use `open` or `from_bytes`."""

    def __init__(self, source: Source, label: str):
        self._source = source
        self.label = label
        self.entries: list[ZipEntry] = []
        self.size = source.size

    # construction --------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path, label: str | None = None) -> PackageArchive:
        """Parse and check the whole layout (headers only). Raises VerificationError."""
        path = Path(path)
        archive = cls(FileSource(path, label or path.name), label or path.name)
        try:
            archive._parse()
        except BaseException:
            archive.close()
            raise
        return archive

    @classmethod
    def from_bytes(cls, data: bytes, label: str = "<memory>") -> PackageArchive:
        archive = cls(BytesSource(data), label)
        archive._parse()
        return archive

    def close(self) -> None:
        self._source.close()

    def __enter__(self) -> PackageArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # errors ----------------------------------------------------------------------------
    def _fail(self, rule: str) -> VerificationError:
        return VerificationError(f"{self.label}: {rule}")

    def _entry_fail(self, index: int, name: str | bytes, rule: str) -> VerificationError:
        shown = name if isinstance(name, str) else repr(name)[1:]
        return VerificationError(f"{self.label}: entry {index} ({shown}): {rule}")

    def _read_exact(self, length: int, offset: int, what: str) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise self._fail(f"{what} lies outside the file (offset {offset}, {length} bytes, file {self.size} bytes)")
        data = self._source.pread(length, offset)
        if len(data) != length:
            raise self._fail(f"{what} could not be read (file shrank while reading)")
        return data

    # layout ------------------------------------------------------------------------------
    def _parse(self) -> None:
        count, cd_size, cd_offset = self._parse_end()
        central = self._read_exact(cd_size, cd_offset, "central directory")
        self.entries = self._parse_central(central, count, cd_offset)

    def _parse_end(self) -> tuple[int, int, int]:
        if self.size < END.size:
            raise self._fail(f"is not a zip archive ({self.size} bytes, shorter than an end record)")
        if self.size > MAX_FIELD + MAX_CENTRAL_BYTES + END.size:
            raise self._fail("is larger than a package without zip64 can be")
        end_at = self.size - END.size
        sig, disk, cd_disk, disk_count, count, cd_size, cd_offset, comment_len = END.unpack(
            self._read_exact(END.size, end_at, "end record")
        )
        if sig != END_SIG:
            raise self._fail("does not end with an end-of-central-directory record (archive comment or trailing bytes)")
        # Explicit zip64 checks first: their messages name attack (a) clearly. With the exact
        # layout below there is no room for these records anyway.
        if end_at >= 20:
            (locator_sig,) = struct.unpack("<I", self._read_exact(4, end_at - 20, "zip64 locator"))
            if locator_sig == ZIP64_LOCATOR_SIG:
                raise self._fail("has a zip64 end-of-central-directory locator (the writer never writes zip64)")
        if comment_len:
            raise self._fail(f"end record declares a {comment_len}-byte archive comment")
        if disk or cd_disk:
            raise self._fail(f"end record names disk {disk}/{cd_disk} (multi-disk archives are not packages)")
        if disk_count != count:
            raise self._fail(f"end record counts differ ({disk_count} on this disk, {count} in total)")
        if count > MAX_ENTRIES:
            raise self._fail(f"end record declares {count} entries (at most {MAX_ENTRIES}; 0xFFFF means zip64)")
        if cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
            raise self._fail("end record holds a zip64 marker value (0xFFFFFFFF)")
        if cd_size > MAX_CENTRAL_BYTES:
            raise self._fail(f"central directory is implausibly large ({cd_size} bytes)")
        if cd_size < count * CENTRAL.size or cd_size > count * (CENTRAL.size + MAX_NAME_BYTES):
            raise self._fail(f"central directory size {cd_size} does not fit {count} records")
        if cd_offset + cd_size != end_at:
            raise self._fail(
                f"central directory (offset {cd_offset}, {cd_size} bytes) does not end where the end record starts "
                f"(offset {end_at}): bytes before the archive, between its parts, or a zip64 record"
            )
        return count, cd_size, cd_offset

    def _parse_central(self, central: bytes, count: int, cd_offset: int) -> list[ZipEntry]:
        """Each central record, then its local header (before the next record, so that a
        local header's own fault is named rather than the offsets it shifts)."""
        entries: list[ZipEntry] = []
        names = NameSet()
        pos = 0
        expected_offset = 0
        timestamp: tuple[int, int] | None = None  # the first entry's: all share it
        for index in range(1, count + 1):
            record, pos = self._central_record(central, pos, index)
            self._check_record(record, timestamp)
            timestamp = timestamp or record.timestamp
            bad = record.fail
            if record.offset != expected_offset:
                raise bad(
                    f"local header offset is {record.offset}, expected {expected_offset} "
                    "(entries must be contiguous, in central-directory order, from offset 0)"
                )
            problem = entry_name_problem(record.name) or names.add(record.name)
            if problem:
                raise bad(f"name {problem}")
            if entries and not entries[-1].name < record.name:
                raise bad(f"is not in name order after {entries[-1].name!r} (the writer sorts entries)")
            entry = record.entry()
            self._check_local(entry, record.raw, record.shared_fields)
            entries.append(entry)
            expected_offset = entry.data_offset + entry.compressed_size
            if expected_offset > cd_offset:
                raise bad(f"data runs into the central directory (ends at {expected_offset}, directory at {cd_offset})")
        if pos != len(central):
            raise self._fail(f"central directory has {len(central) - pos} bytes after its {count} records")
        if expected_offset != cd_offset:
            raise self._fail(
                f"{cd_offset - expected_offset} bytes between the last entry's data and the central directory"
            )
        return entries

    def _central_record(self, central: bytes, pos: int, index: int) -> tuple[_Record, int]:
        """The record at `pos` (bounds checked before unpacking) and where the next one starts."""
        if pos + CENTRAL.size > len(central):
            raise self._fail(f"central record {index} runs past the end of the central directory")
        fields = CENTRAL.unpack_from(central, pos)
        if fields[0] != CENTRAL_SIG:
            raise self._fail(f"central record {index} has a bad signature (0x{fields[0]:08x})")
        name_len, extra_len, comment_len = fields[10:13]
        if name_len > MAX_NAME_BYTES:
            raise self._fail(f"central record {index} has a {name_len}-byte name (at most {MAX_NAME_BYTES})")
        end = pos + CENTRAL.size + name_len + extra_len + comment_len
        if end > len(central):
            raise self._fail(f"central record {index} runs past the end of the central directory")
        raw = bytes(central[pos + CENTRAL.size : pos + CENTRAL.size + name_len])
        return _Record(self, index, raw, self._decode_name(index, raw), fields), end

    def _check_record(self, record: _Record, timestamp: tuple[int, int] | None) -> None:
        """The central record's fields, as the writer sets them."""
        (_, made_by, needed, flags, method, mtime, mdate, crc, csize, size,
         _, extra_len, comment_len, disk, internal, external, offset) = record.fields
        bad = record.fail
        if extra_len:
            raise bad(f"central record has a {extra_len}-byte extra field (e.g. zip64 or Unicode Path)")
        if comment_len:
            raise bad(f"central record has a {comment_len}-byte file comment")
        if made_by != VERSION_MADE_BY:
            raise bad(f"central record 'version made by' is 0x{made_by:04x}, not 0x{VERSION_MADE_BY:04x}")
        if needed != VERSION_NEEDED:
            raise bad(f"central record 'version needed' is {needed}, not {VERSION_NEEDED}")
        self._check_flags(record.index, record.name, record.raw, flags, "central record")
        if method not in (STORED, DEFLATED):
            raise bad(f"compression method {method} (only stored and deflate are allowed)")
        if disk != 0:
            raise bad(f"central record names disk {disk}")
        if internal != 0:
            raise bad(f"central record internal attributes are 0x{internal:04x}, not 0")
        if external != EXTERNAL_ATTR:
            raise bad(f"external attributes are 0x{external:08x}, not a regular file with mode 0644")
        if timestamp is None and not valid_dos_datetime(mtime, mdate):
            raise bad(f"timestamp 0x{mdate:04x}/0x{mtime:04x} is not a valid DOS date and time")
        if timestamp is not None and (mtime, mdate) != timestamp:
            raise bad("timestamp differs from the other entries' (the writer uses one)")
        if 0xFFFFFFFF in (csize, size, offset):
            raise bad("holds a zip64 marker value (0xFFFFFFFF)")
        if method == STORED and csize != size:
            raise bad(f"stored entry has compressed size {csize} but size {size}")
        if method == DEFLATED and not csize < size:
            raise bad(f"deflated entry does not shrink ({csize} >= {size}); the writer stores such entries")
        if method == DEFLATED and size > csize * MAX_DEFLATE_RATIO:
            raise bad(f"claims {size} bytes from {csize} compressed bytes, more than deflate can produce")

    def _decode_name(self, index: int, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self._entry_fail(index, raw, "name is not valid UTF-8") from None

    def _check_flags(self, index: int, name: str, raw: bytes, flags: int, where: str) -> None:
        expected = 0 if raw.isascii() else UTF8_FLAG
        if flags == expected:
            return
        if flags & 0x1:
            rule = "encrypted"
        elif flags & 0x8:
            rule = "uses a data descriptor (flag bit 3)"
        elif flags & ~UTF8_FLAG:
            rule = f"has flags 0x{flags:04x} (only 0x0800, for non-ASCII names, is allowed)"
        elif flags & UTF8_FLAG:
            rule = "sets the UTF-8 flag on an ASCII name"
        else:
            rule = "has a non-ASCII name without the UTF-8 flag (other readers would decode it as CP437)"
        raise self._entry_fail(index, name, f"{where} {rule}")

    _LOCAL_LABELS = ("version needed", "flags", "method", "time", "date", "crc32", "compressed size", "size")

    def _check_local(self, entry: ZipEntry, raw: bytes, central_fields: tuple[int, ...]) -> None:
        header = self._read_exact(LOCAL.size + len(raw), entry.header_offset, f"local header of entry {entry.index}")
        sig, *local_fields, name_len, extra_len = LOCAL.unpack_from(header, 0)

        def bad(rule: str) -> VerificationError:
            return self._entry_fail(entry.index, entry.name, rule)

        if sig != LOCAL_SIG:
            raise bad(f"no local header at offset {entry.header_offset}")
        if extra_len:
            raise bad(f"local header has a {extra_len}-byte extra field")
        for label, local_value, central_value in zip(self._LOCAL_LABELS, local_fields, central_fields, strict=True):
            if local_value != central_value:
                raise bad(f"local header differs from its central record ({label})")
        if name_len != len(raw):
            raise bad("local header differs from its central record (name length)")
        if header[LOCAL.size :] != raw:
            raise bad("local header differs from its central record (name)")

    # data --------------------------------------------------------------------------------
    def raw_chunks(self, entry: ZipEntry, cancel: Callable[[], bool] | None = None) -> Iterator[bytes]:
        """The entry's stored (compressed) bytes as they are in the file, unchecked."""
        offset, remaining = entry.data_offset, entry.compressed_size
        while remaining > 0:
            if cancel is not None and cancel():
                raise _Cancelled()
            length = min(CHUNK, remaining)
            yield self._read_exact(length, offset, f"data of entry {entry.index}")
            offset += length
            remaining -= length

    def stream(self, entry: ZipEntry, *, _cancel: Callable[[], bool] | None = None) -> Iterator[bytes]:
        """The entry's bytes in chunks; size and CRC-32 are checked when the last chunk was produced.

        A consumer must treat the bytes as unverified until the iterator is exhausted
        without an exception.
        """
        crc = 0
        size = 0
        chunks = self.raw_chunks(entry, _cancel) if entry.method == STORED else self._inflate(entry, _cancel)
        for chunk in chunks:
            size += len(chunk)
            if size > entry.size:
                raise self._entry_fail(entry.index, entry.name, "data is longer than its header says")
            crc = crc32(chunk, crc)
            yield chunk
        if size != entry.size:
            raise self._entry_fail(entry.index, entry.name, f"data is {size} bytes, its header says {entry.size}")
        if crc != entry.crc32:
            raise self._entry_fail(entry.index, entry.name, f"CRC-32 mismatch (0x{crc:08x}, header 0x{entry.crc32:08x})")

    def _inflate(self, entry: ZipEntry, cancel: Callable[[], bool] | None) -> Iterator[bytes]:
        def broken(why: str) -> VerificationError:
            return self._entry_fail(entry.index, entry.name, f"deflate data is corrupt ({why})")

        return inflate(self.raw_chunks(entry, cancel), broken)

    def head(self, entry: ZipEntry, limit: int) -> bytes:
        """The first `limit` bytes of an entry, inflating no more than that. Unchecked (no CRC):
        for an entry whose content is known good by other means (archive_hash's twins)."""
        if entry.method == STORED:
            return self._read_exact(min(limit, entry.size), entry.data_offset, f"data of entry {entry.index}")
        return inflate_head(self.raw_chunks(entry), limit)

    def read(self, entry: ZipEntry, limit: int) -> bytes:
        """A small entry's bytes (manifest, signature), refused when larger than `limit`."""
        if entry.size > limit:
            raise self._entry_fail(entry.index, entry.name, f"is implausibly large ({entry.size} bytes, at most {limit})")
        return b"".join(self.stream(entry))

    def entry(self, name: str) -> ZipEntry | None:
        for entry in self.entries:
            if entry.name == name:
                return entry
        return None
