"""promote: a channel's release moves to another channel as a signed pointer, never re-uploaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from b2release.formats import pointer as pointer_fmt
from b2release.formats.signature import load_public_key
from tests.conftest import assert_user_error
from tests.fixtures.cloudflare import CDN_BASE_URL, FAKE_TOKEN, cdn_env
from tests.fixtures.releases import PRODUCT, tenant_args

STABLE = f"{PRODUCT}/channels/stable.json"
CANARY = f"{PRODUCT}/channels/canary.json"


@pytest.fixture(autouse=True)
def _product(monkeypatch):
    monkeypatch.setenv("B2RELEASE_PRODUCT_NAME", PRODUCT)


def read_pointer(backend, container: str, public, name: str) -> pointer_fmt.Pointer:
    raw = backend.read(container, name)
    public.verify(raw, backend.read(container, name + ".sig"), f"{container}/{name}")
    return pointer_fmt.parse(raw)


def versioned(snapshot: dict) -> dict:
    # Versioned files only: not pointers, not the audit log (it grows with every change).
    return {c: [b for b in blobs if "/channels/" not in b[0] and not b[0].startswith("audit/")]
            for c, blobs in snapshot.items()}


def upload(releaser, backend, work: Path, channel: str, *tenants: str) -> None:
    args = [a for t in tenants for a in ("--tenant", t)] if tenants else tenant_args(backend)
    result = releaser.upload(work, "--channel", channel, *args)
    assert result.exit_code == 0, result.output


def stable_then_canary(backend, releaser) -> tuple[Path, Path]:
    """stable serves 1.0.0 (sequence 1), canary serves 1.1.0 (sequence 1), both tenants."""
    first, second = releaser.package("1.0.0"), releaser.package("1.1.0")
    upload(releaser, backend, first, "stable")
    upload(releaser, backend, second, "canary")
    return first, second


def promote(releaser, work: Path, *args: str, env: dict | None = None, json_output: bool = True):
    opts = ["--json"] if json_output else []
    return releaser.cli("--work-dir", work, *opts, "promote", "--signing-key", releaser.signing_key, *args, env=env)


def test_promote_copies_the_pointer_without_uploading(backend, releaser, tmp_path, fake_cloudflare, no_sleep):
    _, second = stable_then_canary(backend, releaser)
    public = load_public_key(releaser.public_key)
    before = backend.snapshot()
    canary_before = {c: backend.read(c, CANARY) for c in backend.containers}
    work = tmp_path / "promote"
    result = promote(releaser, work, "--from", "canary", "--to", "stable", *tenant_args(backend),
                     env=cdn_env(fake_cloudflare))
    assert result.exit_code == 0, result.output
    doc = result.json()
    assert doc["bytes_sent"] == 0 and doc["versions"] == ["1.1.0"]
    assert doc["containers"] == [{"container": c, "from": "1.0.0", "to": "1.1.0", "sequence": 2, "changed": True}
                                 for c in backend.containers]
    # No versioned file was created, copied or touched (same paths, sizes, digests, etags).
    assert versioned(backend.snapshot()) == versioned(before)
    manifest = json.loads((second / "state.json").read_text())["runs"]["package"]["data"]["manifest_sha256"]
    for container in backend.containers:
        pointer = read_pointer(backend, container, public, STABLE)
        assert (pointer.channel, pointer.version, pointer.sequence) == ("stable", "1.1.0", 2)
        assert pointer.promoted_from == "canary" and pointer.rollback is None
        assert pointer.manifest_sha256 == manifest
        pointer_fmt.check_fresh(pointer, "pointer", last_seen_sequence=1)
        assert backend.read(container, CANARY) == canary_before[container]  # the source is left alone
    expected = [f"{CDN_BASE_URL}/{c}/{STABLE}{s}" for c in backend.containers for s in ("", ".sig")]
    assert fake_cloudflare.purged == [expected]
    state_text = (work / "state.json").read_text()
    assert json.loads(state_text)["runs"]["promote"]["status"] == "ok"
    for text in (result.output, state_text):
        for secret in [*backend.secrets, FAKE_TOKEN]:
            assert secret not in text


def test_promote_from_a_channel_without_pointer_is_refused(backend, releaser, tmp_path):
    upload(releaser, backend, releaser.package("1.0.0"), "stable")
    before = backend.snapshot()
    result = promote(releaser, tmp_path / "promote", "--from", "canary", "--to", "stable", *tenant_args(backend),
                     json_output=False)
    assert_user_error(result, 1, "channels/canary.json does not exist",
                      "nothing was changed")
    assert backend.snapshot() == before


def test_promote_to_a_new_channel_starts_at_sequence_1(file_backend, releaser, tmp_path):
    stable_then_canary(file_backend, releaser)
    public = load_public_key(releaser.public_key)
    result = promote(releaser, tmp_path / "p", "--from", "canary", "--to", "beta", *tenant_args(file_backend))
    assert result.exit_code == 0, result.output
    assert [c["sequence"] for c in result.json()["containers"]] == [1, 1, 1]
    assert [c["from"] for c in result.json()["containers"]] == [None, None, None]
    pointer = read_pointer(file_backend, file_backend.containers[0], public, f"{PRODUCT}/channels/beta.json")
    assert (pointer.channel, pointer.version, pointer.promoted_from) == ("beta", "1.1.0", "canary")


def test_pilot_ring_moves_only_the_named_tenants(file_backend, releaser, tmp_path):
    stable_then_canary(file_backend, releaser)
    public = load_public_key(releaser.public_key)
    pilot, other = file_backend.tenants
    other_before = file_backend.read(f"tenant-{other}", STABLE)
    result = promote(releaser, tmp_path / "p", "--from", "canary", "--to", "stable", "--tenant", pilot)
    assert result.exit_code == 0, result.output
    assert [c["container"] for c in result.json()["containers"]] == [f"tenant-{pilot}", "releases"]
    assert read_pointer(file_backend, f"tenant-{pilot}", public, STABLE).version == "1.1.0"
    assert file_backend.read(f"tenant-{other}", STABLE) == other_before  # still 1.0.0
    # The rest of the rollout later: the pilot is already there and is left alone.
    rest = promote(releaser, tmp_path / "p", "--from", "canary", "--to", "stable", *tenant_args(file_backend))
    assert rest.exit_code == 0, rest.output
    assert [c["changed"] for c in rest.json()["containers"]] == [False, True, False]
    assert read_pointer(file_backend, f"tenant-{other}", public, STABLE).version == "1.1.0"


def test_promote_never_moves_a_channel_down(file_backend, releaser, tmp_path):
    first, second = releaser.package("1.0.0"), releaser.package("1.1.0")
    upload(releaser, file_backend, first, "canary")
    upload(releaser, file_backend, second, "stable")
    before = file_backend.snapshot()
    result = promote(releaser, tmp_path / "p", "--from", "canary", "--to", "stable", *tenant_args(file_backend),
                     json_output=False)
    assert_user_error(result, 1, "serves 1.1.0, higher than 1.0.0", "b2release rollback", "nothing was changed")
    assert file_backend.snapshot() == before


def test_source_pointer_must_verify(file_backend, releaser, tmp_path, other_keys):
    stable_then_canary(file_backend, releaser)
    before = file_backend.snapshot()
    result = releaser.cli("--work-dir", tmp_path / "p", "promote", "--from", "canary", "--to", "stable",
                          "--signing-key", other_keys / "release-signing.key", *tenant_args(file_backend))
    assert_user_error(result, 1, "canary.json does not verify with the release key", "nothing was changed")
    assert file_backend.snapshot() == before


def test_incomplete_source_version_is_refused(file_backend, releaser, tmp_path):
    stable_then_canary(file_backend, releaser)
    victim = file_backend.containers[0]
    (file_backend.open().root / victim / PRODUCT / "1.1.0" / "manifest.json.sig").unlink()
    before = file_backend.snapshot()
    result = promote(releaser, tmp_path / "p", "--from", "canary", "--to", "stable", *tenant_args(file_backend),
                     json_output=False)
    assert_user_error(result, 1, f"{victim}/{PRODUCT}/1.1.0/manifest.json.sig", "nothing was changed")
    assert file_backend.snapshot() == before


@pytest.mark.parametrize("args, needle", [
    (["--to", "stable"], "needs --from CHANNEL and --to CHANNEL"),
    (["--from", "canary"], "needs --from CHANNEL and --to CHANNEL"),
    (["--from", "stable", "--to", "stable"], "are both 'stable'"),
    (["--from", "Canary", "--to", "stable"], "invalid channel name"),
])
def test_usage_errors(file_backend, releaser, tmp_path, args, needle):
    assert_user_error(promote(releaser, tmp_path / "p", *args, json_output=False), 2, needle)
