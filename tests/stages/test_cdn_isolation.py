"""Tenant isolation and revocation at the edge ([cdn] token_auth): grant and revoke against
Azurite over https and the fake Cloudflare, whose `allows()` runs the installed WAF custom
rules the way the edge does before its cache (tests/fixtures/cloudflare.py)."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests

from b2release.cdn.targets import public_url
from b2release.cdn.tokens import GENERATIONS_PATH
from tests.conftest import assert_user_error
from tests.fixtures.cloudflare import CDN_BASE_URL, cdn_env
from tests.fixtures.releases import PRODUCT, state_text, tenant_args

MASTER = "cdn-master-key-for-tests-7Qm2vX9pL4sR8tW1yZ3b"
_SECRET_IN_RULE = re.compile(r'is_timed_hmac_valid_v0\("([0-9a-f]{64})"')


@pytest.fixture
def edge(azure_backend, releaser, fake_cloudflare, monkeypatch, no_sleep):
    """1.0.0 uploaded for two tenants to Azurite; token auth on, pointed at the fake Cloudflare."""
    env = {**cdn_env(fake_cloudflare), "B2RELEASE_CDN_TOKEN_AUTH": "true", "B2RELEASE_CDN_TOKEN_KEY": MASTER}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    work = releaser.package("1.0.0")
    result = releaser.upload(work, *tenant_args(azure_backend))
    assert result.exit_code == 0, result.output
    return azure_backend, work, fake_cloudflare


def grant(releaser, work, tenant, *args):
    result = releaser.cli("--work-dir", work, "--json", "grant", "--tenant", tenant, *args)
    assert result.exit_code == 0, result.output
    return result


def revoke(releaser, work, tenant):
    result = releaser.cli("--work-dir", work, "--json", "revoke", "--tenant", tenant)
    assert result.exit_code == 0, result.output
    return result


def origin(url, backend):
    return requests.get(url, verify=str(backend.server.ca_file), timeout=30)


def on_path(url: str, tenant_from: str, tenant_to: str) -> str:
    return url.replace(f"/tenant-{tenant_from}/", f"/tenant-{tenant_to}/")


def rule_secrets(fake) -> set[str]:
    """The tenant secrets b2release sent to Cloudflare in rule expressions."""
    sent = [r.body for r in fake.rule_requests if r.body]
    expressions = [rule["expression"] for body in sent for rule in body.get("rules", [body]) if "expression" in rule]
    return {s for e in expressions for s in _SECRET_IN_RULE.findall(e)}


def test_a_grants_cdn_url_passes_its_tenants_paths_only(edge, releaser):
    backend, work, fake = edge
    a, b = backend.tenants
    doc = grant(releaser, work, a, "--expires", "2h").json()
    grant(releaser, work, b)  # b's rule is installed by b's first grant
    assert doc["cdn"] == {"token_auth": True, "rule": f"b2release-tenant-{a}", "rule_change": "created",
                          "generation": 1, "token_param": "b2t"}
    package = f"{PRODUCT}/1.0.0/{PRODUCT}-1.0.0.zip"
    assert doc["cdn_url"].startswith(public_url(CDN_BASE_URL, f"tenant-{a}", package) + "?")
    assert doc["cdn_url"].split("?", 1)[1].startswith(doc["url"].split("?", 1)[1] + "&b2t=")  # SAS, then token
    base, query = doc["cdn_base_url"].split("?", 1)
    for url in (doc["cdn_url"], doc["cdn_pointer_url"], f"{base}/{PRODUCT}/1.0.0/SHA256SUMS?{query}"):
        assert fake.allows_url(url), url
    # The same URL on the other tenant's paths: blocked at the edge (before any cache) and at the origin.
    other = on_path(doc["cdn_url"], a, b)
    assert not fake.allows_url(other)
    assert origin(on_path(doc["url"], a, b).split("?")[0] + "?" + query, backend).status_code == 403
    # Without the token, or with the token of the other tenant: blocked.
    assert not fake.allows_url(doc["cdn_url"].split("&b2t=")[0])
    b_doc = grant(releaser, work, b).json()
    assert not fake.allows_url(on_path(b_doc["cdn_url"], b, a))
    # On a cache miss the edge forwards the query: the origin takes the SAS and ignores the token.
    response = origin(doc["url"].split("?")[0] + "?" + query, backend)
    assert response.status_code == 200 and response.content == (work / f"{PRODUCT}-1.0.0.zip").read_bytes()


def test_revoke_fails_old_tokens_at_the_edge_and_purges_the_tenants_urls(edge, releaser):
    backend, work, fake = edge
    a, b = backend.tenants
    old = grant(releaser, work, a).json()
    other = grant(releaser, work, b).json()
    assert fake.allows_url(old["cdn_url"])
    purges_before = len(fake.purged)

    revoked = revoke(releaser, work, a).json()
    assert revoked["removed_policies"] == [old["policy_id"]]
    assert revoked["cdn"]["rule_change"] == "updated" and revoked["cdn"]["generation"] == 2
    assert not fake.allows_url(old["cdn_url"]) and not fake.allows_url(old["cdn_pointer_url"])
    assert origin(old["url"], backend).status_code == 403
    assert "generation 2" in fake.rules(f"b2release-tenant-{a}")[0]["description"]

    # The purge names every URL of the tenant's container (pointers and versioned files), nothing else.
    purged = [url for batch in fake.purged[purges_before:] for url in batch]
    with backend.open() as store:
        wanted = {public_url(CDN_BASE_URL, f"tenant-{a}", blob.path) for blob in store.list(f"tenant-{a}")}
    assert set(purged) == wanted and len(purged) == len(wanted) == revoked["cdn"]["purged_urls"]
    assert public_url(CDN_BASE_URL, f"tenant-{a}", f"{PRODUCT}/channels/stable.json") in purged
    assert public_url(CDN_BASE_URL, f"tenant-{a}", f"{PRODUCT}/channels/stable.json.sig") in purged
    assert public_url(CDN_BASE_URL, f"tenant-{a}", f"{PRODUCT}/1.0.0/{PRODUCT}-1.0.0.zip") in purged
    assert not any(f"/tenant-{b}/" in url for url in purged)

    fresh = grant(releaser, work, a).json()
    assert fresh["cdn"]["generation"] == 2 and fresh["cdn"]["rule_change"] == "unchanged"
    assert fake.allows_url(fresh["cdn_url"]) and not fake.allows_url(old["cdn_url"])
    assert fake.allows_url(other["cdn_url"])  # the other tenant is untouched
    assert origin(fresh["url"], backend).status_code == 200


def test_an_expired_token_fails_at_the_edge(edge, releaser):
    backend, work, fake = edge
    started = time.time()
    doc = grant(releaser, work, backend.tenants[0], "--expires", "1h").json()
    assert fake.allows_url(doc["cdn_url"], now=started + 3500)
    assert not fake.allows_url(doc["cdn_url"], now=started + 3700)
    assert not fake.allows_url(doc["cdn_url"], now=time.time() + 7 * 86400)


def test_first_revoke_installs_the_rule_and_plain_grant_prints_the_cdn_url(edge, releaser):
    backend, work, fake = edge
    tenant = backend.tenants[1]
    assert fake.entrypoint() is None
    assert revoke(releaser, work, tenant).json()["cdn"]["rule_change"] == "created"  # the setup step
    plain = releaser.cli("--work-dir", work, "grant", "--tenant", tenant)
    assert plain.exit_code == 0, plain.output
    url = plain.stdout.strip()
    assert url.startswith(f"{CDN_BASE_URL}/tenant-{tenant}/") and "&b2t=" in url and fake.allows_url(url)


def test_no_secret_appears_outside_grants_stdout(edge, releaser):
    backend, work, fake = edge
    tenant = backend.tenants[0]
    args = ("--work-dir", work, "--log-format", "json", "-v")
    granted = releaser.cli(*args, "--json", "grant", "--tenant", tenant)
    assert granted.exit_code == 0, granted.output
    doc = granted.json()
    token = doc["cdn_url"].rsplit("&b2t=", 1)[1]
    sig = doc["url"].split("sig=", 1)[1].split("&")[0]
    revoked = releaser.cli(*args, "--json", "revoke", "--tenant", tenant)
    assert revoked.exit_code == 0, revoked.output
    again = releaser.cli(*args, "grant", "--tenant", tenant)
    assert again.exit_code == 0, again.output

    secrets = {MASTER, token, sig, again.stdout.strip().rsplit("&b2t=", 1)[1], *rule_secrets(fake),
               *backend.secrets}
    assert len(rule_secrets(fake)) == 2  # generation 1 and 2
    assert token in granted.stdout and sig in granted.stdout  # grant's own product, by design
    with backend.open() as store:
        generations = store.read_bytes(backend.release_container, GENERATIONS_PATH)[0].decode()
    descriptions = json.dumps([r["description"] for r in fake.entrypoint()["rules"]])
    elsewhere = {"grant stderr": granted.stderr, "revoke output": revoked.output, "second grant stderr":
                 again.stderr, "state.json": state_text(work), "generations record": generations,
                 "rule descriptions": descriptions, "grant --json body": json.dumps(
                     {k: v for k, v in doc.items() if k not in ("url", "pointer_url", "container_url", "cdn_url",
                                                                "cdn_pointer_url", "cdn_base_url")})}
    for where, text in elsewhere.items():
        for secret in secrets:
            assert secret not in text, f"a secret in {where}"


def test_grant_refuses_a_rule_with_another_secret_and_makes_no_policy(edge, releaser):
    backend, work, fake = edge
    tenant = backend.tenants[0]
    grant(releaser, work, tenant)
    rule = fake.rules(f"b2release-tenant-{tenant}")[0]
    tampered = _SECRET_IN_RULE.sub('is_timed_hmac_valid_v0("' + "0" * 64 + '"', rule["expression"])
    fake.put_entrypoint([{**rule, "expression": tampered}])
    with backend.open() as store:
        before = set(store.get_policies(f"tenant-{tenant}"))
    refused = releaser.cli("--work-dir", work, "grant", "--tenant", tenant)
    assert_user_error(refused, 2, f"b2release-tenant-{tenant} does not hold", f"revoke --tenant {tenant}")
    with backend.open() as store:
        assert set(store.get_policies(f"tenant-{tenant}")) == before
    revoke(releaser, work, tenant)  # the way out it names
    assert fake.allows_url(grant(releaser, work, tenant).json()["cdn_url"])


def test_missing_key_refuses_before_anything_changes(edge, releaser, monkeypatch):
    backend, work, fake = edge
    tenant = backend.tenants[0]
    monkeypatch.delenv("B2RELEASE_CDN_TOKEN_KEY")
    assert_user_error(releaser.cli("--work-dir", work, "grant", "--tenant", tenant), 2,
                      "B2RELEASE_CDN_TOKEN_KEY is not set")
    assert_user_error(releaser.cli("--work-dir", work, "revoke", "--tenant", tenant), 2,
                      "B2RELEASE_CDN_TOKEN_KEY is not set")
    assert fake.requests == []
    with backend.open() as store:
        assert store.get_policies(f"tenant-{tenant}") == {}


def test_a_revoke_that_cloudflare_refuses_exits_3_and_is_re_run(edge, releaser):
    backend, work, fake = edge
    tenant = backend.tenants[0]
    old = grant(releaser, work, tenant).json()
    fake.permissions = {"purge"}  # a token without Zone WAF Edit
    failed = releaser.cli("--work-dir", work, "revoke", "--tenant", tenant)
    assert_user_error(failed, 3, "Cloudflare rules API failed", "code 10000")
    assert "Zone WAF / Edit" in failed.stderr
    assert origin(old["url"], backend).status_code == 403  # Azure's side is done already
    assert fake.allows_url(old["cdn_url"])  # the edge still lets the old token through ...
    fake.permissions = {"purge", "waf"}
    assert revoke(releaser, work, tenant).json()["cdn"]["generation"] == 3  # ... until the re-run
    assert not fake.allows_url(old["cdn_url"])


def _cache_controls(backend, version="1.0.0") -> set[str]:
    with backend.open() as store:
        return {b.cache_control for c in backend.containers for b in store.list(c, f"{PRODUCT}/{version}/")}


def test_versioned_files_are_shared_cacheable_only_where_the_edge_checks_tokens(edge, releaser, monkeypatch):
    backend, _, _ = edge
    assert _cache_controls(backend) == {"public, max-age=31536000, immutable"}  # token auth on
    # A CDN without token auth: the edge must not keep one tenant's files under a key anyone can hit.
    monkeypatch.setenv("B2RELEASE_CDN_TOKEN_AUTH", "false")
    work = releaser.package("1.1.0")
    assert releaser.upload(work, *tenant_args(backend)).exit_code == 0
    controls = _cache_controls(backend, "1.1.0")
    assert len(controls) == 1 and controls.pop().startswith("private")


def test_doctor_reports_the_edge_rule_of_each_tenant(edge, releaser, monkeypatch, tmp_path):
    backend, work, fake = edge
    a, b = backend.tenants
    grant(releaser, work, a)  # installs a's rule; b has none yet
    monkeypatch.setenv("B2RELEASE_STORE_TENANTS", f"{a},{b}")
    r = releaser.cli("--work-dir", tmp_path / "doctor", "--json", "doctor")
    checks = (r.json().get("checks") or r.json()["details"]["checks"])
    cdn_checks = {c["name"]: c for c in checks if c["area"] == "cdn"}
    assert cdn_checks["token auth"]["status"] == "ok"
    statuses = {name: c["status"] for name, c in cdn_checks.items() if a in name or b in name}
    assert any(a in name and status == "ok" for name, status in statuses.items()), cdn_checks
    assert any(b in name and status in ("warn", "fail") for name, status in statuses.items()), cdn_checks
    assert MASTER not in r.stdout + r.stderr
    monkeypatch.setenv("B2RELEASE_CDN_TOKEN_AUTH", "false")
    r = releaser.cli("--work-dir", tmp_path / "doctor", "--json", "doctor")
    checks = (r.json().get("checks") or r.json()["details"]["checks"])
    off = [c for c in checks if c["area"] == "cdn" and c["name"] == "token auth"]
    assert off and off[0]["status"] == "warn"
