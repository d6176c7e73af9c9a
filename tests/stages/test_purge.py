"""`b2release purge` end to end (in-process CLI) against the local fake Cloudflare API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from b2release.state import State
from tests.conftest import assert_user_error
from tests.fixtures.cloudflare import FAKE_TOKEN, cdn_env

BASE = "https://downloads.example.com"


def pending_pointers(n: int) -> list[dict[str, str]]:
    """n pointer paths: tenant-000 .json, tenant-000 .json.sig, tenant-001 .json, ..."""
    out = []
    for i in range(n):
        suffix = ".json" if i % 2 == 0 else ".json.sig"
        out.append({"container": f"tenant-{i // 2:03d}", "path": f"enventa-connector/channels/stable{suffix}"})
    return out


def url_of(entry: dict[str, str]) -> str:
    return f"{BASE}/{entry['container']}/{entry['path']}"


def seed(work: Path, pending: list[dict[str, str]]) -> None:
    state = State(work)
    state.pending_purge = pending
    state.save()


def saved(work: Path) -> dict:
    return json.loads((work / "state.json").read_text())


@pytest.fixture
def work(tmp_path) -> Path:
    return tmp_path / "dist"


@pytest.fixture
def cf_env(fake_cloudflare, dev_keys, tmp_path) -> dict[str, str]:
    # A trailing slash, as users write it; the key signs purge's audit line in a folder store.
    return {**cdn_env(fake_cloudflare, BASE + "/"),
            "B2RELEASE_RELEASE_SIGNING_KEY": str(dev_keys / "release-signing.key"),
            "B2RELEASE_STORE_URL": f"file://{tmp_path / 'store'}"}


def test_65_urls_go_out_in_3_batches_and_pending_is_cleared(cli, work, cf_env, fake_cloudflare, no_sleep):
    pending = pending_pointers(65)
    seed(work, pending)
    result = cli("--work-dir", work, "--json", "purge", env=cf_env)
    assert result.exit_code == 0, result.output
    expected = [url_of(e) for e in pending]
    assert [r.body for r in fake_cloudflare.requests] == [
        {"files": expected[:30]}, {"files": expected[30:60]}, {"files": expected[60:]}
    ]
    assert all(r.headers["Authorization"] == f"Bearer {FAKE_TOKEN}" for r in fake_cloudflare.requests)
    doc = result.json()
    assert (doc["status"], doc["requests"], doc["batches"], doc["urls"]) == ("ok", 3, 3, expected)
    state = saved(work)
    assert state["pending_purge"] == []
    assert state["runs"]["purge"]["status"] == "ok" and state["runs"]["purge"]["data"]["purged"] == 65


def test_batch_size_comes_from_config(cli, work, cf_env, fake_cloudflare, no_sleep):
    seed(work, pending_pointers(5))
    result = cli("--work-dir", work, "purge", env={**cf_env, "B2RELEASE_CDN_BATCH_SIZE": "2"})
    assert result.exit_code == 0, result.output
    assert [len(r.body["files"]) for r in fake_cloudflare.requests] == [2, 2, 1]
    assert "purged 5 URLs through cloudflare in 3 batches" in result.stderr


def test_429_with_retry_after_and_a_500_are_retried(cli, work, cf_env, fake_cloudflare, no_sleep):
    seed(work, pending_pointers(2))
    fake_cloudflare.rate_limit("9")
    fake_cloudflare.server_error(500)
    result = cli("--work-dir", work, "--json", "purge", env=cf_env)
    assert result.exit_code == 0, result.output
    assert no_sleep == [9.0, 2.0]  # Retry-After honoured, then the backoff of the 2nd retry
    assert len(fake_cloudflare.requests) == 3 and fake_cloudflare.purged == [[url_of(e) for e in pending_pointers(2)]]
    assert result.json()["retries"] == 2
    assert saved(work)["pending_purge"] == []


def test_success_false_exits_3_with_cloudflares_message_and_keeps_pending(cli, work, cf_env, fake_cloudflare,
                                                                          no_sleep):
    pending = pending_pointers(3)
    seed(work, pending)
    fake_cloudflare.fail([{"code": 1234, "message": "Zone purge is disabled"}])
    result = cli("--work-dir", work, "purge", env=cf_env)
    assert_user_error(result, 3, "Cloudflare purge failed", "code 1234: Zone purge is disabled")
    state = saved(work)
    assert state["pending_purge"] == pending  # a re-run purges them again
    assert state["runs"]["purge"]["status"] == "failed"


def test_dry_run_lists_urls_sends_nothing_and_keeps_pending(cli, work, cf_env, fake_cloudflare):
    pending = pending_pointers(4)
    seed(work, pending)
    env = {**cf_env, "CLOUDFLARE_API_TOKEN": None}  # a dry run needs no token
    result = cli("--work-dir", work, "purge", "--dry-run", env=env)
    assert result.exit_code == 0, result.output
    for entry in pending:
        assert f"would purge {url_of(entry)}" in result.stderr
    assert fake_cloudflare.requests == []
    assert saved(work)["pending_purge"] == pending
    doc = cli("--work-dir", work, "--json", "purge", "--dry-run", env=env).json()
    assert doc["dry_run"] is True and doc["requests"] == 0 and doc["urls"] == [url_of(e) for e in pending]
    assert fake_cloudflare.requests == []


def test_provider_none_skips_with_its_reason(cli, work, fake_cloudflare):
    seed(work, pending_pointers(2))
    result = cli("--work-dir", work, "--json", "purge")
    assert result.exit_code == 0, result.output
    doc = result.json()
    assert {k: doc[k] for k in ("stage", "status", "reason", "command", "exit_code")} == {
        "stage": "purge", "status": "skipped", "reason": "cdn.provider is none", "command": "purge", "exit_code": 0}
    assert "purge skipped: cdn.provider is none" in result.stderr
    assert saved(work)["runs"]["purge"]["status"] == "skipped"
    assert fake_cloudflare.requests == []


def test_nothing_pending_skips(cli, work, cf_env, fake_cloudflare):
    result = cli("--work-dir", work, "purge", env=cf_env)
    assert result.exit_code == 0, result.output
    assert "purge skipped: nothing to purge" in result.stderr
    assert fake_cloudflare.requests == []


def test_versioned_paths_are_never_purged(cli, work, cf_env, fake_cloudflare, no_sleep):
    pointer = {"container": "tenant-acme", "path": "enventa-connector/channels/stable.json"}
    versioned = {"container": "tenant-acme", "path": "enventa-connector/1.2.0/enventa-connector-1.2.0.zip"}
    seed(work, [versioned, pointer])
    result = cli("--work-dir", work, "--json", "purge", env=cf_env)
    assert result.exit_code == 0, result.output
    assert fake_cloudflare.purged == [[url_of(pointer)]]
    assert "not purging tenant-acme/enventa-connector/1.2.0/enventa-connector-1.2.0.zip" in result.stderr
    assert result.json()["ignored"][0]["path"] == versioned["path"]
    assert saved(work)["pending_purge"] == []


def test_only_versioned_paths_pending_skips_and_drops_them(cli, work, cf_env, fake_cloudflare):
    seed(work, [{"container": "tenant-acme", "path": "enventa-connector/1.2.0/SHA256SUMS"}])
    result = cli("--work-dir", work, "purge", env=cf_env)
    assert result.exit_code == 0, result.output
    assert "not channel pointers" in result.stderr
    assert fake_cloudflare.requests == []
    assert saved(work)["pending_purge"] == []


def test_missing_token_is_a_usage_error(cli, work, cf_env, fake_cloudflare):
    seed(work, pending_pointers(1))
    result = cli("--work-dir", work, "purge", env={**cf_env, "CLOUDFLARE_API_TOKEN": None})
    assert_user_error(result, 2, "CLOUDFLARE_API_TOKEN is not set")
    assert fake_cloudflare.requests == []


def test_missing_base_url_is_a_config_error(cli, work, cf_env, fake_cloudflare):
    seed(work, pending_pointers(1))
    result = cli("--work-dir", work, "purge", env={**cf_env, "B2RELEASE_CDN_BASE_URL": None})
    assert_user_error(result, 2, "cdn.base_url is not set")


def test_plain_http_api_base_off_loopback_is_refused(cli, work, cf_env, fake_cloudflare):
    seed(work, pending_pointers(1))
    result = cli("--work-dir", work, "purge", env={**cf_env, "B2RELEASE_CDN_API_BASE": "http://api.example.com/v4"})
    assert_user_error(result, 2, "cdn.api_base must use https")


def test_the_token_appears_in_no_output(cli, work, cf_env, fake_cloudflare, no_sleep):
    seed(work, pending_pointers(3))
    fake_cloudflare.rate_limit("1")
    outputs = []
    ok = cli("--work-dir", work, "--json", "--log-format", "json", "-vv", "purge", env=cf_env)
    assert ok.exit_code == 0, ok.output
    outputs += [ok.stdout, ok.stderr]
    seed(work, pending_pointers(3))
    fake_cloudflare.fail([{"code": 10000, "message": f"Authentication error for Bearer {FAKE_TOKEN}"}], status=403)
    failed = cli("--work-dir", work, "--json", "-v", "purge", env=cf_env)
    assert failed.exit_code == 3
    outputs += [failed.stdout, failed.stderr, (work / "state.json").read_text()]
    assert [i for i, text in enumerate(outputs) if FAKE_TOKEN in text] == []
    assert "Authentication error" in failed.stderr  # the message itself is kept, only the token masked
    assert all(FAKE_TOKEN not in p.read_text(errors="replace") for p in work.rglob("*") if p.is_file())
