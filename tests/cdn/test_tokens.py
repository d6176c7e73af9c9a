"""CDN token auth (b2release/cdn/tokens.py): tokens, per-tenant secrets and rules, generations,
and the Rulesets API client, checked against the fake Cloudflare's independent rule evaluator."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from urllib.parse import quote_plus

import pytest

from b2release import config as config_mod
from b2release.cdn import tokens
from b2release.cdn.cloudflare import CloudflareProvider
from b2release.errors import ConfigError, InputError, RemoteError, UsageError
from b2release.redact import registered
from b2release.stores.base import IMMUTABLE_CACHE_CONTROL, PreconditionFailed
from b2release.stores.local import LocalStore
from tests.fixtures.cloudflare import FAKE_TOKEN, FAKE_ZONE_ID
from tests.fixtures.rules_language import ExpressionError, Request, compile_expression, evaluate

MASTER = "m" * 20 + "-test-master-key-0123456789"
TTL = 7 * 86400
EXPIRY = 1_900_000_000
BASE = "https://downloads.example.com"


def auth(base_url: str = BASE, param: str = "b2t") -> tokens.TokenAuth:
    return tokens.TokenAuth(base_url=base_url, param=param, ttl=TTL, master=MASTER)


GEN1 = tokens.Generation(1, "0" * 32, "2026-01-01T00:00:00Z")
GEN2 = tokens.Generation(2, "1" * 32, "2026-01-02T00:00:00Z")


def blocked(a: tokens.TokenAuth, container: str, generation: tokens.Generation, path: str, query: str,
            now: int) -> bool:
    """Does the tenant's rule block this request (the fake's evaluator, not b2release's code)?"""
    rule = tokens.tenant_rule(a, container, generation)
    return bool(evaluate(compile_expression(rule["expression"]), Request(path, query, now)))


def token_for(a: tokens.TokenAuth, container: str, generation: tokens.Generation, expiry: int = EXPIRY) -> str:
    return tokens.make_token(tokens.tenant_secret(a, container, generation), a.scope(container), expiry, a.ttl)


# --- the fake's evaluator against Cloudflare's own documented recipe -------------------------
def test_the_fake_accepts_a_token_made_by_cloudflares_documented_recipe():
    """docs: token = ts + "-" + urlencode(base64(HMAC-SHA256(secret, path + ts))), `?verify=` separator (8)."""
    secret, path, ts = "mysecrettoken", "/download/cat.jpg", 1484063787
    digest = hmac.new(secret.encode(), f"{path}{ts}".encode(), hashlib.sha256).digest()
    uri_query = f"verify={ts}-{quote_plus(base64.b64encode(digest).decode())}"
    rule = compile_expression('(http.host eq "downloads.example.com" and not is_timed_hmac_valid_v0('
                              '"mysecrettoken", http.request.uri, 10800, http.request.timestamp.sec, 8))')
    assert not evaluate(rule, Request(path, uri_query, ts + 10799))
    assert evaluate(rule, Request(path, uri_query, ts + 10800))  # expired
    assert evaluate(rule, Request("/download/dog.jpg", uri_query, ts + 1))  # another path
    assert evaluate(rule, Request(path, "", ts + 1))  # no token


def test_the_fake_refuses_expressions_cloudflare_refuses():
    with pytest.raises(ExpressionError, match="literal"):
        compile_expression('is_timed_hmac_valid_v0(http.host, http.request.uri, 10, http.request.timestamp.sec)')
    with pytest.raises(ExpressionError, match="fields"):
        compile_expression('is_timed_hmac_valid_v0("k", "literal", 10, http.request.timestamp.sec)')
    with pytest.raises(ExpressionError, match="unknown field"):
        compile_expression('http.request.nope == "x"')


# --- tokens and rules -------------------------------------------------------------------------
def test_token_shape_and_issue_time():
    token = token_for(auth(), "tenant-acme", GEN1)
    assert re.fullmatch(r"\d{10}-[A-Za-z0-9_-]{43}", token)
    assert int(token.split("-", 1)[0]) == EXPIRY - TTL  # valid exactly until the grant's expiry
    assert token in registered()


