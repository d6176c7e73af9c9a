import io
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from b2release.formats import archive


def _zip(files: dict[str, bytes], tmp_path: Path, epoch: int = 1700000000, workers: int = 2) -> bytes:
    src = tmp_path / "src"
    spool = tmp_path / "spool"
    src.mkdir(parents=True, exist_ok=True)
    spool.mkdir(parents=True, exist_ok=True)
    pairs = []
    for name, data in files.items():
        path = src / name.replace("/", "_")
        path.write_bytes(data)
        pairs.append((name, path))
    entries = archive.prepare_files(pairs, spool, workers=workers)
    out = io.BytesIO()
    archive.write(out, entries, epoch)
    return out.getvalue()


def test_zip_is_readable_by_zipfile_and_unzip(tmp_path):
    files = {"b/readme.txt": b"hello " * 1000, "a.bin": os.urandom(5000), "c/\u00e9t\u00e9.txt": b"utf8 name"}
    data = _zip(files, tmp_path)
    target = tmp_path / "out.zip"
    target.write_bytes(data)
    with zipfile.ZipFile(target) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == sorted(files)  # sorted entries
        for name, content in files.items():
            assert zf.read(name) == content
        infos = {i.filename: i for i in zf.infolist()}
        assert infos["b/readme.txt"].compress_type == zipfile.ZIP_DEFLATED  # compressible: deflated
        assert infos["a.bin"].compress_type == zipfile.ZIP_STORED  # random: stored
        assert all(i.date_time == (2023, 11, 14, 22, 13, 20) for i in zf.infolist())
        assert all((i.external_attr >> 16) == 0o100644 for i in zf.infolist())
    proc = subprocess.run(["unzip", "-t", str(target)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_same_input_same_bytes_regardless_of_worker_count(tmp_path):
    files = {f"f{i}.txt": (b"x%d" % i) * 3000 for i in range(6)}
    one = _zip(files, tmp_path / "one", workers=1)
    two = _zip(files, tmp_path / "two", workers=4)
    assert one == two


def test_dos_time_clamps_to_1980():
    assert archive.dos_datetime(0) == archive.dos_datetime(315532800)


def test_stored_entry_changed_between_hash_and_write_is_refused(tmp_path):
    src = tmp_path / "r.bin"
    src.write_bytes(os.urandom(4096))
    (tmp_path / "spool").mkdir()
    entry = archive.prepare_file("r.bin", src, tmp_path / "spool")
    assert entry.method == archive.STORED
    src.write_bytes(os.urandom(4096))
    from b2release.errors import InputError

    with pytest.raises(InputError, match="changed while it was being packaged"):
        archive.write(io.BytesIO(), [entry], 1700000000)
