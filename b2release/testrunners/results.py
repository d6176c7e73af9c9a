"""Test results, runner-independent: the model, and a safe streaming reader of result files.

Every runner's native result file (NUnit 2.5/2.6, NUnit 3, xUnit.net v2, VSTest TRX) is
read into `Case`s by `b2release.testrunners.parsers`; `junit.py` writes them as the one
JUnit XML file CI systems render.

Result files are written by the tests' own process, so they are read defensively:
* at most MAX_RESULT_BYTES, streamed (XMLPullParser; elements cleared once read), so a
  huge file costs time, not memory;
* no DTD: a document type declaration (the only place entities can be declared, the
  vehicle of entity expansion attacks) is refused before parsing. expat never fetches
  external entities;
* every text kept is cut at MAX_TEXT characters and stripped of characters XML 1.0
  cannot hold.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from b2release.errors import ToolError

MAX_RESULT_BYTES = 512 * 1024 * 1024
MAX_TEXT = 16 * 1024
_CHUNK = 1 << 16
_PROLOG_LIMIT = 1 << 16
PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(text: str | None, limit: int = MAX_TEXT) -> str:
    """Text fit for an XML document and a log line: no control characters, bounded length."""
    if not text:
        return ""
    text = _NOT_XML.sub("\ufffd", text)
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


@dataclass
class Case:
    classname: str
    name: str
    status: str  # passed | failed | error | skipped
    time: float = 0.0
    message: str = ""
    details: str = ""  # stack trace
    output: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.classname}.{self.name}" if self.classname else self.name

    @property
    def failed(self) -> bool:
        return self.status in (FAILED, ERROR)

    def first_line(self) -> str:
        lines = [line.strip() for line in self.message.splitlines() if line.strip()]
        return lines[0] if lines else ""


@dataclass
class Results:
    """The cases of one result file, and what the file says about itself."""

    format: str  # nunit2 | nunit3 | xunit2 | trx
    cases: list[Case] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return count(self.cases)


def count(cases: list[Case]) -> dict[str, int]:
    failed = sum(1 for c in cases if c.failed)
    skipped = sum(1 for c in cases if c.status == SKIPPED)
    return {"total": len(cases), "passed": len(cases) - failed - skipped, "failed": failed, "skipped": skipped}


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def child(elem: ET.Element, *path: str) -> ET.Element | None:
    """The first descendant along `path` (local names, any namespace)."""
    node: ET.Element | None = elem
    for name in path:
        if node is None:
            return None
        node = next((c for c in node if local(c.tag) == name), None)
    return node


def text(elem: ET.Element, *path: str) -> str:
    node = child(elem, *path)
    return clean("".join(node.itertext()).strip()) if node is not None else ""


def seconds(value: str | None) -> float:
    """'0.012' or TRX's '00:00:01.5000000' -> seconds (0 when missing or unreadable)."""
    if not value:
        return 0.0
    try:
        if ":" in value:
            hours, minutes, secs = value.split(":")
            return round(int(hours) * 3600 + int(minutes) * 60 + float(secs), 6)
        return round(float(value), 6)
    except ValueError:
        return 0.0


def _check_prolog(head: bytes, path: Path) -> None:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        prolog = head.decode("utf-16", errors="replace")
    else:
        prolog = head.decode("utf-8", errors="replace")
    start = re.search(r"<[A-Za-z_]", prolog)
    if start is None and len(head) >= _PROLOG_LIMIT:
        raise ToolError(f"test result file {path}: no root element in its first {_PROLOG_LIMIT} bytes")
    if "<!DOCTYPE" in (prolog[:start.start()] if start else prolog):
        raise ToolError(f"test result file {path} declares a DTD; refusing it (entity expansion)")


def events(path: Path) -> Iterator[tuple[str, ET.Element]]:
    """('start' | 'end', element) of the file, streamed; see the module docstring for the limits."""
    try:
        size = path.stat().st_size
        if size > MAX_RESULT_BYTES:
            raise ToolError(f"test result file {path} is {size // (1024 * 1024)} MiB, over the "
                            f"{MAX_RESULT_BYTES // (1024 * 1024)} MiB b2release reads")
        with open(path, "rb") as fh:
            head = fh.read(_PROLOG_LIMIT)
            _check_prolog(head, path)
            parser = ET.XMLPullParser(events=("start", "end"))
            chunk = head
            while chunk:
                parser.feed(chunk)
                yield from parser.read_events()
                chunk = fh.read(_CHUNK)
            parser.close()
            yield from parser.read_events()
    except ET.ParseError as exc:
        raise ToolError(f"test result file {path} is not well-formed XML ({exc})") from None
    except OSError as exc:
        raise ToolError(f"cannot read test result file {path}: {exc.strerror}") from None


def root_name(path: Path) -> str:
    """The local name of the document's root element."""
    for event, elem in events(path):
        if event == "start":
            return local(elem.tag)
    raise ToolError(f"test result file {path} has no root element")