def test_a_token_passes_its_tenants_rule_until_expiry_and_no_other():
    a = auth()
    token = token_for(a, "tenant-acme", GEN1)
    query = f"sv=2024&si=b2r-x&sr=c&sig=abc%3D&b2t={token}"
    path = "/tenant-acme/enventa-connector/1.0.0/enventa-connector-1.0.0.zip"
    assert not blocked(a, "tenant-acme", GEN1, path, query, EXPIRY - 1)
    assert blocked(a, "tenant-acme", GEN1, path, query, EXPIRY)  # expired
    assert blocked(a, "tenant-acme", GEN2, path, query, EXPIRY - 1)  # rotated secret (revoke)
    other = path.replace("tenant-acme", "tenant-globex")
    assert blocked(a, "tenant-globex", GEN1, other, query, EXPIRY - 1)  # acme's token on globex's prefix
    assert not blocked(a, "tenant-globex", GEN1, path, query, EXPIRY - 1)  # globex's rule guards only its paths


@pytest.mark.parametrize("path, query", [
    ("/tenant-acme/p/1.0.0/p-1.0.0.zip", ""),  # no token
    ("/tenant-acme/p/1.0.0/p-1.0.0.zip", "b2t=1800000000-" + "A" * 43),  # forged
    ("/TENANT-ACME/p/1.0.0/p-1.0.0.zip", ""),  # case
    ("/tenant-%61cme/p/1.0.0/p-1.0.0.zip", ""),  # percent-encoding
    ("/tenant-acme/p/channels/stable.json", "b2t=x&b2t=good"),  # first value counts
])
def test_requests_without_a_valid_token_are_blocked(path, query):
    query = query.replace("good", token_for(auth(), "tenant-acme", GEN1))
    assert blocked(auth(), "tenant-acme", GEN1, path, query, EXPIRY - 100)


def test_the_token_may_sit_anywhere_and_a_base_path_is_part_of_the_scope():
    a = auth(BASE + "/dl/")
    token = token_for(a, "tenant-acme", GEN1)
    assert a.scope("tenant-acme") == "/dl/tenant-acme/"
    assert not blocked(a, "tenant-acme", GEN1, "/dl/tenant-acme/x", f"b2t={token}&sv=1", EXPIRY - 1)
    assert blocked(a, "tenant-acme", GEN1, "/dl/tenant-acme/x", "sv=1", EXPIRY - 1)
    assert not blocked(a, "tenant-acme", GEN1, "/tenant-acme/x", "", EXPIRY - 1)  # outside the CDN's base path


def test_secrets_are_per_tenant_and_generation_and_never_in_ref_or_description():
    a = auth()
    secrets = {tokens.tenant_secret(a, c, g) for c in ("tenant-acme", "tenant-globex") for g in (GEN1, GEN2)}
    assert len(secrets) == 4 and all(re.fullmatch(r"[0-9a-f]{64}", s) for s in secrets)
    assert tokens.tenant_secret(a, "tenant-acme", GEN1) == tokens.tenant_secret(auth(), "tenant-acme", GEN1)
    rule = tokens.tenant_rule(a, "tenant-acme", GEN2)
    secret = tokens.tenant_secret(a, "tenant-acme", GEN2)
    assert secret in rule["expression"] and MASTER not in json.dumps(rule)
    assert secret not in rule["description"] + rule["ref"] and "generation 2" in rule["description"]
    assert rule["ref"] == "b2release-tenant-acme" and rule["action"] == "block"
    assert secrets <= registered()


def test_cdn_urls_put_the_token_last_and_keep_the_sas():
    a = auth()
    urls = tokens.cdn_urls(a, "tenant-acme", tokens.tenant_secret(a, "tenant-acme", GEN1), "sv=1&sig=x", EXPIRY,
                           {"cdn_url": "p/1.0.0/p 1.zip"})
    assert urls["cdn_url"].startswith(f"{BASE}/tenant-acme/p/1.0.0/p%201.zip?sv=1&sig=x&b2t=")
    assert urls["cdn_base_url"].startswith(f"{BASE}/tenant-acme?sv=1&sig=x&b2t=")


