"""The pinned compressors (formats/compressors.py) used from many threads, the rule that
stores incompressible large files, and the spool copy (formats/spool.py): the same zip
whatever path the bytes take."""

from __future__ import annotations

import errno
import io
import os
import random
import threading
from pathlib import Path

import deflate
import pytest

from b2release.formats import archive, compressors, spool
from b2release.formats.archive_reader import PackageArchive
from tests.formats.zipkit import pe_like, prng_bytes, text_like


def test_threads_compress_independently():
    # The writer compresses on all cores at once: every thread must get the bytes one thread gets.
    data = [pe_like(f"t{i}", 400_000) for i in range(8)]
    expected = [deflate.deflate_compress(d, compressors.LEVEL) for d in data]
    results: dict[int, list[bytes]] = {}

    def work(worker: int) -> None:
        order = list(range(len(data)))
        random.Random(worker).shuffle(order)
        results[worker] = [b""] * len(data)
        for i in order:
            results[worker][i] = bytes(compressors.compress(data[i], compressors.LEVEL))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[w] == expected for w in range(4))


def _package(tmp_path: Path, files: dict[str, bytes], large_file: int) -> tuple[list[archive.Entry], bytes]:
    (tmp_path / "spool").mkdir(exist_ok=True)
    pairs = []
    for i, (name, data) in enumerate(files.items()):
        (tmp_path / f"f{i}").write_bytes(data)
        pairs.append((name, tmp_path / f"f{i}"))
    entries = archive.prepare_files(pairs, tmp_path / "spool", large_file=large_file)
    out = io.BytesIO()
    archive.write(out, entries, 1700000000)
    return entries, out.getvalue()


def test_large_file_starting_incompressible_is_stored_without_deflating(tmp_path):
    mixed = prng_bytes("head", 1 << 20) + text_like("tail", 3 << 20)  # would shrink as a whole
    files = {"mixed.bin": mixed, "text.bin": text_like("all", 3 << 20)}
    entries, data = _package(tmp_path, files, large_file=1 << 20)
    methods = {e.name: e.method for e in entries}
    assert methods == {"mixed.bin": archive.STORED, "text.bin": archive.DEFLATED}
    with PackageArchive.from_bytes(data) as pkg:
        assert {e.name: b"".join(pkg.stream(e)) for e in pkg.entries} == files


@pytest.mark.parametrize("refusal", [errno.EXDEV, errno.ENOSYS, None])
def test_kernel_copy_and_user_space_copy_write_the_same_zip(tmp_path, monkeypatch, refusal):
    files = {f"lib/{i}.dll": pe_like(f"k{i}", 300_000 + i) for i in range(5)}
    files["random.bin"] = prng_bytes("k", 100_000)  # stored: copied from its source
    entries, in_memory = _package(tmp_path, files, large_file=archive.LARGE_FILE)
    calls = []
    real = getattr(os, "copy_file_range", None)

    def copy_file_range(*args):
        calls.append(args)
        if refusal is not None:
            raise OSError(refusal, os.strerror(refusal))
        return real(*args)

    if real is None:
        pytest.skip("no copy_file_range on this system")
    monkeypatch.setattr(spool.os, "copy_file_range", copy_file_range)
    with open(tmp_path / "out.zip", "wb") as out:
        archive.write(out, entries, 1700000000)
    assert calls  # the kernel was asked, and when it refused, the copy went on in user space
    assert (tmp_path / "out.zip").read_bytes() == in_memory
    if refusal is not None:
        assert len(calls) == 1  # refused once: not asked again for every entry


def test_a_failure_after_part_of_a_kernel_copy_is_an_error(tmp_path, monkeypatch):
    entries, _ = _package(tmp_path, {"a.dll": pe_like("p", 2_000_000)}, large_file=archive.LARGE_FILE)
    real = os.copy_file_range
    state = {"n": 0}

    def flaky(src, dst, count, offset):
        state["n"] += 1
        if state["n"] > 1:
            raise OSError(errno.EIO, "I/O error")
        return real(src, dst, min(count, 4096), offset)

    monkeypatch.setattr(spool.os, "copy_file_range", flaky)
    from b2release.errors import InputError

    with open(tmp_path / "out.zip", "wb") as out, pytest.raises(InputError, match="package again"):
        archive.write(out, entries, 1700000000)
