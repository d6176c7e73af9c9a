"""Mutation testing of the strict package reader.

A real writer-made archive with a few entries (deflated, stored, empty, non-ASCII name) is
mutated systematically: every header byte flipped, every field of every local header,
central record and end record set to edge values, bytes inserted and removed at every
structural boundary (raw, and with offsets fixed up so that only one rule breaks), records
duplicated, extra fields, zip64 records, comments and flags added; then seeded random edits,
half of them raw bytes, half fields, names and data with lengths and offsets kept consistent.

Each case must be either rejected with VerificationError (never another exception, never a
hang) or accepted; an accepted case must extract identically (names, order, bytes) with our
reader, Info-ZIP `unzip` and .NET's System.IO.Compression under Mono. Only accepted cases go
to the external readers, in one batch, so the run stays short.

`make test` runs the fixed systematic cases plus a bounded number of random ones (fixed
seed, a few seconds). A longer run:

    B2RELEASE_FUZZ=1 [B2RELEASE_FUZZ_CASES=200000] [B2RELEASE_FUZZ_SEED=n] pytest tests/formats/test_archive_mutations.py

(defaults: 200,000 random cases, seed 1; the Makefile's `fuzz` target is meant to run this).
"""

from __future__ import annotations

import hashlib
import os
import random
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from b2release.errors import VerificationError
from b2release.formats.archive_reader import PackageArchive
from tests.formats import ziptools
from tests.formats.zipkit import (
    CENTRAL_FIELDS,
    END_FIELDS,
    LOCAL_FIELDS,
    Layout,
    pe_like,
    prng_bytes,
    raw_deflate,
    text_like,
    write_package,
)

FUZZ = os.environ.get("B2RELEASE_FUZZ") == "1"
SEED = int(os.environ.get("B2RELEASE_FUZZ_SEED", "1"))
RANDOM_CASES = int(os.environ.get("B2RELEASE_FUZZ_CASES", "200000")) if FUZZ else 8000

FILES = {
    "lib/A.dll": pe_like("mut-a", 6000),  # deflated
    "lib/X.dll": prng_bytes("mut-x", 300),  # stored
    "readme.txt": text_like("mut-r", 800),  # deflated
    "empty.txt": b"",
    "\u00e9t\u00e9.txt": b"stored, non-ASCII name",
}


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes


Listing = list[tuple[str, str, int]]


def outcome(data: bytes) -> Listing | None:
    """Our reader's listing, or None when it rejects the bytes. Any other exception propagates."""
    try:
        pkg = PackageArchive.from_bytes(data, "m.zip")
        listing = []
        for entry in pkg.entries:
            digest = hashlib.sha256()
            for chunk in pkg.stream(entry):
                digest.update(chunk)
            listing.append((entry.name, digest.hexdigest(), entry.size))
        return listing
    except VerificationError as exc:
        assert "\n" not in exc.message and exc.message.startswith("m.zip: ")
        return None


# --- where things are --------------------------------------------------------------------------
@dataclass(frozen=True)
class Region:
    start: int
    length: int
    fields: dict  # field name -> (offset, struct code), for the fixed part of the record
    label: str


def regions(data: bytes) -> list[Region]:
    """Every local header, central record and the end record of a writer-made archive."""
    layout = Layout.parse(data)
    out = []
    for i, central in enumerate(layout.centrals):
        at = central.get("header_offset")
        out.append(Region(at, 30 + len(central.name), LOCAL_FIELDS, f"local{i}"))
    pos = struct.unpack_from("<I", data, len(data) - 6)[0]
    for i, central in enumerate(layout.centrals):
        out.append(Region(pos, 46 + len(central.name), CENTRAL_FIELDS, f"central{i}"))
        pos += 46 + len(central.name)
    out.append(Region(len(data) - 22, 22, END_FIELDS, "end"))
    return out


def boundaries(data: bytes) -> list[tuple[str, int]]:
    layout = Layout.parse(data)
    points = [("start", 0)]
    for i, central in enumerate(layout.centrals):
        at = central.get("header_offset")
        points += [(f"local{i}", at), (f"data{i}", at + 30 + len(central.name)),
                   (f"data{i}_end", at + 30 + len(central.name) + central.get("compressed_size"))]
    pos = struct.unpack_from("<I", data, len(data) - 6)[0]
    for i, central in enumerate(layout.centrals):
        points.append((f"central{i}", pos))
        pos += 46 + len(central.name)
    points += [("end", len(data) - 22), ("eof", len(data))]
    return points


