"""b2release.fsutil: streaming digests and atomic writes that never leave half a file."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from b2release import fsutil
from b2release.fsutil import atomic_write_bytes, atomic_writer, sha256_bytes, sha256_file, temp_path_beside


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_sha256_file_equals_hashlib_on_a_multi_chunk_file(tmp_path):
    data = os.urandom(fsutil.CHUNK * 2 + 12345)  # two full chunks and a partial one
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert sha256_file(path) == (hashlib.sha256(data).hexdigest(), len(data))
    assert sha256_file(str(path)) == sha256_file(path)


def test_sha256_file_of_an_empty_file(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    assert sha256_file(tmp_path / "empty") == (hashlib.sha256(b"").hexdigest(), 0)


def test_sha256_file_reads_in_chunks(tmp_path, monkeypatch):
    """Flat memory: no read asks for more than CHUNK bytes, however large the file."""
    monkeypatch.setattr(fsutil, "CHUNK", 1000)
    data = os.urandom(10_500)
    (tmp_path / "f").write_bytes(data)
    sizes: list[int] = []
    real_open = open

    class Recorder:
        def __init__(self, fh):
            self.fh = fh

        def read(self, n: int = -1) -> bytes:
            sizes.append(n)
            return self.fh.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    monkeypatch.setattr(fsutil, "open", lambda *a, **kw: Recorder(real_open(*a, **kw)), raising=False)
    assert sha256_file(tmp_path / "f") == (hashlib.sha256(data).hexdigest(), len(data))
    assert sizes and all(0 < n <= 1000 for n in sizes)
    assert len(sizes) == 12  # 10 full chunks, a partial one, and the empty read that ends the loop


def test_sha256_bytes():
    assert sha256_bytes(b"abc") == hashlib.sha256(b"abc").hexdigest()


def test_atomic_write_creates_parents_sets_mode_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "a" / "b" / "out.json"
    atomic_write_bytes(target, b"new", mode=0o600)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert leftovers(target.parent) == []


def test_atomic_write_default_mode_ignores_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        atomic_write_bytes(tmp_path / "out", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o644


def test_atomic_write_replaces_an_existing_file(tmp_path):
    target = tmp_path / "out"
    target.write_bytes(b"old content that is longer")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failing_writer_keeps_the_old_file_and_removes_its_temp_file(tmp_path, error):
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    with pytest.raises(type(error)):
        with atomic_writer(target) as fh:
            fh.write(b"half of the new")
            assert leftovers(tmp_path) != []  # the bytes go to a temp file beside the target
            raise error
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_a_failing_writer_creates_no_file_where_there_was_none(tmp_path):
    with pytest.raises(ValueError):
        with atomic_writer(tmp_path / "new.json") as fh:
            fh.write(b"x")
            raise ValueError("bad")
    assert list(tmp_path.iterdir()) == []


def test_the_target_changes_only_when_the_writer_finishes(tmp_path):
    target = tmp_path / "out"
    target.write_bytes(b"old")
    with atomic_writer(target) as fh:
        fh.write(b"new")
        fh.flush()
        assert target.read_bytes() == b"old"  # readers see the old file until the rename
    assert target.read_bytes() == b"new"


def test_temp_path_beside_is_a_fresh_file_in_the_same_folder(tmp_path):
    target = tmp_path / "sub" / "package.zip"
    first, second = temp_path_beside(target), temp_path_beside(target)
    assert first.parent == second.parent == target.parent
    assert first != second
    assert first.is_file() and first.stat().st_size == 0  # reserved, so no other caller gets the name
    assert first.name.startswith(".package.zip.") and first.name.endswith(".tmp")
    assert not target.exists()
