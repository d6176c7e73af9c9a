"""Result file parsers (NUnit 2.4/2.5/2.6, NUnit 3, xUnit.net v2, TRX) and the JUnit writer.

The files in data/ are small, hand-written from each format's documentation, with the
cases that matter: failures with messages and stack traces, errors, ignored / explicit /
inconclusive tests, parameterised and data-driven tests, fixture and cleanup failures no
test case shows.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from b2release.errors import ToolError
from b2release.testrunners import junit, parsers, results

DATA = Path(__file__).parent / "data"


def _by_name(parsed: results.Results) -> dict[str, results.Case]:
    return {c.full_name: c for c in parsed.cases}


def test_nunit2():
    parsed = parsers.parse(DATA / "nunit2.xml")
    assert parsed.format == "nunit2"
    cases = _by_name(parsed)
    prefix = "Enventa.Connector.Tests.ConnectorSettingsTests."
    failed = cases[prefix + "FromAppSettingsReadsTheEnventaKeys"]
    assert (failed.classname, failed.name, failed.status) == (prefix[:-1], "FromAppSettingsReadsTheEnventaKeys",
                                                              "failed")
    assert failed.first_line() == "page size" and "But was:  500" in failed.message
    assert "FromAppSettingsReadsTheEnventaKeys ()" in failed.details and failed.time == 0.044
    assert cases[prefix + 'AnUnusablePageSizeKeepsTheDefault("0")'].status == "passed"
    assert cases[prefix + 'AnUnusablePageSizeKeepsTheDefault("many")'].status == "error"
    assert cases[prefix + "Later"].status == "skipped" and cases[prefix + "Later"].message == "not yet"
    assert cases[prefix + "WrongSignature"].status == "error"  # NotRunnable: the test cannot run
    # The fixture whose TestFixtureSetUp failed shows no test case: it becomes one.
    setup = cases["Enventa.Connector.Tests.BrokenSetUpTests.(suite)"]
    assert setup.status == "error" and "TestFixtureSetUp failed" in setup.message
    assert parsed.counts() == {"total": 7, "passed": 2, "failed": 4, "skipped": 1}


def test_nunit24_without_result_attributes():
    parsed = parsers.parse(DATA / "nunit24.xml")
    assert {c.full_name: c.status for c in parsed.cases} == {
        "Legacy.MathTests.Adds": "passed", "Legacy.MathTests.Divides": "failed", "Legacy.MathTests.Skipped": "skipped"}


def test_nunit3():
    parsed = parsers.parse(DATA / "nunit3.xml")
    assert parsed.format == "nunit3"
    cases = _by_name(parsed)
    prefix = "Enventa.Connector.Tests.EnventaSyncClientTests."
    retried = cases[prefix + "RetriesAServerErrorThenSucceeds"]
    assert retried.status == "failed" and retried.first_line() == "Expected: 2"
    assert "line 64" in retried.details and "-> 503" in retried.output and retried.time == 0.2
    assert cases[prefix + "Crashes"].status == "error"
    assert cases[prefix + "Maybe"].status == "skipped" and cases[prefix + "Maybe"].message == "no ERP available"
    assert cases[prefix + "Param(1.5)"].name == "Param(1.5)"
    assert cases["Enventa.Connector.Tests.SlowTests.Explicitly"].status == "skipped"
    teardown = cases["Enventa.Connector.Tests.BrokenSetUpTests.(suite)"]
    assert teardown.status == "error" and "still running" in teardown.message
    # site="Child" suites failed only because a child did: no extra case for them.
    assert parsed.counts() == {"total": 7, "passed": 2, "failed": 3, "skipped": 2}


def test_xunit2():
    parsed = parsers.parse(DATA / "xunit2.xml")
    cases = _by_name(parsed)
    prefix = "Enventa.Connector.XunitTests.PriceTests."
    assert cases[prefix + "IsValidOn(day: 3, expected: True)"].status == "passed"
    rounding = cases[prefix + "RoundsToCents"]
    assert rounding.status == "failed" and rounding.first_line() == "Assert.Equal() Failure"
    assert rounding.output == "rounding 12.345" and rounding.time == 0.2005
    assert cases[prefix + "Someday"].status == "skipped" and cases[prefix + "Someday"].message == "waiting for the price API"
    cleanup = cases["Enventa.Connector.XunitTests.PriceTests.(test-class-cleanup)"]
    assert cleanup.status == "error" and "disposed" in cleanup.message
    assert parsed.counts() == {"total": 5, "passed": 2, "failed": 2, "skipped": 1}


def test_trx():
    parsed = parsers.parse(DATA / "results.trx")
    assert parsed.format == "trx"
    cases = _by_name(parsed)
    stock = cases["Enventa.Connector.MsTests.StockTests.RejectsNegativeStock"]  # className with assembly qualifiers
    assert stock.status == "failed" and stock.time == 1.25 and "line 22" in stock.details
    assert stock.output == "checking stock" and "stock must not be negative" in stock.message
    # A data-driven test: its rows are the tests, not the parent.
    assert "Enventa.Connector.MsTests.StockTests.Available (7,2)" in cases
    assert "Enventa.Connector.MsTests.StockTests.Available" not in cases
    assert cases["Enventa.Connector.MsTests.ErpTests.TalksToTheRealErp"].status == "skipped"
    assert cases["Enventa.Connector.MsTests.ErpTests.Hangs"].status == "error"
    assert parsed.counts() == {"total": 6, "passed": 3, "failed": 2, "skipped": 1}


def test_a_dtd_is_refused_before_parsing(tmp_path):
    bomb = tmp_path / "bomb.xml"
    bomb.write_text('<?xml version="1.0"?>\n<!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>\n'
                    "<test-run><test-case name='&b;' result='Passed'/></test-run>\n")
    with pytest.raises(ToolError, match="declares a DTD"):
        parsers.parse(bomb)
    external = tmp_path / "external.xml"
    external.write_text('<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd"><test-run/>')
    with pytest.raises(ToolError, match="declares a DTD"):
        parsers.parse(external)


def test_doctype_text_inside_output_is_fine(tmp_path):
    path = tmp_path / "r.xml"
    path.write_text('<test-run><test-suite type="Assembly" name="a.dll"><test-case name="T" classname="C" '
                    'result="Passed"><output><![CDATA[<!DOCTYPE html>]]></output></test-case></test-suite></test-run>')
    assert parsers.parse(path).cases[0].output == "<!DOCTYPE html>"


def test_oversized_malformed_and_unknown_files_are_tool_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "MAX_RESULT_BYTES", 1000)
    big = tmp_path / "big.xml"
    big.write_text("<test-run>" + "<x/>" * 500 + "</test-run>")
    with pytest.raises(ToolError, match="over the"):
        parsers.parse(big)
    broken = tmp_path / "broken.xml"
    broken.write_text("<test-run><test-case name='a'></test-run>")
    with pytest.raises(ToolError, match="not well-formed"):
        parsers.parse(broken)
    other = tmp_path / "other.xml"
    other.write_text("<coverage/>")
    with pytest.raises(ToolError, match="unknown format"):
        parsers.parse(other)


def test_junit_is_valid_counts_right_and_holds_no_control_characters(tmp_path):
    parsed = parsers.parse(DATA / "nunit2.xml")
    parsed.cases[0].output = "colour \x1b[31mred\x1b[0m"
    data = junit.render([junit.Suite("Enventa.Connector.Tests", parsed.cases, {"runner": "nunit-console"})])
    root = ET.fromstring(data)
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("7", "1", "3", "1")
    suite = root.find("testsuite")
    assert suite.get("name") == "Enventa.Connector.Tests"
    assert suite.find("properties/property").attrib == {"name": "runner", "value": "nunit-console"}
    case = suite.find("testcase[@name='FromAppSettingsReadsTheEnventaKeys']")
    assert case.get("classname") == "Enventa.Connector.Tests.ConnectorSettingsTests"
    assert case.find("failure").get("message") == "page size" and "Expected: 250" in case.find("failure").text
    assert "\x1b" not in data.decode() and "\ufffd[31mred" in case.find("system-out").text
    assert suite.find("testcase[@name='Later']/skipped").get("message") == "not yet"
    assert junit.render([junit.Suite("x", parsed.cases)]) == junit.render([junit.Suite("x", parsed.cases)])
