"""The inflater verify uses, and the two ways it reads a deflate stream.

zlib-ng's inflate (~1.7x zlib's speed, the same checks) and libdeflate's CRC-32 (~10x
zlib's) when installed, as the writer uses them; plain zlib otherwise, so verify runs on any
Python.
"""

from __future__ import annotations

import zlib
from typing import Callable, Iterable, Iterator

from b2release.errors import VerificationError
from b2release.formats.zip_layout import OUT_CHUNK

try:
    from deflate import crc32
    from zlib_ng import zlib_ng as _lib
except ImportError:  # pragma: no cover - verify works without them
    crc32, _lib = zlib.crc32, zlib

__all__ = ["crc32", "inflate", "inflate_head"]


def inflate(pieces: Iterable[bytes], broken: Callable[[str], VerificationError]) -> Iterator[bytes]:
    """The whole raw deflate stream of `pieces`, at most OUT_CHUNK bytes at a time; anything
    but exactly one complete stream raises `broken(why)`."""
    inflater = _lib.decompressobj(-15)
    for piece in pieces:
        if inflater.eof:
            raise broken("bytes after the end of the deflate stream")
        data = piece
        while True:
            try:
                out = inflater.decompress(data, OUT_CHUNK)
            except _lib.error as exc:
                raise broken(str(exc)) from None
            if out:
                yield out
            data = inflater.unconsumed_tail
            if inflater.eof:
                if data or inflater.unused_data:
                    raise broken("bytes after the end of the deflate stream")
                break
            # Output capped at OUT_CHUNK: more may be pending even when all input was taken.
            if not data and len(out) < OUT_CHUNK:
                break
    if not inflater.eof:
        raise broken("the deflate stream is truncated")


def inflate_head(pieces: Iterable[bytes], limit: int) -> bytes:
    """The first `limit` bytes of a raw deflate stream, inflating no more than that. Unchecked:
    for a stream known good by other means (archive_hash's twins)."""
    inflater = _lib.decompressobj(-15)
    out = bytearray()
    for piece in pieces:
        data = piece
        while data and len(out) < limit and not inflater.eof:
            out += inflater.decompress(data, limit - len(out))
            data = inflater.unconsumed_tail
        if len(out) >= limit or inflater.eof:
            break
    return bytes(out[:limit])