def test_cache_control_of_versioned_files():
    def cfg(**env):
        return config_mod.load(None, environ={f"B2RELEASE_CDN_{k.upper()}": v for k, v in env.items()})

    assert tokens.PUBLIC_IMMUTABLE == IMMUTABLE_CACHE_CONTROL
    assert tokens.versioned_cache_control(cfg()) == IMMUTABLE_CACHE_CONTROL  # no CDN
    assert tokens.versioned_cache_control(cfg(provider="cloudflare")) == "private, max-age=31536000, immutable"
    assert tokens.versioned_cache_control(cfg(provider="cloudflare", token_auth="true")) == IMMUTABLE_CACHE_CONTROL


# --- settings ---------------------------------------------------------------------------------
def _settings(monkeypatch, key: str | None = MASTER, **env: str):
    base = {"B2RELEASE_CDN_PROVIDER": "cloudflare", "B2RELEASE_CDN_TOKEN_AUTH": "true",
            "B2RELEASE_CDN_BASE_URL": BASE}
    base.update({f"B2RELEASE_CDN_{k.upper()}": v for k, v in env.items()})
    monkeypatch.delenv("B2RELEASE_CDN_TOKEN_KEY_FILE", raising=False)
    if key is None:
        monkeypatch.delenv("B2RELEASE_CDN_TOKEN_KEY", raising=False)
    else:
        monkeypatch.setenv("B2RELEASE_CDN_TOKEN_KEY", key)
    return tokens.from_config(config_mod.load(None, environ=base))


def test_settings_are_checked(monkeypatch):
    assert _settings(monkeypatch).ttl == TTL
    with pytest.raises(ConfigError, match="B2RELEASE_CDN_TOKEN_KEY is not set"):
        _settings(monkeypatch, key=None)
    with pytest.raises(ConfigError, match="too short") as short:
        _settings(monkeypatch, key="short-key-1234")
    assert "short-key-1234" not in short.value.message
    with pytest.raises(ConfigError, match="needs cdn.provider = cloudflare"):
        _settings(monkeypatch, provider="none")
    with pytest.raises(ConfigError, match="must be https"):
        _settings(monkeypatch, base_url="http://downloads.example.com")
    with pytest.raises(ConfigError, match="token_param"):
        _settings(monkeypatch, token_param="b2t&x")
    with pytest.raises(ConfigError, match="path"):
        _settings(monkeypatch, base_url=BASE + '/a"b')


def test_the_key_variable_is_a_secret_not_a_config_key(tmp_path):
    cfg = config_mod.load(None, environ={"B2RELEASE_CDN_TOKEN_KEY": MASTER, "B2RELEASE_CDN_TOKEN_KEY_FILE": "x"},
                          collect=True)
    assert cfg.problems == []
    with pytest.raises(ConfigError, match="unknown config key cdn.token_keys"):
        config_mod.load(None, environ={"B2RELEASE_CDN_TOKEN_KEYS": "x"})


# --- generations ------------------------------------------------------------------------------
@pytest.fixture
def generations(tmp_path):
    store = LocalStore(tmp_path / "store")
    store.ensure_container("releases")
    return tokens.Generations(store, "releases", PreconditionFailed)


def test_generations_are_created_once_and_rotated(generations, tmp_path):
    first = generations.ensure("tenant-acme")
    assert first.number == 1 and generations.ensure("tenant-acme") == first
    second = generations.rotate("tenant-acme")
    assert second.number == 2 and second.nonce != first.nonce
    assert generations.get("tenant-acme") == second and generations.get("tenant-globex") is None
    doc = json.loads((tmp_path / "store/releases/.b2release/cdn-token-generations.json").read_text())
    assert doc["format"] == tokens.GENERATIONS_FORMAT and doc["containers"]["tenant-acme"]["generation"] == 2


