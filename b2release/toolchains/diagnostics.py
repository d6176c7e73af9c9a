"""Compiler and build-engine diagnostics: parse, de-duplicate, render.

MSBuild's canonical format (also what xbuild and mcs print) is

    origin(line[,col[,endline,endcol]]): [subcategory ]error|warning CODE: text [project]

where origin is a file or a tool name (`CSC`, `MSBUILD`, `xbuild`). MSBuild repeats every
diagnostic in its end-of-build summary and xbuild/mcs print each one twice at normal
verbosity, so the list is de-duplicated on (file, line, column, severity, code, text).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Callable, Iterable

from b2release.redact import redact

_CANONICAL = re.compile(
    r"""^\s*
    (?:
      (?P<origin>.*?)
      (?:\((?P<line>\d+)(?:-\d+)?(?:,(?P<col>\d+)(?:-\d+)?)?(?:,\d+,\d+)?\))?
      \s*:\s*
    )?
    (?:[A-Za-z][\w .-]*?\s+)?                 # optional subcategory ("fatal", "Compiler")
    (?P<severity>error|warning)
    (?:\s+(?P<code>[A-Za-z]+[0-9]+))?
    \s*:\s*
    (?P<message>.*?)
    (?:\s+\[(?P<project>[^\[\]]+)\])?\s*$""",
    re.VERBOSE | re.IGNORECASE,
)

# xbuild 14 warns that it does not "support" v4.8 although it resolves every reference from
# /usr/lib/mono/4.8-api (checked: mcs gets /reference:/usr/lib/mono/4.8-api/...). The
# warning carries no code and would make build.warnings_as_errors unusable with xbuild.
_KNOWN_NOISE = (
    re.compile(r"TargetFrameworkVersion 'v4\.[5-8](\.\d)?' not supported by this toolset", re.IGNORECASE),
)


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # "error" | "warning"
    code: str  # e.g. CS0029, MSB3245; "" when the tool gave none
    message: str
    file: str = ""  # as reported, after mapping the build copy back to the source tree
    line: int | None = None
    column: int | None = None
    project: str = ""

    def key(self) -> tuple:
        return (self.file, self.line, self.column, self.severity, self.code.upper(), self.message)

    def location(self) -> str:
        if not self.file:
            return ""
        if self.line is None:
            return self.file
        return f"{self.file}({self.line},{self.column})" if self.column is not None else f"{self.file}({self.line})"

    def canonical(self) -> str:
        where = self.location()
        code = f" {self.code}" if self.code else ""
        return f"{where + ': ' if where else ''}{self.severity}{code}: {self.message}"

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


def parse_line(line: str, map_path: Callable[[str], str] | None = None) -> Diagnostic | None:
    """One output line -> a Diagnostic, or None if the line is not a diagnostic."""
    text = line.rstrip("\r\n")
    if "error" not in text.lower() and "warning" not in text.lower():
        return None  # fast path: most build output is progress
    match = _CANONICAL.match(text)
    if not match:
        return None
    origin = (match.group("origin") or "").strip()
    # "Build FAILED." / "3 Warning(s)" and similar summary lines have no colon structure,
    # but "Errors:" alone would match with an empty message: ignore those.
    message = match.group("message").strip()
    if not message:
        return None
    if any(p.search(message) for p in _KNOWN_NOISE):
        return None
    line_no = match.group("line")
    col = match.group("col")
    is_file = bool(line_no) or ("/" in origin or "\\" in origin or "." in origin)
    file = origin if is_file else ""
    if file and map_path is not None:
        file = map_path(file)
    project = (match.group("project") or "").strip()
    if project and map_path is not None:
        project = map_path(project)
    return Diagnostic(
        severity=match.group("severity").lower(),
        code=match.group("code") or "",
        message=message,
        file=file,
        line=int(line_no) if line_no else None,
        column=int(col) if col else None,
        project=project,
    )


class Collector:
    """Feed output lines one by one; keeps the de-duplicated diagnostics in order."""

    def __init__(self, map_path: Callable[[str], str] | None = None):
        self.map_path = map_path
        self._seen: set[tuple] = set()
        self.items: list[Diagnostic] = []

    def feed(self, line: str) -> Diagnostic | None:
        diag = parse_line(line, self.map_path)
        if diag is None or diag.key() in self._seen:
            return None
        self._seen.add(diag.key())
        self.items.append(diag)
        return diag

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]


def dedupe(items: Iterable[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple] = set()
    out = []
    for d in items:
        if d.key() not in seen:
            seen.add(d.key())
            out.append(d)
    return out


def render_table(console, diagnostics: list[Diagnostic], limit: int = 20) -> None:
    """A rich table of the diagnostics (errors first), on the human console (stderr)."""
    from rich.table import Table

    ordered = sorted(diagnostics, key=lambda d: d.severity != "error")
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("severity", "code", "file", "line", "col", "message"):
        table.add_column(column, overflow="fold")
    for d in ordered[:limit]:
        table.add_row(
            d.severity, d.code or "-", redact(d.file) or "-", str(d.line or "-"), str(d.column or "-"),
            redact(d.message),
        )
    console.print(table)
    if len(ordered) > limit:
        console.print(f"... and {len(ordered) - limit} more (see build.log in the work dir)", markup=False)