# --- systematic mutations ------------------------------------------------------------------------
def flipped_bytes(data: bytes) -> Iterator[Case]:
    for region in regions(data):
        for k in range(region.length):
            for mask in (0x01, 0x80, 0xFF):
                mutated = bytearray(data)
                mutated[region.start + k] ^= mask
                yield Case(f"flip {region.label}+{k}^{mask:#x}", bytes(mutated))


def edge_values(value: int, code: str, others: list[int]) -> set[int]:
    top = 0xFFFF if code == "H" else 0xFFFFFFFF
    return {0, 1, top, top - 1, (value + 1) & top, (value - 1) & top, value ^ (top >> 1), *others} - {value}


def field_values(data: bytes) -> Iterator[Case]:
    all_regions = regions(data)
    for region in all_regions:
        for field, (offset, code) in region.fields.items():
            value = struct.unpack_from("<" + code, data, region.start + offset)[0]
            others = [struct.unpack_from("<" + code, data, r.start + offset)[0] for r in all_regions
                      if r.fields is region.fields and r is not region]
            for new in sorted(edge_values(value, code, others)):
                mutated = bytearray(data)
                struct.pack_into("<" + code, mutated, region.start + offset, new)
                yield Case(f"field {region.label}.{field}={new:#x}", bytes(mutated))


PAYLOADS = [b"\x00", b"\x00" * 4, b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06" + bytes(18), b"PK\x06\x07" + bytes(16),
            b"PK\x07\x08" + bytes(12)]


def raw_inserts_and_removals(data: bytes) -> Iterator[Case]:
    for label, at in boundaries(data):
        for payload in PAYLOADS:
            yield Case(f"insert {payload[:4]!r}x{len(payload)} at {label}", data[:at] + payload + data[at:])
        for n in (1, 2, 4, 22):
            if at - n >= 0:
                yield Case(f"remove {n} before {label}", data[: at - n] + data[at:])
            if at + n <= len(data):
                yield Case(f"remove {n} after {label}", data[:at] + data[at + n :])


def fixed_up_edits(data: bytes) -> Iterator[Case]:
    """Structural edits with every length, offset and count fixed, so one rule breaks at a time."""
    base = Layout.parse(data)
    n = len(base.centrals)

    def edit(name: str, change: Callable[[Layout], None]) -> Case:
        layout = base.copy()
        change(layout)
        return Case(name, layout.build())

    for payload in PAYLOADS:
        yield edit(f"prefix {payload[:4]!r}", lambda lay, p=payload: setattr(lay, "prefix", p))
        yield edit(f"gap {payload[:4]!r}", lambda lay, p=payload: setattr(lay, "gap", p))
        yield edit(f"cd_tail {payload[:4]!r}", lambda lay, p=payload: setattr(lay, "cd_tail", p))
        yield edit(f"before_end {payload[:4]!r}", lambda lay, p=payload: setattr(lay, "before_end", p))
        yield edit(f"suffix {payload[:4]!r}", lambda lay, p=payload: setattr(lay, "suffix", p))
        for i in range(n):
            yield edit(f"after data{i} {payload[:4]!r}", lambda lay, i=i, p=payload: lay.after_data.update({i: p}))
    extras = {
        "unicode_path": struct.pack("<HHBI", 0x7075, 14, 1, 0) + b"lib/X.dll",
        "zip64": struct.pack("<HHQQ", 0x0001, 16, 300, 300),
        "timestamp": struct.pack("<HHBI", 0x5455, 5, 1, 0),
        "empty": struct.pack("<HH", 0xCAFE, 0),
        "ntfs": struct.pack("<HHI", 0x000A, 4, 0),
    }
    for i in range(n):
        for kind, extra in extras.items():
            yield edit(f"central{i} extra {kind}", lambda lay, i=i, e=extra: setattr(lay.centrals[i], "extra", e))
            yield edit(f"local{i} extra {kind}", lambda lay, i=i, e=extra: setattr(lay.locals[i], "extra", e))
        yield edit(f"central{i} comment", lambda lay, i=i: setattr(lay.centrals[i], "comment", b"note"))
        yield edit(f"duplicate central{i}", lambda lay, i=i: lay.centrals.insert(i, lay.copy().centrals[i]))
        yield edit(f"drop central{i}", lambda lay, i=i: lay.centrals.pop(i))
        yield edit(f"duplicate entry{i}", lambda lay, i=i: (lay.locals.insert(i, lay.copy().locals[i]),
                                                            lay.centrals.insert(i, lay.copy().centrals[i])))
        for bit in range(16):
            for where in ("local", "central", "both"):
                yield edit(f"{where}{i} flag bit {bit}", lambda lay, i=i, b=bit, w=where: _set_flag(lay, i, b, w))
        yield edit(f"reversed order from {i}", lambda lay, i=i: (lay.locals.reverse(), lay.centrals.reverse()))
    yield edit("archive comment", lambda lay: setattr(lay, "comment", b"comment"))
    yield edit("zip64 end record + locator", _add_zip64)
    yield Case("duplicate end record", data + data[-22:])
    yield Case("duplicate central directory", _duplicate_cd(data))
    yield Case("empty", b"")
    yield Case("end record only", data[-22:])