def test_a_lost_record_never_brings_an_old_secret_back(generations, tmp_path):
    a = auth()
    old = tokens.tenant_secret(a, "tenant-acme", generations.ensure("tenant-acme"))
    (tmp_path / "store/releases/.b2release/cdn-token-generations.json").unlink()
    fresh = generations.ensure("tenant-acme")
    assert fresh.number == 1 and tokens.tenant_secret(a, "tenant-acme", fresh) != old  # a new random nonce


def test_a_concurrent_writer_is_read_again_not_overwritten(generations):
    generations.ensure("tenant-acme")
    real_write = generations.blobs.write_bytes
    raced = []

    def racing_write(container, path, data, cache_control, **conditions):
        if not raced:  # another machine rotates globex just before this write lands
            raced.append(True)
            other = tokens.Generations(generations.blobs, "releases", PreconditionFailed)
            generations.blobs.write_bytes = real_write
            other.rotate("tenant-globex")
        return real_write(container, path, data, cache_control, **conditions)

    generations.blobs.write_bytes = racing_write
    assert generations.rotate("tenant-acme").number == 2
    assert generations.get("tenant-globex").number == 1  # the other writer's change is kept


def test_a_broken_record_is_refused(generations, tmp_path):
    generations.ensure("tenant-acme")
    (tmp_path / "store/releases/.b2release/cdn-token-generations.json").write_text('{"format": "other"}')
    with pytest.raises(InputError, match="not a valid CDN token generations record"):
        generations.get("tenant-acme")


# --- the Rulesets API client, against the fake ----------------------------------------------
def provider(fake) -> CloudflareProvider:
    return CloudflareProvider(zone_id=FAKE_ZONE_ID, api_base=fake.api_base, token=FAKE_TOKEN, timeout=5.0, retries=2)


def test_upsert_creates_the_entry_point_then_patches_and_is_idempotent(fake_cloudflare, no_sleep, caplog):
    caplog.set_level(logging.DEBUG)
    cf, a = provider(fake_cloudflare), auth()
    assert cf.find_rules("b2release-tenant-acme") is None
    assert cf.upsert_rule(tokens.tenant_rule(a, "tenant-acme", GEN1)) == "created"
    assert cf.upsert_rule(tokens.tenant_rule(a, "tenant-acme", GEN1)) == "unchanged"
    assert tokens.rule_state(cf, a, "tenant-acme", GEN1) == "ok"
    assert tokens.rule_state(cf, a, "tenant-acme", GEN2) == "differs"
    assert tokens.rule_state(cf, a, "tenant-globex", GEN1) == "missing"
    assert cf.upsert_rule(tokens.tenant_rule(a, "tenant-acme", GEN2)) == "updated"
    assert tokens.rule_state(cf, a, "tenant-acme", GEN2) == "ok"
    methods = [(r.method, r.path.split("/rulesets")[1][:10]) for r in fake_cloudflare.rule_requests]
    assert [m for m, _ in methods if m != "GET"] == ["POST", "PATCH"]
    # The rule (holding the secret) went to Cloudflare, and into no log line.
    secret = tokens.tenant_secret(a, "tenant-acme", GEN2)
    assert any(secret in json.dumps(r.body) for r in fake_cloudflare.rule_requests if r.body)
    assert secret not in caplog.text and "is_timed_hmac_valid_v0" not in caplog.text


def test_a_new_rule_goes_first_and_foreign_rules_are_kept(fake_cloudflare, no_sleep):
    # An operator's ruleset, made before b2release.
    fake_cloudflare.put_entrypoint([{"ref": "ops-skip", "expression": 'http.host eq "downloads.example.com"',
                                     "action": "skip"}])
    cf = provider(fake_cloudflare)
    assert cf.upsert_rule(tokens.tenant_rule(auth(), "tenant-acme", GEN1)) == "created"
    refs = [r["ref"] for r in fake_cloudflare.entrypoint()["rules"]]
    assert refs == ["b2release-tenant-acme", "ops-skip"]  # before the skip rule, which would let all through


