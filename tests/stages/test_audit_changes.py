"""`audit show` and `audit verify` on a release audit log written by stores.audit.append_audit
(folder store, local copies, Azurite): listing, and every kind of tampering is exit 1 naming the line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from b2release.formats.auditlog import AuditRecord
from b2release.formats.signature import load_signing_key
from b2release.stores.audit import append_audit
from tests.conftest import assert_user_error

MAY, JUNE = "audit/2024/05.jsonl", "audit/2024/06.jsonl"


def _records() -> list[AuditRecord]:
    def rec(time, command, action, **kw):
        return AuditRecord(time=time, actor="octocat@github-actions/b2connect/connector/runs/7", command=command,
                           action=action, correlation_id=f"corr-{time}", **kw)

    return [
        rec("2024-05-02T09:00:00Z", "upload", "upload-version", product="enventa-connector", version="1.4.0",
            tenants=("acme", "globex")),
        rec("2024-05-02T09:00:05Z", "upload", "move-pointer", product="enventa-connector", version="1.4.0",
            channel="stable", tenants=("acme", "globex"), sequence_before=3, sequence_after=4),
        rec("2024-05-20T12:00:00Z", "grant", "grant", tenants=("acme",), grant_id="b2r-20240520T120000Z-0a1b2c3d"),
        rec("2024-06-01T08:00:00Z", "rollback", "move-pointer", product="enventa-connector", version="1.3.2",
            channel="stable", tenants=("acme", "globex"), sequence_before=4, sequence_after=5),
    ]


@pytest.fixture
def store_root(tmp_path, dev_keys) -> Path:
    from b2release.stores.local import LocalStore

    root = tmp_path / "store"
    store = LocalStore(root)
    store.ensure_container("releases")
    key = load_signing_key(dev_keys / "release-signing.key")
    for record in _records():
        append_audit(store, record, key, container="releases")
    return root


def run(cli, root: Path, dev_keys: Path, action: str, *args: str, json_out: bool = True, key: Path | None = None):
    extra = ["--public-key", str(key or dev_keys / "release-signing.pub")] if action == "verify" else []
    return cli(*(["--json"] if json_out else []), "audit", action, "--store", f"file://{root}", *extra, *args)


def test_show_lists_the_changes(cli, store_root, dev_keys):
    result = run(cli, store_root, dev_keys, "show")
    assert result.exit_code == 0, result.output
    doc = result.json()
    assert doc["verified"] is False and doc["files"] == [MAY, JUNE]
    assert [(d["command"], d["action"], d["seq"]) for d in doc["lines"]] == [
        ("upload", "upload-version", 1), ("upload", "move-pointer", 2), ("grant", "grant", 3), ("audit", "seal", 4),
        ("rollback", "move-pointer", 5)]
    text = run(cli, store_root, dev_keys, "show", "--limit", "2", json_out=False)
    assert text.exit_code == 0 and "not verified" in text.stderr
    assert "rollback/move-pointer  enventa-connector 1.3.2 channel stable sequence 4->5" in text.stderr
    assert "upload/" not in text.stderr  # --limit 2: the seal and the rollback only
    since = run(cli, store_root, dev_keys, "show", "--since", "2024-05-20T00:00:00Z").json()
    assert [d["seq"] for d in since["lines"]] == [3, 4, 5]
    assert_user_error(run(cli, store_root, dev_keys, "show", "--limit", "0", json_out=False), 2,
                      "--limit must be at least 1")


def test_verify_accepts_the_log_and_pins_its_head(cli, store_root, dev_keys):
    result = run(cli, store_root, dev_keys, "verify")
    assert result.exit_code == 0, result.output
    doc = result.json()
    assert (doc["verified"], doc["files"], doc["lines"], doc["first_seq"], doc["last_seq"]) == (True, 2, 5, 1, 5)
    head = doc["head"]
    assert run(cli, store_root, dev_keys, "verify", "--expect-head", head).exit_code == 0
    # The last line cut off, seal and all: only the head tells.
    june = store_root / "releases" / JUNE
    june.unlink()
    may = store_root / "releases" / MAY
    may.write_bytes(b"".join(may.read_bytes().splitlines(keepends=True)[:-1]))  # drop May's seal too
    assert run(cli, store_root, dev_keys, "verify").exit_code == 0
    assert_user_error(run(cli, store_root, dev_keys, "verify", "--expect-head", head, json_out=False), 1,
                      f"{MAY} line 3: removed")
    assert_user_error(run(cli, store_root, dev_keys, "verify", "--expect-head", "xyz", json_out=False), 2,
                      "--expect-head must be the 64 hex digits")


@pytest.mark.parametrize("tamper, message", [
    (lambda lines: [lines[0], lines[1].replace(b'"version":"1.4.0"', b'"version":"1.4.1"'), *lines[2:]],
     f"{MAY} line 2: changed: the line's signature does not verify"),
    (lambda lines: [lines[0], *lines[2:]], f"{MAY} line 2: removed: 1 line missing"),
    (lambda lines: [lines[1], lines[0], *lines[2:]], f"{MAY} line 1: reordered"),
], ids=["changed", "removed", "reordered"])
def test_verify_names_the_tampered_line(cli, store_root, dev_keys, tamper, message):
    may = store_root / "releases" / MAY
    may.write_bytes(b"".join(tamper(may.read_bytes().splitlines(keepends=True))))
    assert_user_error(run(cli, store_root, dev_keys, "verify", json_out=False), 1, message)


def test_verify_refuses_another_key_and_reads_local_copies(cli, store_root, dev_keys, other_keys, tmp_path):
    assert_user_error(run(cli, store_root, dev_keys, "verify", json_out=False, key=other_keys / "release-signing.pub"),
                      1, f"{MAY} line 1", "not the release key")
    copy = tmp_path / "copy"
    shutil.copytree(store_root / "releases" / "audit", copy / "audit")
    local = cli("--json", "audit", "verify", str(copy), "--public-key", str(dev_keys / "release-signing.pub"))
    assert local.exit_code == 0, local.output
    assert local.json()["lines"] == 5 and local.json()["file_names"][0].endswith("audit/2024/05.jsonl")
    # Only June's file: the chain does not start at the log's beginning.
    alone = cli("audit", "verify", str(copy / "audit" / "2024" / "06.jsonl"), "--public-key",
                str(dev_keys / "release-signing.pub"))
    assert_user_error(alone, 1, "06.jsonl line 1")


def test_no_log_yet(cli, tmp_path, dev_keys):
    (tmp_path / "empty" / "releases").mkdir(parents=True)
    result = run(cli, tmp_path / "empty", dev_keys, "verify", json_out=False)
    assert result.exit_code == 0 and "audit log: none in" in result.stderr
    assert_user_error(run(cli, tmp_path / "empty", dev_keys, "verify", "--expect-head", "a" * 64, json_out=False), 1,
                      "removed")
    assert_user_error(cli("audit", "show", str(tmp_path / "nope")), 2, "does not exist")


@pytest.mark.azurite
def test_verify_reads_the_log_from_azure(cli, azurite, dev_keys):
    from b2release.stores.azure import AzureAuth, AzureStore
    from tests.fixtures.azurite import ACCOUNT, ACCOUNT_KEY

    container = azurite.unique("releasesaudit")
    auth = AzureAuth(account_url=azurite.endpoint, account_name=ACCOUNT, account_key=ACCOUNT_KEY, source="test")
    with AzureStore(auth, correlation_id="test", retries=1, retry_backoff=0, allow_http=True) as store:
        store.ensure_container(container)
        key = load_signing_key(dev_keys / "release-signing.key")
        for record in _records():
            append_audit(store, record, key, container=container)
    env = {**azurite.env(), "B2RELEASE_STORE_RELEASE_CONTAINER": container}
    result = cli("--json", "audit", "verify", "--public-key", str(dev_keys / "release-signing.pub"), env=env)
    assert result.exit_code == 0, result.output
    assert result.json()["file_names"] == [MAY, JUNE] and result.json()["last_seq"] == 5
    shown = cli("--json", "audit", "show", env=env)
    assert shown.exit_code == 0 and len(shown.json()["lines"]) == 5
