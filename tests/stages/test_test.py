"""The test stage: real xbuild + nunit-console runs on small solutions, and fake runners on PATH
for the dialects and formats this machine cannot run (nunit3-console, xunit, vstest, dotnet)."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from b2release.testrunners import parsers
from tests.conftest import REPO, assert_user_error
from tests.fixtures.build import require_tool, tree_digest
from tests.fixtures.projects import TESTS

DATA = REPO / "tests" / "testrunners" / "data"
SAMPLE_TESTS = "Enventa.Connector.Tests"


def _test(cli, work: Path, *args, json_out: bool = True, env: dict | None = None, cwd: Path | None = None):
    return cli("--work-dir", work, *(["--json"] if json_out else []), "test", *args, env=env, cwd=cwd or work.parent)


def _junit(work: Path) -> ET.Element:
    return ET.parse(work / "test-results" / "junit.xml").getroot()


# --- real runs: xbuild + Debian's nunit-console ---------------------------------------------
@pytest.mark.mono
def test_a_failing_test_is_exit_1_named_with_its_message_and_fixing_it_passes(cli, bridge, tmp_path):
    require_tool("nunit-console")
    sln = bridge(failing=True)
    before = tree_digest(sln.parent)
    work = tmp_path / "dist"
    result = _test(cli, work, sln)
    assert_user_error(result, 1, "1 of 2 test(s) failed", "Bridge.Tests.GreeterTests.GreetsByName",
                      "the greeting names the person")
    details = result.json()["details"]
    assert details["counts"] == {"total": 2, "passed": 1, "failed": 1, "skipped": 0}
    assert details["failed"] == [{"name": "Bridge.Tests.GreeterTests.GreetsByName", "project": "Bridge.Tests.csproj",
                                  "message": "the greeting names the person", "status": "failed"}]
    assert details["projects"][0]["runner"] == "nunit-console"  # NUnit 2.6, read from the test assembly
    # The summary table and the failed test with its message, on stderr.
    assert "Bridge.Tests.csproj" in result.stderr and "nunit-console" in result.stderr
    assert "FAILED Bridge.Tests.GreeterTests.GreetsByName: the greeting names the person" in result.stderr
    # junit.xml: valid, both tests, the failure with its message; the native file beside it.
    root = _junit(work)
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"GreetsLoudly", "GreetsByName"}
    assert {c.get("classname") for c in cases.values()} == {"Bridge.Tests.GreeterTests"}
    assert cases["GreetsByName"].find("failure").get("message") == "the greeting names the person"
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    native = work / "test-results" / "Bridge.Tests.nunit2.xml"
    assert ET.parse(native).getroot().tag == "test-results"
    state = json.loads((work / "state.json").read_text())
    assert state["runs"]["test"]["status"] == "failed"
    kinds = {a["kind"]: a["path"] for a in state["artifacts"]}
    assert kinds["test-junit"] == "test-results/junit.xml" and kinds["test-result"].endswith(".nunit2.xml")
    assert not (work / "build").exists()  # nothing of the tests goes near what ships
    assert tree_digest(sln.parent) == before  # built in a copy

    (sln.parent / "tests" / "Bridge.Tests" / "GreeterTests.cs").write_text(
        TESTS.replace("EXPECTED", '"HELLO ANN!"'), encoding="utf-8")
    fixed = _test(cli, work, sln)
    assert fixed.exit_code == 0, fixed.output
    doc = fixed.json()
    assert doc["counts"] == {"total": 2, "passed": 2, "failed": 0, "skipped": 0} and doc["failed"] == []
    assert doc["junit"] == "test-results/junit.xml" and _junit(work).get("failures") == "0"
    assert json.loads((work / "state.json").read_text())["runs"]["test"]["data"]["counts"]["passed"] == 2


@pytest.mark.mono
def test_a_compile_error_in_a_test_project_is_exit_3_with_the_diagnostic(cli, bridge, tmp_path):
    sln = bridge(broken=True)
    work = tmp_path / "dist"
    result = _test(cli, work, sln)
    assert_user_error(result, 3, "test build of Bridge.Tests.csproj failed (xbuild exit code 1)",
                      "tests/Bridge.Tests/GreeterTests.cs(", "CS0029")
    diagnostics = result.json()["details"]["diagnostics"]
    assert [d["code"] for d in diagnostics if d["severity"] == "error"] == ["CS0029"]
    assert "CS0029" in (work / "test.log").read_text()


@pytest.mark.mono
def test_release_runs_the_tests_and_packages_no_test_assembly(cli, connector, tmp_path, dev_keys):
    require_tool("nunit-console")
    (tmp_path / "b2release.toml").write_text(
        f'[product]\nname = "enventa-connector"\nproject = "{connector.name}/Enventa.Connector.sln"\n'
        f'[build]\ntool = "xbuild"\n[release]\nsigning_key = "{dev_keys / "release-signing.key"}"\n'
        f'[sign]\nrequired = false\n[scan]\nadvisories = "{REPO / "examples" / "advisories"}"\ntool_licenses = false\n')
    work = tmp_path / "dist"
    result = cli("--work-dir", work, "--json", "release", "--version", "3.0.0", "--to", "package", "--skip", "sign",
                 cwd=tmp_path, env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert result.exit_code == 0, result.output
    stages = {s["stage"]: s for s in result.json()["stages"]}
    assert list(stages) == ["build", "test", "compat", "scan", "package"]
    assert stages["test"]["status"] == "ok" and stages["test"]["counts"]["failed"] == 0
    assert stages["test"]["counts"]["passed"] >= 10 and stages["test"]["projects"][0]["project"] == f"{SAMPLE_TESTS}.csproj"
    with zipfile.ZipFile(work / "enventa-connector-3.0.0.zip") as zf:
        names = zf.namelist()
    assert "Enventa.Connector.dll" in names
    assert not [n for n in names if SAMPLE_TESTS in n or "nunit" in n.lower()], names


# --- fake runners: every dialect and format, failures of the runner itself ------------------
@pytest.fixture
def fake_test_build(fake_tools, monkeypatch, connector):
    """The sample's tests 'built' by a fake xbuild (its output holds Enventa.Connector.Tests.dll)."""
    fake_tools("xbuild")
    monkeypatch.setenv("FAKE_OUTPUTS", f"{SAMPLE_TESTS}.dll|nunit.framework.dll")
    return connector


