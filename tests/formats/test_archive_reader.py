"""The strict package reader: the writer's layout is accepted, each rule's breach is rejected
with its one-line message, and the three reproduced attacks are rejected."""

from __future__ import annotations

import hashlib
import io
import os
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Callable

import pytest

from b2release.errors import VerificationError
from b2release.formats import archive
from b2release.formats.archive_hash import hash_entries
from b2release.formats.archive_reader import DEFLATED, STORED, PackageArchive, ZipEntry, windows_name_key
from tests.formats.zipkit import (
    END_FIELDS,
    SAMPLE_FILES,
    Layout,
    attack_prefix,
    attack_unicode_path,
    attack_zip64,
    prng_bytes,
    raw_deflate,
    text_like,
    write_package,
)

MANIFEST, EMPTY, A_DLL, X_DLL, README = range(5)  # SAMPLE_FILES in the writer's (sorted) order


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> bytes:
    return write_package(SAMPLE_FILES, tmp_path_factory.mktemp("sample"), in_memory=(".b2release/manifest.json",))


@pytest.fixture
def layout(sample) -> Layout:
    return Layout.parse(sample)


def open_bytes(data: bytes) -> PackageArchive:
    return PackageArchive.from_bytes(data, "pkg.zip")


def read_all(data: bytes) -> dict[str, bytes]:
    pkg = open_bytes(data)
    return {e.name: b"".join(pkg.stream(e)) for e in pkg.entries}


def patch_end(data: bytes, field: str, value: int) -> bytes:
    end = bytearray(data[-22:])
    offset, fmt = END_FIELDS[field]
    struct.pack_into("<" + fmt, end, offset, value)
    return data[:-22] + bytes(end)


# --- accepted ---------------------------------------------------------------------------------
def test_writer_output_is_accepted_and_streams_back_exactly(sample):
    pkg = open_bytes(sample)
    assert [e.name for e in pkg.entries] == sorted(SAMPLE_FILES)
    methods = {e.name: e.method for e in pkg.entries}
    assert methods["lib/A.dll"] == DEFLATED and methods["lib/X.dll"] == STORED and methods["empty.txt"] == STORED
    for entry in pkg.entries:
        assert b"".join(pkg.stream(entry)) == SAMPLE_FILES[entry.name]
    assert pkg.entries[0].header_offset == 0
    assert all(e.index == i for i, e in enumerate(pkg.entries, 1))


@pytest.mark.parametrize(
    "names",
    [
        ["c/\u00e9t\u00e9.txt", "\u4e2d\u6587/\u6587\u4ef6.dll", "\u00c5ngstr\u00f6m.txt"],
        ["/".join(f"d{i}" for i in range(40)) + "/deep.dll", "a/b/c/d/e/f/g.txt"],
        ["stra\u00dfe.txt", "STRASSE.txt"],  # different files on Windows ('ß' has no one-letter upper case)
        ["lib/A.dll", "lib.txt", "lib-2/A.dll", "lib0"],
    ],
)
def test_various_names_are_accepted(tmp_path, names):
    files = {name: text_like(name, 3000) for name in names}
    assert read_all(write_package(files, tmp_path)) == files


def test_empty_archive_is_accepted():
    out = io.BytesIO()
    archive.write(out, [], archive.dos_datetime(0)[0])
    assert open_bytes(out.getvalue()).entries == []


def test_streamed_large_file_is_accepted(tmp_path):
    files = {"big.dll": text_like("big", 300_000), "small.txt": b"small " * 100}
    data = write_package(files, tmp_path, large_file=100_000)
    assert read_all(data) == files


def test_open_from_path_and_close(tmp_path, sample):
    path = tmp_path / "pkg.zip"
    path.write_bytes(sample)
    with PackageArchive.open(path) as pkg:
        assert pkg.label == "pkg.zip"
        assert pkg.read(pkg.entries[MANIFEST], 4096) == SAMPLE_FILES[".b2release/manifest.json"]


@pytest.mark.parametrize("kind", ["missing", "folder", "fifo"])
def test_unreadable_paths_raise_verification_errors(tmp_path, kind):
    path = tmp_path / "pkg.zip"
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    with pytest.raises(VerificationError, match=r"^pkg\.zip: "):
        PackageArchive.open(path)


