"""scan-report.json (all findings, deterministic) and the console table.

The report holds only input-derived values: no wall-clock time, no absolute paths, lists
sorted. Its sha256 goes into the signed manifest, so identical inputs must give identical
bytes.
"""

from __future__ import annotations

import json
from typing import Any

from b2release.scanners.findings import Finding
from b2release.scanners.matching import SEVERITIES

REPORT_FORMAT = "b2release-scan-report/1"


def counts(findings: list[Finding]) -> dict[str, int]:
    """Active (not suppressed) findings per severity, every severity present."""
    out = {s: 0 for s in SEVERITIES}
    for f in findings:
        if f.active:
            out[f.severity] = out.get(f.severity, 0) + 1
    return out


def build(*, product: str, version: str | None, policy: dict[str, Any], advisories: dict[str, Any],
          inventory: list[dict[str, Any]], tool_licenses: list[dict[str, Any]], findings: list[Finding],
          scanned: dict[str, Any], notes: list[str], ignores: list[dict[str, Any]]) -> dict[str, Any]:
    blocking = [f for f in findings if f.blocking]
    return {
        "format": REPORT_FORMAT,
        "product": product,
        "version": version,
        "result": "fail" if blocking else "pass",
        "policy": policy,
        "advisories": advisories,
        "scanned": scanned,
        "counts": counts(findings),
        "blocking": [f.id for f in blocking],
        "findings": [f.to_dict() for f in findings],
        "inventory": inventory,
        "tool_licenses": tool_licenses,
        "ignores": ignores,
        "notes": sorted(set(notes)),
    }


def to_bytes(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "unknown": "magenta"}


def is_tool_note(f: Finding) -> bool:
    """A non-blocking licence note about b2release's own Python environment, not the release."""
    return f.kind == "license" and f.scope == "python" and not f.blocking


def render(console, findings: list[Finding], summary: str) -> None:
    """A rich table of the findings on stderr (the console is ctx.console)."""
    from rich.markup import escape
    from rich.table import Table

    shown = [f for f in findings if not is_tool_note(f)]
    if shown:
        table = Table(title="scan findings", show_lines=False, title_justify="left")
        for column in ("severity", "kind", "id", "package / file", "status"):
            table.add_column(column, overflow="fold")
        for f in shown:
            what = f"{f.package} {f.version}" if f.package else f"{f.scope}:{f.where()}"
            if f.kind == "vulnerability" and f.details.get("fixed_in"):
                what += f" (fixed in {', '.join(f.details['fixed_in'])})"
            status = "FAIL" if f.blocking else ("ignored" if f.suppressed else "warn")
            style = _STYLE.get(f.severity, "default")
            table.add_row(f"[{style}]{f.severity}[/]", f.kind, escape(f.rule), escape(what), status)
        console.print(table)
    hidden = len(findings) - len(shown)
    if hidden:
        console.print(f"({hidden} non-blocking licence notes about b2release's own Python environment: "
                      f"see scan-report.json)", markup=False)
