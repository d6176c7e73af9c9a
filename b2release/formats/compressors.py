"""The pinned compressors packages are made with, and the rules that pick one per file.

Package bytes depend on the exact compressor, so both libraries are pinned in pyproject.toml
and `COMPRESSOR` (the manifest's `packaging.compressor`) names them with their levels:

- libdeflate at `LEVEL` for files up to `LARGE_FILE` bytes, compressed whole: on .NET/Mono
  assemblies ~3x zlib's speed, and the fastest level whose package is no larger than
  Info-ZIP's `zip -6` (measured on the benchmark corpus: level 4 is 0.7% larger than
  Info-ZIP, level 5 1.3% smaller);
- zlib-ng at `STREAM_LEVEL` for larger files, streamed in chunks (libdeflate has no
  streaming API), so memory stays flat whatever the file size; a large file whose first
  MiB libdeflate at `PROBE_LEVEL` cannot shrink is stored without deflating the rest
  (`shrinks`): compressed or encrypted data costs a full deflate pass for nothing, 4 of
  the 2 GiB benchmark's 24 large files (7 s of CPU time);
- any entry deflate does not shrink is stored.

libdeflate (the `deflate` package), zlib-ng, hashlib and file reads all release the GIL, so
the package writer's worker threads compress on every core at once.
"""

from __future__ import annotations

import deflate
from zlib_ng import zlib_ng

__all__ = ["COMPRESSOR", "LARGE_FILE", "LEVEL", "PROBE_LEVEL", "STREAM_LEVEL", "compress", "crc32", "shrinks",
           "stream_compressor"]

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


def compress(data: bytes, level: int = LEVEL) -> bytes:
    """Raw deflate of `data` with libdeflate at `level` (the call releases the GIL)."""
    return deflate.deflate_compress(data, level)


def crc32(data: bytes, value: int = 0) -> int:
    return deflate.crc32(data, value)


def shrinks(start: bytes) -> bool:
    """Whether libdeflate at PROBE_LEVEL makes the first bytes of a large file smaller."""
    return len(compress(start, PROBE_LEVEL)) < len(start)


def stream_compressor():
    """A raw-deflate zlib-ng compressor for one large file (`compress(chunk)`, then `flush()`)."""
    return zlib_ng.compressobj(STREAM_LEVEL, zlib_ng.DEFLATED, -15)
