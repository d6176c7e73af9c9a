"""rollback: real releases in a file:// store and in Azurite (https), two tenants, the fake Cloudflare API."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from b2release.formats import pointer as pointer_fmt
from b2release.formats.signature import load_public_key
from tests.conftest import assert_user_error
from tests.fixtures.cloudflare import CDN_BASE_URL, FAKE_TOKEN, cdn_env
from tests.fixtures.releases import PRODUCT, tenant_args

POINTER = f"{PRODUCT}/channels/stable.json"
REASON = "1.1.0 breaks the order import (INC-4711)"


@pytest.fixture(autouse=True)
def _product(monkeypatch):
    monkeypatch.setenv("B2RELEASE_PRODUCT_NAME", PRODUCT)


def read_pointer(backend, container: str, public, name: str = POINTER) -> pointer_fmt.Pointer:
    raw = backend.read(container, name)
    public.verify(raw, backend.read(container, name + ".sig"), f"{container}/{name}")  # raises if bad
    return pointer_fmt.parse(raw)


def pointer_bytes(backend) -> dict[str, tuple[bytes, bytes]]:
    return {c: (backend.read(c, POINTER), backend.read(c, POINTER + ".sig")) for c in backend.containers}


def versioned(snapshot: dict) -> dict:
    # Versioned files only: not pointers, not the audit log (it grows with every change).
    return {c: [b for b in blobs if "/channels/" not in b[0] and not b[0].startswith("audit/")]
            for c, blobs in snapshot.items()}


def manifest_sha(work: Path) -> str:
    return json.loads((work / "state.json").read_text())["runs"]["package"]["data"]["manifest_sha256"]


def two_releases(backend, releaser) -> tuple[Path, Path]:
    """1.0.0 then 1.1.0 uploaded for both tenants: the channel serves 1.1.0 at sequence 2."""
    first, second = releaser.package("1.0.0"), releaser.package("1.1.0")
    for work in (first, second):
        result = releaser.upload(work, *tenant_args(backend))
        assert result.exit_code == 0, result.output
    return first, second


def rollback(releaser, work: Path, *args: str, env: dict | None = None, json_output: bool = True):
    opts = ["--json"] if json_output else []
    return releaser.cli("--work-dir", work, *opts, "rollback", "--signing-key", releaser.signing_key, *args,
                        env=env)


def test_rollback_moves_every_pointer_back_and_purges_exactly_the_pointers(backend, releaser, tmp_path,
                                                                           fake_cloudflare, no_sleep):
    first, _ = two_releases(backend, releaser)
    public = load_public_key(releaser.public_key)
    before = backend.snapshot()
    work = tmp_path / "rb"
    result = rollback(releaser, work, "--channel", "stable", "--to", "1.0.0", "--reason", REASON,
                      *tenant_args(backend), env=cdn_env(fake_cloudflare))
    assert result.exit_code == 0, result.output
    doc = result.json()
    assert (doc["command"], doc["version"], doc["reason"]) == ("rollback", "1.0.0", REASON)
    assert doc["containers"] == [{"container": c, "from": "1.1.0", "to": "1.0.0", "sequence": 3, "changed": True}
                                 for c in backend.containers]
    for container in backend.containers:
        pointer = read_pointer(backend, container, public)
        assert (pointer.version, pointer.sequence) == ("1.0.0", 3)
        assert pointer.rollback == {"from": "1.1.0", "reason": REASON}
        assert pointer.manifest_sha256 == manifest_sha(first)
        pointer_fmt.check_fresh(pointer, "pointer", last_seen_sequence=2)
    # Not a byte of any version changed: only pointers were written.
    assert versioned(backend.snapshot()) == versioned(before)

    # The purge asked for exactly the pointer URLs (.json and .json.sig per container), once.
    expected = [f"{CDN_BASE_URL}/{c}/{POINTER}{suffix}" for c in backend.containers for suffix in ("", ".sig")]
    assert fake_cloudflare.purged == [expected]
    assert doc["purge"]["status"] == "ok" and doc["purge"]["urls"] == expected
    state = json.loads((work / "state.json").read_text())
    assert state["pending_purge"] == []
    assert state["runs"]["rollback"]["status"] == "ok" and state["runs"]["purge"]["status"] == "ok"

    # Secrets: no storage key, connection string or CDN token in the output or state.json.
    from b2release import redact

    for text in (result.output, (work / "state.json").read_text()):
        for secret in [*backend.secrets, *redact.registered(), FAKE_TOKEN]:
            assert secret not in text

    # Running it again is a no-op: nothing written, nothing queued.
    again_before = backend.snapshot()
    again = rollback(releaser, work, "--to", "1.0.0", "--reason", REASON, *tenant_args(backend))
    assert again.exit_code == 0, again.output
    assert [c["changed"] for c in again.json()["containers"]] == [False] * len(backend.containers)
    assert backend.snapshot() == again_before


def test_rollback_to_a_missing_version_changes_nothing(backend, releaser, tmp_path):
    two_releases(backend, releaser)
    before, pointers = backend.snapshot(), pointer_bytes(backend)
    result = rollback(releaser, tmp_path / "rb", "--channel", "stable", "--to", "0.9.0", "--reason", REASON,
                      *tenant_args(backend), json_output=False)
    assert_user_error(result, 1, "cannot roll back", "0.9.0", "missing", "nothing was changed")
    assert backend.snapshot() == before and pointer_bytes(backend) == pointers


def test_rollback_to_an_incomplete_version_changes_nothing(backend, releaser, tmp_path):
    two_releases(backend, releaser)
    victim = backend.containers[1]  # the second tenant
    path = f"{PRODUCT}/1.0.0/{PRODUCT}-1.0.0.zip"
    if backend.kind == "file":
        Path(backend.open().root / victim / path).unlink()
    else:
        backend.server.service().get_blob_client(victim, path).delete_blob()
    before, pointers = backend.snapshot(), pointer_bytes(backend)
    result = rollback(releaser, tmp_path / "rb", "--to", "1.0.0", "--reason", REASON, *tenant_args(backend),
                      json_output=False)
    assert_user_error(result, 1, f"{victim}/{path}", "listed in SHA256SUMS but missing", "nothing was changed")
    # The first tenant passed its checks, yet nothing was written there either.
    assert backend.snapshot() == before and pointer_bytes(backend) == pointers


# --- file:// only from here: the same code paths, no emulator needed -------------------------
def test_rollback_only_goes_back(file_backend, releaser, tmp_path):
    two_releases(file_backend, releaser)
    work = tmp_path / "rb"
    assert rollback(releaser, work, "--to", "1.0.0", "--reason", REASON, *tenant_args(file_backend)).exit_code == 0
    pointers = pointer_bytes(file_backend)
    forward = rollback(releaser, work, "--to", "1.1.0", "--reason", "undo", *tenant_args(file_backend),
                       json_output=False)
    assert_user_error(forward, 1, "serves 1.0.0, lower than 1.1.0", "upload", "promote", "nothing was changed")
    assert pointer_bytes(file_backend) == pointers


@pytest.mark.parametrize("args, needle", [
    (["--to", "1.0.0"], "needs --reason"),
    (["--to", "1.0.0", "--reason", "  "], "needs --reason"),
    (["--reason", "x"], "needs --to"),
    (["--to", "v1.0.0", "--reason", "x"], "invalid version"),
    (["--to", "1.0.0", "--reason", "x", "--channel", "Stable!"], "invalid channel name"),
    (["--to", "1.0.0", "--reason", "x", "--tenant", "Acme"], "invalid tenant id"),
])
def test_usage_errors(file_backend, releaser, tmp_path, args, needle):
    two_releases(file_backend, releaser)
    pointers = pointer_bytes(file_backend)
    assert_user_error(rollback(releaser, tmp_path / "rb", *args, json_output=False), 2, needle)
    assert pointer_bytes(file_backend) == pointers


def test_channel_without_pointer_is_refused(file_backend, releaser, tmp_path):
    two_releases(file_backend, releaser)
    result = rollback(releaser, tmp_path / "rb", "--channel", "beta", "--to", "1.0.0", "--reason", REASON,
                      *tenant_args(file_backend), json_output=False)
    assert_user_error(result, 1, "channels/beta.json does not exist", "nothing was changed")


def test_wrong_signing_key_is_refused(file_backend, releaser, tmp_path, other_keys):
    two_releases(file_backend, releaser)
    pointers = pointer_bytes(file_backend)
    result = releaser.cli("--work-dir", tmp_path / "rb", "rollback", "--to", "1.0.0", "--reason", REASON,
                          "--signing-key", other_keys / "release-signing.key", *tenant_args(file_backend))
    assert_user_error(result, 1, "manifest.json: signature does not verify", "nothing was changed")
    assert pointer_bytes(file_backend) == pointers


def test_missing_cdn_token_is_caught_before_any_pointer_moves(file_backend, releaser, tmp_path, fake_cloudflare):
    two_releases(file_backend, releaser)
    pointers = pointer_bytes(file_backend)
    env = {**cdn_env(fake_cloudflare), "CLOUDFLARE_API_TOKEN": None}
    result = rollback(releaser, tmp_path / "rb", "--to", "1.0.0", "--reason", REASON, *tenant_args(file_backend),
                      env=env, json_output=False)
    assert_user_error(result, 2, "CLOUDFLARE_API_TOKEN is not set")
    assert pointer_bytes(file_backend) == pointers and fake_cloudflare.requests == []


def test_no_purge_keeps_the_list_for_a_later_purge(file_backend, releaser, tmp_path, fake_cloudflare, no_sleep):
    two_releases(file_backend, releaser)
    work = tmp_path / "rb"
    env = cdn_env(fake_cloudflare)
    result = rollback(releaser, work, "--to", "1.0.0", "--reason", REASON, "--no-purge",
                      *tenant_args(file_backend), env=env)
    assert result.exit_code == 0, result.output
    assert result.json()["purge"] == {"status": "not-run", "reason": "--no-purge", "pending": 6}
    assert fake_cloudflare.requests == []
    purged = releaser.cli("--work-dir", work, "--json", "purge", env=env)
    assert purged.exit_code == 0, purged.output
    assert sorted(fake_cloudflare.purged[0]) == sorted(
        f"{CDN_BASE_URL}/{c}/{POINTER}{s}" for c in file_backend.containers for s in ("", ".sig"))


def test_failed_purge_says_the_pointers_moved(file_backend, releaser, tmp_path, fake_cloudflare, no_sleep):
    two_releases(file_backend, releaser)
    public = load_public_key(releaser.public_key)
    work = tmp_path / "rb"
    fake_cloudflare.fail([{"code": 1234, "message": "zone is locked"}])
    result = rollback(releaser, work, "--to", "1.0.0", "--reason", REASON, *tenant_args(file_backend),
                      env=cdn_env(fake_cloudflare), json_output=False)
    assert_user_error(result, 3, "pointers moved", "zone is locked", f"re-run `b2release --work-dir {work} purge ")
    for container in file_backend.containers:
        assert read_pointer(file_backend, container, public).version == "1.0.0"
    state = json.loads((work / "state.json").read_text())
    assert len(state["pending_purge"]) == 6 and state["runs"]["rollback"]["status"] == "failed"
    # The re-run purge, exactly as printed, sends them.
    printed = re.search(r"re-run `([^`]*)`", result.stderr).group(1)
    again = releaser.cli(*shlex.split(printed)[1:], env=cdn_env(fake_cloudflare))
    assert again.exit_code == 0, again.output
    assert len(fake_cloudflare.purged) == 1 and len(fake_cloudflare.purged[0]) == 6


def test_concurrent_pointer_change_is_not_overwritten(file_backend, releaser, tmp_path, monkeypatch):
    """Another writer moves a pointer between our read and our write: refused, and that pointer kept."""
    from b2release.stores import channels

    two_releases(file_backend, releaser)
    victim = file_backend.containers[1]
    real_read = channels.read_channel

    def read_then_race(store, container, *args, **kwargs):
        state = real_read(store, container, *args, **kwargs)
        if container == victim:  # someone rewrites the pointer right after we read it
            store.write_bytes(container, POINTER, state.raw + b"\n", "public, max-age=60")
        return state

    monkeypatch.setattr("b2release.stages.rollback.read_channel", read_then_race)
    work = tmp_path / "rb"
    result = rollback(releaser, work, "--to", "1.0.0", "--reason", REASON, *tenant_args(file_backend),
                      json_output=False)
    assert_user_error(result, 1, f"{victim}/{POINTER} changed while this command ran",
                      f"already moved the pointer in {file_backend.containers[0]}")
    assert file_backend.read(victim, POINTER).endswith(b"\n")  # the other writer's bytes survive
    pending = json.loads((work / "state.json").read_text())["pending_purge"]
    assert {p["container"] for p in pending} == {file_backend.containers[0]}


def test_verify_remote_accepts_the_rolled_back_pointer(file_backend, releaser, tmp_path):
    from tests.fixtures.http_store import HttpStore

    two_releases(file_backend, releaser)
    container = file_backend.containers[0]
    server = HttpStore(file_backend.open().root).start()
    try:
        url = f"{server.url}/{container}/{POINTER}"
        seen = tmp_path / "last-seen.json"

        def verify():
            return releaser.cli("--json", "verify", "--remote", url, "--public-key", releaser.public_key,
                                "--last-seen", seen, "--allow-insecure-http")

        first = verify()
        assert first.exit_code == 0, first.output
        assert first.json()["pointer"]["sequence"] == 2
        assert rollback(releaser, tmp_path / "rb", "--to", "1.0.0", "--reason", REASON,
                        *tenant_args(file_backend)).exit_code == 0
        after = verify()
        assert after.exit_code == 0, after.output
        assert (after.json()["pointer"]["version"], after.json()["pointer"]["sequence"]) == ("1.0.0", 3)
        key = f"{urlsplit(server.url).netloc}/{container}/{PRODUCT}/stable"
        assert json.loads(seen.read_text())["pointers"][key]["sequence"] == 3
    finally:
        server.stop()


def test_rerun_repairs_a_pointer_left_unsigned_by_a_crash(file_backend, releaser, tmp_path):
    """A crash between the .json and the .sig write: the re-run rewrites that pointer only."""
    two_releases(file_backend, releaser)
    public = load_public_key(releaser.public_key)
    work = tmp_path / "rb"
    assert rollback(releaser, work, "--to", "1.0.0", "--reason", REASON, *tenant_args(file_backend)).exit_code == 0
    broken = file_backend.containers[1]
    sig = file_backend.open().root / broken / (POINTER + ".sig")
    sig.write_bytes(b"not the signature of this pointer")
    others = {c: file_backend.read(c, POINTER) for c in file_backend.containers if c != broken}
    result = rollback(releaser, work, "--to", "1.0.0", "--reason", REASON, *tenant_args(file_backend))
    assert result.exit_code == 0, result.output
    assert f"{broken}/{POINTER} does not verify with the release key" in result.stderr
    assert [c["changed"] for c in result.json()["containers"]] == [c == broken for c in file_backend.containers]
    pointer = read_pointer(file_backend, broken, public)
    assert (pointer.version, pointer.sequence) == ("1.0.0", 4)
    assert pointer.rollback == {"from": "1.1.0", "reason": REASON}  # the original "from" is kept
    assert {c: file_backend.read(c, POINTER) for c in others} == others
