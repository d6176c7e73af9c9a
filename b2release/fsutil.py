"""Small filesystem helpers: streaming digests and atomic writes."""

from __future__ import annotations

import hashlib
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

CHUNK = 1 << 20


def sha256_file(path: Path | str) -> tuple[str, int]:
    """Return (hex sha256, size) of a file, reading it in chunks (flat memory)."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_digest(root: Path, files: Iterable[Path]) -> str:
    """sha256 over each file's path (relative to root), size and content: a tree's fingerprint.

    Files are hashed on every core (reads and hashlib release the GIL): a release's
    fingerprint of its input folder otherwise took a fifth of packaging it."""
    files = list(files)
    digest = hashlib.sha256()
    with ThreadPoolExecutor(max_workers=max(1, min(os.cpu_count() or 1, len(files))),
                            thread_name_prefix="digest") as pool:
        for file, (file_digest, size) in zip(files, pool.map(sha256_file, files), strict=True):
            digest.update(f"{Path(file).relative_to(root).as_posix()}\0{size}\0{file_digest}\0".encode())
    return digest.hexdigest()


def path_digest(path: Path | None) -> str:
    """A file by its content, a folder by every file in it, else "missing" (or "" for no path)."""
    if path is None:
        return ""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)[0]
    if path.is_dir():
        return files_digest(path, sorted(p for p in path.rglob("*") if p.is_file()))
    return "missing"


@contextmanager
def atomic_writer(path: Path | str, mode: int = 0o644) -> Iterator[BinaryIO]:
    """Write to a temp file next to `path`, fsync, then rename over it.

    A crash leaves either the old file or the new one, never a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_bytes(path: Path | str, data: bytes, mode: int = 0o644) -> None:
    with atomic_writer(path, mode) as fh:
        fh.write(data)


def temp_path_beside(path: Path) -> Path:
    """A fresh temp file name in the same directory (so a later rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)
