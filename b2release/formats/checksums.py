"""SHA256SUMS: `sha256sum -c` compatible, `<hex>  <name>` lines, LF, sorted by name."""

from __future__ import annotations

import re
from pathlib import Path

from b2release.errors import VerificationError
from b2release.formats.names import entry_path_problem
from b2release.fsutil import atomic_write_bytes

MAX_NAME_BYTES = 255  # what file systems hold in one path component

_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


def render(entries: dict[str, str]) -> bytes:
    for name in entries:
        if "/" in name or "\n" in name or "\\" in name:
            raise ValueError(f"checksum entry must be a plain file name: {name!r}")
    return "".join(f"{entries[name]}  {name}\n" for name in sorted(entries)).encode("utf-8")


def parse(data: bytes, source: str = "SHA256SUMS") -> dict[str, str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise VerificationError(f"{source} is not UTF-8 text") from None
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _LINE.fullmatch(line)
        if not match:
            raise VerificationError(f"{source} line {number} is not '<sha256>  <name>'")
        digest, name = match.groups()
        if "/" in name or "\\" in name or name in (".", ".."):
            raise VerificationError(f"{source} line {number} names a path outside the folder: {name!r}")
        problem = entry_path_problem(name) or ("is longer than a file name may be (255 bytes)"
                                               if len(name.encode("utf-8")) > MAX_NAME_BYTES else None)
        if problem:
            raise VerificationError(f"{source} line {number}: file name {name[:80]!r} {problem}")
        if name in entries:
            raise VerificationError(f"{source} lists {name} twice")
        entries[name] = digest
    return entries


def write_path(path: Path, entries: dict[str, str]) -> None:
    atomic_write_bytes(path, render(entries))
