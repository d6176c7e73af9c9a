"""Identical content worked on once (formats/twins.py): the package writer deflates a
repeated file once, verify inflates a repeated entry once; the bytes and the verdicts are
the ones doing the work again would give, and a look-alike is checked in full."""

from __future__ import annotations

import hashlib
import io

import pytest

from b2release.errors import VerificationError
from b2release.formats import archive, compressors
from b2release.formats.archive_hash import hash_entries
from b2release.formats.archive_reader import PackageArchive
from b2release.formats.twins import Twins, twin_rank
from tests.formats.zipkit import Layout, pe_like, prng_bytes, text_like, write_package

DLL = pe_like("twin", 300_000)
FILES = {
    "net48/A.dll": DLL, "net481/A.dll": DLL, "tools/A.dll": DLL,  # one assembly, three places
    "net48/B.dll": pe_like("other", 120_000),
    "docs/a.txt": text_like("t", 9_000), "docs/b.txt": text_like("t", 9_000),
    "blob/x.bin": prng_bytes("x", 50_000), "blob/y.bin": prng_bytes("x", 50_000),  # stored twins
}


class NoTwins(Twins):
    def claim(self, key):
        return None

    def publish(self, key, result):
        pass


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_a_repeated_file_is_deflated_once_and_the_zip_is_what_deflating_again_gives(tmp_path, monkeypatch, workers):
    calls: list[int] = []
    real = compressors.compress
    monkeypatch.setattr(compressors, "compress", lambda data, level=compressors.LEVEL: calls.append(len(data)) or
                        real(data, level))
    shared = write_package(FILES, tmp_path / "shared", workers=workers)
    assert sorted(calls) == sorted([len(DLL), 120_000, 9_000, 50_000])  # each content once
    monkeypatch.setattr(archive, "Twins", NoTwins)
    assert write_package(FILES, tmp_path / "again", workers=workers) == shared
    with PackageArchive.from_bytes(shared, "pkg.zip") as pkg:
        assert {e.name: b"".join(pkg.stream(e)) for e in pkg.entries} == FILES


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_verify_inflates_a_repeated_entry_once(tmp_path, monkeypatch, workers):
    data = write_package(FILES, tmp_path, workers=workers)
    inflated: list[str] = []
    real = PackageArchive._inflate
    monkeypatch.setattr(PackageArchive, "_inflate",
                        lambda self, entry, cancel: inflated.append(entry.name) or real(self, entry, cancel))
    pkg = PackageArchive.from_bytes(data, "pkg.zip")
    assert hash_entries(pkg, workers=workers) == {n: (hashlib.sha256(d).hexdigest(), len(d)) for n, d in FILES.items()}
    deflated = [e.name for e in pkg.entries if e.method == archive.DEFLATED]
    assert len(inflated) == 3 and set(inflated) <= set(deflated)  # A.dll, B.dll, one text


def test_a_sink_sees_the_right_first_bytes_of_a_twin_and_all_of_it_when_it_asks(tmp_path):
    pkg = PackageArchive.from_bytes(write_package(FILES, tmp_path), "pkg.zip")

    class Head:
        def __init__(self, entry, want_all):
            self.entry, self.want_all, self.got = entry, want_all, bytearray()

        def write(self, data):
            self.got += data

        def wants_more(self):
            return self.want_all or len(self.got) < 1000

        def finish(self, sha256, size):
            seen[self.entry.name] = (bytes(self.got), sha256)

        def abort(self):
            self.got = bytearray()

    for want_all in (False, True):
        seen: dict[str, tuple[bytes, str]] = {}
        hash_entries(pkg, workers=2, sink=lambda e, w=want_all: Head(e, w) if e.name.endswith("A.dll") else None)
        assert set(seen) == {"net48/A.dll", "net481/A.dll", "tools/A.dll"}
        for got, sha in seen.values():
            assert sha == hashlib.sha256(DLL).hexdigest()
            assert got == DLL if want_all else DLL.startswith(got) and len(got) >= 1000


def test_a_look_alike_is_checked_in_full(tmp_path):
    """Same compressed bytes as a good entry, but a header that claims another CRC-32: not a
    twin (the key has every field), so its own check fails, naming it."""
    layout = Layout.parse(write_package(FILES, tmp_path))
    good, other = layout.index_of("net48/A.dll"), layout.index_of("tools/A.dll")
    assert layout.locals[good].data == layout.locals[other].data
    layout.set_both(other, "crc32", layout.centrals[good].get("crc32") ^ 1)
    pkg = PackageArchive.from_bytes(layout.build(), "pkg.zip")
    with pytest.raises(VerificationError, match=r"tools/A\.dll.*CRC-32 mismatch"):
        hash_entries(pkg, workers=2)
    # and corrupt bytes in a twin are not its good sibling's
    layout = Layout.parse(write_package(FILES, tmp_path / "b"))
    broken = bytearray(layout.locals[other].data)
    broken[len(broken) // 2] ^= 0xFF
    layout.locals[other].data = bytes(broken)
    with pytest.raises(VerificationError, match=r"tools/A\.dll"):
        hash_entries(PackageArchive.from_bytes(layout.build(), "pkg.zip"), workers=2)


def test_a_failed_claimer_leaves_the_work_to_the_waiter():
    twins: Twins[str] = Twins()
    assert twins.claim("k") is None
    twins.publish("k", None)  # the claimer failed
    assert twins.claim("k") is None  # the next one works on its own...
    twins.publish("k", "done")
    assert twins.claim("k") == "done"  # ...and its result is shared
    assert twin_rank([5, 3, 5, 5, 3]) == [0, 0, 1, 2, 1]


def test_zip_of_twins_reads_with_the_standard_library(tmp_path):
    import zipfile

    with zipfile.ZipFile(io.BytesIO(write_package(FILES, tmp_path))) as zf:
        assert zf.testzip() is None and {n: zf.read(n) for n in zf.namelist()} == FILES
