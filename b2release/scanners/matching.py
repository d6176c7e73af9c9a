"""Does an OSV record affect a NuGet package version? And how severe is it?

Range evaluation follows the OSV schema's algorithm for ECOSYSTEM (and SEMVER) ranges,
with NuGet version ordering: events sorted by version ("introduced": "0" first), a
version is affected after an `introduced` at or below it until a `fixed` at or below it
or a `last_affected` below it; `limit` events, when present, bound the range from above
(a version at or past every limit is not affected). `versions` lists are honoured too.
Withdrawn records are ignored. GIT ranges need commits and are skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from b2release.scanners.nuget_version import NuGetVersion, try_parse

SEVERITIES = ("critical", "high", "medium", "low", "unknown")
# For the --fail-on threshold; "unknown" (no usable data in the record) counts as high:
# a security gate must not let a vulnerability through because its record lacks a score.
RANK = {"low": 1, "medium": 2, "high": 3, "unknown": 3, "critical": 4}
THRESHOLDS = ("critical", "high", "medium", "low", "none")
GHSA_SEVERITY = {"critical": "critical", "high": "high", "moderate": "medium", "medium": "medium", "low": "low"}
# SARIF security-severity when the record gives no CVSS score: the middle of the band.
BAND_SCORE = {"critical": 9.5, "high": 8.0, "medium": 5.5, "low": 2.0, "unknown": 8.0}


@dataclass
class Match:
    record_id: str
    aliases: list[str]
    summary: str
    severity: str
    score: float | None
    fixed_in: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)


_ZERO = NuGetVersion((0, 0, 0, 0), ())
_EVENT_ORDER = {"introduced": 0, "fixed": 1, "last_affected": 1, "limit": 2}


def _in_range(version: NuGetVersion, events: list[dict]) -> tuple[bool, list[NuGetVersion]]:
    parsed: list[tuple[NuGetVersion, str]] = []
    for event in events:
        if not isinstance(event, dict):
            continue
        for kind in ("introduced", "fixed", "last_affected", "limit"):
            if kind in event:
                raw = str(event[kind])
                v = _ZERO if raw == "0" else try_parse(raw)
                # A "0" introduced sorts below every real version, including 0.0.0-alpha.
                if v is not None:
                    parsed.append((v, kind))
    # introduced "0" must sort below prereleases of 0.0.0 too: use a sentinel ordering.
    parsed.sort(key=lambda e: (e[0] != _ZERO or e[1] != "introduced", e[0], _EVENT_ORDER[e[1]]))
    affected = False
    limits = [v for v, kind in parsed if kind == "limit"]
    for v, kind in parsed:
        if kind == "introduced" and (version >= v or v == _ZERO):
            affected = True
        elif kind == "fixed" and version >= v:
            affected = False
        elif kind == "last_affected" and version > v:
            affected = False
    if affected and limits and all(version >= lim for lim in limits):
        affected = False
    fixes = sorted(v for v, kind in parsed if kind == "fixed" and v > version)
    return affected, fixes


def match(record: dict, package_id: str, version: str) -> Match | None:
    """A Match when `record` affects NuGet package `package_id` at `version`, else None."""
    if record.get("withdrawn"):
        return None
    target = try_parse(version)
    if target is None:
        return None
    hit = False
    fixes: set[str] = set()
    for entry in record.get("affected") or []:
        pkg = (entry or {}).get("package") or {}
        if str(pkg.get("ecosystem", "")).split(":")[0].lower() != "nuget":
            continue
        if str(pkg.get("name", "")).lower() != package_id.lower():
            continue
        for listed in entry.get("versions") or []:
            other = try_parse(str(listed))
            if other is not None and other == target:
                hit = True
        for rng in entry.get("ranges") or []:
            if not isinstance(rng, dict) or str(rng.get("type", "")).upper() not in ("ECOSYSTEM", "SEMVER"):
                continue
            affected, fixed = _in_range(target, rng.get("events") or [])
            if affected:
                hit = True
                fixes.update(f.normalized() for f in fixed[:1])
    if not hit:
        return None
    severity, score = severity_of(record, package_id)
    refs = [r.get("url") for r in record.get("references") or [] if isinstance(r, dict) and r.get("url")]
    return Match(
        record_id=str(record["id"]),
        aliases=sorted(str(a) for a in record.get("aliases") or []),
        summary=str(record.get("summary") or record.get("details", "")[:200] or record["id"]).strip(),
        severity=severity,
        score=score,
        fixed_in=sorted(fixes, key=lambda v: try_parse(v) or _ZERO),
        references=sorted(refs)[:5],
    )


def severity_of(record: dict, package_id: str = "") -> tuple[str, float | None]:
    """(severity band, CVSS base score or None): GHSA's label first, else a CVSS v3 vector."""
    score = None
    for sev in record.get("severity") or []:
        if isinstance(sev, dict) and str(sev.get("type", "")).upper() in ("CVSS_V3", "CVSS_V31"):
            score = cvss3_base_score(str(sev.get("score", "")))
            if score is not None:
                break
    labels = [(record.get("database_specific") or {}).get("severity")]
    for entry in record.get("affected") or []:
        pkg = (entry or {}).get("package") or {}
        if str(pkg.get("name", "")).lower() == package_id.lower():
            labels.append((entry.get("database_specific") or {}).get("severity"))
            labels.append((entry.get("ecosystem_specific") or {}).get("severity"))
    for label in labels:
        if isinstance(label, str) and label.lower() in GHSA_SEVERITY:
            return GHSA_SEVERITY[label.lower()], score
    if score is not None:
        return band(score), score
    return "unknown", None


def band(score: float) -> str:
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    return "low"


def at_or_above(severity: str, threshold: str) -> bool:
    """Does a finding of `severity` reach the --fail-on `threshold`? ("none" never does.)"""
    if threshold == "none":
        return False
    return RANK.get(severity, RANK["unknown"]) >= RANK[threshold]


# --- CVSS v3.x base score (FIRST's specification, section 7) ---------------------------------
_W = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "CIA": {"H": 0.56, "L": 0.22, "N": 0.0},
}


def _roundup(value: float) -> float:
    scaled = round(value * 100000)
    if scaled % 10000 == 0:
        return scaled / 100000.0
    return (math.floor(scaled / 10000) + 1) / 10.0


def cvss3_base_score(vector: str) -> float | None:
    if not vector.startswith("CVSS:3."):
        return None
    try:
        metrics = dict(part.split(":", 1) for part in vector.split("/")[1:])
        scope_changed = metrics["S"] == "C"
        pr = {"N": 0.85, "L": 0.68 if scope_changed else 0.62, "H": 0.5 if scope_changed else 0.27}[metrics["PR"]]
        iss = 1 - (1 - _W["CIA"][metrics["C"]]) * (1 - _W["CIA"][metrics["I"]]) * (1 - _W["CIA"][metrics["A"]])
        if scope_changed:
            impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15
        else:
            impact = 6.42 * iss
        exploitability = 8.22 * _W["AV"][metrics["AV"]] * _W["AC"][metrics["AC"]] * pr * _W["UI"][metrics["UI"]]
    except (KeyError, ValueError):
        return None
    if impact <= 0:
        return 0.0
    total = impact + exploitability
    return _roundup(min(1.08 * total if scope_changed else total, 10.0))
