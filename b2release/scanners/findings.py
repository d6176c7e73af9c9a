"""The finding model shared by the report, the SARIF writer and the console table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from b2release.scanners.matching import RANK

# Licence rules (vulnerability rules are advisory ids, secret rules live in secrets.RULES).
LICENSE_RULES = {
    "B2L001": ("license-denied", "Licence on the deny list"),
    "B2L002": ("license-not-allowed", "Licence not on the allow list"),
    "B2L003": ("license-unknown", "Licence unknown"),
}


@dataclass
class Finding:
    kind: str  # vulnerability | license | secret
    rule: str  # advisory id, B2Lnnn or B2Snnn
    severity: str  # critical | high | medium | low | unknown
    title: str
    scope: str  # nuget | python | build-output | source
    path: str = ""  # relative to the scope's root ("" when there is no file)
    line: int | None = None
    package: str | None = None
    version: str | None = None
    blocking: bool = False
    score: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    suppressed: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        if self.package:
            return f"{self.kind}:{self.rule}:{self.package}@{self.version}"
        return f"{self.kind}:{self.rule}:{self.scope}:{self.path}:{self.line or 0}"

    @property
    def active(self) -> bool:
        return self.suppressed is None

    def where(self) -> str:
        if self.path:
            return f"{self.path}:{self.line}" if self.line else self.path
        return f"({self.scope} environment)" if self.scope == "python" else ""

    def short(self) -> str:
        """One phrase for the policy error line; never contains a secret."""
        if self.kind == "vulnerability":
            return f"{self.rule} ({self.package} {self.version}, {self.severity})"
        if self.kind == "license":
            expression = self.details.get("expression") or "?"
            return f"{self.details.get('status')} licence {expression} ({self.package} {self.version})"
        return f"secret {self.details.get('name', self.rule)} in {self.scope}:{self.where()}"

    def sort_key(self) -> tuple:
        return (-RANK.get(self.severity, 0), self.kind, self.rule, self.package or "", self.version or "",
                self.scope, self.path, self.line or 0)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "rule": self.rule,
            "severity": self.severity,
            "title": self.title,
            "scope": self.scope,
            "path": self.path,
            "line": self.line,
            "blocking": self.blocking,
        }
        if self.package:
            doc["package"] = self.package
            doc["version"] = self.version
        if self.score is not None:
            doc["score"] = self.score
        if self.details:
            doc["details"] = self.details
        if self.suppressed is not None:
            doc["suppressed"] = self.suppressed
        if self.notes:
            doc["notes"] = list(self.notes)
        return doc
