"""API changes as Markdown for release notes.

Grouped by kind (breaking, additive, then changes with no version impact), each group in
the stable order `compare_surfaces` returns, so the same two releases always give the
same text. Declarations are shown as code spans without the `member <Type>:` prefix (the
entry's title already names the member).
"""

from __future__ import annotations

import re
from typing import Iterable

from .compare import ApiChange, CompatReport

_HEADINGS = (
    ("breaking", "Breaking changes"),
    ("additive", "Additions"),
    ("none", "Changes without version impact"),
)


def code(text: str) -> str:
    """A Markdown code span that survives backticks inside (CLR names like Box`1 have them)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _declaration(line: str) -> str:
    if line.startswith("member "):
        return line.split(": ", 1)[1] if ": " in line else line
    if line.startswith("type "):
        return line[len("type "):]
    return line


def render_changes(changes: Iterable[ApiChange], heading_level: int = 3) -> str:
    """The grouped list of changes (no verdict): one section per kind that has entries."""
    changes = list(changes)
    if not changes:
        return "No public API changes.\n"
    multi_assembly = len({c.assembly for c in changes}) > 1
    hashes = "#" * heading_level
    out: list[str] = []
    for kind, title in _HEADINGS:
        group = [c for c in changes if c.kind == kind]
        if not group:
            continue
        out.append(f"{hashes} {title} ({len(group)})\n")
        for c in group:
            where = f" in {c.assembly}" if multi_assembly else ""
            out.append(f"- {code(c.target)}{where}: {c.change}, {c.reason}.")
            if c.before is not None and c.change != "added":
                out.append(f"  - before: {code(_declaration(c.before))}")
            if c.after is not None and c.change != "removed":
                out.append(f"  - after: {code(_declaration(c.after))}")
        out.append("")
    return "\n".join(out)


def render_markdown(report: CompatReport, title: str | None = None, verdict: str | None = None) -> str:
    """Release-notes Markdown: a heading, the version verdict, then the grouped changes.

    `verdict` replaces the verdict line (e.g. a failed check that was let through)."""
    heading = title or f"API changes {report.old_version} → {report.new_version}"
    if verdict is None:
        verdict = ("Version check passed" if report.ok else "Version check FAILED") + f": {report.message}."
    return f"## {heading}\n\n{verdict}\n\n" + render_changes(report.changes)
