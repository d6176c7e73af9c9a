"""Windows PE detection and the Authenticode security directory, from the headers alone.

A file is a PE image when it starts with the DOS "MZ" header whose e_lfanew points at a
"PE\\0\\0" signature followed by a COFF header and a PE32 / PE32+ optional header. The
extension does not matter: a renamed DLL is still loaded by Windows, so it must be signed.
Only the headers are read (a few KiB), never the whole file.

An Authenticode signature lives in the optional header's data directory 4 (the
"certificate table"): a non-zero file offset and size there means the file carries a
signature. Whether that signature is *valid* is osslsigncode's / signtool's job.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

HEADER_READ = 4096  # DOS header + stub + PE headers fit in the first page of real images
MAX_LFANEW = 1 << 16
PE32_MAGIC = 0x10B
PE32PLUS_MAGIC = 0x20B
DIR_SECURITY = 4
DIR_CLR = 14
IMAGE_FILE_DLL = 0x2000


@dataclass(frozen=True)
class PEInfo:
    machine: int
    pe32plus: bool
    dll: bool
    dotnet: bool  # has a CLR (.NET) header
    security_offset: int
    security_size: int
    size: int

    @property
    def signed(self) -> bool:
        """True when the certificate table is present (says nothing about validity)."""
        return self.security_offset > 0 and self.security_size > 0


def parse_headers(head: bytes, size: int) -> PEInfo | None:
    """PEInfo from the first bytes of a file of `size` bytes; None if it is not a PE image."""
    if len(head) < 0x40 or head[:2] != b"MZ":
        return None
    (lfanew,) = struct.unpack_from("<I", head, 0x3C)
    if lfanew < 0x40 or lfanew > MAX_LFANEW or lfanew + 24 > len(head):
        return None
    if head[lfanew:lfanew + 4] != b"PE\0\0":
        return None
    machine, _sections, _ts, _sym, _nsym, opt_size, characteristics = struct.unpack_from("<HHIIIHH", head, lfanew + 4)
    opt = lfanew + 24
    if opt_size < 2 or opt + 2 > len(head):
        return None
    (magic,) = struct.unpack_from("<H", head, opt)
    if magic == PE32_MAGIC:
        count_at, dirs_at = opt + 92, opt + 96
    elif magic == PE32PLUS_MAGIC:
        count_at, dirs_at = opt + 108, opt + 112
    else:
        return None
    if count_at + 4 > len(head) or count_at + 4 > opt + opt_size:
        return None
    (dir_count,) = struct.unpack_from("<I", head, count_at)

    def directory(index: int) -> tuple[int, int]:
        at = dirs_at + 8 * index
        if index >= dir_count or at + 8 > len(head) or at + 8 > opt + opt_size:
            return 0, 0
        return struct.unpack_from("<II", head, at)

    sec_offset, sec_size = directory(DIR_SECURITY)
    # A certificate table pointing outside the file is not a signature we could check.
    if sec_offset + sec_size > size:
        sec_offset, sec_size = 0, 0
    clr_rva, clr_size = directory(DIR_CLR)
    return PEInfo(
        machine=machine,
        pe32plus=magic == PE32PLUS_MAGIC,
        dll=bool(characteristics & IMAGE_FILE_DLL),
        dotnet=clr_rva > 0 and clr_size > 0,
        security_offset=sec_offset,
        security_size=sec_size,
        size=size,
    )


# The most of a file's start that `inspect` reads: enough for the longest DOS stub it follows.
MAX_HEAD = MAX_LFANEW + 1024


def head_length(start: bytes) -> int:
    """How much of a file's first bytes `inspect` reads, given at least its first HEADER_READ bytes."""
    if len(start) >= 0x40 and start[:2] == b"MZ":
        (lfanew,) = struct.unpack_from("<I", start, 0x3C)
        if HEADER_READ - 1024 < lfanew <= MAX_LFANEW:  # unusually long DOS stub
            return lfanew + 1024
    return HEADER_READ


def inspect_head(start: bytes, size: int) -> PEInfo | None:
    """`inspect` of a file of `size` bytes from its first bytes (at least `head_length(start)` of
    them, or the whole file): what verify uses on an entry it streams rather than extracts."""
    return parse_headers(start[:head_length(start)], size)


def inspect(path: Path | str) -> PEInfo | None:
    """PEInfo for a PE file, None for anything else (including unreadable special files)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEADER_READ)
            wanted = head_length(head)
            if wanted > HEADER_READ:
                fh.seek(0)
                head = fh.read(wanted)
            size = fh.seek(0, 2)
    except (IsADirectoryError, FileNotFoundError):
        return None
    return parse_headers(head, size)


def is_pe(path: Path | str) -> bool:
    return inspect(path) is not None


def has_signature(path: Path | str) -> bool:
    info = inspect(path)
    return info is not None and info.signed
