"""The Cloudflare client against the local fake purge API (tests/fixtures/cloudflare.py)."""

from __future__ import annotations

import pytest

from b2release.cdn.cloudflare import CloudflareProvider, check_api_base
from b2release.errors import ConfigError, RemoteError
from tests.fixtures.cloudflare import FAKE_TOKEN, FAKE_ZONE_ID


def urls(n: int) -> list[str]:
    return [f"https://downloads.example.com/tenant-{i:03d}/app/channels/stable.json" for i in range(n)]


def provider(fake, **kw) -> CloudflareProvider:
    settings = {"zone_id": FAKE_ZONE_ID, "api_base": fake.api_base, "token": FAKE_TOKEN, "batch_size": 30,
                "timeout": 5.0, "retries": 3}
    settings.update(kw)
    return CloudflareProvider(**settings)


def test_65_urls_at_batch_size_30_make_three_requests_with_the_right_bodies(fake_cloudflare, no_sleep):
    wanted = urls(65)
    report = provider(fake_cloudflare).purge(wanted)
    bodies = [r.body for r in fake_cloudflare.requests]
    assert bodies == [{"files": wanted[:30]}, {"files": wanted[30:60]}, {"files": wanted[60:]}]
    assert all(r.path == f"/client/v4/zones/{FAKE_ZONE_ID}/purge_cache" for r in fake_cloudflare.requests)
    assert (report.requests, report.batches, report.retries, report.urls) == (3, 3, 0, wanted)
    assert no_sleep == []


def test_sends_the_bearer_token_and_json(fake_cloudflare, no_sleep):
    provider(fake_cloudflare).purge(urls(1))
    headers = fake_cloudflare.requests[0].headers
    assert headers["Authorization"] == f"Bearer {FAKE_TOKEN}"
    assert headers["Content-Type"] == "application/json"


def test_a_wrong_token_is_refused_with_cloudflares_error(fake_cloudflare, no_sleep):
    with pytest.raises(RemoteError) as info:
        provider(fake_cloudflare, token="not-the-token-123").purge(urls(1))
    assert "code 10000: Authentication error" in info.value.message
    assert "HTTP 403" in info.value.message
    assert "not-the-token-123" not in info.value.message and "not-the-token-123" not in (info.value.hint or "")
    assert info.value.exit_code == 3


def test_429_waits_for_retry_after_then_retries_the_same_batch(fake_cloudflare, no_sleep):
    fake_cloudflare.rate_limit("7")
    report = provider(fake_cloudflare).purge(urls(2))
    assert no_sleep == [7.0]
    assert [r.body for r in fake_cloudflare.requests] == [{"files": urls(2)}] * 2
    assert fake_cloudflare.purged == [urls(2)]
    assert report.retries == 1 and report.requests == 2


def test_500_then_success_backs_off(fake_cloudflare, no_sleep):
    fake_cloudflare.server_error(500)
    fake_cloudflare.server_error(503)
    report = provider(fake_cloudflare).purge(urls(3))
    assert no_sleep == [1.0, 2.0]  # exponential backoff
    assert fake_cloudflare.purged == [urls(3)]
    assert report.retries == 2


def test_backoff_is_bounded_and_gives_up(fake_cloudflare, no_sleep):
    for _ in range(4):
        fake_cloudflare.server_error(502)
    with pytest.raises(RemoteError) as info:
        provider(fake_cloudflare, retries=3).purge(urls(1))
    assert "after 4 attempts: HTTP 502" in info.value.message
    assert len(fake_cloudflare.requests) == 4
    assert no_sleep == [1.0, 2.0, 4.0]


def test_success_false_is_final_and_carries_codes_and_messages(fake_cloudflare, no_sleep):
    fake_cloudflare.fail([{"code": 1234, "message": "Purge denied for this zone"},
                          {"code": 99, "message": "second problem"}])
    with pytest.raises(RemoteError) as info:
        provider(fake_cloudflare).purge(urls(40))
    message = info.value.message
    assert "code 1234: Purge denied for this zone" in message and "code 99: second problem" in message
    assert "batch 1 of 2" in message
    assert len(fake_cloudflare.requests) == 1  # no retry, and the second batch is not sent
    assert no_sleep == []


def test_the_per_request_limit_is_reported(fake_cloudflare, no_sleep):
    with pytest.raises(RemoteError) as info:
        provider(fake_cloudflare, batch_size=31).purge(urls(31))
    assert "code 1015" in info.value.message and "30 files" in info.value.message


def test_a_timeout_is_retried(fake_cloudflare, no_sleep, monkeypatch):
    import requests

    calls = {"n": 0}
    real_request = requests.Session.request

    def flaky_request(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise requests.ReadTimeout("read timed out")
        return real_request(self, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", flaky_request)
    report = provider(fake_cloudflare).purge(urls(1))
    assert report.retries == 1 and no_sleep == [1.0]
    assert fake_cloudflare.purged == [urls(1)]


def test_unreachable_api_fails_after_bounded_retries(no_sleep):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = CloudflareProvider(FAKE_ZONE_ID, f"http://127.0.0.1:{port}/client/v4", FAKE_TOKEN, retries=2)
    with pytest.raises(RemoteError) as info:
        p.purge(urls(1))
    assert "after 3 attempts: connection failed" in info.value.message
    assert FAKE_TOKEN not in info.value.message


def test_api_base_must_be_https_except_on_loopback():
    assert check_api_base("https://api.cloudflare.com/client/v4/") == "https://api.cloudflare.com/client/v4"
    assert check_api_base("http://127.0.0.1:8080/client/v4").startswith("http://127.0.0.1")
    with pytest.raises(ConfigError, match="must use https"):
        check_api_base("http://api.cloudflare.com/client/v4")
    with pytest.raises(ConfigError):
        check_api_base("api.cloudflare.com")
