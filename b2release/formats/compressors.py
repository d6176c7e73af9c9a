"""The pinned compressors packages are made with, called so that every core can work at once.

Package bytes depend on the exact compressor, so both libraries are pinned in pyproject.toml
and `COMPRESSOR` (the manifest's `packaging.compressor`) names them with their levels:

- libdeflate at `LEVEL` for files up to `LARGE_FILE` bytes, compressed whole: on .NET/Mono
  assemblies ~3x zlib's speed, and the fastest level whose package is no larger than
  Info-ZIP's `zip -6` (measured on the benchmark corpus: level 4 is 0.5% larger than
  Info-ZIP, level 5 1.3% smaller);
- zlib-ng at `STREAM_LEVEL` for larger files, streamed in chunks (libdeflate has no
  streaming API), so memory stays flat whatever the file size; a large file whose first
  MiB libdeflate at `PROBE_LEVEL` cannot shrink is stored without deflating the rest
  (`shrinks`): compressed or encrypted data costs a full deflate pass for nothing, 4 of
  the 2 GiB benchmark's 24 large files (7 s of CPU time);
- any entry deflate does not shrink is stored.

Why ctypes: the `deflate` package holds the GIL while libdeflate compresses, so threads
ran no faster than one (measured). ctypes releases the GIL around a foreign call, so this
module calls the same libdeflate entry points in the same extension module directly: the
same code, hence the same bytes, on every core. Where that extension does not export
them (a build with hidden symbols), `deflate.deflate_compress` is used: same bytes, one
core. zlib-ng, hashlib and the file reads release the GIL themselves.
"""

from __future__ import annotations

import ctypes
import threading

import deflate
from zlib_ng import zlib_ng

__all__ = ["COMPRESSOR", "LARGE_FILE", "LEVEL", "PROBE_LEVEL", "STREAM_LEVEL", "compress", "crc32", "parallel",
           "shrinks", "stream_compressor"]

LEVEL = 5
STREAM_LEVEL = 6  # zlib-ng level 6: within 1.3% of zlib's size at 2.6x its speed
LARGE_FILE = 32 << 20  # above this, a file is deflated as a stream (zlib-ng) instead of whole (libdeflate)
PROBE_LEVEL = 1  # libdeflate level that decides whether a large file is worth deflating (`shrinks`)

# The `deflate` package bundles libdeflate and does not export its version: this maps the
# package versions we know to the libdeflate they bundle (read from each sdist's libdeflate.h).
_BUNDLED_LIBDEFLATE = {"0.9.0": "1.26"}
LIBDEFLATE_VERSION = _BUNDLED_LIBDEFLATE.get(deflate.__version__, f"bundled by deflate {deflate.__version__}")
ZLIBNG_VERSION = zlib_ng.ZLIBNG_VERSION
COMPRESSOR = (
    f"libdeflate {LIBDEFLATE_VERSION} level {LEVEL} (python deflate {deflate.__version__}); "
    f"files over {LARGE_FILE >> 20} MiB: zlib-ng {ZLIBNG_VERSION} level {STREAM_LEVEL}, streamed, "
    f"or stored when libdeflate level {PROBE_LEVEL} does not shrink their first MiB; stored if not smaller"
)


class _Libdeflate:
    """libdeflate's C entry points in the `deflate` extension, one compressor per thread and level."""

    def __init__(self, lib: ctypes.CDLL):
        self._alloc = lib.libdeflate_alloc_compressor
        self._alloc.argtypes, self._alloc.restype = [ctypes.c_int], ctypes.c_void_p
        self._free = lib.libdeflate_free_compressor
        self._free.argtypes, self._free.restype = [ctypes.c_void_p], None
        self._bound = lib.libdeflate_deflate_compress_bound
        self._bound.argtypes, self._bound.restype = [ctypes.c_void_p, ctypes.c_size_t], ctypes.c_size_t
        self._compress = lib.libdeflate_deflate_compress
        self._compress.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p,
                                   ctypes.c_size_t]
        self._compress.restype = ctypes.c_size_t
        self._crc32 = lib.libdeflate_crc32
        self._crc32.argtypes, self._crc32.restype = [ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t], ctypes.c_uint32
        self._local = threading.local()

    def _handle(self, level: int) -> int:
        """This thread's compressor for `level` (a compressor is not thread-safe; allocating one costs ~1 MB)."""
        owned = getattr(self._local, "compressors", None)
        if owned is None:
            owned = self._local.compressors = {}
        compressor = owned.get(level)
        if compressor is None:
            handle = self._alloc(level)
            if not handle:
                raise MemoryError("libdeflate could not allocate a compressor")
            compressor = owned[level] = _Compressor(handle, self._free)
        return compressor.handle

    def compress(self, data: bytes, level: int) -> memoryview:
        handle = self._handle(level)
        bound = self._bound(handle, len(data))
        # A fresh buffer per call, released with the result: a buffer kept per thread would
        # hold up to 32 MiB per worker outside the caller's memory budget.
        buffer = bytearray(bound)
        size = self._compress(handle, data, len(data), (ctypes.c_char * bound).from_buffer(buffer), bound)
        if size == 0 and data:
            raise RuntimeError("libdeflate found no room for the compressed data")  # the bound rules this out
        return memoryview(buffer)[:size]

    def crc32(self, data: bytes, value: int = 0) -> int:
        return self._crc32(value, data, len(data))


class _Compressor:
    """A libdeflate compressor, freed when its thread's locals go."""

    def __init__(self, handle: int, free) -> None:
        self.handle = handle
        self._free = free

    def __del__(self) -> None:
        self._free(self.handle)


def _load() -> _Libdeflate | None:
    try:
        return _Libdeflate(ctypes.CDLL(deflate._deflate.__file__))
    except (OSError, AttributeError):  # no such symbols in this build: the package's own calls
        return None


_LIB = _load()


def parallel() -> bool:
    """Whether whole-file compression runs on several cores at once (see the module doc)."""
    return _LIB is not None


def compress(data: bytes, level: int = LEVEL) -> bytes | memoryview:
    """Raw deflate of `data` with libdeflate at `level`; identical bytes on either path."""
    if _LIB is not None:
        return _LIB.compress(bytes(data), level)
    return deflate.deflate_compress(data, level)


def crc32(data: bytes, value: int = 0) -> int:
    if _LIB is not None and isinstance(data, bytes):
        return _LIB.crc32(data, value)
    return deflate.crc32(data, value)


def shrinks(start: bytes) -> bool:
    """Whether libdeflate at PROBE_LEVEL makes the first bytes of a large file smaller."""
    return len(compress(start, PROBE_LEVEL)) < len(start)


def stream_compressor():
    """A raw-deflate zlib-ng compressor for one large file (`compress(chunk)`, then `flush()`)."""
    return zlib_ng.compressobj(STREAM_LEVEL, zlib_ng.DEFLATED, -15)
