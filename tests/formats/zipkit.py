"""Test helpers for package zips: deterministic inputs, writer packages, and byte surgery.

`Layout.parse` splits a writer-made zip into its records (it trusts its input: only ever
given our own writer's output); tests change fields, names, extras or data and `build`
puts the bytes back together, by default fixing every length, offset and count so that a
test breaks exactly one rule at a time.
"""

from __future__ import annotations

import copy
import hashlib
import io
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from b2release.formats import archive

LOCAL_FIELDS = {
    "signature": (0, "I"), "version_needed": (4, "H"), "flags": (6, "H"), "method": (8, "H"), "time": (10, "H"),
    "date": (12, "H"), "crc32": (14, "I"), "compressed_size": (18, "I"), "size": (22, "I"), "name_length": (26, "H"),
    "extra_length": (28, "H"),
}
CENTRAL_FIELDS = {
    "signature": (0, "I"), "version_made_by": (4, "H"), "version_needed": (6, "H"), "flags": (8, "H"),
    "method": (10, "H"), "time": (12, "H"), "date": (14, "H"), "crc32": (16, "I"), "compressed_size": (20, "I"),
    "size": (24, "I"), "name_length": (28, "H"), "extra_length": (30, "H"), "comment_length": (32, "H"),
    "disk_start": (34, "H"), "internal_attr": (36, "H"), "external_attr": (38, "I"), "header_offset": (42, "I"),
}
END_FIELDS = {
    "signature": (0, "I"), "disk": (4, "H"), "cd_disk": (6, "H"), "disk_entries": (8, "H"), "entries": (10, "H"),
    "cd_size": (12, "I"), "cd_offset": (16, "I"), "comment_length": (20, "H"),
}
EPOCH = 1700000000


