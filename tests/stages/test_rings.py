"""Rollout rings ([rollout] rings): promote and rollback --ring move only that ring's tenants,
the release container only with the whole channel (or --release-container); `b2release status`
shows every tenant's channels, ring and state from the store; --dry-run changes nothing and
plans exactly what the real run then does."""

from __future__ import annotations

import json
import os

import pytest

from b2release.formats import canonical
from b2release.formats import pointer as pointer_fmt
from b2release.formats.signature import load_public_key, load_signing_key
from tests.conftest import assert_user_error
from tests.fixtures.cloudflare import CDN_BASE_URL, cdn_env
from tests.fixtures.releases import PRODUCT, tenant_args

STABLE = f"{PRODUCT}/channels/stable.json"


def set_rings(backend, monkeypatch) -> tuple[str, str]:
    """[store] tenants and [rollout] rings from the environment: pilot = the first tenant, all = *."""
    pilot, rest = backend.tenants
    monkeypatch.setenv("B2RELEASE_STORE_TENANTS", ",".join(backend.tenants))
    monkeypatch.setenv("B2RELEASE_ROLLOUT_RINGS", f"pilot = {pilot},all = *")
    return pilot, rest


def version(backend, container: str, public, path: str = STABLE) -> tuple[str, int]:
    raw = backend.read(container, path)
    public.verify(raw, backend.read(container, path + ".sig"), container)
    p = pointer_fmt.parse(raw)
    return p.version, p.sequence


def canary_ahead(releaser, backend) -> None:
    """stable serves 1.0.0 and canary 1.1.0, everywhere (sequence 1 each)."""
    for v, channel in (("1.0.0", "stable"), ("1.1.0", "canary")):
        result = releaser.upload(releaser.package(v), "--channel", channel, *tenant_args(backend))
        assert result.exit_code == 0, result.output


def status(releaser, *args: str):
    result = releaser.cli("--json", "status", *args)
    assert result.exit_code == 0, result.output
    return result.json()


def test_promote_by_ring_then_status(backend, releaser, tmp_path, monkeypatch):
    pilot, rest = set_rings(backend, monkeypatch)
    public = load_public_key(releaser.public_key)
    canary_ahead(releaser, backend)
    result = releaser.cli("--work-dir", tmp_path / "p", "--json", "promote", "--from", "canary", "--to", "stable",
                          "--ring", "pilot", "--signing-key", releaser.signing_key)
    assert result.exit_code == 0, result.output
    doc = result.json()
    assert doc["ring"] == "pilot" and doc["release_container"] is False
    assert [c["container"] for c in doc["containers"]] == [f"tenant-{pilot}"]
    assert version(backend, f"tenant-{pilot}", public) == ("1.1.0", 2)
    assert version(backend, f"tenant-{rest}", public) == ("1.0.0", 1)
    assert version(backend, backend.release_container, public) == ("1.0.0", 1)  # the channel for everyone

    shown = status(releaser)
    assert shown["channels"] == ["canary", "stable"]
    by_tenant = {t["tenant"]: t for t in shown["tenants"]}
    assert by_tenant[pilot]["ring"] == "pilot" and by_tenant[rest]["ring"] == "all"
    assert (by_tenant[pilot]["channels"]["stable"]["version"], by_tenant[pilot]["channels"]["stable"]["sequence"],
            by_tenant[pilot]["channels"]["stable"]["state"]) == ("1.1.0", 2, "ok")
    assert by_tenant[rest]["channels"]["stable"]["version"] == "1.0.0"
    assert "promoted from canary" in by_tenant[pilot]["channels"]["stable"]["note"]
    assert shown["release_container"]["channels"]["stable"]["version"] == "1.0.0"
    expires = by_tenant[pilot]["channels"]["stable"]["expires_at"]
    assert pointer_fmt.parse_rfc3339(expires) > pointer_fmt.parse_rfc3339(by_tenant[pilot]["channels"]["stable"]["since"])
    assert shown["counts"] == {"ok": 6}
    table = releaser.cli("status", "--channel", "stable")  # the human table, on stderr
    assert table.exit_code == 0 and "pilot" in table.stderr and "1.1.0" in table.stderr
    assert f"({backend.release_container})" in table.stderr
    for secret in backend.secrets:
        assert secret not in table.output and secret not in json.dumps(shown)

    # The rest of the rollout: the everyone ring moves the other tenant and the release container.
    everyone = releaser.cli("--work-dir", tmp_path / "p", "--json", "promote", "--from", "canary", "--to", "stable",
                            "--ring", "all", "--signing-key", releaser.signing_key)
    assert everyone.exit_code == 0, everyone.output
    assert [c["changed"] for c in everyone.json()["containers"]] == [False, True, True]
    assert {t["channels"]["stable"]["version"] for t in status(releaser, "--channel", "stable")["tenants"]} == {
        "1.1.0"}


