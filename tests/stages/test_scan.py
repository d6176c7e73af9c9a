"""The scan stage end to end through the CLI (in-process), on trees and builds the tests write."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.conftest import assert_user_error
from tests.fixtures.scan import (
    NEWTONSOFT_GHSA,
    classic_tree,
    osv_record,
    record_fake_build,
    write_osv_folder,
)

FAST = {"B2RELEASE_SCAN_TOOL_LICENSES": "false", "SOURCE_DATE_EPOCH": "1700000000"}
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dV"
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY[:64]}\n{PEM_BODY[64:]}\n-----END RSA PRIVATE KEY-----\n"
SAS_SIG = "c2VjcmV0c2lnbmF0dXJldmFsdWUwMTIzNDU2Nzg5YWJj%3D"
SAS_URL = f"https://acme.blob.core.windows.net/tenant-acme/x.zip?sv=2022-11-02&se=2030-01-01T00%3A00Z&sr=b&sp=r&sig={SAS_SIG}"


@pytest.fixture
def tree(tmp_path) -> Path:
    return classic_tree(tmp_path / "src", {"Newtonsoft.Json": "13.0.3", "Polly": "7.2.4", "System.Net.Http": "4.3.4"})


@pytest.fixture
def vulnerable_tree(tmp_path) -> Path:
    return classic_tree(tmp_path / "vsrc", {"Newtonsoft.Json": "12.0.3", "Polly": "7.2.4"})


def scan(cli, tmp_path, *args, env=None, work="dist"):
    # --json is a global option: it goes before the command
    glob = ["--json"] if "--json" in args else []
    rest = [a for a in args if a != "--json"]
    return cli("--work-dir", tmp_path / work, *glob, "scan", *rest, env={**FAST, **(env or {})}, cwd=tmp_path)


def load(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_pass_at_fixed_versions_records_outputs(cli, tmp_path, tree, osv_folder):
    result = scan(cli, tmp_path, "--source", tree, "--advisories", osv_folder)
    assert result.exit_code == 0, result.output
    assert "scan passed (fail_on=high)" in result.stderr
    work = tmp_path / "dist"
    state = load(work / "state.json")
    kinds = {a["kind"]: a for a in state["artifacts"]}
    assert {"scan-report", "sarif", "sbom"} <= set(kinds)
    assert kinds["sbom"]["path"] == "sbom.cdx.json"
    summary = state["runs"]["scan"]["data"]["manifest_summary"]
    assert summary["report_sha256"] == kinds["scan-report"]["sha256"]
    assert summary["sbom_sha256"] == kinds["sbom"]["sha256"]
    assert summary["fail_on"] == "high"
    assert summary["findings"]["high"] == 0 and summary["findings"]["critical"] == 0
    report = load(work / "scan-report.json")
    assert report["result"] == "pass"
    assert [p["id"] for p in report["inventory"]] == ["Newtonsoft.Json", "Polly", "System.Net.Http"]
    assert not any(f["kind"] == "vulnerability" for f in report["findings"])
    # no absolute paths (the report digest goes into the signed manifest)
    text = (work / "scan-report.json").read_text()
    assert str(tmp_path) not in text and "/tmp" not in text


def test_hit_fails_at_high_and_names_the_advisory(cli, tmp_path, vulnerable_tree, osv_folder):
    result = scan(cli, tmp_path, "--source", vulnerable_tree, "--advisories", osv_folder)
    assert_user_error(result, 1, "GHSA-5crp-9r3c-p9vr", "Newtonsoft.Json 12.0.3", "fail_on=high")
    # outputs exist even for a failed scan (CI uploads the SARIF), but the run is recorded as failed
    work = tmp_path / "dist"
    report = load(work / "scan-report.json")
    assert report["result"] == "fail"
    (finding,) = [f for f in report["findings"] if f["kind"] == "vulnerability"]
    assert finding["details"]["fixed_in"] == ["13.0.1"]
    assert (finding["path"], finding["line"]) == ("src/Lib/packages.config", 3)
    assert load(work / "state.json")["runs"]["scan"]["status"] == "failed"


@pytest.mark.parametrize("threshold,code", [("critical", 0), ("high", 1), ("medium", 1), ("none", 0)])
def test_fail_on_threshold_around_a_high_finding(cli, tmp_path, vulnerable_tree, osv_folder, threshold, code):
    result = scan(cli, tmp_path, "--source", vulnerable_tree, "--advisories", osv_folder, "--fail-on", threshold)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output


def test_fail_on_from_config_file(cli, tmp_path, vulnerable_tree, osv_folder):
    (tmp_path / "b2release.toml").write_text(
        f'[scan]\nadvisories = "{osv_folder.name}"\nfail_on = "critical"\nsource = "vsrc"\n', encoding="utf-8")
    result = scan(cli, tmp_path)
    assert result.exit_code == 0, result.output


def test_ignore_entry_hides_until_it_expires(cli, tmp_path, vulnerable_tree, osv_folder):
    ignore = tmp_path / "accepted.toml"
    ignore.write_text('[[ignore]]\nid = "CVE-2024-21907"\nreason = "no untrusted JSON"\nexpires = 2999-12-31\n')
    ok = scan(cli, tmp_path, "--source", vulnerable_tree, "--advisories", osv_folder, "--ignore-file", ignore)
    assert ok.exit_code == 0, ok.output
    (finding,) = [f for f in load(tmp_path / "dist/scan-report.json")["findings"] if f["kind"] == "vulnerability"]
    assert finding["suppressed"]["reason"] == "no untrusted JSON" and not finding["blocking"]
    sarif = load(tmp_path / "dist/scan.sarif")
    assert sarif["runs"][0]["results"][0]["suppressions"][0]["kind"] == "external"

    ignore.write_text('[[ignore]]\nid = "GHSA-5crp-9r3c-p9vr"\nreason = "no untrusted JSON"\nexpires = 2001-01-01\n')
    expired = scan(cli, tmp_path, "--source", vulnerable_tree, "--advisories", osv_folder, "--ignore-file", ignore)
    assert_user_error(expired, 1, "GHSA-5crp-9r3c-p9vr")
    (finding,) = [f for f in load(tmp_path / "dist/scan-report.json")["findings"] if f["kind"] == "vulnerability"]
    assert "suppressed" not in finding
    assert any("expired on 2001-01-01" in n for n in finding["notes"])


def test_default_ignore_file_in_the_source_tree(cli, tmp_path, vulnerable_tree, osv_folder):
    (vulnerable_tree / ".b2release-ignore.toml").write_text(
        '[[ignore]]\nid = "GHSA-5crp-9r3c-p9vr"\nreason = "accepted"\nexpires = 2999-01-01\n')
    result = scan(cli, tmp_path, "--source", vulnerable_tree, "--advisories", osv_folder)
    assert result.exit_code == 0, result.output


def test_ignore_entry_without_reason_is_refused(cli, tmp_path, tree, osv_folder):
    ignore = tmp_path / "i.toml"
    ignore.write_text('[[ignore]]\nid = "GHSA-5crp-9r3c-p9vr"\nexpires = 2999-12-31\n')
    result = scan(cli, tmp_path, "--source", tree, "--advisories", osv_folder, "--ignore-file", ignore)
    assert_user_error(result, 2, "GHSA-5crp-9r3c-p9vr", "has no reason")


def test_matching_details_in_one_scan(cli, tmp_path):
    """Four-part versions, prerelease, last_affected and withdrawn through the whole stage."""
    src = classic_tree(tmp_path / "src", {"Four.Part": "4.3.3.9", "Pre.Lib": "2.0.0-RC.1", "Last.Lib": "7.2.4",
                                          "Gone.Lib": "1.0.0"})
    db = write_osv_folder(tmp_path / "db", [
        osv_record("T-FOUR", "Four.Part", [{"introduced": "0"}, {"fixed": "4.3.4"}], severity="LOW"),
        osv_record("T-PRE", "Pre.Lib", [{"introduced": "2.0.0-beta"}, {"fixed": "2.0.0"}], severity="LOW"),
        osv_record("T-LAST", "Last.Lib", [{"introduced": "7.0.0"}, {"last_affected": "7.2.3"}], severity="CRITICAL"),
        osv_record("T-GONE", "Gone.Lib", [{"introduced": "0"}], severity="CRITICAL", withdrawn=True),
    ])
    result = scan(cli, tmp_path, "--json", "--source", src, "--advisories", db)
    assert result.exit_code == 0, result.output
    doc = result.json()
    hits = sorted(f["rule"] for f in doc["findings"] if f["kind"] == "vulnerability")
    assert hits == ["T-FOUR", "T-PRE"]
    assert doc["counts"]["low"] >= 2 and doc["counts"]["critical"] == 0


def test_secrets_in_build_output_fail_and_never_leak(cli, tmp_path, tree, osv_folder):
    work = tmp_path / "dist"
    record_fake_build(work, {
        "Enventa.Connector.dll.config": f'<configuration><appSettings>\n<add key="Blob" value="{SAS_URL}" />\n'
                                        "</appSettings></configuration>\n".encode(),
        "tools/deploy-key.pem": PEM.encode(),
        "Enventa.Connector.dll": b"MZ\x90\x00" + b"\x00" * 100,
    }, source_dir=tree)
    # no --source: the source tree comes from the build's state
    result = scan(cli, tmp_path, "--advisories", osv_folder)
    assert_user_error(result, 1, "secret")
    json_result = scan(cli, tmp_path, "--json", "--advisories", osv_folder)
    assert json_result.exit_code == 1
    details = json_result.json()["details"]["failed"]
    assert sorted((f["details"]["name"], f["path"], f["line"]) for f in details) == [
        ("private-key", "tools/deploy-key.pem", 1),
        ("sas-token", "Enventa.Connector.dll.config", 2),
    ]
    report = load(work / "scan-report.json")
    assert report["scanned"]["build_output_files"] == 3
    sarif = load(work / "scan.sarif")
    secret_results = [r for r in sarif["runs"][0]["results"] if r["ruleId"].startswith("B2S")]
    locations = sorted((r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                        r["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"], r["level"])
                       for r in secret_results)
    assert locations == [("Enventa.Connector.dll.config", "BUILDOUTPUT", "error"),
                         ("tools/deploy-key.pem", "BUILDOUTPUT", "error")]
    everything = [result.stdout, result.stderr, json_result.stdout, json_result.stderr]
    everything += [p.read_text(errors="replace") for p in work.iterdir() if p.is_file()]
    for blob in everything:
        assert SAS_SIG not in blob
        assert PEM_BODY[:64] not in blob and PEM_BODY[64:] not in blob


def test_sarif_shape(cli, tmp_path, vulnerable_tree, osv_folder):
    scan(cli, tmp_path, "--source", vulnerable_tree, "--advisories", osv_folder)
    sarif = load(tmp_path / "dist/scan.sarif")
    assert sarif["version"] == "2.1.0" and "sarif" in sarif["$schema"]
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    rule = next(r for r in rules if r["id"] == "GHSA-5crp-9r3c-p9vr")
    assert rule["properties"]["security-severity"] == "7.5"
    assert rule["shortDescription"]["text"] and rule["defaultConfiguration"]["level"] == "error"
    result = next(r for r in run["results"] if r["ruleId"] == "GHSA-5crp-9r3c-p9vr")
    assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    assert result["level"] == "error"
    loc = result["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "src/Lib/packages.config", "uriBaseId": "%SRCROOT%"}
    assert loc["region"]["startLine"] == 3
    assert result["properties"]["security-severity"] == "7.5"


def test_outputs_are_deterministic_and_sbom_is_cyclonedx(cli, tmp_path, tree, osv_folder):
    for work in ("w1", "w2"):
        record_fake_build(tmp_path / work, {"Lib.dll": b"MZ" + b"\x00" * 50}, source_dir=tree, version="1.2.3")
        result = scan(cli, tmp_path, "--advisories", osv_folder, work=work)
        assert result.exit_code == 0, result.output
    for name in ("sbom.cdx.json", "scan-report.json", "scan.sarif"):
        assert (tmp_path / "w1" / name).read_bytes() == (tmp_path / "w2" / name).read_bytes(), name
    bom = load(tmp_path / "w1/sbom.cdx.json")
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"
    assert bom["metadata"]["timestamp"].startswith("2023-11-14T22:13:20")
    assert bom["metadata"]["component"]["version"] == "1.2.3"
    assert bom["serialNumber"].startswith("urn:uuid:")
    purls = sorted(c.get("purl", c["name"]) for c in bom["components"])
    assert purls == ["Lib.dll", "pkg:nuget/Newtonsoft.Json@13.0.3", "pkg:nuget/Polly@7.2.4",
                     "pkg:nuget/System.Net.Http@4.3.4"]
    dll = next(c for c in bom["components"] if c["name"] == "Lib.dll")
    assert dll["type"] == "file" and "hashes" not in dll  # pre-signing bytes: digests live in the manifest
    # the library's own schema validator accepts it, when its optional jsonschema extra is installed
    from cyclonedx.exception import MissingOptionalDependencyException
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    try:
        errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str((tmp_path / "w1/sbom.cdx.json").read_text())
    except MissingOptionalDependencyException:
        errors = None
    assert not errors
    refs = {c["bom-ref"] for c in bom["components"]} | {bom["metadata"]["component"]["bom-ref"]}
    assert all(d["ref"] in refs and set(d.get("dependsOn", [])) <= refs for d in bom["dependencies"])

    # a different SOURCE_DATE_EPOCH changes timestamp and serial number
    scan(cli, tmp_path, "--advisories", osv_folder, work="w1", env={"SOURCE_DATE_EPOCH": "1700000001"})
    other = load(tmp_path / "w1/sbom.cdx.json")
    assert other["serialNumber"] != bom["serialNumber"]


def test_package_ships_the_sbom_and_the_scan_summary(cli, tmp_path, tree, osv_folder, dev_keys, sample_input):
    manifests = []
    for work in ("p1", "p2"):
        assert scan(cli, tmp_path, "--source", tree, "--advisories", osv_folder, work=work).exit_code == 0
        result = cli("--work-dir", tmp_path / work, "package", "--input", sample_input, "--name", "enventa-connector",
                     "--version", "1.2.3", "--signing-key", dev_keys / "release-signing.key", env=FAST, cwd=tmp_path)
        assert result.exit_code == 0, result.output
        state = load(tmp_path / work / "state.json")
        manifest = load(tmp_path / work / "manifest.json")
        assert manifest["scan"] == state["runs"]["scan"]["data"]["manifest_summary"]
        assert [a["path"] for a in manifest["attachments"]] == ["sbom.cdx.json"]
        with zipfile.ZipFile(tmp_path / work / "enventa-connector-1.2.3.zip") as zf:
            assert zf.read(".b2release/sbom.cdx.json") == (tmp_path / work / "sbom.cdx.json").read_bytes()
        manifests.append((tmp_path / work / "manifest.json").read_bytes())
    assert manifests[0] == manifests[1]


def test_online_mode_against_local_osv(cli, tmp_path, vulnerable_tree, osv_server):
    osv_server.state.records = {"GHSA-5crp-9r3c-p9vr": NEWTONSOFT_GHSA}
    osv_server.state.failures = {"/v1/querybatch": [503]}
    result = scan(cli, tmp_path, "--json", "--source", vulnerable_tree, "--online", "--fail-on", "critical",
                  env={"B2RELEASE_SCAN_OSV_URL": osv_server.url})
    assert result.exit_code == 0, result.output
    doc = result.json()
    assert doc["advisories"]["mode"] == "online"
    assert [f["rule"] for f in doc["findings"] if f["kind"] == "vulnerability"] == ["GHSA-5crp-9r3c-p9vr"]


def test_online_service_down_is_exit_3(cli, tmp_path, tree, osv_server):
    osv_server.state.failures = {"/v1/querybatch": [503] * 10}
    result = scan(cli, tmp_path, "--source", tree, "--online", env={"B2RELEASE_SCAN_OSV_URL": osv_server.url})
    assert_user_error(result, 3, "querybatch", "HTTP 503")


def test_denied_nuget_licence_fails(cli, tmp_path, tree, osv_folder):
    folder = tree / "packages" / "Polly.7.2.4"
    folder.mkdir(parents=True)
    (folder / "Polly.nuspec").write_text(
        '<package><metadata><id>Polly</id><license type="expression">GPL-3.0-only</license></metadata></package>')
    result = scan(cli, tmp_path, "--source", tree, "--advisories", osv_folder,
                  env={"B2RELEASE_SCAN_LICENSES_DENY": "GPL-3.0-only,AGPL-3.0-only"})
    assert_user_error(result, 1, "denied licence GPL-3.0-only (Polly 7.2.4)")


def test_unknown_licence_warns_or_fails(cli, tmp_path, tree, osv_folder):
    warn = scan(cli, tmp_path, "--source", tree, "--advisories", osv_folder)
    assert warn.exit_code == 0 and "unknown licence" in warn.stderr
    fail = scan(cli, tmp_path, "--source", tree, "--advisories", osv_folder,
                env={"B2RELEASE_SCAN_UNKNOWN_LICENSE": "fail"})
    assert_user_error(fail, 1, "unknown licence")


def test_tool_environment_licences_checked_against_the_same_policy(cli, tmp_path, tree, osv_folder):
    ok = scan(cli, tmp_path, "--json", "--source", tree, "--advisories", osv_folder,
              env={"B2RELEASE_SCAN_TOOL_LICENSES": "true", "B2RELEASE_SCAN_LICENSES_DENY": "GPL-3.0-only"})
    assert ok.exit_code == 0, ok.output
    tool = load(tmp_path / "dist/scan-report.json")["tool_licenses"]
    assert any(t["name"].lower() == "requests" and t["spdx"] == "Apache-2.0" for t in tool)
    denied = scan(cli, tmp_path, "--source", tree, "--advisories", osv_folder,
                  env={"B2RELEASE_SCAN_TOOL_LICENSES": "true", "B2RELEASE_SCAN_LICENSES_DENY": "Apache-2.0"})
    assert_user_error(denied, 1, "denied licence")
    failed = load(tmp_path / "dist/scan-report.json")["blocking"]
    assert any(":requests@" in f for f in failed)


@pytest.mark.parametrize("args,needle", [
    (["--fail-on", "severe"], "--fail-on must be one of"),
    (["--source", "missing-dir"], "missing-dir"),
    (["--advisories", "missing-db"], "missing-db"),
])
def test_usage_errors(cli, tmp_path, tree, osv_folder, args, needle):
    base = ["--source", tree, "--advisories", osv_folder]
    result = scan(cli, tmp_path, *base, *args)
    assert_user_error(result, 2, needle)


def test_nothing_to_scan(cli, tmp_path, osv_folder):
    result = scan(cli, tmp_path, "--advisories", osv_folder)
    assert_user_error(result, 2, "nothing to scan", "--source")


def test_no_advisory_source(cli, tmp_path, tree):
    result = scan(cli, tmp_path, "--source", tree)
    assert_user_error(result, 2, "no advisory database", "--advisories")


def test_build_output_only(cli, tmp_path, osv_folder):
    record_fake_build(tmp_path / "dist", {"Lib.dll": b"MZ" + b"\x00" * 10})
    result = scan(cli, tmp_path, "--json", "--advisories", osv_folder)
    assert result.exit_code == 0, result.output
    report = load(tmp_path / "dist/scan-report.json")
    assert report["scanned"]["packages"] == 0 and report["scanned"]["build_output_files"] == 1
    assert any("no source tree" in n for n in report["notes"])


def test_stale_build_output_is_refused(cli, tmp_path, osv_folder):
    build = record_fake_build(tmp_path / "dist", {"Lib.dll": b"MZ" + b"\x00" * 10})
    build.files["Lib.dll"].write_bytes(b"tampered")
    result = scan(cli, tmp_path, "--advisories", osv_folder)
    assert_user_error(result, 1, "Lib.dll", "changed on disk")


def test_fresh_process_and_lazy_imports(tmp_path, tree, osv_folder, cli_subprocess):
    import subprocess
    import sys

    from tests.conftest import REPO

    probe = ("import sys, b2release.cli, b2release.stages.scan; "
             "print(sorted(m for m in ('requests', 'cyclonedx', 'license_expression', 'azure') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"
    result = cli_subprocess("--work-dir", tmp_path / "dist", "--json", "scan", "--source", tree,
                            "--advisories", osv_folder, env=FAST, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert result.json()["result"] == "pass"
    assert (tmp_path / "dist" / "sbom.cdx.json").is_file()


def test_rescanning_after_package_keeps_the_sbom_or_says_it_broke_the_seal(cli, tmp_path, tree, osv_folder, dev_keys,
                                                                            sample_input):
    work = tmp_path / "dist"
    assert scan(cli, tmp_path, "--source", tree, "--advisories", osv_folder).exit_code == 0
    r = cli("--work-dir", work, "package", "--input", sample_input, "--name", "enventa-connector",
            "--version", "1.2.3", "--signing-key", dev_keys / "release-signing.key", env=FAST, cwd=tmp_path)
    assert r.exit_code == 0, r.output
    sealed_sbom = (work / "sbom.cdx.json").read_bytes()

    # The same inputs: the same SBOM, serial number included; nothing to warn about.
    again = scan(cli, tmp_path, "--json", "--source", tree, "--advisories", osv_folder)
    assert again.exit_code == 0, again.output
    assert (work / "sbom.cdx.json").read_bytes() == sealed_sbom
    assert "sealed" not in again.stderr and "rewrote_sealed" not in again.json()
    assert cli("verify", work, "--public-key", dev_keys / "release-signing.pub").exit_code == 0

    # Other inputs (a later source time): the SBOM changes, and the user is told which sealed file broke.
    changed = scan(cli, tmp_path, "--json", "--source", tree, "--advisories", osv_folder,
                   env={"SOURCE_DATE_EPOCH": "1700000555"})
    assert changed.exit_code == 0, changed.output
    assert changed.json()["rewrote_sealed"] == ["sbom.cdx.json"]
    assert "scan changed sbom.cdx.json, which the last package sealed in SHA256SUMS" in changed.stderr
    assert f"run `b2release --work-dir {work} package` again" in changed.stderr


def test_every_count_printed_agrees_with_the_table(cli, tmp_path):
    import re

    from tests.conftest import REPO

    # The bundled sample: unknown NuGet licences, one advisory, and b2release's own Python environment scanned.
    r = cli("--work-dir", tmp_path / "dist", "scan", "--source", REPO / "examples" / "enventa-connector",
            "--advisories", REPO / "examples" / "advisories",
            env={"COLUMNS": "200", "B2RELEASE_SCAN_TOOL_LICENSES": "true"}, cwd=tmp_path)
    assert r.exit_code == 0, r.output
    rows = [line for line in r.stderr.splitlines() if line.startswith("│")]
    licence_rows = [row for row in rows if "│ license" in row]
    unknown = re.search(r"(\d+) NuGet package\(s\) with an unknown licence", r.stderr)
    assert unknown and int(unknown.group(1)) == len(licence_rows) > 0
    summary = re.search(r"(\d+) finding\(s\) below the threshold", r.stderr)
    assert summary and int(summary.group(1)) == len(rows)
    report = load(tmp_path / "dist" / "scan-report.json")
    notes = [f for f in report["findings"] if f.get("scope") == "python"]
    if notes:
        assert f"({len(notes)} non-blocking licence notes" in r.stderr
        assert f"and {len(notes)} licence note(s) on b2release's own environment" in r.stderr
    assert len(report["findings"]) == len(rows) + len(notes)
