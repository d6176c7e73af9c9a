"""Every change b2release makes to a store or the CDN appends one signed line to the release
audit log: upload, pointer moves (upload, rollback, promote, refresh), grant, revoke, purge.
Run for real against Azurite (grants need Azure) and the fake Cloudflare; `audit show` and
`audit verify` read the log back."""

from __future__ import annotations

from tests.fixtures.cloudflare import cdn_env
from tests.fixtures.releases import tenant_args

REASON = "1.1.0 breaks the order import (INC-4711)"


def test_each_change_is_one_line_and_the_chain_verifies(azure_backend, releaser, fake_cloudflare, no_sleep,
                                                        tmp_path, monkeypatch):
    backend = azure_backend
    for key, value in cdn_env(fake_cloudflare).items():
        monkeypatch.setenv(key, value)
    a, b = backend.tenants
    first, second = releaser.package("1.0.0"), releaser.package("1.1.0")
    for work in (first, second):
        assert releaser.upload(work, *tenant_args(backend)).exit_code == 0
    again = releaser.upload(second, *tenant_args(backend))  # nothing to do: no line
    assert again.exit_code == 0 and again.json()["files_uploaded"] == 0
    work = tmp_path / "ops"
    cli = releaser.cli
    assert cli("--work-dir", work, "rollback", "--to", "1.0.0", "--reason", REASON, *tenant_args(backend)).exit_code == 0
    granted = cli("--work-dir", work, "--json", "grant", "--tenant", a)
    assert granted.exit_code == 0, granted.output
    assert cli("--work-dir", work, "revoke", "--tenant", a).exit_code == 0

    shown = cli("--work-dir", work, "--json", "audit", "show")
    assert shown.exit_code == 0, shown.output
    lines = shown.json()["lines"]
    actions = [(line["command"], line["action"]) for line in lines]
    assert actions == [
        ("upload", "upload-version"), ("upload", "move-pointer"),  # 1.0.0
        ("upload", "upload-version"), ("upload", "move-pointer"),  # 1.1.0
        ("rollback", "move-pointer"), ("purge", "purge"),          # rollback chains the purge
        ("grant", "grant"), ("revoke", "revoke"),
    ]
    moved = lines[4]
    assert (moved["version"], moved["channel"], moved["sequence_before"], moved["sequence_after"]) == \
        ("1.0.0", "stable", 2, 3)
    assert moved["tenants"] == sorted(backend.tenants)  # one line for containers that moved alike
    assert lines[6]["grant_id"] == granted.json()["policy_id"] and lines[6]["tenants"] == [a]
    assert all(line["correlation_id"] and line["actor"] for line in lines)
    # The SAS itself never reaches the log.
    sas_signature = granted.json()["url"].split("sig=")[1].split("&")[0]
    with backend.open() as store:
        raw = b"".join(store.read_bytes(backend.release_container, blob.path, 1 << 20)[0]
                       for blob in store.list(backend.release_container, "audit/"))
    assert sas_signature.encode() not in raw

    assert cli("--json", "audit", "show", "--tenant", b).json()["lines"][-1]["command"] == "purge"
    verified = cli("audit", "verify")
    assert verified.exit_code == 0, verified.output


def test_a_change_without_the_release_key_is_refused_before_anything_changes(azure_backend, releaser, monkeypatch):
    work = releaser.package("1.0.0")
    assert releaser.upload(work, *tenant_args(azure_backend)).exit_code == 0
    monkeypatch.delenv("B2RELEASE_RELEASE_SIGNING_KEY")
    before = azure_backend.snapshot()
    r = releaser.cli("--work-dir", work, "grant", "--tenant", azure_backend.tenants[0])
    assert r.exit_code == 2 and "no release signing key" in r.stderr
    assert azure_backend.snapshot() == before
