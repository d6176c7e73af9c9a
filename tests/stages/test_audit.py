"""`b2release audit downloads` on the fixture logs (tests/accesslogs/fixtures: one scenario written in
both documented formats): counts per tenant/version/grant, thresholds, exports, reading from a
store (a folder store and Azurite), and never a SAS signature in any output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.accesslogs.fixtures.generate import SIGS
from tests.conftest import assert_user_error

FIXTURES = Path(__file__).resolve().parents[1] / "accesslogs" / "fixtures"
RESOURCE = FIXTURES / "resource" / "PT1H.json"
CLASSIC = FIXTURES / "classic" / "000000.log"
LIVE = ["--live-grant", "grant-acme-01", "--live-grant", "grant-globex-01"]
BOTH = pytest.mark.parametrize("log", [RESOURCE, CLASSIC], ids=["resource", "classic"])
RUN_ID = "audit-run-0001"


def audit(cli, *args: str, json_out: bool = True, env: dict | None = None, cwd: Path | None = None):
    return cli(*(["--json"] if json_out else []), "audit", "downloads", *args,
               env={"B2RELEASE_CORRELATION_ID": RUN_ID, **(env or {})}, cwd=cwd)


def assert_no_signature(text: str, where: str) -> None:
    assert "sig=" not in text, where
    for sig in SIGS.values():
        for form in (sig, unquote(sig), sig[5:17]):
            assert form not in text, f"{where} contains a SAS signature ({form})"


def _expected_counts(report: dict) -> None:
    rows = {(d["tenant"], d["version"]): (d["downloads"], d["partial"], d["bytes"]) for d in report["downloads"]}
    assert rows == {("acme", "1.4.0"): (2, 0, 2000), ("acme", "1.5.0"): (1, 0, 1500),
                    ("globex", "1.4.0"): (1, 0, 1000), ("globex", "1.5.0"): (2, 1, 3500),
                    (None, "1.5.0"): (1, 0, 1500)}
    assert (report["requests"], report["errors"], report["client_errors"], report["server_errors"]) == (20, 8, 4, 4)
    assert report["error_rate"] == 0.4 and report["unauthorized"] == 4
    assert report["unauthorized_by_tenant"] == {"acme": 3, "globex": 1}
    assert {(i["tenant"], i["grant_id"], i["status"]) for i in report["expired_or_revoked"]} == {
        ("acme", "grant-acme-01", "rejected"), ("acme", "grant-acme-00", "expired"),
        ("globex", "grant-globex-old", "revoked")}
    grants = {g["grant_id"]: g for g in report["grants"]}
    assert (grants["grant-acme-01"]["first_seen"], grants["grant-acme-01"]["last_seen"]) == (
        "2024-05-01T10:00:00.123Z", "2024-05-01T10:00:42.123Z")
    assert (grants["grant-globex-01"]["requests"], grants["grant-globex-01"]["downloads"]) == (9, 3)


@BOTH
def test_counts_per_tenant_version_and_grant(cli, tmp_path, log):
    result = audit(cli, str(log), *LIVE, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    doc = result.json()
    assert doc["stage"] == "audit" and doc["log_files"] == 1 and doc["live_grants_from"] == "--live-grant"
    _expected_counts(doc["report"])
    assert not (tmp_path / "dist").exists()  # read-only: no state.json


@BOTH
def test_thresholds_exit_1_naming_each_one(cli, tmp_path, log):
    tripped = audit(cli, str(log), *LIVE, "--fail-on-error-rate", "5%", "--fail-on-unauthorized", "4", json_out=False)
    assert_user_error(tripped, 1, "error rate 40.00% (8 of 20 requests) reached the limit of 5.00%",
                      "4 unauthorized (403) requests reached the limit of 4")
    assert "Downloads per tenant and version:" in tripped.stderr  # the evidence comes with the alert
    assert audit(cli, str(log), *LIVE, "--fail-on-unauthorized", "1").exit_code == 1
    passed = audit(cli, str(log), *LIVE, "--fail-on-error-rate", "41%", "--fail-on-unauthorized", "5")
    assert passed.exit_code == 0 and passed.json()["thresholds"] == []
    # --json on a trip: still one document, the error with the report as its details.
    doc = audit(cli, str(log), *LIVE, "--fail-on-error-rate", "0.05").json()
    assert doc["exit_code"] == 1 and doc["details"]["thresholds"][0]["threshold"] == "error_rate"
    _expected_counts(doc["details"]["report"])


@BOTH
def test_no_sas_signature_in_any_output(cli, tmp_path, log):
    export = tmp_path / "requests.jsonl"
    outputs = {
        "text": audit(cli, str(log), *LIVE, "--fail-on-unauthorized", "1", json_out=False).output,
        "json": audit(cli, str(log), *LIVE, "--export", str(export)).output,
        "json-lines on stdout": audit(cli, str(log), "--export", "-", json_out=False).output,
        "verbose": cli("-vv", "audit", "downloads", str(log), "--fail-on-error-rate", "1%").output,
        "json logs": cli("--log-format", "json", "audit", "downloads", str(log), "--fail-on-error-rate", "1%").output,
    }
    outputs["export file"] = export.read_text()
    for where, text in outputs.items():
        assert_no_signature(text, where)


def test_export_lines_carry_both_correlation_ids(cli, tmp_path):
    export = tmp_path / "out" / "requests.jsonl"
    result = audit(cli, str(RESOURCE), *LIVE, "--export", str(export))
    assert result.exit_code == 0, result.output
    assert result.json()["export"] == {"target": str(export), "lines": 20}
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    assert len(lines) == 20 and all(d["b2release_correlation_id"] == RUN_ID for d in lines)
    assert lines[0]["correlation_id"] == "00000000-101e-0006-728c-8f0570000000"  # Azure's request id
    assert {d["grant_status"] for d in lines} == {"live", "rejected", "expired", "revoked", None}
    stdout = audit(cli, str(CLASSIC), "--export", "-", json_out=False)
    assert stdout.exit_code == 0 and len(stdout.stdout.splitlines()) == 20
    assert all(json.loads(line)["log_format"] == "classic" for line in stdout.stdout.splitlines())


def test_since_and_gzip_folders(cli, tmp_path):
    import gzip

    folder = tmp_path / "logs" / "deep"
    folder.mkdir(parents=True)
    (folder / "PT1H.json.gz").write_bytes(gzip.compress(RESOURCE.read_bytes()))
    result = audit(cli, str(tmp_path / "logs"), "--since", "2024-05-01T10:01:00Z")
    assert result.exit_code == 0, result.output
    report = result.json()["report"]
    assert report["requests"] == 11 and report["skipped_before_since"] == 9


@pytest.mark.parametrize("args, code, message", [
    (["--fail-on-error-rate", "5"], 2, "invalid error rate '5'"),
    (["--fail-on-unauthorized", "0"], 2, "invalid count '0'"),
    (["--format", "w3c"], 2, "unknown --format 'w3c'"),
    (["--since", "yesterday"], 2, "invalid --since 'yesterday'"),
    (["--logs-store", "file:///x"], 2, "give log files or --logs-store, not both"),
])
def test_usage_errors(cli, tmp_path, args, code, message):
    assert_user_error(audit(cli, str(RESOURCE), *args, json_out=False), code, message)


def test_missing_and_empty_inputs(cli, tmp_path):
    assert_user_error(audit(cli, str(tmp_path / "nope.log"), json_out=False), 2, "nope.log does not exist")
    (tmp_path / "empty").mkdir()
    assert_user_error(audit(cli, str(tmp_path / "empty"), json_out=False), 2, "no log files in")
    assert_user_error(cli("--json", "audit", "downloads", str(RESOURCE), "--export", "-"), 2,
                      "--export - writes JSON lines to stdout")


def _log_containers(root: Path, old_hour: bool = True) -> None:
    """The fixture logs where Azure puts them: both log containers of an account."""
    resource = root / "insights-logs-storageread" / ("resourceId=/subscriptions/0000/resourceGroups/rg/providers/"
                                                     "Microsoft.Storage/storageAccounts/b2dist/blobServices/default")
    hour = resource / "y=2024/m=05/d=01/h=10/m=00"
    hour.mkdir(parents=True)
    shutil.copy(RESOURCE, hour / "PT1H.json")
    classic = root / "$logs" / "blob" / "2024" / "05" / "01" / "1000"
    classic.mkdir(parents=True)
    shutil.copy(CLASSIC, classic / "000000.log")
    if old_hour:  # an hour before the period: not read at all
        older = resource / "y=2024/m=04/d=30/h=09/m=00"
        older.mkdir(parents=True)
        (older / "PT1H.json").write_text("not even json\n")


def test_reads_both_log_containers_of_a_folder_store(cli, tmp_path):
    _log_containers(tmp_path / "logs")
    result = audit(cli, "--logs-store", f"file://{tmp_path / 'logs'}", "--since", "2024-05-01T00:00:00Z", *LIVE)
    assert result.exit_code == 0, result.output
    doc = result.json()
    assert doc["log_files"] == 2 and doc["log_blobs_outside_period"] == 1
    report = doc["report"]
    assert report["requests"] == 40 and report["problems"] == 0 and report["total_downloads"] == 14
    sources = {i["source"].rsplit(":", 1)[0] for i in report["expired_or_revoked"]}
    assert sources == {"$logs/blob/2024/05/01/1000/000000.log",
                       "insights-logs-storageread/resourceId=/subscriptions/0000/resourceGroups/rg/providers/"
                       "Microsoft.Storage/storageAccounts/b2dist/blobServices/default/y=2024/m=05/d=01/h=10/m=00/PT1H.json"}


def test_a_store_without_logs_warns(cli, tmp_path):
    (tmp_path / "logs").mkdir()
    result = audit(cli, "--logs-store", f"file://{tmp_path / 'logs'}", json_out=False)
    assert result.exit_code == 0, result.output
    assert "no request logs in file://" in result.stderr and "since 1d" in result.stderr


@pytest.mark.azurite
def test_reads_azure_log_containers_and_live_grants_from_the_store(cli, azurite_https, tmp_path):
    """Logs in Azurite's two log containers; "revoked" from the tenant containers' stored access policies."""
    from datetime import datetime, timedelta, timezone

    from azure.storage.blob import AccessPolicy, ContainerSasPermissions

    acme, globex = azurite_https.unique("tenant-audacme"), azurite_https.unique("tenant-audglobex")
    local = tmp_path / "logs"
    _log_containers(local)
    service = azurite_https.service()
    expiry = datetime.now(timezone.utc) + timedelta(days=1)
    for container, live in ((acme, "grant-acme-01"), (globex, "grant-globex-01")):
        client = service.create_container(container)
        client.set_container_access_policy(signed_identifiers={
            live: AccessPolicy(permission=ContainerSasPermissions(read=True), expiry=expiry)})
    for container in ("insights-logs-storageread", "$logs"):
        try:
            service.create_container(container)
        except Exception:  # noqa: BLE001 - a second run in one session: already there
            pass
        for path in sorted((local / container).rglob("*")):
            if path.is_file():
                text = path.read_text().replace("tenant-acme", acme).replace("tenant-globex", globex)
                service.get_blob_client(container, path.relative_to(local / container).as_posix()).upload_blob(
                    text.encode(), overwrite=True)
    result = audit(cli, "--since", "2024-05-01T00:00:00Z", env=azurite_https.env())
    assert result.exit_code == 0, result.output
    doc = result.json()
    assert doc["log_files"] == 2 and doc["log_blobs_outside_period"] == 1
    assert doc["live_grants_from"] == azurite_https.endpoint
    report = doc["report"]
    assert report["requests"] == 40
    statuses = {(i["grant_id"], i["status"]) for i in report["expired_or_revoked"]}
    assert statuses == {("grant-acme-01", "rejected"), ("grant-acme-00", "expired"), ("grant-globex-old", "revoked")}
    assert_no_signature(result.output, "azure")


class _FakeAuth:
    def __init__(self, key):
        self.account_key = key


class _FakeStore:
    """An Azure-like store: grants, and policies per container (a missing container raises)."""

    supports_grants = True
    description = "https://fake.blob.core.windows.net"

    def __init__(self, key, policies):
        self.auth, self.policies, self.asked = _FakeAuth(key), policies, []

    def get_policies(self, container):
        from b2release.errors import InputError

        self.asked.append(container)
        if container not in self.policies:
            raise InputError(f"container {container} does not exist")
        return self.policies[container]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


@pytest.mark.parametrize("key, expected_grants, warning", [
    ("k3y", {"grant-acme-01"}, "tenant-globex no longer exists"),
    (None, None, "no account key"),
])
def test_live_grants_come_from_the_tenant_containers_policies(cli, monkeypatch, key, expected_grants, warning):
    """Only the containers SAS requests went to are asked; a deleted container's grants are revoked."""
    fake = _FakeStore(key, {"tenant-acme": {"grant-acme-01": object()}})
    monkeypatch.setattr("b2release.stages.audit.downloads.open_store", lambda *a, **k: fake)
    result = audit(cli, str(RESOURCE))
    assert result.exit_code == 0, result.output
    assert warning in result.stderr
    statuses = {(i["grant_id"], i["status"]) for i in result.json()["report"]["expired_or_revoked"]}
    if expected_grants is None:  # no key: nothing asked, revoked grants only show as Azure's rejections
        assert fake.asked == [] and ("grant-globex-old", "rejected") in statuses
    else:
        assert fake.asked == ["tenant-acme", "tenant-globex"]
        assert ("grant-globex-old", "revoked") in statuses and ("grant-globex-01", "revoked") in statuses
