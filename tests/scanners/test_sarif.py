"""b2release.scanners.sarif: SARIF 2.1.0 that code-scanning services accept."""

from __future__ import annotations

import json
from typing import Any

from b2release import __version__
from b2release.scanners import report, sarif
from b2release.scanners.findings import Finding
from tests.scanners.sample_findings import ACCOUNT_KEY, license_finding, mixed, secret_finding, vulnerability


def results_by_rule(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["ruleId"]: r for r in doc["runs"][0]["results"]}


def test_document_structure():
    doc = sarif.build(mixed())
    assert doc["version"] == "2.1.0"
    assert doc["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert len(doc["runs"]) == 1
    driver = doc["runs"][0]["tool"]["driver"]
    assert driver["name"] == "b2release" and driver["version"] == __version__
    assert set(doc["runs"][0]["originalUriBaseIds"]) == {"%SRCROOT%", "BUILDOUTPUT"}


def test_rules_are_sorted_unique_and_cover_every_result():
    findings = mixed() + [vulnerability("high", package="Another.Lib", version="2.0.0")]  # same rule, 2nd package
    run = sarif.build(findings)["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert rule_ids == sorted(set(rule_ids))
    assert rule_ids.count("GHSA-aaaa-bbbb-cccc") == 1
    assert {r["ruleId"] for r in run["results"]} == set(rule_ids)
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]


def test_rules_do_not_depend_on_the_order_of_findings():
    forward = sarif.build(mixed())["runs"][0]["tool"]["driver"]["rules"]
    backward = sarif.build(list(reversed(mixed())))["runs"][0]["tool"]["driver"]["rules"]
    assert forward == backward


def test_python_environment_findings_stay_out():
    """They have no file in the scanned tree; scan-report.json keeps them."""
    doc = sarif.build([license_finding("python")])
    assert doc["runs"][0]["results"] == [] and doc["runs"][0]["tool"]["driver"]["rules"] == []
    assert "Vendor.Lib" in json.dumps(sarif.build([license_finding("nuget")]))


def test_levels_follow_severity_blocking_and_kind():
    levels = {rule: r["level"] for rule, r in results_by_rule(sarif.build(mixed())).items()}
    assert levels == {
        "B2S002": "error",  # a secret is always an error
        "GHSA-aaaa-bbbb-cccc": "error",  # blocking
        "GHSA-mmmm-mmmm-mmmm": "warning",  # medium, below the threshold
        "GHSA-llll-llll-llll": "note",  # low
        "GHSA-ssss-ssss-ssss": "error",  # critical, accepted: still reported at its level, with a suppression
        "B2L003": "warning",  # licence notes are warnings whatever their severity
    }
    unknown = sarif.build([vulnerability("unknown", blocking=False, score=None, rule="OSV-1")])
    assert unknown["runs"][0]["results"][0]["level"] == "error"  # no data is not good news


def test_security_severity_from_the_score_or_the_band():
    doc = sarif.build(mixed())
    by_rule = results_by_rule(doc)
    assert by_rule["GHSA-aaaa-bbbb-cccc"]["properties"]["security-severity"] == "8.1"
    assert by_rule["GHSA-mmmm-mmmm-mmmm"]["properties"]["security-severity"] == "5.5"  # no score: middle of the band
    assert by_rule["GHSA-llll-llll-llll"]["properties"]["security-severity"] == "2.0"
    assert by_rule["B2S002"]["properties"]["security-severity"] == "9.0"
    assert "security-severity" not in by_rule["B2L003"]["properties"]
    rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["GHSA-aaaa-bbbb-cccc"]["properties"]["security-severity"] == "8.1"
    assert rules["GHSA-aaaa-bbbb-cccc"]["properties"]["tags"] == ["security", "vulnerability", "nuget"]
    assert rules["GHSA-aaaa-bbbb-cccc"]["helpUri"] == "https://github.com/advisories/GHSA-aaaa-bbbb-cccc"
    assert rules["B2L003"]["name"] == "license-unknown" and "helpUri" not in rules["B2L003"]


def test_locations_carry_uri_base_and_start_line():
    doc = sarif.build(mixed() + [Finding(kind="secret", rule="B2S001", severity="critical", title="Private key",
                                         scope="build-output", path="Connector.dll", line=None, blocking=True,
                                         details={"name": "private-key", "hint": "(redacted)"})])
    by_rule = results_by_rule(doc)
    loc = by_rule["GHSA-aaaa-bbbb-cccc"]["locations"][0]["physicalLocation"]
    assert loc == {"artifactLocation": {"uri": "src/Connector/Connector.csproj", "uriBaseId": "%SRCROOT%"},
                   "region": {"startLine": 12}}
    loc = by_rule["B2S002"]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "App.config", "uriBaseId": "%SRCROOT%"} and loc["region"] == {"startLine": 3}
    loc = by_rule["B2S001"]["locations"][0]["physicalLocation"]
    assert loc == {"artifactLocation": {"uri": "Connector.dll", "uriBaseId": "BUILDOUTPUT"}}  # no line in a binary


def test_a_finding_without_a_file_points_at_the_root():
    f = vulnerability("high")
    f.path, f.line = "", None
    loc = sarif.build([f])["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert loc == {"artifactLocation": {"uri": ".", "uriBaseId": "%SRCROOT%"}}


def test_suppressed_findings_carry_a_suppression():
    by_rule = results_by_rule(sarif.build(mixed()))
    assert by_rule["GHSA-ssss-ssss-ssss"]["suppressions"] == [{"kind": "external",
                                                               "justification": "not reachable from our code"}]
    assert all("suppressions" not in r for rule, r in by_rule.items() if rule != "GHSA-ssss-ssss-ssss")


def test_results_identify_their_finding():
    result = results_by_rule(sarif.build([vulnerability()]))["GHSA-aaaa-bbbb-cccc"]
    assert result["partialFingerprints"] == {"b2releaseFindingId": "vulnerability:GHSA-aaaa-bbbb-cccc:Newtonsoft.Json@12.0.1"}
    assert result["properties"]["kind"] == "vulnerability" and result["properties"]["blocking"] is True
    assert result["message"]["text"] == ("Newtonsoft.Json 12.0.1 is affected by GHSA-aaaa-bbbb-cccc (high): Improper "
                                         "handling of deep nesting. Fixed in: 13.0.1.")


def test_a_secret_finding_never_carries_the_secret():
    finding = secret_finding()
    data = json.dumps(sarif.build([finding]))
    assert ACCOUNT_KEY not in data and ACCOUNT_KEY[:8] not in data
    text = results_by_rule(sarif.build([finding]))["B2S002"]["message"]["text"]
    assert text.startswith("Azure storage account key or connection string (")
    assert "rotate the credential" in text
    assert ACCOUNT_KEY not in finding.short()


def test_same_findings_same_bytes():
    assert report.to_bytes(sarif.build(mixed())) == report.to_bytes(sarif.build(mixed()))