@pytest.mark.parametrize(("runner", "executable", "data", "native"), [
    ("nunit-console", "nunit-console", "nunit2.xml", "nunit2.xml"),
    ("nunit3-console", "nunit3-console", "nunit3.xml", "nunit3.xml"),
    ("xunit", "xunit.console", "xunit2.xml", "xunit2.xml"),
    ("vstest", "vstest.console", "results.trx", "trx"),
    ("dotnet", "dotnet", "results.trx", "trx"),
])
def test_every_runner_dialect_and_result_format(cli, fake_test_build, fake_runner, tmp_path, runner, executable, data,
                                                native):
    fake_runner(executable, DATA / data)
    work = tmp_path / "dist"
    result = _test(cli, work, fake_test_build, "--tool", "xbuild", "--runner", runner)
    assert result.exit_code == 1, result.output
    expected = parsers.parse(DATA / data)
    details = result.json()["details"]
    assert details["counts"] == expected.counts()
    assert [f["name"] for f in details["failed"]] == [c.full_name for c in expected.cases if c.failed]
    result_file = work / "test-results" / (f"{SAMPLE_TESTS}.{native}" if native == "trx" else f"{SAMPLE_TESTS}.{native}")
    assert result_file.read_bytes() == (DATA / data).read_bytes()
    assert _junit(work).find("testsuite").get("tests") == str(expected.counts()["total"])
    argv = fake_runner.argv()
    assert argv[0] == executable and any(a.endswith(f"{SAMPLE_TESTS}.dll") for a in argv)