def _set_flag(layout: Layout, index: int, bit: int, where: str) -> None:
    if where in ("local", "both"):
        layout.locals[index].set("flags", layout.locals[index].get("flags") | (1 << bit))
    if where in ("central", "both"):
        layout.centrals[index].set("flags", layout.centrals[index].get("flags") | (1 << bit))


def _add_zip64(layout: Layout) -> None:
    # The records go between directory and end record; offsets are relative to a rebuilt body.
    body = layout.build()
    cd_size, cd_offset = struct.unpack_from("<II", body, len(body) - 10)
    n = len(layout.centrals)
    end64_at = cd_offset + cd_size
    layout.before_end = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, cd_size, cd_offset)
    layout.before_end += struct.pack("<IIQI", 0x07064B50, 0, end64_at, 1)


def _duplicate_cd(data: bytes) -> bytes:
    cd_size, cd_offset = struct.unpack_from("<II", data, len(data) - 10)
    cd = data[cd_offset : cd_offset + cd_size]
    end = bytearray(data[-22:])
    struct.pack_into("<HHI", end, 8, 2 * struct.unpack_from("<H", end, 8)[0], 2 * struct.unpack_from("<H", end, 10)[0],
                     2 * cd_size)
    return data[:cd_offset] + cd + cd + bytes(end)


def accepted_by_design(data: bytes) -> Iterator[Case]:
    """Edits the rules allow: they must reach the external readers and agree there."""
    base = Layout.parse(data)
    for time_value, date_value in ((0x0000, 0x0021), (0xBF7D, 0xFF9F), (0x6000, 0x5A4E)):
        layout = base.copy()
        for i in range(len(layout.locals)):
            layout.set_both(i, "time", time_value)
            layout.set_both(i, "date", date_value)
        yield Case(f"timestamp {date_value:#x}/{time_value:#x} everywhere", layout.build())
    for level in (1, 9):
        layout = base.copy()
        index = layout.index_of("lib/A.dll")
        layout.replace_data(index, raw_deflate(FILES["lib/A.dll"], level))
        yield Case(f"lib/A.dll re-deflated by zlib level {level}", layout.build())


def random_edits(data: bytes, count: int, seed: int) -> Iterator[Case]:
    rng = random.Random(seed)
    points = [at for _, at in boundaries(data)]
    header_bytes = [r.start + k for r in regions(data) for k in range(r.length)]
    for number in range(count):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            kind = rng.random()
            if kind < 0.5:  # a header byte
                mutated[rng.choice(header_bytes) % len(mutated)] = rng.randrange(256)
            elif kind < 0.7:  # any byte
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            elif kind < 0.85:  # insert near a boundary
                at = min(len(mutated), max(0, rng.choice(points) + rng.randint(-2, 2)))
                mutated[at:at] = rng.randbytes(rng.choice((1, 2, 4, 30, 46)))
            else:  # remove near a boundary
                at = min(len(mutated), max(0, rng.choice(points) + rng.randint(-2, 2)))
                del mutated[at : at + rng.choice((1, 2, 4, 22))]
        yield Case(f"random #{number} (seed {seed})", bytes(mutated))


NAME_BYTES = [0x00, 0x01, 0x2E, 0x2F, 0x3A, 0x5C, 0x41, 0x61, 0x7F, 0x80, 0xC3, 0xA9, 0xE2, 0xFF]
SHARED = [f for f in LOCAL_FIELDS if f not in ("signature", "name_length", "extra_length")]


