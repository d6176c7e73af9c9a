"""Faults between b2release and the CDN (issue #17, part 2): the fake Cloudflare API behind a
FaultProxy (tests/fixtures/faults.py) that answers 503 or 500, resets the connection, answers
too late, or cuts its answer in half.

A rollback moves the pointers and chains the purge. A fault the retries absorb: the command
completes and the purge went through (retries logged with the correlation id). A fault that
outlasts the retries: exit 3, one line saying the pointers moved and to re-run
`b2release purge`; the pending list is kept, and the re-run purges exactly those URLs.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from b2release.formats import pointer as pointer_fmt
from b2release.formats.signature import load_public_key
from tests.conftest import assert_user_error
from tests.fixtures.cloudflare import CDN_BASE_URL, FAKE_TOKEN, cdn_env
from tests.fixtures.faults import FaultProxy, Trigger
from tests.fixtures.releases import PRODUCT, pending_purge, tenant_args

POINTER = f"{PRODUCT}/channels/stable.json"


@pytest.fixture
def cdn_proxy(fake_cloudflare):
    parts = urlsplit(fake_cloudflare.api_base)
    proxy = FaultProxy((parts.hostname, parts.port), slow_s=1.3).start()
    yield proxy
    proxy.stop()


@pytest.mark.parametrize("fault, times, outcome", [
    ("503", 1, "retried"), ("500", 1, "retried"), ("reset", 1, "retried"), ("slow", 1, "retried"),
    ("truncate", 1, "retried"), ("503", 2, "exhausted"), ("reset", 2, "exhausted"), ("truncate", 2, "exhausted"),
])
def test_purge_faults(file_backend, releaser, tmp_path, fake_cloudflare, cdn_proxy, no_sleep, monkeypatch, fault,
                      times, outcome):
    monkeypatch.setenv("B2RELEASE_PRODUCT_NAME", PRODUCT)
    for version in ("1.0.0", "1.1.0"):
        assert releaser.upload(releaser.package(version), *tenant_args(file_backend)).exit_code == 0
    env = {**cdn_env(fake_cloudflare), "B2RELEASE_CDN_API_BASE": cdn_proxy.url + "/client/v4",
           "B2RELEASE_CDN_TIMEOUT": "1", "B2RELEASE_CDN_RETRIES": "1", "B2RELEASE_CORRELATION_ID": "purge-4711"}
    cdn_proxy.arm(Trigger(lambda s, h: s.method == "POST", fault, times))
    work = tmp_path / "rb"
    result = releaser.cli("--work-dir", work, "--log-format", "json", "rollback", "--to", "1.0.0", "--reason", "bad",
                          "--signing-key", releaser.signing_key, *tenant_args(file_backend), env=env)
    cdn_proxy.arm(None)
    assert "Traceback" not in result.output, result.output
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert all(line["correlation_id"] == "purge-4711" for line in lines)
    assert [line for line in lines if "retrying" in line["msg"]], result.stderr
    expected = [f"{CDN_BASE_URL}/{c}/{POINTER}{suffix}" for c in file_backend.containers for suffix in ("", ".sig")]
    # The pointers moved either way.
    public = load_public_key(releaser.public_key)
    for container in file_backend.containers:
        raw = file_backend.read(container, POINTER)
        public.verify(raw, file_backend.read(container, POINTER + ".sig"), container)
        assert pointer_fmt.parse(raw).version == "1.0.0"
    if outcome == "retried":
        assert result.exit_code == 0, result.output
        assert fake_cloudflare.purged[-1] == expected and pending_purge(work) == []
        return
    assert result.exit_code == 3, result.output
    error = [line["msg"] for line in lines if line["level"] == "error"]
    assert len(error) == 1 and "pointers moved" in error[0], error
    assert "re-run `b2release --work-dir " in error[0] and " purge --signing-key " in error[0], error
    assert {(p["container"], p["path"]) for p in pending_purge(work)} == {
        (c, p) for c in file_backend.containers for p in (POINTER, POINTER + ".sig")}
    again = releaser.cli("--work-dir", work, "purge", env=env)
    assert again.exit_code == 0, again.output
    assert fake_cloudflare.purged[-1] == expected and pending_purge(work) == []
    for text in (result.output, again.output, (work / "state.json").read_text()):
        assert FAKE_TOKEN not in text


def test_a_cdn_that_stays_down_is_reported_once(file_backend, releaser, tmp_path, fake_cloudflare, cdn_proxy,
                                                 no_sleep, monkeypatch):
    """Every answer cut off: bounded retries, then the documented message (human output)."""
    monkeypatch.setenv("B2RELEASE_PRODUCT_NAME", PRODUCT)
    for version in ("1.0.0", "1.1.0"):
        assert releaser.upload(releaser.package(version), *tenant_args(file_backend)).exit_code == 0
    env = {**cdn_env(fake_cloudflare), "B2RELEASE_CDN_API_BASE": cdn_proxy.url + "/client/v4",
           "B2RELEASE_CDN_RETRIES": "3"}
    cdn_proxy.arm(Trigger(lambda s, h: s.method == "POST", "reset", 100))
    result = releaser.cli("--work-dir", tmp_path / "rb", "rollback", "--to", "1.0.0", "--reason", "bad",
                          "--signing-key", releaser.signing_key, *tenant_args(file_backend), env=env)
    assert_user_error(result, 3, "pointers moved", "after 4 attempts", "re-run `b2release --work-dir ", " purge --signing-key ")
    assert len([s for s in cdn_proxy.since(0) if s.method == "POST"]) == 4
