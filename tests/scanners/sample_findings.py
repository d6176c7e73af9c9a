"""Small hand-made findings for the report and SARIF writer tests (the shapes scan.py builds)."""

from __future__ import annotations

from b2release.scanners import secrets
from b2release.scanners.findings import Finding

# An Azure account key in a shipped config file: the secret finding below is made from it the
# way the scan stage makes it, and no output may carry it.
ACCOUNT_KEY = "QWxhZGRpbjpvcGVuIHNlc2FtZQ0KQWxhZGRpbjpvcGVuIHNlc2FtZQ=="
CONFIG_TEXT = ('<configuration>\n  <connectionStrings>\n    <add name="blob" connectionString="DefaultEndpointsProtocol'
               f'=https;AccountName=acct;AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net" />\n'
               '  </connectionStrings>\n</configuration>\n')


def secret_finding() -> Finding:
    (found,) = secrets.scan_text(CONFIG_TEXT, "source\0App.config", config_like=True)
    scope, rel = found.path.split("\0", 1)
    return Finding(kind="secret", rule=found.rule, severity="critical", title=secrets.RULES[found.rule][1], scope=scope,
                   path=rel, line=found.line, blocking=True, details={"name": found.name, "hint": found.hint})


def vulnerability(severity: str = "high", *, blocking: bool = True, score: float | None = 8.1,
                  rule: str = "GHSA-aaaa-bbbb-cccc", package: str = "Newtonsoft.Json", version: str = "12.0.1",
                  suppressed: dict | None = None) -> Finding:
    return Finding(kind="vulnerability", rule=rule, severity=severity, title="Improper handling of deep nesting",
                   scope="nuget", path="src/Connector/Connector.csproj", line=12, package=package, version=version,
                   blocking=blocking, score=score, suppressed=suppressed,
                   details={"fixed_in": ["13.0.1"], "aliases": ["CVE-2024-0001"],
                            "references": ["https://github.com/advisories/GHSA-aaaa-bbbb-cccc"]})


def license_finding(scope: str = "nuget", *, blocking: bool = False) -> Finding:
    return Finding(kind="license", rule="B2L003", severity="low", title="Licence unknown", scope=scope,
                   path="src/Connector/packages.config" if scope == "nuget" else "", line=4 if scope == "nuget" else None,
                   package="Vendor.Lib", version="1.0.0", blocking=blocking,
                   details={"status": "unknown", "expression": None, "detail": "no licence metadata"})


def mixed() -> list[Finding]:
    """One of each: blocking and non-blocking vulnerabilities, an accepted one, licences, a secret."""
    return [
        secret_finding(),
        vulnerability("high"),
        vulnerability("medium", blocking=False, score=None, rule="GHSA-mmmm-mmmm-mmmm", package="System.Text.Json",
                      version="6.0.0"),
        vulnerability("low", blocking=False, score=None, rule="GHSA-llll-llll-llll", package="System.Memory",
                      version="4.5.0"),
        vulnerability("critical", blocking=False, score=9.8, rule="GHSA-ssss-ssss-ssss", package="Old.Lib",
                      version="0.1.0", suppressed={"id": "GHSA-ssss-ssss-ssss", "reason": "not reachable from our code",
                                                   "expires": "2030-01-01"}),
        license_finding("nuget"),
        license_finding("python"),
    ]