def test_rollback_by_ring_and_by_tenant(file_backend, releaser, tmp_path, monkeypatch):
    pilot, rest = set_rings(file_backend, monkeypatch)
    public = load_public_key(releaser.public_key)
    for v in ("1.0.0", "1.1.0"):
        assert releaser.upload(releaser.package(v), *tenant_args(file_backend)).exit_code == 0
    result = releaser.cli("--work-dir", tmp_path / "rb", "rollback", "--to", "1.0.0", "--reason", "pilot broke",
                          "--ring", "pilot", "--signing-key", releaser.signing_key)
    assert result.exit_code == 0, result.output
    assert "in 1 of 1 containers" in result.stderr
    assert version(file_backend, f"tenant-{pilot}", public) == ("1.0.0", 3)
    assert version(file_backend, f"tenant-{rest}", public) == ("1.1.0", 2)
    assert version(file_backend, "releases", public) == ("1.1.0", 2)
    # --tenant limits it the same way; --release-container asks for the release container too.
    second = releaser.cli("--work-dir", tmp_path / "rb", "--json", "rollback", "--to", "1.0.0", "--reason", "all",
                          "--tenant", rest, "--release-container", "--signing-key", releaser.signing_key)
    assert second.exit_code == 0, second.output
    assert [c["container"] for c in second.json()["containers"]] == [f"tenant-{rest}", "releases"]
    assert version(file_backend, "releases", public) == ("1.0.0", 3)


@pytest.mark.parametrize("args, message", [
    (["--ring", "early"], "unknown ring 'early' (rings: pilot, all)"),
    (["--ring", "pilot", "--tenant", "acme"], "give --ring NAME or --tenant ID, not both"),
])
def test_ring_usage_errors(file_backend, releaser, tmp_path, monkeypatch, args, message):
    set_rings(file_backend, monkeypatch)
    result = releaser.cli("--work-dir", tmp_path / "p", "promote", "--from", "canary", "--to", "stable", *args,
                          "--signing-key", releaser.signing_key)
    assert_user_error(result, 2, message)


def test_ring_configuration_is_checked_when_loaded(releaser, tmp_path):
    config = tmp_path / "b2release.toml"
    config.write_text('[store]\ntenants = ["acme", "globex"]\n[rollout]\nrings = ["pilot = acme zeta", "all = *"]\n')
    result = releaser.cli("--config", config, "status")
    assert_user_error(result, 2, f"{config}: rollout.rings: ring 'pilot' names 'zeta', not in store.tenants")
    config.write_text('[store]\ntenants = ["acme", "globex"]\n')
    twice = releaser.cli("--config", config, "status",
                         env={"B2RELEASE_ROLLOUT_RINGS": "pilot = acme,early = acme globex"})
    assert_user_error(twice, 2, "environment variable B2RELEASE_ROLLOUT_RINGS: rollout.rings: tenant 'acme' is in "
                                "ring 'pilot' and in ring 'early'")
    star = releaser.cli("--config", config, "status", env={"B2RELEASE_ROLLOUT_RINGS": "all = *,pilot = acme"})
    assert_user_error(star, 2, "ring 'all' is '*' (every tenant) but is not the last ring")
    check = releaser.cli("--config", config, "--json", "config", "check",
                         env={"B2RELEASE_ROLLOUT_RINGS": "pilot acme"})
    assert check.exit_code == 2, check.output
    assert [(p["key"], p["source"]) for p in check.json()["details"]["problems"]] == [
        ("rollout.rings", "environment variable B2RELEASE_ROLLOUT_RINGS")]
    assert "'pilot acme' is not a ring" in check.json()["details"]["problems"][0]["message"]


