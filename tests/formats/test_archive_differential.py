"""Differential tests: every archive our strict reader accepts is read identically (names, order,
bytes) by Info-ZIP `unzip` and by .NET's System.IO.Compression (Mono), the reader the
connector's installer uses. And the three reproduced attacks really do fool one of them,
which is why the strict reader rejects them.

Needs `unzip`, `mono` and `mcs`: skipped with the reason when missing, failed when CI is set.
"""

from __future__ import annotations

import hashlib
import struct
import subprocess
from pathlib import Path

import pytest

from b2release.formats.archive_reader import PackageArchive
from tests.formats import ziptools
from tests.formats.zipkit import (
    EVIL,
    SAMPLE_FILES,
    Layout,
    attack_prefix,
    attack_unicode_path,
    attack_zip64,
    pe_like,
    prng_bytes,
    raw_deflate,
    text_like,
    write_package,
)

WRITER_CASES: dict[str, dict] = {
    "sample": {"files": SAMPLE_FILES},
    "non_ascii": {"files": {
        "c/\u00e9t\u00e9.txt": text_like("e", 2000),
        "\u4e2d\u6587/\u6587\u4ef6.dll": pe_like("zh", 20_000),
        "\u00c5ngstr\u00f6m/\u00df.txt": b"",
        "emoji/\U0001f600.bin": prng_bytes("emoji", 500),
        "stra\u00dfe.txt": b"sharp s",
        "STRASSE.txt": b"double s",
    }},
    "deep_folders": {"files": {
        "/".join(f"level{i}" for i in range(30)) + "/Deep.dll": pe_like("deep", 50_000),
        "a/b/c/d/e/f/g/h/i/j.txt": text_like("j", 100),
        "a/b.txt": b"b",
    }},
    "stored_deflated_empty": {"files": {
        "empty1.txt": b"",
        "empty2/empty.txt": b"",
        "random.bin": prng_bytes("r", 70_000),
        "text.txt": text_like("t", 300_000),
        "one.txt": b"1",
    }},
    "streamed_large": {"files": {
        "big/Native.dll": pe_like("native", 400_000),
        "big/random.bin": prng_bytes("big", 300_000),
        "small.dll": pe_like("small", 10_000),
    }, "large_file": 200_000},
}


def accepted_mutations(signed: bytes) -> dict[str, bytes]:
    """Changes our reader accepts (nothing in the rules forbids them): other readers must agree."""
    out = {}
    layout = Layout.parse(signed)
    time = layout.locals[0].get("time")
    for i in range(len(layout.locals)):  # one other timestamp, consistently everywhere
        layout.set_both(i, "time", time ^ 0x21)
    out["other_timestamp"] = layout.build()
    layout = Layout.parse(signed)
    index = layout.index_of("readme.txt")  # the same bytes deflated by another encoder (zlib -9)
    layout.replace_data(index, raw_deflate(SAMPLE_FILES["readme.txt"], 9))
    out["other_deflate_encoder"] = layout.build()
    layout = Layout.parse(signed)
    index = layout.index_of("readme.txt")  # stored blocks inside a deflate stream
    data = SAMPLE_FILES["readme.txt"]
    layout.replace_data(index, _stored_then_fixed(data))
    out["mixed_deflate_blocks"] = layout.build()
    return out


def _stored_then_fixed(data: bytes) -> bytes:
    """A deflate stream of one stored (non-final) block, then zlib's compressed blocks."""
    head = b"\x00" + struct.pack("<HH", 64, 0xFFFF ^ 64) + data[:64]  # BFINAL=0, BTYPE=00, byte-aligned
    return head + raw_deflate(data[64:], 9)


def listings_agree(paths: list[Path]) -> None:
    """Ours accepts each archive; unzip and .NET read the same names, order and bytes."""
    ours = [ziptools.ours(p) for p in paths]
    for path, listing in zip(paths, ours, strict=True):
        assert isinstance(listing, list), f"{path.name}: our reader refused it: {listing}"
    dotnet = ziptools.dotnet(paths)
    for path, mine, theirs in zip(paths, ours, dotnet, strict=True):
        assert theirs == mine, f"{path.name}: .NET reads {theirs}, we read {mine}"
        assert ziptools.unzip(path) == mine, f"{path.name}: unzip disagrees"


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("differential")
    paths = {}
    for case, spec in WRITER_CASES.items():
        data = write_package(spec["files"], root / case, large_file=spec.get("large_file", 32 << 20))
        paths[case] = root / f"{case}.zip"
        paths[case].write_bytes(data)
    for case, data in accepted_mutations(paths["sample"].read_bytes()).items():
        paths[case] = root / f"{case}.zip"
        paths[case].write_bytes(data)
    return paths


def test_accepted_archives_read_the_same_in_unzip_and_dotnet(written):
    ziptools.need("unzip")
    ziptools.need("mono")
    listings_agree(list(written.values()))
    with PackageArchive.open(written["non_ascii"]) as pkg:  # and those are the names we wrote
        assert sorted(e.name for e in pkg.entries) == sorted(WRITER_CASES["non_ascii"]["files"])


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_attacks_fool_another_reader(written, tmp_path):
    """Why the rules exist: each attack archive gives .NET or unzip the replaced DLL."""
    ziptools.need("unzip")
    ziptools.need("mono")
    signed = written["sample"].read_bytes()
    paths = {}
    for name, data in (("zip64", attack_zip64(signed)), ("prefix", attack_prefix(signed)),
                       ("unicode_path", attack_unicode_path(signed))):
        paths[name] = tmp_path / f"{name}.zip"
        paths[name].write_bytes(data)
        assert isinstance(ziptools.ours(paths[name]), ziptools.Unreadable)
    good, evil = _sha(SAMPLE_FILES["lib/X.dll"]), _sha(EVIL)
    dotnet = dict(zip(paths, ziptools.dotnet(list(paths.values())), strict=True))
    for name in ("zip64", "prefix"):
        listing = dotnet[name]
        assert isinstance(listing, list), listing
        assert ("lib/X.dll", evil, len(EVIL)) in listing and ("lib/X.dll", good, 3000) not in listing
    # unzip warns about the local name (exit 1) but extracts readme.txt's bytes as lib/X.dll,
    # over the signed one.
    out = tmp_path / "extracted"
    proc = subprocess.run(["unzip", "-qq", "-o", str(paths["unicode_path"]), "-d", str(out)], capture_output=True)
    assert proc.returncode in (0, 1), proc.stderr
    assert (out / "lib" / "X.dll").read_bytes() == SAMPLE_FILES["readme.txt"]