# --- deterministic inputs ------------------------------------------------------------------
def prng_bytes(seed: str, size: int) -> bytes:
    """Pseudo-random bytes from SHA-256 in counter mode: the same on every Python and machine."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def text_like(seed: str, size: int) -> bytes:
    words = [w.encode() for w in (
        "the connector reads orders from enventa and writes them to the shop while the service logs each step "
        "<item id= name= value= /> public static void class namespace using System return null true false"
    ).split()]
    rnd = prng_bytes(seed, size)
    out = bytearray()
    i = 0
    while len(out) < size:
        out += words[rnd[i % len(rnd)] % len(words)] + (b"\n" if rnd[(i + 1) % len(rnd)] < 20 else b" ")
        i += 1
    return bytes(out[:size])


def pe_like(seed: str, size: int) -> bytes:
    """An MZ/PE-shaped blob: headers, repetitive code-like runs, string tables, random resources."""
    header = b"MZ" + bytes(58) + struct.pack("<I", 0x80) + bytes(64) + b"PE\x00\x00" + struct.pack("<HH", 0x14C, 3)
    rnd = prng_bytes(seed, max(size // 4, 64))
    ops = [rnd[i : i + 6] for i in range(0, 64 * 6, 6)]
    out = bytearray(header)
    i = 0
    while len(out) < size:
        kind = rnd[i % len(rnd)] % 8
        if kind < 5:
            out += b"".join(ops[rnd[(i + k) % len(rnd)] % len(ops)] for k in range(64))
        elif kind < 7:
            out += b"".join(b"System.Method%d\x00" % (rnd[(i + k) % len(rnd)]) for k in range(16))
        else:
            out += rnd[(i * 97) % len(rnd) :][:512]
        i += 1
    return bytes(out[:size])


# --- packages made by the writer --------------------------------------------------------------
def write_package(files: dict[str, bytes], tmp: Path, *, epoch: int = EPOCH, workers: int | None = 2,
                  large_file: int = archive.LARGE_FILE, in_memory: tuple[str, ...] = ()) -> bytes:
    """Files through prepare_files (on disk) and, for names in `in_memory`, prepare_bytes; then write."""
    src = tmp / "src"
    spool = tmp / "spool"
    src.mkdir(parents=True, exist_ok=True)
    spool.mkdir(parents=True, exist_ok=True)
    pairs = []
    entries = []
    for i, (name, data) in enumerate(sorted(files.items())):
        if name in in_memory:
            entries.append(archive.prepare_bytes(name, data))
            continue
        path = src / f"f{i}"
        path.write_bytes(data)
        pairs.append((name, path))
    entries += archive.prepare_files(pairs, spool, workers=workers, large_file=large_file)
    out = io.BytesIO()
    archive.write(out, entries, epoch)
    return out.getvalue()


SAMPLE_FILES: dict[str, bytes] = {
    "lib/A.dll": pe_like("a", 40_000),
    "lib/X.dll": prng_bytes("x", 3_000),  # incompressible: stored
    "readme.txt": text_like("r", 5_000),
    "empty.txt": b"",
    ".b2release/manifest.json": b'{"format":"b2release-manifest/1"}' * 4,
}


# --- byte surgery ----------------------------------------------------------------------------
def get(header: bytes | bytearray, fields: dict, name: str) -> int:
    offset, fmt = fields[name]
    return struct.unpack_from("<" + fmt, header, offset)[0]


def put(header: bytearray, fields: dict, name: str, value: int) -> None:
    offset, fmt = fields[name]
    struct.pack_into("<" + fmt, header, offset, value)


@dataclass
class Local:
    header: bytearray
    name: bytes
    extra: bytes
    data: bytes

    def set(self, name: str, value: int) -> None:
        put(self.header, LOCAL_FIELDS, name, value)

    def get(self, name: str) -> int:
        return get(self.header, LOCAL_FIELDS, name)


@dataclass
class Central:
    header: bytearray
    name: bytes
    extra: bytes = b""
    comment: bytes = b""

    def set(self, name: str, value: int) -> None:
        put(self.header, CENTRAL_FIELDS, name, value)

    def get(self, name: str) -> int:
        return get(self.header, CENTRAL_FIELDS, name)


@dataclass
class Layout:
    locals: list[Local]
    centrals: list[Central]
    end: bytearray
    comment: bytes = b""
    prefix: bytes = b""  # bytes before the first local header
    gap: bytes = b""  # bytes between the last entry's data and the central directory
    cd_tail: bytes = b""  # bytes after the last central record, inside the directory
    before_end: bytes = b""  # bytes between the central directory and the end record
    suffix: bytes = b""  # bytes after the end record (and its comment)
    after_data: dict[int, bytes] = field(default_factory=dict)  # entry index -> bytes after its data

    @classmethod
    def parse(cls, data: bytes) -> Layout:
        end = bytearray(data[-22:])
        count = get(end, END_FIELDS, "entries")
        cd_offset = get(end, END_FIELDS, "cd_offset")
        centrals = []
        pos = cd_offset
        for _ in range(count):
            header = bytearray(data[pos : pos + 46])
            n = get(header, CENTRAL_FIELDS, "name_length")
            centrals.append(Central(header, data[pos + 46 : pos + 46 + n]))
            pos += 46 + n
        locals_ = []
        for central in centrals:
            at = central.get("header_offset")
            header = bytearray(data[at : at + 30])
            n = get(header, LOCAL_FIELDS, "name_length")
            size = get(header, LOCAL_FIELDS, "compressed_size")
            locals_.append(Local(header, data[at + 30 : at + 30 + n], b"", data[at + 30 + n : at + 30 + n + size]))
        return cls(locals_, centrals, end)

    def copy(self) -> Layout:
        return copy.deepcopy(self)

    def build(self, fix: bool = True) -> bytes:
        """The archive's bytes; with `fix`, lengths, offsets and counts match the parts."""
        out = bytearray(self.prefix)
        for i, (local, central) in enumerate(zip(self.locals, self.centrals, strict=False)):
            if fix:
                local.set("name_length", len(local.name))
                local.set("extra_length", len(local.extra))
                central.set("header_offset", len(out))
            out += local.header + local.name + local.extra + local.data + self.after_data.get(i, b"")
        for local in self.locals[len(self.centrals) :]:
            out += local.header + local.name + local.extra + local.data
        out += self.gap
        cd_start = len(out)
        for central in self.centrals:
            if fix:
                central.set("name_length", len(central.name))
                central.set("extra_length", len(central.extra))
                central.set("comment_length", len(central.comment))
            out += central.header + central.name + central.extra + central.comment
        out += self.cd_tail
        if fix:
            put(self.end, END_FIELDS, "entries", len(self.centrals))
            put(self.end, END_FIELDS, "disk_entries", len(self.centrals))
            put(self.end, END_FIELDS, "cd_size", len(out) - cd_start)
            put(self.end, END_FIELDS, "cd_offset", cd_start)
            put(self.end, END_FIELDS, "comment_length", len(self.comment))
        out += self.before_end + self.end + self.comment + self.suffix
        return bytes(out)

    # common edits ------------------------------------------------------------------------
    def set_both(self, index: int, name: str, value: int) -> None:
        """Set a field that local header and central record share, in both."""
        self.locals[index].set(name, value)
        self.centrals[index].set(name, value)

    def rename(self, index: int, raw: bytes, utf8_flag: bool | None = None) -> None:
        """Give entry `index` another name in both records (flag as the writer would set it)."""
        self.locals[index].name = raw
        self.centrals[index].name = raw
        if utf8_flag is None:
            utf8_flag = not raw.isascii()
        flags = 0x800 if utf8_flag else 0
        self.set_both(index, "flags", flags)

    def replace_data(self, index: int, data: bytes, *, method: int | None = None, size: int | None = None,
                     crc: int | None = None) -> None:
        """New data for an entry, with consistent sizes and CRC in both records unless told otherwise."""
        local = self.locals[index]
        local.data = data
        m = local.get("method") if method is None else method
        plain = data if m == 0 else _inflate_or_none(data)
        self.set_both(index, "method", m)
        self.set_both(index, "compressed_size", len(data))
        self.set_both(index, "size", size if size is not None else len(plain if plain is not None else data))
        self.set_both(index, "crc32", crc if crc is not None else zlib.crc32(plain if plain is not None else data))

    def add_entry(self, raw_name: bytes, data: bytes, at: int | None = None) -> None:
        """A stored entry with any name (the writer would refuse unsafe or duplicate ones),
        in the writer's layout otherwise: for tests of what the reader says about names."""
        index = len(self.locals) if at is None else at
        local = Local(bytearray(self.locals[0].header), raw_name, b"", data)
        central = Central(bytearray(self.centrals[0].header), raw_name)
        self.locals.insert(index, local)
        self.centrals.insert(index, central)
        self.rename(index, raw_name)
        self.replace_data(index, data, method=0)

    def index_of(self, name: str) -> int:
        return [c.name for c in self.centrals].index(name.encode())