def test_auto_takes_the_runner_the_project_file_names(cli, fake_test_build, fake_runner, tmp_path):
    """The fake assembly has no metadata: the project's NUnit reference decides (NUnit 3 unless known older)."""
    fake_runner("nunit3-console", DATA / "nunit3.xml")
    result = _test(cli, tmp_path / "dist", fake_test_build, "--tool", "xbuild")
    assert result.exit_code == 1 and result.json()["details"]["projects"][0]["runner"] == "nunit3-console"


def test_a_runner_that_cannot_start_is_exit_3(cli, fake_test_build, fake_runner, tmp_path, monkeypatch):
    fake_runner("nunit-console", DATA / "nunit2.xml")
    monkeypatch.setenv("FAKE_RUNNER_CRASH", "1")
    result = _test(cli, tmp_path / "dist", fake_test_build, "--tool", "xbuild", "--runner", "nunit-console")
    assert_user_error(result, 3, f"nunit-console did not run the tests of {SAMPLE_TESTS}.csproj (exit code 255",
                      "System.IO.FileNotFoundException: Could not load file or assembly")


def test_a_runner_failing_without_failed_tests_is_exit_3(cli, fake_test_build, fake_runner, tmp_path, monkeypatch):
    passing = tmp_path / "passing.xml"
    passing.write_text('<test-run><test-suite type="Assembly" name="x.dll"><test-case name="T" classname="C" '
                       'result="Passed" duration="0.1"/></test-suite></test-run>')
    fake_runner("nunit3-console", passing)
    monkeypatch.setenv("FAKE_RUNNER_EXIT", "-100")
    result = _test(cli, tmp_path / "dist", fake_test_build, "--tool", "xbuild", "--runner", "nunit3-console")
    assert_user_error(result, 3, "nunit3-console exited with code", "shows no failed test")


def test_a_missing_runner_is_exit_3_with_a_hint(cli, fake_test_build, tmp_path):
    result = _test(cli, tmp_path / "dist", fake_test_build, "--tool", "xbuild", "--runner", "xunit", json_out=False)
    assert_user_error(result, 3, "xunit is not installed")
    assert "hint: install xUnit.net's console runner" in result.stderr


def test_a_runner_over_the_timeout_is_stopped(cli, fake_test_build, fake_runner, tmp_path, monkeypatch):
    fake_runner("nunit3-console", DATA / "nunit3.xml")
    monkeypatch.setenv("FAKE_RUNNER_SLEEP", "20")
    result = _test(cli, tmp_path / "dist", fake_test_build, "--tool", "xbuild", "--runner", "nunit3-console",
                   env={"B2RELEASE_TEST_TIMEOUT": "1s"})
    assert_user_error(result, 3, "did not finish the tests of Enventa.Connector.Tests within 1s")


def test_a_runner_hanging_after_its_results_is_stopped_and_its_results_read(cli, fake_test_build, fake_runner,
                                                                           tmp_path, monkeypatch):
    from b2release.stages import test as test_stage

    monkeypatch.setattr(test_stage, "RESULT_GRACE_S", 1.0)
    fake_runner("nunit-console", DATA / "nunit2.xml")
    monkeypatch.setenv("FAKE_RUNNER_HANG", "600")
    monkeypatch.setenv("FAKE_RUNNER_EXIT", "0")
    started = time.monotonic()
    work = tmp_path / "dist"
    result = _test(cli, work, fake_test_build, "--tool", "xbuild", "--runner", "nunit-console", json_out=False,
                   env={"B2RELEASE_TEST_TIMEOUT": "60s"})
    assert time.monotonic() - started < 50  # stopped 1 s after its results, not at the 60 s timeout
    # The results decide: nunit2.xml holds a failed test, named in the one-line error.
    assert result.exit_code == 1, result.output
    assert "wrote its results for" in result.stderr and "did not exit within 1s; stopped it" in result.stderr
    assert "stopped it (the results are complete)" in (work / "test.log").read_text()


