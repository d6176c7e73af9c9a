"""Local log files: gzip or plain, resource or classic format, auto-detected per file."""

from __future__ import annotations

import gzip
import io
import re
from pathlib import Path
from typing import IO, Iterable, Iterator

from b2release.accesslogs import classic, resourcelogs
from b2release.accesslogs.model import ParseProblem, Request
from b2release.errors import InputError, UsageError

FORMATS = ("auto", resourcelogs.FORMAT, classic.FORMAT)
_GZIP_MAGIC = b"\x1f\x8b"
_CLASSIC_START = re.compile(r"^\d+\.\d+;")


def _open_text(path: Path) -> IO[str]:
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot read log file {path}: {exc.strerror}") from None
    magic = raw.read(2)
    raw.seek(0)
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if magic == _GZIP_MAGIC else raw
    # Log content is not ours: undecodable bytes must not stop the audit.
    return io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")


def detect_format(first_line: str, path: Path) -> str:
    text = first_line.lstrip("\ufeff").strip()
    if text.startswith(("{", "[")):
        return resourcelogs.FORMAT
    if _CLASSIC_START.match(text):
        return classic.FORMAT
    # Never quote the line: it may be a request URL with a SAS.
    raise InputError(f"cannot tell the log format of {path} from its first line; "
                     f"pass the format explicitly ({resourcelogs.FORMAT} or {classic.FORMAT})")


def log_files(paths: Iterable[Path | str]) -> list[Path]:
    """Files named, and every file under folders named, in a stable order."""
    files: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file()))
        elif path.exists():
            files.append(path)
        else:
            raise InputError(f"log file {path} does not exist")
    return files


def _lines_of(path: Path) -> Iterator[str]:
    with _open_text(path) as fh:
        try:
            yield from fh
        except (OSError, EOFError) as exc:  # a damaged gzip member
            raise InputError(f"cannot read log file {path}: {exc}") from None


def read_file(path: Path, fmt: str = "auto") -> Iterator[Request | ParseProblem]:
    if fmt not in FORMATS:
        raise UsageError(f"unknown log format {fmt!r}: use one of {', '.join(FORMATS)}")
    lines = _lines_of(path)
    if fmt == "auto":
        head: list[str] = []
        for line in lines:
            head.append(line)
            if line.strip():
                break
        if not any(line.strip() for line in head):
            return
        fmt = detect_format(head[-1], path)
        lines = _chain(head, lines)
    parser = resourcelogs.parse_lines if fmt == resourcelogs.FORMAT else classic.parse_lines
    yield from parser(lines, str(path))


def _chain(head: list[str], rest: Iterator[str]) -> Iterator[str]:
    yield from head
    yield from rest


def read_requests(paths: Iterable[Path | str], fmt: str = "auto") -> Iterator[Request | ParseProblem]:
    """Every request (or unreadable line) in the given files and folders, file by file."""
    for path in log_files(paths):
        yield from read_file(path, fmt)
