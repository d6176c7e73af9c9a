"""Where the package writer keeps compressed bytes between preparing and writing entries.

Entries are compressed on all cores in whatever order finishes first, but the zip holds
them in name order, after the manifest (which needs every digest): so compressed bytes
go to spool files first and are copied into the zip once all are known. That copy is
done by the kernel (`os.copy_file_range`) where it can be: no round trip through Python,
which on a 1.5 GB package took 5 s of system time against 1 s (measured). Elsewhere
(other systems, file systems that refuse it, an in-memory output) bytes are copied in chunks.
"""

from __future__ import annotations

import errno
import io
import os
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from b2release.errors import InputError

CHUNK = 1 << 20
# The kernel could not copy between these files: copy in user space instead.
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF}


def new_spool_file(spool_dir: Path) -> tuple[int, str]:
    return tempfile.mkstemp(prefix="spool-", suffix=".deflate", dir=spool_dir)


class Spool:
    """One append-only file for the compressed bytes of many entries (thread-safe)."""

    def __init__(self, spool_dir: Path):
        fd, path = new_spool_file(spool_dir)
        self.path = Path(path)
        self._fh = os.fdopen(fd, "wb")
        self._lock = threading.Lock()
        self._offset = 0

    def append(self, data: bytes | bytearray | memoryview) -> int:
        with self._lock:
            offset = self._offset
            self._fh.write(data)
            self._offset += len(data)
            return offset

    def close(self) -> None:
        self._fh.close()


class Budget:
    """Counts bytes held in memory; a holder waits until its share fits (one holder always fits)."""

    def __init__(self, limit: int):
        self._limit = limit
        self._used = 0
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, amount: int) -> Iterator[None]:
        amount = min(amount, self._limit)
        with self._cond:
            self._cond.wait_for(lambda: self._used + amount <= self._limit)
            self._used += amount
        try:
            yield
        finally:
            with self._cond:
                self._used -= amount
                self._cond.notify_all()


def _fileno(out: BinaryIO) -> int | None:
    try:
        return out.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None


class SpoolReader:
    """Copies ranges of spool files into the zip; keeps each spool open across entries."""

    def __init__(self) -> None:
        self._open: dict[Path, int] = {}
        self._kernel_copy = hasattr(os, "copy_file_range")

    def copy(self, spool: Path, offset: int, length: int, out: BinaryIO) -> None:
        src = self._open.get(spool)
        if src is None:
            src = self._open[spool] = os.open(spool, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        target = _fileno(out) if self._kernel_copy else None
        if target is not None:
            out.flush()  # the kernel writes at the file's position: Python's buffer goes first
            try:
                self._kernel(src, offset, length, target, spool)
                return
            except OSError as exc:
                if exc.errno not in _NO_KERNEL_COPY:
                    raise
                self._kernel_copy = False  # nothing was copied (see _kernel): copy below
        while length > 0:
            chunk = _pread(src, min(CHUNK, length), offset)
            if not chunk:
                raise _truncated(spool)
            out.write(chunk)
            offset += len(chunk)
            length -= len(chunk)

    @staticmethod
    def _kernel(src: int, offset: int, length: int, target: int, spool: Path) -> None:
        first = True
        while length > 0:
            try:
                copied = os.copy_file_range(src, target, length, offset)
            except OSError:
                if first:
                    raise  # nothing copied yet: the caller may still copy in user space
                raise InputError(f"copying {spool} into the package failed; package again") from None
            if copied == 0:
                raise _truncated(spool)
            first = False
            offset += copied
            length -= copied

    def close(self) -> None:
        for fd in self._open.values():
            os.close(fd)
        self._open.clear()


def _pread(fd: int, length: int, offset: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, length, offset)
    os.lseek(fd, offset, os.SEEK_SET)  # pragma: no cover - Windows; the writer is one thread
    return os.read(fd, length)


def _truncated(spool: Path) -> InputError:
    return InputError(f"spool file {spool} is truncated; package again")
