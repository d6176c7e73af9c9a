"""b2release.scanners.report: scan-report.json holds only input-derived, deterministic values."""

from __future__ import annotations

import json

from b2release.scanners import report
from b2release.scanners.matching import SEVERITIES
from tests.scanners.sample_findings import ACCOUNT_KEY, license_finding, mixed, vulnerability


def build(findings, **kw):
    args = dict(product="connector", version="1.2.3", policy={"fail_on": "high"},
                advisories={"mode": "offline", "records": 3, "sha256": "0" * 64},
                inventory=[{"id": "Newtonsoft.Json", "version": "12.0.1"}], tool_licenses=[], findings=findings,
                scanned={"packages": 1}, notes=["b note", "a note", "b note"], ignores=[])
    args.update(kw)
    return report.build(**args)


def test_counts_cover_every_severity_and_skip_suppressed_findings():
    counts = report.counts(mixed())
    assert list(counts) == list(SEVERITIES)
    # secret (critical) + high + medium + low + two licence notes (low); the accepted critical is not counted
    assert counts == {"critical": 1, "high": 1, "medium": 1, "low": 3, "unknown": 0}
    assert report.counts([]) == dict.fromkeys(SEVERITIES, 0)


def test_result_fails_with_a_blocking_finding_and_lists_it():
    doc = build(mixed())
    assert doc["result"] == "fail"
    assert doc["blocking"] == ["secret:B2S002:source:App.config:3",
                               "vulnerability:GHSA-aaaa-bbbb-cccc:Newtonsoft.Json@12.0.1"]
    assert doc["format"] == "b2release-scan-report/1"
    assert (doc["product"], doc["version"]) == ("connector", "1.2.3")


def test_result_passes_without_blocking_findings():
    doc = build([vulnerability("medium", blocking=False), license_finding()])
    assert doc["result"] == "pass" and doc["blocking"] == []
    assert build([])["result"] == "pass"


def test_findings_keep_their_order_and_notes_are_sorted_once():
    findings = mixed()
    doc = build(findings)
    assert [f["id"] for f in doc["findings"]] == [f.id for f in findings]  # the caller sorts (Finding.sort_key)
    assert doc["notes"] == ["a note", "b note"]


def test_suppressed_findings_stay_in_the_report_with_their_reason():
    doc = build(mixed())
    (accepted,) = [f for f in doc["findings"] if "suppressed" in f]
    assert accepted["rule"] == "GHSA-ssss-ssss-ssss"
    assert accepted["suppressed"]["reason"] == "not reachable from our code"


def test_same_input_same_bytes():
    first = report.to_bytes(build(mixed()))
    second = report.to_bytes(build(mixed(), notes=["a note", "b note"]))
    assert first == second
    assert first.endswith(b"}\n") and first.count(b"\n}\n") == 1


def test_bytes_are_sorted_utf8_json():
    data = report.to_bytes(build([], product="connector", inventory=[{"name": "Grüße"}]))
    assert "Grüße".encode() in data and b"\\u00fc" not in data
    doc = json.loads(data)
    assert list(doc) == sorted(doc)


def test_no_wall_clock_time_or_secret_in_the_report():
    data = report.to_bytes(build(mixed())).decode()
    assert ACCOUNT_KEY not in data and ACCOUNT_KEY[:8] not in data
    for clock_key in ('"generated"', '"timestamp"', '"time"', '"date"'):
        assert clock_key not in data