def test_losing_the_race_to_create_the_entry_point_adds_the_rule_to_the_winners(fake_cloudflare, no_sleep):
    cf = provider(fake_cloudflare)
    real = fake_cloudflare._rules

    def someone_else_first(method, match, body):
        if method == "POST" and match.group("ruleset") is None and not fake_cloudflare.rulesets:
            made = fake_cloudflare._make_rules([{"ref": "ops", "expression": 'http.host eq "x"', "action": "block"}])
            fake_cloudflare._new_ruleset(match.group("phase") or body["phase"])["rules"] = made
        return real(method, match, body)

    fake_cloudflare._rules = someone_else_first
    assert cf.upsert_rule(tokens.tenant_rule(auth(), "tenant-acme", GEN1)) == "created"
    assert [r["ref"] for r in fake_cloudflare.entrypoint()["rules"]] == ["b2release-tenant-acme", "ops"]


def test_a_purge_only_token_is_refused_with_the_permission_it_lacks(fake_cloudflare, no_sleep):
    fake_cloudflare.permissions = {"purge"}
    with pytest.raises(RemoteError) as info:
        provider(fake_cloudflare).upsert_rule(tokens.tenant_rule(auth(), "tenant-acme", GEN1))
    assert "Cloudflare rules API failed" in info.value.message and "code 10000" in info.value.message
    assert "Zone WAF / Edit" in info.value.hint
    assert FAKE_TOKEN not in info.value.message + info.value.hint


def test_a_rejected_rule_is_an_error_without_the_secret(fake_cloudflare, no_sleep):
    a = auth()
    secret = tokens.tenant_secret(a, "tenant-acme", GEN1)
    fake_cloudflare.fail([{"code": 20200, "message": f'filter parsing error near "{secret}"'}])
    with pytest.raises(RemoteError) as info:
        provider(fake_cloudflare).upsert_rule(tokens.tenant_rule(a, "tenant-acme", GEN1))
    assert "code 20200" in info.value.message and secret not in info.value.message
    assert secret not in json.dumps(info.value.details)


def test_require_rule_installs_a_missing_rule_and_refuses_a_different_one(fake_cloudflare, no_sleep):
    cf, a = provider(fake_cloudflare), auth()
    assert tokens.require_rule(cf, a, "tenant-acme", GEN1, "acme") == "created"
    assert tokens.require_rule(cf, a, "tenant-acme", GEN1, "acme") == "unchanged"
    with pytest.raises(UsageError, match="revoke --tenant acme"):
        tokens.require_rule(cf, a, "tenant-acme", GEN2, "acme")
    with pytest.raises(UsageError, match="ttl"):
        tokens.require_rule(cf, tokens.TokenAuth(BASE, "b2t", 3600, MASTER), "tenant-acme", GEN1, "acme")


def test_edge_checks_for_doctor(fake_cloudflare, no_sleep, monkeypatch, generations):
    cf = provider(fake_cloudflare)
    off = config_mod.load(None, environ={"B2RELEASE_CDN_PROVIDER": "cloudflare"})
    assert tokens.edge_checks(off, None, None, [])[0][0] == "warn"
    assert tokens.edge_checks(config_mod.load(None, environ={}), None, None, []) == []
    monkeypatch.setenv("B2RELEASE_CDN_TOKEN_KEY", MASTER)
    on = config_mod.load(None, environ={"B2RELEASE_CDN_PROVIDER": "cloudflare", "B2RELEASE_CDN_TOKEN_AUTH": "true",
                                        "B2RELEASE_CDN_BASE_URL": BASE})
    acme = generations.ensure("tenant-acme")
    generations.ensure("tenant-globex")
    cf.upsert_rule(tokens.tenant_rule(tokens.from_config(on), "tenant-acme", acme))
    checks = tokens.edge_checks(on, cf, generations, ["tenant-acme", "tenant-globex", "tenant-initech"])
    assert [c[0] for c in checks] == ["ok", "ok", "fail", "warn"]
    assert all(MASTER not in " ".join(c) for c in checks)
