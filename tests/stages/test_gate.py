"""The staging gate: `promote --from staging --to stable` moves a container only when the release
its staging channel serves there verifies through the address its tenant downloads from, has
soaked for [promote] min_soak (signed pointer `since`), and its provenance records passing tests
and scan; `--force --reason` overrides, signed into the pointer and written on the audit line.

Time: the soak is measured at the promote's start (`b2release.repoint.clock`, which the tests
replace to start a command later, as the race tests do)."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from b2release.formats import auditlog
from b2release.formats import pointer as pointer_fmt
from b2release.formats.signature import load_public_key
from tests.conftest import assert_user_error
from tests.fixtures.cloudflare import cdn_env
from tests.fixtures.releases import PRODUCT, everyone_args, tenant_args

STABLE = f"{PRODUCT}/channels/stable.json"
STAGING = f"{PRODUCT}/channels/staging.json"
DAY = 86400


def read_pointer(backend, container: str, public, name: str = STABLE) -> pointer_fmt.Pointer:
    raw = backend.read(container, name)
    public.verify(raw, backend.read(container, name + ".sig"), f"{container}/{name}")
    return pointer_fmt.parse(raw)


def pointers(backend) -> dict:
    """Every channel pointer (.json and .sig) of the test's containers, with its bytes."""
    snap = backend.snapshot()
    return {c: [b for b in blobs if "/channels/" in b[0]] for c, blobs in snap.items()}


def later(monkeypatch, seconds: float) -> None:
    """Commands from now on start `seconds` later than the real clock."""
    monkeypatch.setattr("b2release.repoint.clock", lambda: time.time() + seconds)


def on_staging(releaser, backend, *, failed: int = 0, scan: str = "pass", built: bool = True) -> None:
    """stable serves 1.0.0; staging serves 1.1.0 (with the given test and scan results), every tenant."""
    assert releaser.upload(releaser.package("1.0.0"), "--channel", "stable", *tenant_args(backend)).exit_code == 0
    work = releaser.package_built("1.1.0", failed=failed, scan=scan) if built else releaser.package("1.1.0")
    result = releaser.upload(work, "--channel", "staging", *tenant_args(backend))
    assert result.exit_code == 0, result.output


def promote(releaser, tmp_path, backend, *args: str, env: dict | None = None):
    return releaser.cli("--work-dir", tmp_path / "promote", "--json", "promote", "--from", "staging", "--to", "stable",
                        "--signing-key", releaser.signing_key, "--no-purge", *everyone_args(backend), *args, env=env)


def test_young_release_is_refused_then_promoted_once_it_soaked(backend, releaser, tmp_path, monkeypatch):
    on_staging(releaser, backend)
    public = load_public_key(releaser.public_key)
    before = pointers(backend)
    young = promote(releaser, tmp_path, backend)
    assert_user_error(young, 1, "the staging gate (staging->stable) failed",
                      f"soak [{', '.join(backend.containers)}]: {PRODUCT} 1.1.0 has been on staging for",
                      "less than promote.min_soak 1d", "nothing was changed")
    assert "verify [" not in young.json()["message"] and "provenance [" not in young.json()["message"]
    # The JSON document names each container's failure on its own.
    assert {(f["check"], f["container"]) for f in young.json()["details"]["failed"]} == {
        ("soak", c) for c in backend.containers}
    assert pointers(backend) == before

    later(monkeypatch, DAY + 3600)  # the same staging pointers, a day and an hour on
    result = promote(releaser, tmp_path, backend)
    assert result.exit_code == 0, result.output
    doc = result.json()
    assert doc["gate"]["failed"] == [] and doc["override"] is None
    assert doc["gate"]["via"] == ("folder" if backend.kind == "file" else "blob")
    for container in backend.containers:
        passed = doc["gate"]["passed"][container]
        assert passed[0].startswith("on staging for 1d 1h") and "verified 1.1.0" in passed[1]
        assert passed[2].endswith("tests passed, scan passed")
        moved = read_pointer(backend, container, public)
        assert (moved.version, moved.promoted_from, moved.override) == ("1.1.0", "staging", None)
    for secret in backend.secrets:  # the Azure read SAS and the account key stay out of every output
        assert secret not in result.output
    assert "sig=" not in result.output and "se=" not in result.output