def random_structured(data: bytes, count: int, seed: int) -> Iterator[Case]:
    """Random edits of fields, names and data that `build` keeps consistent (lengths, offsets,
    counts), so that the checks past the layout (names, flags, sizes, streams) are reached."""
    rng = random.Random(seed)
    base = Layout.parse(data)
    for number in range(count):
        layout = base.copy()
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(layout.locals))
            kind = rng.random()
            if kind < 0.4:  # a field, in the local header, the central record or both
                field = rng.choice(SHARED)
                value = rng.choice((0, 1, 8, 0x800, 0xFFFF, rng.randrange(1 << 16), layout.locals[i].get(field) + 1))
                if field in ("crc32", "compressed_size", "size"):
                    value = rng.choice((value, rng.randrange(1 << 32), 0xFFFFFFFF))
                for record in rng.choice(((layout.locals[i],), (layout.centrals[i],), (layout.locals[i], layout.centrals[i]))):
                    record.set(field, value & (0xFFFF if LOCAL_FIELDS[field][1] == "H" else 0xFFFFFFFF))
            elif kind < 0.7:  # a name byte, in both records
                name = bytearray(layout.centrals[i].name)
                name[rng.randrange(len(name))] = rng.choice(NAME_BYTES)
                layout.rename(i, bytes(name), utf8_flag=rng.random() < 0.5)
            elif kind < 0.85:  # a data byte
                if layout.locals[i].data:
                    blob = bytearray(layout.locals[i].data)
                    blob[rng.randrange(len(blob))] ^= 1 << rng.randrange(8)
                    layout.locals[i].data = bytes(blob)
            else:  # a central-only field
                field = rng.choice(("version_made_by", "disk_start", "internal_attr", "external_attr"))
                value = rng.choice((0, 1, 0x0314, 0x0014, 0o100644 << 16, 0x10, rng.randrange(1 << 16)))
                layout.centrals[i].set(field, value & (0xFFFF if CENTRAL_FIELDS[field][1] == "H" else 0xFFFFFFFF))
        yield Case(f"structured #{number} (seed {seed})", layout.build())


def all_cases(data: bytes) -> Iterator[Case]:
    yield from flipped_bytes(data)
    yield from field_values(data)
    yield from raw_inserts_and_removals(data)
    yield from fixed_up_edits(data)
    yield from accepted_by_design(data)
    yield from random_edits(data, RANDOM_CASES // 2, SEED)
    yield from random_structured(data, RANDOM_CASES - RANDOM_CASES // 2, SEED)


# --- the test ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base_archive(tmp_path_factory) -> bytes:
    return write_package(FILES, tmp_path_factory.mktemp("mutations"))


@pytest.mark.timeout(3600 if FUZZ else 120)
def test_every_mutation_is_rejected_or_read_identically_everywhere(base_archive, tmp_path):
    expected = outcome(base_archive)
    assert expected is not None and len(expected) == len(FILES)
    accepted: dict[str, tuple[Case, Listing]] = {}  # by sha256 of the bytes: each distinct archive once
    counts = {"cases": 0, "rejected": 0, "accepted": 0}
    accepted_names: set[str] = set()
    for case in all_cases(base_archive):
        counts["cases"] += 1
        try:
            listing = outcome(case.data)
        except Exception as exc:  # the point: nothing but VerificationError may escape
            pytest.fail(f"{case.name}: {type(exc).__name__} escaped the reader: {exc}")
        if listing is None:
            counts["rejected"] += 1
            continue
        counts["accepted"] += 1
        accepted_names.add(case.name)
        accepted.setdefault(hashlib.sha256(case.data).hexdigest(), (case, listing))
    assert counts["cases"] >= 3000, counts
    assert counts["rejected"] > 10 * counts["accepted"], counts
    by_design = {c.name for c in accepted_by_design(base_archive)}
    assert by_design <= accepted_names, f"the edits the rules allow must be accepted: {by_design - accepted_names}"
    _external_readers_agree(list(accepted.values()), tmp_path)


def _external_readers_agree(cases: list[tuple[Case, Listing]], tmp_path: Path) -> None:
    ziptools.need("unzip")
    ziptools.need("mono")
    paths = []
    for number, (case, _) in enumerate(cases):
        path = tmp_path / f"accepted-{number}.zip"
        path.write_bytes(case.data)
        paths.append(path)
    for (case, ours), path, dotnet in zip(cases, paths, ziptools.dotnet(paths), strict=True):
        assert dotnet == ours, f"{case.name}: .NET reads {dotnet}, we read {ours}"
        assert ziptools.unzip(path) == ours, f"{case.name}: unzip disagrees with {ours}"


def test_crc_of_every_accepted_case_is_checked(base_archive):
    """A changed data byte keeps the headers valid: only the CRC-32 check can catch it."""
    layout = Layout.parse(base_archive)
    index = layout.index_of("lib/X.dll")
    data = bytearray(layout.locals[index].data)
    data[0] ^= 0x55
    layout.locals[index].data = bytes(data)
    assert zlib.crc32(bytes(data)) != layout.locals[index].get("crc32")
    assert outcome(layout.build()) is None