def _inflate_or_none(data: bytes) -> bytes | None:
    try:
        return zlib.decompress(data, -15)
    except zlib.error:
        return None


def raw_deflate(data: bytes, level: int = 9) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


# --- the three reproduced attacks on a package (SAMPLE_FILES layout: lib/X.dll is replaced) -----------
EVIL = b"MZ evil replacement DLL " * 125  # 3000 bytes, the size of SAMPLE_FILES["lib/X.dll"]


def _cd_offset(data: bytes) -> int:
    return struct.unpack_from("<I", data, len(data) - 6)[0]


def attack_zip64(signed: bytes, target: bytes = b"lib/X.dll", evil: bytes = EVIL) -> bytes:
    """(a) Python follows a zip64 end record to the signed central directory; readers that
    trust the classic end record (.NET) read a second directory where `target` is replaced."""
    layout = Layout.parse(signed)
    index = [c.name for c in layout.centrals].index(target)
    cd_offset = _cd_offset(signed)
    body = bytearray(signed[:cd_offset])
    signed_cd = signed[cd_offset:-22]
    # .NET reads central records until the signature stops matching: the evil directory must be
    # followed by something else (here the evil local header), the signed one by the zip64 record.
    evil_cd_offset = len(body)
    evil_cd_size = sum(46 + len(c.name) for c in layout.centrals)
    evil_offset = evil_cd_offset + evil_cd_size  # a second local header + data for the target
    evil_cd = bytearray()
    for central in layout.centrals:
        record = bytearray(central.header)
        if central.name == target:
            put(record, CENTRAL_FIELDS, "crc32", zlib.crc32(evil))
            put(record, CENTRAL_FIELDS, "method", 0)
            put(record, CENTRAL_FIELDS, "compressed_size", len(evil))
            put(record, CENTRAL_FIELDS, "size", len(evil))
            put(record, CENTRAL_FIELDS, "header_offset", evil_offset)
        evil_cd += record + central.name
    body += evil_cd
    header = bytearray(layout.locals[index].header)
    put(header, LOCAL_FIELDS, "crc32", zlib.crc32(evil))
    put(header, LOCAL_FIELDS, "method", 0)
    put(header, LOCAL_FIELDS, "compressed_size", len(evil))
    put(header, LOCAL_FIELDS, "size", len(evil))
    body += header + target + evil
    signed_cd_offset = len(body)
    body += signed_cd  # right before the zip64 records: where Python's arithmetic expects it
    zip64_end_offset = len(body)
    count = len(layout.centrals)
    body += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, len(signed_cd), signed_cd_offset)
    body += struct.pack("<IIQI", 0x07064B50, 0, zip64_end_offset, 1)
    body += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(evil_cd), evil_cd_offset, 0)
    return bytes(body)


def attack_prefix(signed: bytes, target: bytes = b"lib/X.dll", evil: bytes = EVIL) -> bytes:
    """(b) A copy of the package with `target` replaced (same size), then the signed package: the
    end record's offsets, absolute for .NET, land in the copy; Python subtracts the prefix."""
    layout = Layout.parse(signed)
    index = [c.name for c in layout.centrals].index(target)
    assert layout.locals[index].get("method") == 0 and len(evil) == layout.locals[index].get("size")
    layout.replace_data(index, evil)
    prefix = layout.build()[:-22]
    assert len(prefix) == len(signed) - 22
    return prefix + signed


def attack_unicode_path(signed: bytes, carrier: bytes = b"readme.txt", target: bytes = b"lib/X.dll") -> bytes:
    """(c) An Info-ZIP Unicode Path extra field (0x7075) on a later entry's central record: unzip
    names that entry `target`, and its bytes overwrite the signed `target` on extraction."""
    layout = Layout.parse(signed)
    central = layout.centrals[[c.name for c in layout.centrals].index(carrier)]
    payload = struct.pack("<BI", 1, zlib.crc32(central.name)) + target
    central.extra = struct.pack("<HH", 0x7075, len(payload)) + payload
    return layout.build()