def test_a_refresh_does_not_restart_the_soak(file_backend, releaser, tmp_path, monkeypatch):
    """`since` carries over when the same release is re-issued; issued_at does not count."""
    on_staging(releaser, file_backend)
    public = load_public_key(releaser.public_key)
    first = read_pointer(file_backend, "tenant-acme", public, STAGING)
    assert first.since == first.issued_at
    later(monkeypatch, DAY - 3600)
    refreshed = releaser.cli("--work-dir", tmp_path / "rf", "refresh", "--channel", "staging", "--within", "30d",
                             "--no-purge", "--signing-key", releaser.signing_key, *tenant_args(file_backend))
    assert refreshed.exit_code == 0, refreshed.output
    again = read_pointer(file_backend, "tenant-acme", public, STAGING)
    assert again.sequence == first.sequence + 1 and again.issued_at > first.issued_at
    assert again.since == first.since  # the release has been on staging since the upload
    later(monkeypatch, DAY + 60)  # a day after the upload, one hour after the refresh
    result = promote(releaser, tmp_path, file_backend)
    assert result.exit_code == 0, result.output
    # The promote's new stable pointer starts its own `since`: a new release on stable.
    moved = read_pointer(file_backend, "tenant-acme", public)
    assert moved.since == moved.issued_at != first.since


def test_a_tampered_release_at_the_cdn_is_refused(file_backend, releaser, tmp_path, monkeypatch, http_store,
                                                 fake_cloudflare):
    """The CDN serves the store (here: a copy of it, as an edge cache holds one) and one tenant's
    zip there differs from what was uploaded: the store's own checks pass, the gate does not."""
    on_staging(releaser, file_backend)
    shutil.copytree(tmp_path / "store", http_store.root, dirs_exist_ok=True)
    victim = http_store.root / "tenant-acme" / PRODUCT / "1.1.0" / f"{PRODUCT}-1.1.0.zip"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    before = pointers(file_backend)
    later(monkeypatch, 2 * DAY)
    result = promote(releaser, tmp_path, file_backend, env=cdn_env(fake_cloudflare, http_store.url))
    assert_user_error(result, 1, "the staging gate (staging->stable) failed", "verify [tenant-acme]: ",
                      f"{http_store.url}/tenant-acme/{PRODUCT}/1.1.0/", "provenance [tenant-acme]: not checked",
                      "nothing was changed")
    message = result.json()["message"]
    assert "tenant-globex" not in message and "releases:" not in message  # their copies are intact
    assert pointers(file_backend) == before
    assert any(h.path == f"/tenant-globex/{PRODUCT}/1.1.0/{PRODUCT}-1.1.0.zip" for h in http_store.hits)
    assert fake_cloudflare.purged == []