def test_a_runner_hanging_with_half_a_result_file_runs_into_the_timeout(cli, fake_test_build, fake_runner,
                                                                        tmp_path, monkeypatch):
    from b2release.stages import test as test_stage

    monkeypatch.setattr(test_stage, "RESULT_GRACE_S", 1.0)
    fake_runner("nunit-console", DATA / "nunit2.xml")
    monkeypatch.setenv("FAKE_RUNNER_PARTIAL", "1")
    result = _test(cli, tmp_path / "dist", fake_test_build, "--tool", "xbuild", "--runner", "nunit-console",
                   env={"B2RELEASE_TEST_TIMEOUT": "4s"})
    assert_user_error(result, 3, "did not finish the tests of Enventa.Connector.Tests within 4s")


def test_passing_tests_json_and_state(cli, fake_test_build, fake_runner, tmp_path, monkeypatch):
    passing = tmp_path / "passing.trx"
    passing.write_text((DATA / "results.trx").read_text().replace('outcome="Failed"', 'outcome="Passed"')
                       .replace('outcome="Timeout"', 'outcome="Passed"'))
    fake_runner("dotnet", passing)
    monkeypatch.setenv("FAKE_RUNNER_EXIT", "0")
    work = tmp_path / "dist"
    result = _test(cli, work, fake_test_build, "--tool", "xbuild", "--runner", "dotnet")
    assert result.exit_code == 0, result.output
    doc = result.json()
    assert doc["stage"] == "test" and doc["status"] == "ok"
    assert doc["counts"] == {"total": 6, "passed": 5, "failed": 0, "skipped": 1}
    assert doc["projects"][0]["result_file"] == f"test-results/{SAMPLE_TESTS}.trx"
    run = json.loads((work / "state.json").read_text())["runs"]["test"]
    assert run["status"] == "ok" and run["data"]["junit"] == "test-results/junit.xml"


# --- no test project; usage errors ---------------------------------------------------------
def test_no_test_project_is_a_skip_or_exit_1_when_required(cli, connector, tmp_path):
    library = connector / "src" / "Enventa.Connector" / "Enventa.Connector.csproj"
    work = tmp_path / "dist"
    result = _test(cli, work, library)
    assert result.exit_code == 0, result.output
    assert result.json()["status"] == "skipped" and "no test project in Enventa.Connector.csproj" in result.json()["reason"]
    assert json.loads((work / "state.json").read_text())["runs"]["test"]["status"] == "skipped"
    required = _test(cli, work, library, json_out=False, env={"B2RELEASE_TEST_REQUIRED": "true"})
    assert_user_error(required, 1, "no test project in Enventa.Connector.csproj", "[test] required is true")


@pytest.mark.parametrize(("args", "env", "needle"), [
    (["--runner", "mstest"], {}, "unknown test runner 'mstest'"),
    (["--configuration", "Release;Debug"], {}, "invalid configuration"),
    ([], {"B2RELEASE_TEST_TIMEOUT": "forever"}, "invalid duration 'forever'"),
    ([], {"B2RELEASE_TEST_RUNNER": "nunit"}, "test.runner must be one of"),
])
def test_usage_errors(cli, connector, tmp_path, args, env, needle):
    result = _test(cli, tmp_path / "dist", connector, *args, json_out=False, env=env)
    assert_user_error(result, 2, needle)


def test_skip_test_works_like_every_other_skip():
    from b2release import stages

    assert stages.PIPELINE[:4] == ["build", "test", "compat", "scan"]
    assert stages.select(None, "scan", ["test"]) == ["build", "compat", "scan"]


def test_test_keys_from_the_environment():
    from b2release import config
    from b2release.errors import ConfigError

    cfg = config.load(environ={"B2RELEASE_TEST_REQUIRED": "true", "B2RELEASE_DEBUG_PAUSE_AFTER_FILES": "1"})
    assert cfg.get("test.required") is True and cfg.get("test.timeout") == "30m"
    with pytest.raises(ConfigError, match="unknown config key test.requird"):
        config.load(environ={"B2RELEASE_TEST_REQUIRD": "true"})