def test_status_shows_an_unverifiable_pointer_as_such(backend, releaser, tmp_path, other_keys):
    assert releaser.upload(releaser.package("1.0.0"), *tenant_args(backend)).exit_code == 0
    victim = f"tenant-{backend.tenants[1]}"
    with backend.open() as store:  # another key signs a pointer claiming 9.9.9
        doc = json.loads(backend.read(victim, STABLE))
        doc["version"] = "9.9.9"
        forged = canonical.dumps(doc)
        store.write_bytes(victim, STABLE, forged, "no-cache")
        store.write_bytes(victim, STABLE + ".sig", load_signing_key(other_keys / "release-signing.key").sign(forged),
                          "no-cache")
    shown = status(releaser, *tenant_args(backend))
    views = {t["tenant"]: t["channels"]["stable"] for t in shown["tenants"]}
    assert views[backend.tenants[1]]["state"] == "unverifiable" and views[backend.tenants[1]]["version"] is None
    assert views[backend.tenants[1]]["claimed"]["version"] == "9.9.9"
    assert "does not verify with the release key" in views[backend.tenants[1]]["note"]
    assert views[backend.tenants[0]]["version"] == "1.0.0"
    table = releaser.cli("status", *tenant_args(backend))
    assert table.exit_code == 0 and "UNVERIFIABLE" in table.stderr and "9.9.9" in table.stderr
    assert "(2 ok, 1 unverifiable;" in table.stderr


def snapshot_all(backend, work) -> tuple:
    state = work / "state.json"
    return backend.snapshot(), state.read_bytes() if state.exists() else None


@pytest.mark.parametrize("command", ["promote", "rollback"])
def test_dry_run_changes_nothing_and_plans_what_the_real_run_does(backend, releaser, tmp_path, monkeypatch, command,
                                                                   fake_cloudflare, no_sleep):
    pilot, _ = set_rings(backend, monkeypatch)
    canary_ahead(releaser, backend)
    assert releaser.upload(releaser.package("1.2.0"), "--channel", "stable", *tenant_args(backend)).exit_code == 0
    work = tmp_path / "op"
    args = (["promote", "--from", "canary", "--to", "beta"] if command == "promote"
            else ["rollback", "--to", "1.0.0", "--reason", "INC-1"])
    env = cdn_env(fake_cloudflare)
    before = snapshot_all(backend, work)
    dry = releaser.cli("--work-dir", work, "--json", *args, "--ring", "pilot", "--release-container", "--dry-run",
                       "--signing-key", releaser.signing_key, env=env)
    assert dry.exit_code == 0, dry.output
    assert snapshot_all(backend, work) == before  # no pointer, no audit line, no state.json
    assert fake_cloudflare.purged == []
    plan = dry.json()["plan"]
    channel = "beta" if command == "promote" else "stable"
    path = f"{PRODUCT}/channels/{channel}.json"
    expected_from = (None, None) if command == "promote" else ("1.2.0", 2)
    assert [(m["container"], m["path"], m["from_version"], m["from_sequence"]) for m in plan["pointer_moves"]] == [
        (c, path, *expected_from) for c in (f"tenant-{pilot}", backend.release_container)]
    assert plan["purge_urls"] == [f"{CDN_BASE_URL}/{c}/{path}{s}" for c in (f"tenant-{pilot}", backend.release_container)
                                  for s in ("", ".sig")]
    # the pointer move, then the chained purge (one line each)
    assert len(plan["audit_lines"]) == 2 and plan["audit_lines"][0].startswith("move-pointer ")
    assert plan["audit_lines"][1] == f"purge {pilot}"
    assert (pilot in plan["audit_lines"][0]) and ("INC-1" in plan["audit_lines"][0]) == (command == "rollback")
    assert "would move 2 pointer(s)" in dry.stderr and "nothing was changed" in dry.stderr

    real = releaser.cli("--work-dir", work, "--json", *args, "--ring", "pilot", "--release-container",
                        "--signing-key", releaser.signing_key, env=env)
    assert real.exit_code == 0, real.output
    done = [(c["container"], c["to"], c["sequence"]) for c in real.json()["containers"] if c["changed"]]
    assert done == [(m["container"], m["to_version"], m["to_sequence"]) for m in plan["pointer_moves"]]
    assert fake_cloudflare.purged == [plan["purge_urls"]]
    assert os.path.exists(work / "state.json")