def test_read_refuses_entries_over_the_limit(sample):
    pkg = open_bytes(sample)
    with pytest.raises(VerificationError, match=r"entry 3 \(lib/A\.dll\): is implausibly large \(40000 bytes, at most 100\)"):
        pkg.read(pkg.entries[A_DLL], 100)


# --- every rule --------------------------------------------------------------------------------
Rule = Callable[[Layout], bytes]
RULES: list[tuple[str, Rule, str]] = []


def rule(pattern: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        RULES.append((fn.__name__, fn, pattern))
        return fn

    return register


@rule(r"^pkg\.zip: is not a zip archive \(14 bytes, shorter than an end record\)$")
def too_short(lay):
    return b"PK\x05\x06" + bytes(10)


@rule(r"does not end with an end-of-central-directory record")
def bytes_after_end_record(lay):
    lay.suffix = b"\x00\x00\x00"
    return lay.build()


@rule(r"does not end with an end-of-central-directory record")
def archive_comment(lay):
    lay.comment = b"signed by nobody"
    return lay.build()


@rule(r"end record declares a 5-byte archive comment")
def comment_length_without_comment(lay):
    return patch_end(lay.build(), "comment_length", 5)


@rule(r"end record names disk 1/0")
def multi_disk(lay):
    return patch_end(lay.build(), "disk", 1)


@rule(r"end record counts differ \(4 on this disk, 5 in total\)")
def counts_differ(lay):
    return patch_end(lay.build(), "disk_entries", 4)


@rule(r"0xFFFF means zip64")
def count_zip64_marker(lay):
    return patch_end(patch_end(lay.build(), "entries", 0xFFFF), "disk_entries", 0xFFFF)


@rule(r"end record holds a zip64 marker value")
def offset_zip64_marker(lay):
    return patch_end(lay.build(), "cd_offset", 0xFFFFFFFF)


@rule(r"central directory is implausibly large")
def huge_central_directory(lay):
    return patch_end(lay.build(), "cd_size", 100 << 20)


@rule(r"central directory size 40 does not fit 5 records")
def central_directory_too_small(lay):
    return patch_end(lay.build(), "cd_size", 40)


@rule(r"entry 1 \(\.b2release/manifest\.json\): local header offset is 16, expected 0")
def bytes_before_first_entry(lay):
    lay.prefix = bytes(16)  # offsets fixed to point past the prefix
    return lay.build()


@rule(r"does not end where the end record starts")
def prefix_with_relative_offsets(lay):
    return bytes(16) + lay.build()  # what Python's zipfile compensates for and .NET does not


@rule(r"entry 4 \(lib/X\.dll\): local header offset is \d+, expected \d+ \(entries must be contiguous")
def bytes_between_entries(lay):
    lay.after_data = {A_DLL: b"\x00\x00\x00"}
    return lay.build()


@rule(r"^pkg\.zip: 4 bytes between the last entry's data and the central directory$")
def bytes_before_central_directory(lay):
    lay.gap = b"PK\x00\x00"
    return lay.build()


@rule(r"central directory has 46 bytes after its 5 records")
def bytes_inside_central_directory(lay):
    lay.cd_tail = bytes(46)
    return lay.build()


@rule(r"does not end where the end record starts")
def bytes_before_end_record(lay):
    lay.before_end = b"junk"
    return lay.build()


@rule(r"central record 3 has a bad signature \(0x12345678\)")
def central_signature(lay):
    lay.centrals[A_DLL].set("signature", 0x12345678)
    return lay.build()


@rule(r"entry 3 \(lib/A\.dll\): central record has a 9-byte extra field")
def central_extra_field(lay):
    lay.centrals[A_DLL].extra = b"UT\x05\x00\x01\x00\x00\x00\x00"
    return lay.build()


@rule(r"entry 3 \(lib/A\.dll\): local header has a 9-byte extra field")
def local_extra_field(lay):
    lay.locals[A_DLL].extra = b"UT\x05\x00\x01\x00\x00\x00\x00"
    return lay.build()


@rule(r"entry 3 \(lib/A\.dll\): central record has a 7-byte file comment")
def file_comment(lay):
    lay.centrals[A_DLL].comment = b"comment"
    return lay.build()


@rule(r"'version made by' is 0x0014, not 0x0314")
def version_made_by(lay):
    lay.centrals[A_DLL].set("version_made_by", 20)
    return lay.build()


@rule(r"'version needed' is 45, not 20")
def version_needed(lay):
    lay.set_both(A_DLL, "version_needed", 45)
    return lay.build()


@rule(r"entry 3 \(lib/A\.dll\): central record encrypted")
def encrypted(lay):
    lay.set_both(A_DLL, "flags", 1)
    return lay.build()


@rule(r"central record uses a data descriptor \(flag bit 3\)")
def data_descriptor(lay):
    lay.set_both(A_DLL, "flags", 8)
    return lay.build()


@rule(r"central record has flags 0x0002")
def other_flag(lay):
    lay.set_both(A_DLL, "flags", 2)
    return lay.build()


@rule(r"central record sets the UTF-8 flag on an ASCII name")
def utf8_flag_on_ascii_name(lay):
    lay.set_both(A_DLL, "flags", 0x800)
    return lay.build()


@rule(r"non-ASCII name without the UTF-8 flag")
def non_ascii_name_without_flag(lay):
    lay.rename(A_DLL, "lib/\u00c4.dll".encode(), utf8_flag=False)
    return lay.build()


@rule(r"entry 3 \(lib/A\.dll\): compression method 99 \(only stored and deflate are allowed\)")
def method_aes(lay):
    lay.set_both(A_DLL, "method", 99)  # zipfile: NotImplementedError
    return lay.build()


@rule(r"compression method 12")
def method_bzip2(lay):
    lay.set_both(A_DLL, "method", 12)
    return lay.build()


@rule(r"central record names disk 1")
def disk_start(lay):
    lay.centrals[A_DLL].set("disk_start", 1)
    return lay.build()


@rule(r"internal attributes are 0x0001, not 0")
def internal_attributes(lay):
    lay.centrals[A_DLL].set("internal_attr", 1)
    return lay.build()


@rule(r"external attributes are 0x81ed0000, not a regular file with mode 0644")
def executable_mode(lay):
    lay.centrals[A_DLL].set("external_attr", 0o100755 << 16)
    return lay.build()


@rule(r"external attributes are 0x00000010")
def dos_directory_attribute(lay):
    lay.centrals[A_DLL].set("external_attr", 0x10)
    return lay.build()


@rule(r"entry 3 \(lib/A\.dll\): timestamp differs from the other entries'")
def timestamp_differs(lay):
    lay.set_both(A_DLL, "time", lay.locals[A_DLL].get("time") + 1)
    return lay.build()


@rule(r"entry 1 \(\.b2release/manifest\.json\): timestamp 0x0000/0x0000 is not a valid DOS date and time")
def invalid_dos_timestamp(lay):
    for i in range(len(lay.locals)):  # the same everywhere, so only validity is at stake
        lay.set_both(i, "date", 0)
        lay.set_both(i, "time", 0)
    return lay.build()


@rule(r"entry 4 \(lib/X\.dll\): holds a zip64 marker value")
def size_zip64_marker(lay):
    lay.set_both(X_DLL, "size", 0xFFFFFFFF)
    return lay.build()


@rule(r"stored entry has compressed size 3000 but size 2999")
def stored_sizes_differ(lay):
    lay.set_both(X_DLL, "size", 2999)
    return lay.build()


@rule(r"entry 5 \(readme\.txt\): deflated entry does not shrink")
def deflated_entry_that_does_not_shrink(lay):
    lay.replace_data(README, raw_deflate(prng_bytes("noise", 2000)), method=8)
    return lay.build()


@rule(r"more than deflate can produce")
def impossible_deflate_ratio(lay):
    lay.set_both(A_DLL, "size", lay.locals[A_DLL].get("compressed_size") * 2000)
    return lay.build()


def _local_differs(field: str, value: Callable[[int], int]) -> Rule:
    def mutate(lay):
        local = lay.locals[A_DLL]
        local.set(field, value(local.get(field)))
        return lay.build()

    return mutate


for _field, _label, _value in [
    ("version_needed", "version needed", lambda v: 10),
    ("flags", "flags", lambda v: 0x800),
    ("method", "method", lambda v: 0),
    ("time", "time", lambda v: v ^ 1),
    ("date", "date", lambda v: v ^ 1),
    ("crc32", "crc32", lambda v: v ^ 0x80000000),
    ("compressed_size", "compressed size", lambda v: v + 1),
    ("size", "size", lambda v: v - 1),
]:
    RULES.append((
        f"local_{_field}_differs",
        _local_differs(_field, _value),
        rf"^pkg\.zip: entry 3 \(lib/A\.dll\): local header differs from its central record \({_label}\)$",
    ))


@rule(r"entry 3 \(lib/A\.dll\): local header differs from its central record \(name length\)")
def local_name_length_differs(lay):
    lay.locals[A_DLL].name = b"lib/A.dl"
    lay.after_data = {A_DLL: b"\x00"}  # keeps every offset where the central records say
    return lay.build()


@rule(r"entry 3 \(lib/A\.dll\): local header differs from its central record \(name\)$")
def local_name_differs(lay):
    lay.locals[A_DLL].name = b"lib/B.dll"
    return lay.build()


@rule(r"entry 3 \(lib/A\.dll\): no local header at offset \d+")
def local_signature(lay):
    lay.locals[A_DLL].set("signature", 0x08074B50)
    return lay.build()


def _renamed(raw: bytes, utf8_flag: bool | None = None, index: int = A_DLL) -> Rule:
    def mutate(lay):
        lay.rename(index, raw, utf8_flag)
        return lay.build()

    return mutate


for _case, _raw, _pattern in [
    ("invalid_utf8", b"lib/\xff.dll", r"entry 3 \('lib/\\xff\.dll'\): name is not valid UTF-8"),
    ("not_nfc", "lib/e\u0301.dll".encode(), r"name is not in Unicode normal form NFC"),
    ("backslash", b"lib\\A.dll", r"name is unsafe: contains a backslash"),
    ("absolute", b"/lib/A.dll", r"name is unsafe: is absolute"),
    ("dot_dot", b"lib/../A.dll", r"name is unsafe: contains '\.\.'"),
    ("drive_letter", b"C:/A.dll", r"name is unsafe: has a drive letter"),
    ("control_character", b"lib/A\x07.dll", r"name is unsafe: contains U\+0007 \(a control character"),
    ("delete_character", b"lib/A\x7f.dll", r"name is unsafe: contains U\+007F"),
    ("c1_control", "lib/A\u0085.dll".encode(), r"name is unsafe: contains U\+0085"),
    ("bidi_override", "lib/A\u202egpj.dll".encode(), r"name is unsafe: contains U\+202E"),
    ("line_separator", "lib/A\u2028.dll".encode(), r"name is unsafe: contains U\+2028"),
    ("reserved_device", b"lib/CON.dll", r"reserved Windows device name"),
    ("trailing_dot", b"lib/A.", r"ending in a space or dot"),
    ("directory", b"lib/", r"entry 3 \(lib/\): name is a directory entry"),
    ("too_long", b"lib/" + b"a" * 5000, r"central record 3 has a 5004-byte name"),
    ("duplicate", b"empty.txt", r"entry 3 \(empty\.txt\): name appears twice"),
    ("case_duplicate", b"EMPTY.txt", r"name differs only in case from 'empty\.txt'"),
    ("file_used_as_folder", b"empty.txt/A.dll", r"name uses the file 'empty\.txt' as a folder"),
    ("not_sorted", b"zzz.dll", r"entry 4 \(lib/X\.dll\): is not in name order after 'zzz\.dll'"),
]:
    RULES.append((f"name_{_case}", _renamed(_raw), _pattern))


@pytest.mark.parametrize("mutate,pattern", [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_each_rule_is_enforced_with_its_message(layout, mutate, pattern):
    data = mutate(layout)
    with pytest.raises(VerificationError, match=pattern) as caught:
        open_bytes(data)
    assert "\n" not in caught.value.message
    assert caught.value.message.startswith("pkg.zip: ")


@pytest.mark.parametrize("raw,message", [(b"/etc/cron.d/x", "is absolute"), (b"readme.txt", "appears twice")])
def test_added_entries_are_checked_like_the_others(layout, raw, message):
    layout.add_entry(raw, b"x")
    with pytest.raises(VerificationError, match=rf"entry 6 \({re.escape(raw.decode())}\): name .*{message}"):
        open_bytes(layout.build())


def test_folder_that_is_also_a_file_is_rejected_in_either_order(layout):
    layout.rename(EMPTY, b"lib")  # "lib" sorts before "lib/A.dll": the file comes first
    with pytest.raises(VerificationError, match=r"entry 3 \(lib/A\.dll\): name uses the file 'lib' as a folder"):
        open_bytes(layout.build())


def test_windows_name_key_uses_one_to_one_upper_case():
    assert windows_name_key("a.txt") == windows_name_key("A.TXT")
    assert windows_name_key("stra\u00dfe") != windows_name_key("STRASSE")
    assert windows_name_key("\u00e9") == windows_name_key("\u00c9")


# --- rules checked while streaming ----------------------------------------------------------------
STREAM_RULES: list[tuple[str, Rule, str]] = []


def stream_rule(pattern: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        STREAM_RULES.append((fn.__name__, fn, pattern))
        return fn

    return register


@stream_rule(r"entry 4 \(lib/X\.dll\): CRC-32 mismatch")
def stored_byte_flipped(lay):
    data = bytearray(lay.locals[X_DLL].data)
    data[100] ^= 1
    lay.locals[X_DLL].data = bytes(data)
    return lay.build()


@stream_rule(r"entry 3 \(lib/A\.dll\): deflate data is corrupt \(")
def deflate_garbage(lay):
    lay.locals[A_DLL].data = b"\xff" * len(lay.locals[A_DLL].data)
    return lay.build()


@stream_rule(r"entry 5 \(readme\.txt\): deflate data is corrupt \(bytes after the end of the deflate stream\)")
def bytes_after_deflate_stream(lay):
    size = lay.locals[README].get("size")
    lay.replace_data(README, lay.locals[README].data + b"\x00\x01", size=size, crc=zlib.crc32(SAMPLE_FILES["readme.txt"]))
    return lay.build()


@stream_rule(r"entry 5 \(readme\.txt\): deflate data is corrupt \(the deflate stream is truncated\)")
def truncated_deflate_stream(lay):
    size = lay.locals[README].get("size")
    lay.replace_data(README, lay.locals[README].data[:-8], size=size, crc=zlib.crc32(SAMPLE_FILES["readme.txt"]))
    return lay.build()


@stream_rule(r"entry 5 \(readme\.txt\): data is 5000 bytes, its header says 5010")
def size_larger_than_data(lay):
    lay.set_both(README, "size", 5010)
    return lay.build()


@stream_rule(r"entry 3 \(lib/A\.dll\): data is longer than its header says")
def decompression_bomb(lay):
    bomb = raw_deflate(bytes(20_000_000))
    lay.replace_data(A_DLL, bomb, size=len(bomb) + 1000, crc=0)
    return lay.build()


@pytest.mark.parametrize("mutate,pattern", [r[1:] for r in STREAM_RULES], ids=[r[0] for r in STREAM_RULES])
def test_data_rules_are_enforced_while_streaming(layout, mutate, pattern):
    pkg = open_bytes(mutate(layout))  # headers are fine
    with pytest.raises(VerificationError, match=pattern):
        for entry in pkg.entries:
            for _ in pkg.stream(entry):
                pass
    with pytest.raises(VerificationError, match=pattern):
        hash_entries(pkg)


# --- the reproduced attacks, byte by byte (built in zipkit; test_archive_differential shows
# that Info-ZIP or .NET really read the replaced bytes) -------------------------------------------
def test_attack_a_zip64_end_record_pointing_python_elsewhere(sample):
    data = attack_zip64(sample)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:  # zipfile follows the zip64 record to the signed bytes
        assert zf.read("lib/X.dll") == SAMPLE_FILES["lib/X.dll"]
    with pytest.raises(VerificationError, match=r"^pkg\.zip: has a zip64 end-of-central-directory locator"):
        open_bytes(data)


def test_attack_b_prefix_holding_another_archive_at_the_absolute_offsets(sample):
    data = attack_prefix(sample)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:  # zipfile compensates for the prefix
        assert zf.read("lib/X.dll") == SAMPLE_FILES["lib/X.dll"]
    with pytest.raises(VerificationError, match=r"does not end where the end record starts"):
        open_bytes(data)


def test_attack_c_unicode_path_extra_field_renames_an_entry_for_unzip(sample):
    data = attack_unicode_path(sample)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:  # zipfile ignores the field
        assert zf.read("lib/X.dll") == SAMPLE_FILES["lib/X.dll"]
    with pytest.raises(VerificationError, match=r"entry 5 \(readme\.txt\): central record has a 18-byte extra field"):
        open_bytes(data)


# --- any bytes: VerificationError or accepted, nothing else ----------------------------------------
def test_truncations_and_garbage_raise_only_verification_errors(sample):
    lengths = list(range(0, 200)) + list(range(200, len(sample), 97)) + list(range(len(sample) - 200, len(sample)))
    for length in lengths:
        with pytest.raises(VerificationError):
            open_bytes(sample[:length])
    for seed in range(50):
        with pytest.raises(VerificationError):
            open_bytes(prng_bytes(f"garbage{seed}", 22 + seed * 37))
    with pytest.raises(VerificationError):
        open_bytes(b"PK\x05\x06" + bytes(18) + b"PK\x05\x06" + bytes(18))


# --- hash_entries -----------------------------------------------------------------------------------
def expected_digests() -> dict[str, tuple[str, int]]:
    return {n: (hashlib.sha256(d).hexdigest(), len(d)) for n, d in SAMPLE_FILES.items()}


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_hash_entries_matches_the_input(sample, workers):
    assert hash_entries(open_bytes(sample), workers=workers) == expected_digests()


def test_hash_entries_of_chosen_entries(sample):
    pkg = open_bytes(sample)
    chosen = [e for e in pkg.entries if e.name.startswith("lib/")]
    assert hash_entries(pkg, chosen) == {n: v for n, v in expected_digests().items() if n.startswith("lib/")}


class Recorder:
    def __init__(self, entry: ZipEntry, log: dict[str, object]):
        self.entry, self.log, self.parts = entry, log, []

    def write(self, data: bytes) -> None:
        self.parts.append(bytes(data))

    def wants_more(self) -> bool:
        return True

    def finish(self, sha256: str, size: int) -> None:
        self.log[self.entry.name] = (b"".join(self.parts), sha256, size)

    def abort(self) -> None:
        self.log[self.entry.name] = "aborted"


def test_sink_receives_each_chosen_entry_once_verified(sample):
    log: dict[str, object] = {}
    hash_entries(open_bytes(sample), workers=2, sink=lambda e: Recorder(e, log) if e.name.endswith(".dll") else None)
    assert set(log) == {"lib/A.dll", "lib/X.dll"}
    for name in log:
        data, sha, size = log[name]
        assert data == SAMPLE_FILES[name] and (sha, size) == expected_digests()[name]


def test_sink_is_aborted_and_the_first_bad_entry_is_reported(layout):
    for index in (A_DLL, README):  # two bad entries: the error names the first in archive order
        layout.locals[index].data = b"\xff" * len(layout.locals[index].data)
    pkg = open_bytes(layout.build())
    for workers in (1, 2, 3):
        log: dict[str, object] = {}
        with pytest.raises(VerificationError, match=r"entry 3 \(lib/A\.dll\)"):
            hash_entries(pkg, workers=workers, sink=lambda e, log=log: Recorder(e, log))
        assert log["lib/A.dll"] == "aborted"


def test_check_sink_copies_then_deletes(tmp_path, sample):
    """verify's sink for an entry check that wants whole files: a temp copy per entry, handed
    to the check once its sha256 matched, deleted right after (disk stays bounded)."""
    from b2release.verification.package import _CheckSink

    seen = {}

    class WantsEveryFile:
        head_bytes = first_bytes = 64

        def head_length(self, start: bytes) -> int:
            return 64

        def wants_file(self, head: bytes, size: int) -> bool:
            return True

        def check(self, name: str, head: bytes, size: int, temp_path: Path | None) -> None:
            assert temp_path is not None
            seen[name] = (temp_path.read_bytes(), size)

    def mismatch(name: str, digest: str) -> VerificationError:
        return VerificationError(f"{name}: sha256 {digest}")

    pkg = open_bytes(sample)
    hash_entries(pkg, sink=lambda e: _CheckSink(WantsEveryFile(), e, tmp_path / f"entry-{e.index}",
                                                hashlib.sha256(SAMPLE_FILES[e.name]).hexdigest(), mismatch))
    assert {n: d for n, (d, _) in seen.items()} == SAMPLE_FILES
    assert not list(tmp_path.glob("entry-*"))
