"""SARIF 2.1.0 for code-scanning services (GitHub, Azure DevOps).

One rule per advisory / licence rule / secret rule, with `properties.security-severity`
(a CVSS-like number as a string, which GitHub maps to critical/high/medium/low) on
security rules and results. Locations are relative to the source tree (uriBaseId
%SRCROOT%) or to the build output (BUILDOUTPUT). Findings about the release tool's own
Python environment have no file in the scanned tree and stay in scan-report.json only.
Suppressed (ignored) findings are kept with a SARIF `suppressions` entry.
"""

from __future__ import annotations

from typing import Any

from b2release import __version__
from b2release.scanners.findings import LICENSE_RULES, Finding
from b2release.scanners.matching import BAND_SCORE
from b2release.scanners.secrets import RULES as SECRET_RULES

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
BASE_IDS = {"source": "%SRCROOT%", "nuget": "%SRCROOT%", "build-output": "BUILDOUTPUT"}
_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "unknown": "error"}


def _level(f: Finding) -> str:
    if f.blocking or f.kind == "secret":
        return "error"
    if f.kind == "license":
        return "warning"
    return _LEVEL.get(f.severity, "warning")


def _security_severity(f: Finding) -> str | None:
    if f.kind == "vulnerability":
        return f"{f.score if f.score is not None else BAND_SCORE.get(f.severity, 8.0):.1f}"
    if f.kind == "secret":
        return "9.0"
    return None


def _rule(f: Finding) -> dict[str, Any]:
    if f.kind == "vulnerability":
        name = f.rule.replace("-", "")
        text = f.title
        help_uri = next(iter(f.details.get("references") or []), f"https://osv.dev/vulnerability/{f.rule}")
        tags = ["security", "vulnerability", "nuget"]
        full = f"{f.title} (aliases: {', '.join(f.details.get('aliases') or []) or 'none'})"
    elif f.kind == "secret":
        name, text = SECRET_RULES[f.rule]
        help_uri, tags, full = "", ["security", "secret"], text
    else:
        name, text = LICENSE_RULES[f.rule]
        help_uri, tags, full = "", ["license"], text
    rule: dict[str, Any] = {
        "id": f.rule,
        "name": name,
        "shortDescription": {"text": text},
        "fullDescription": {"text": full},
        "defaultConfiguration": {"level": _level(f)},
        "properties": {"tags": tags},
    }
    if help_uri:
        rule["helpUri"] = help_uri
    sec = _security_severity(f)
    if sec is not None:
        rule["properties"]["security-severity"] = sec
    return rule


def _message(f: Finding) -> str:
    if f.kind == "vulnerability":
        fixed = ", ".join(f.details.get("fixed_in") or []) or "no fixed version known"
        return f"{f.package} {f.version} is affected by {f.rule} ({f.severity}): {f.title}. Fixed in: {fixed}."
    if f.kind == "license":
        return f"{f.package} {f.version}: {f.title} ({f.details.get('detail') or f.details.get('expression')})."
    return f"{f.title} ({f.details.get('hint', '(redacted)')}). Remove it and rotate the credential."


def build(findings: list[Finding]) -> dict[str, Any]:
    shown = [f for f in findings if f.scope in BASE_IDS]
    rules: dict[str, dict[str, Any]] = {}
    for f in shown:
        if f.rule not in rules:
            rules[f.rule] = _rule(f)
    rule_ids = sorted(rules)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    results = []
    for f in shown:
        location: dict[str, Any] = {"artifactLocation": {"uri": f.path or ".", "uriBaseId": BASE_IDS[f.scope]}}
        if f.line:
            location["region"] = {"startLine": f.line}
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": _level(f),
            "message": {"text": _message(f)},
            "locations": [{"physicalLocation": location}],
            "partialFingerprints": {"b2releaseFindingId": f.id},
            "properties": {"kind": f.kind, "severity": f.severity, "blocking": f.blocking},
        }
        sec = _security_severity(f)
        if sec is not None:
            result["properties"]["security-severity"] = sec
        if f.suppressed is not None:
            result["suppressions"] = [{"kind": "external", "justification": f.suppressed.get("reason", "")}]
        results.append(result)
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "b2release",
                        "version": __version__,
                        "rules": [rules[r] for r in rule_ids],
                    }
                },
                "originalUriBaseIds": {
                    "%SRCROOT%": {"description": {"text": "The scanned source tree"}},
                    "BUILDOUTPUT": {"description": {"text": "The build output (the files the release ships)"}},
                },
                "results": results,
            }
        ],
    }