def test_a_tampered_blob_in_azure_is_refused(azure_backend, releaser, tmp_path, monkeypatch):
    """Azure without a CDN: the gate downloads through the blob URL with a read SAS. A blob whose
    bytes changed but whose sha256 metadata did not passes the store's metadata check, not the gate."""
    from azure.storage.blob import BlobServiceClient

    on_staging(releaser, azure_backend)
    container = azure_backend.containers[0]
    service = BlobServiceClient.from_connection_string(azure_backend.server.connection_string,
                                                       connection_verify=str(azure_backend.server.ca_file))
    blob = service.get_blob_client(container, f"{PRODUCT}/1.1.0/{PRODUCT}-1.1.0.zip")
    metadata = blob.get_blob_properties().metadata
    data = bytearray(blob.download_blob().readall())
    data[len(data) // 2] ^= 0xFF
    blob.upload_blob(bytes(data), overwrite=True, metadata=metadata)
    before = pointers(azure_backend)
    later(monkeypatch, 2 * DAY)
    result = promote(releaser, tmp_path, azure_backend)
    assert_user_error(result, 1, f"verify [{container}]: ", f"{container}/{PRODUCT}/1.1.0/", "nothing was changed")
    assert "sig=" not in result.output
    assert pointers(azure_backend) == before


@pytest.mark.parametrize("failed, scan, built, expected", [
    (2, "pass", True, "records 2 failed of 12 tests"),
    (0, "fail", True, "records scan result 'fail', not 'pass'"),
    (0, "pass", False, "records no test run"),  # packaged from --input: no test stage to state
])
def test_provenance_must_record_passing_tests_and_scan(file_backend, releaser, tmp_path, monkeypatch, failed, scan,
                                                       built, expected):
    on_staging(releaser, file_backend, failed=failed, scan=scan, built=built)
    before = pointers(file_backend)
    later(monkeypatch, 2 * DAY)
    result = promote(releaser, tmp_path, file_backend)
    assert_user_error(result, 1, f"provenance [{', '.join(file_backend.containers)}]: ",
                      f"/<container>/{PRODUCT}/1.1.0/{PRODUCT}-1.1.0.intoto.jsonl", expected, "nothing was changed")
    assert "soak [" not in result.json()["message"] and "verify [" not in result.json()["message"]
    assert pointers(file_backend) == before


def test_force_with_a_reason_is_signed_into_the_pointer_and_the_audit_line(file_backend, releaser, tmp_path,
                                                                          monkeypatch):
    on_staging(releaser, file_backend, failed=1)
    public = load_public_key(releaser.public_key)
    reason = "hotfix for INC-4711, tests quarantined by QA"
    result = promote(releaser, tmp_path, file_backend, "--force", "--reason", reason)
    assert result.exit_code == 0, result.output
    assert "staging gate staging->stable overridden (soak, provenance)" in result.stderr
    assert result.json()["override"] == {"reason": reason, "checks": ["soak", "provenance"]}
    for container in file_backend.containers:
        moved = read_pointer(file_backend, container, public)
        assert moved.version == "1.1.0" and moved.override == {"reason": reason, "checks": ["soak", "provenance"]}
    audit = b"".join(file_backend.read("releases", b.path) for b in file_backend.open().list("releases", "audit/"))
    lines = auditlog.parse_lines(audit)
    moved_lines = [line for line in lines if line.record.command == "promote"]
    assert len(moved_lines) == 1 and moved_lines[0].record.reason == reason
    assert json.loads(moved_lines[0].raw)["format"] == "b2release-audit/2"
    assert all(json.loads(line.raw)["format"] == "b2release-audit/1" for line in lines if line.record.reason is None)
    verified = releaser.cli("--json", "audit", "verify", "--public-key", releaser.public_key)
    assert verified.exit_code == 0, verified.output
    shown = releaser.cli("audit", "show")
    assert shown.exit_code == 0 and f"promote/move-pointer  {PRODUCT} 1.1.0 channel stable" in shown.stderr
    assert f"reason: {reason}" in shown.stderr
    # A refresh re-issues the decision: the override (and the release's `since`) stay with it.
    refreshed = releaser.cli("--work-dir", tmp_path / "rf", "refresh", "--within", "30d", "--no-purge",
                             "--signing-key", releaser.signing_key, *tenant_args(file_backend))
    assert refreshed.exit_code == 0, refreshed.output
    again = read_pointer(file_backend, "tenant-acme", public)
    assert again.sequence == 3 and again.override == {"reason": reason, "checks": ["soak", "provenance"]}


@pytest.mark.parametrize("args, message", [
    (["--force"], "--force needs --reason TEXT"),
    (["--reason", "why"], "--reason goes with --force"),
    (["--force", "--reason", "x" * 501], "at most 500"),
])
def test_force_and_reason_go_together(file_backend, releaser, tmp_path, args, message):
    result = promote(releaser, tmp_path, file_backend, *args)
    assert_user_error(result, 2, message)


def test_force_is_refused_where_no_gate_is(file_backend, releaser, tmp_path):
    result = releaser.cli("--work-dir", tmp_path / "p", "promote", "--from", "canary", "--to", "stable", "--force",
                          "--reason", "why", "--signing-key", releaser.signing_key, *tenant_args(file_backend))
    assert_user_error(result, 2, "canary->stable is not gated ([promote] gated)")


def test_gated_pairs_and_soak_are_configuration(file_backend, releaser, tmp_path, monkeypatch):
    """[promote] from/to/gated/min_soak from the environment: qa -> prod is gated with 1h."""
    on_staging(releaser, file_backend)  # 1.1.0 on staging, just uploaded
    env = {"B2RELEASE_PROMOTE_FROM": "staging", "B2RELEASE_PROMOTE_TO": "stable",
           "B2RELEASE_PROMOTE_GATED": "qa->prod", "B2RELEASE_PROMOTE_MIN_SOAK": "1h"}
    ungated = releaser.cli("--work-dir", tmp_path / "p", "--json", "promote", "--signing-key", releaser.signing_key,
                           "--no-purge", *everyone_args(file_backend), env=env)
    assert ungated.exit_code == 0, ungated.output  # staging->stable is not in the gated list now
    assert ungated.json()["gate"] is None and ungated.json()["to_channel"] == "stable"
    bad = releaser.cli("promote", "--signing-key", releaser.signing_key,
                       env={**env, "B2RELEASE_PROMOTE_GATED": "qa->qa"})
    assert_user_error(bad, 2, "environment variable B2RELEASE_PROMOTE_GATED", "'qa->qa' is not a channel pair")
