"""CDN token authentication: tenant isolation and revocation at the edge (`[cdn] token_auth`).

The problem: the CDN's cache key leaves the query string (the SAS) out and versioned files
are cached for a year, so a cached tenant package would be served to anyone who knows its
path, revoked or not. Cloudflare's WAF custom rules run before the cache: one rule per
tenant blocks every request under `<base path>/tenant-<id>/` without a valid timed HMAC
token of that tenant, so even a cache hit needs the tenant's token, and revoking (a new
secret in that tenant's rule) ends every token of the tenant at the edge at once.

Token (Cloudflare's `is_timed_hmac_valid_v0` with flags "s", separator length 0): the query
parameter `[cdn] token_param`, last in the URL, carries `<timestamp>-<mac>` with
mac = base64url-without-padding(HMAC-SHA256(secret, scope + timestamp)), scope the tenant's
path prefix `<base path>/tenant-<id>/` (the rule passes `concat(scope, token)` as the
MessageMAC), and timestamp = the grant's expiry - ttl, ttl = `[store] max_grant_expiry`
(a literal in the rule): Cloudflare accepts it while now < timestamp + ttl, that is until
the grant expires. URL-safe base64 needs no percent-encoding, and Cloudflare does not decode
`http.request.uri.args` values, so the token is the same whether or not a client re-encodes.

Secrets: secret = hex(HMAC-SHA256(master, "b2release-cdn-token|<container>|<generation>")),
master from B2RELEASE_CDN_TOKEN_KEY (or _FILE). Each tenant container's generation (a
counter and a random nonce, so a lost record never brings an old secret back) is kept in
the release container's `.b2release/cdn-token-generations.json`, written by compare-and-swap,
so grant and revoke on any machine derive the same secret. The master key, every secret
and every token are registered for redaction when read or made.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets as randomness
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol
from urllib.parse import quote, urlsplit

from b2release.cdn.targets import check_base_url, public_url
from b2release.config import Config, parse_duration
from b2release.errors import ConfigError, InputError, RemoteError, UsageError
from b2release.redact import CDN_TOKEN_KEY_ENV, register_secret, secret_from_env

PUBLIC_IMMUTABLE = "public, max-age=31536000, immutable"  # = stores.base.IMMUTABLE_CACHE_CONTROL
PRIVATE_IMMUTABLE = "private, max-age=31536000, immutable"
GENERATIONS_PATH = ".b2release/cdn-token-generations.json"
GENERATIONS_FORMAT = "b2release-cdn-token-generations/1"
RULE_REF_PREFIX = "b2release-"
MIN_KEY_LENGTH = 32
CAS_ATTEMPTS = 5
_PARAM = re.compile(r"^[A-Za-z0-9_]{1,32}$")
_BASE_PATH = re.compile(r"^(/[A-Za-z0-9._~-]+)*$")
_NONCE = re.compile(r"^[0-9a-f]{32}$")


def enabled(config: Config) -> bool:
    return bool(config.get("cdn.token_auth"))


def versioned_cache_control(config: Config) -> str:
    """Cache-Control of versioned files: a year, shared caches allowed only where nothing undoes isolation.

    No CDN (`provider = none`) or a CDN with token auth (the WAF rule guards its cache):
    `public, max-age=31536000, immutable`. A CDN without token auth: `private, ...`, so the
    edge does not keep a tenant's files under a cache key anyone can hit (docs/cdn.md).
    """
    if config.get("cdn.provider") != "none" and not enabled(config):
        return PRIVATE_IMMUTABLE
    return PUBLIC_IMMUTABLE


@dataclass(frozen=True)
class TokenAuth:
    """The settings of token auth, checked; `master` is the secret master key."""

    base_url: str
    param: str
    ttl: int
    master: str = field(repr=False)

    @property
    def base_path(self) -> str:
        return urlsplit(self.base_url).path.rstrip("/")

    def scope(self, container: str) -> str:
        """The tenant's path prefix at the edge, the message its tokens sign."""
        return f"{self.base_path}/{container}/"


def from_config(config: Config) -> TokenAuth:
    """Token auth settings, every one checked before anything is changed (ConfigError, exit 2)."""
    if config.get("cdn.provider") != "cloudflare":
        raise ConfigError(f"cdn.token_auth needs cdn.provider = cloudflare (WAF custom rules), got "
                          f"{config.get('cdn.provider')!r}")
    base_url = check_base_url(config.get("cdn.base_url"))
    parts = urlsplit(base_url)
    if parts.scheme != "https":
        raise ConfigError(f"cdn.base_url must be https with cdn.token_auth (URLs carry a SAS and a token), "
                          f"got {base_url!r}")
    if not _BASE_PATH.fullmatch(parts.path.rstrip("/")):
        raise ConfigError(f"cdn.base_url's path may hold only letters, digits and . _ ~ - with cdn.token_auth "
                          f"(it is part of the WAF rule), got {parts.path!r}")
    param = config.get("cdn.token_param")
    if not _PARAM.fullmatch(param or ""):
        raise ConfigError(f"cdn.token_param must be 1-32 letters, digits or '_', got {param!r}")
    ttl = parse_duration(config.get("store.max_grant_expiry"), "store.max_grant_expiry")
    master = secret_from_env(CDN_TOKEN_KEY_ENV)
    if not master:
        raise ConfigError(
            f"{CDN_TOKEN_KEY_ENV} is not set: the master key of the CDN token secrets (cdn.token_auth = true)",
            hint=f"generate one once (e.g. `openssl rand -base64 48`), keep it with your other release secrets "
            f"and export it as {CDN_TOKEN_KEY_ENV} (or put it in a file named by {CDN_TOKEN_KEY_ENV}_FILE)")
    if len(master) < MIN_KEY_LENGTH:
        raise ConfigError(f"{CDN_TOKEN_KEY_ENV} is too short: at least {MIN_KEY_LENGTH} characters")
    return TokenAuth(base_url=base_url, param=param, ttl=ttl, master=master)


# --- generations: which secret each tenant container has now -------------------------------
@dataclass(frozen=True)
class Generation:
    number: int
    nonce: str
    rotated_at: str

    @property
    def label(self) -> str:
        return f"{self.number}.{self.nonce}"

    def to_dict(self) -> dict[str, Any]:
        return {"generation": self.number, "nonce": self.nonce, "rotated_at": self.rotated_at}

    @staticmethod
    def after(previous: Generation | None) -> Generation:
        return Generation((previous.number if previous else 0) + 1, randomness.token_hex(16),
                          time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


class Blobs(Protocol):
    """What generations need of a store (b2release.stores.Store has it)."""

    def read_bytes(self, container: str, path: str, max_size: int = ...) -> tuple[bytes, Any] | None: ...

    def write_bytes(self, container: str, path: str, data: bytes, cache_control: str, *,
                    if_match: str | None = None, if_none_match: bool = False) -> Any: ...


def _parse(data: bytes, where: str) -> dict[str, Generation]:
    try:
        doc = json.loads(data.decode("utf-8"))
        if doc.get("format") != GENERATIONS_FORMAT:
            raise ValueError(f"format is not {GENERATIONS_FORMAT}")
        out = {}
        for container, entry in doc["containers"].items():
            gen = Generation(entry["generation"], entry["nonce"], entry["rotated_at"])
            if not isinstance(gen.number, int) or gen.number < 1 or not _NONCE.fullmatch(str(gen.nonce)):
                raise ValueError(f"bad entry for {container}")
            out[container] = gen
        return out
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise InputError(f"{where} is not a valid CDN token generations record ({exc}); restore it from a backup "
                         "or delete it (every tenant then gets a new secret: run revoke for each)") from None


class Generations:
    """The token generation of each tenant container, in the release container (compare-and-swap)."""

    def __init__(self, blobs: Blobs, release_container: str, conflict: type[Exception]):
        self.blobs = blobs
        self.release_container = release_container
        self.conflict = conflict  # what the store raises when a conditional write loses

    @property
    def where(self) -> str:
        return f"{self.release_container}/{GENERATIONS_PATH}"

    def _read(self) -> tuple[dict[str, Generation], str | None]:
        found = self.blobs.read_bytes(self.release_container, GENERATIONS_PATH, 1 << 20)
        if found is None:
            return {}, None
        data, info = found
        return _parse(data, self.where), info.etag

    def get(self, container: str) -> Generation | None:
        return self._read()[0].get(container)

    def ensure(self, container: str) -> Generation:
        """The container's generation, creating the first one when it has none."""
        return self._update(container, lambda current: current or Generation.after(None))

    def rotate(self, container: str) -> Generation:
        """A new generation (a new secret) for the container: every token made before stops passing."""
        return self._update(container, Generation.after)

    def _update(self, container: str, change: Callable[[Generation | None], Generation]) -> Generation:
        for _ in range(CAS_ATTEMPTS):
            entries, etag = self._read()
            current = entries.get(container)
            wanted = change(current)
            if wanted is current:
                return wanted
            entries[container] = wanted
            doc = {"format": GENERATIONS_FORMAT,
                   "containers": {c: g.to_dict() for c, g in sorted(entries.items())}}
            data = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
            try:
                self.blobs.write_bytes(self.release_container, GENERATIONS_PATH, data, "no-store",
                                       if_match=etag, if_none_match=etag is None)
                return wanted
            except self.conflict:
                continue  # another grant or revoke wrote it in between: read again
        raise RemoteError(f"{self.where} kept changing while this command ran ({CAS_ATTEMPTS} attempts); re-run")


# --- secrets, rules and tokens ------------------------------------------------------------------
def tenant_secret(auth: TokenAuth, container: str, generation: Generation) -> str:
    message = f"b2release-cdn-token|{container}|{generation.label}".encode()
    secret = hmac.new(auth.master.encode(), message, hashlib.sha256).hexdigest()
    register_secret(secret)
    return secret


def rule_ref(container: str) -> str:
    return RULE_REF_PREFIX + container


def rule_expression(auth: TokenAuth, container: str, secret: str) -> str:
    """Block a request under the tenant's prefix unless it carries a valid token of the tenant.

    The path is decoded and lower-cased before the prefix test, so `/TENANT-ACME/` or
    `/tenant-%61cme/` are guarded too (the rule may only ever block more, never less).
    """
    scope = auth.scope(container)
    token = f'http.request.uri.args["{auth.param}"][0]'
    return (f'(starts_with(lower(url_decode(http.request.uri.path)), "{scope.lower()}") and not '
            f'(any(http.request.uri.args.names[*] == "{auth.param}") and '
            f'is_timed_hmac_valid_v0("{secret}", concat("{scope}", {token}), {auth.ttl}, '
            f'http.request.timestamp.sec, 0, "s")))')


def tenant_rule(auth: TokenAuth, container: str, generation: Generation) -> dict[str, Any]:
    """The WAF custom rule of one tenant (its expression holds the secret; the description does not)."""
    return {
        "ref": rule_ref(container),
        "description": (f"b2release token authentication for {container} (generation {generation.number}); "
                        "managed by b2release grant/revoke, do not edit"),
        "expression": rule_expression(auth, container, tenant_secret(auth, container, generation)),
        "action": "block",
        "enabled": True,
    }


def make_token(secret: str, scope: str, expires_at: int, ttl: int) -> str:
    """`<timestamp>-<mac>` valid at Cloudflare until `expires_at` (timestamp = expires_at - ttl)."""
    issued = int(expires_at) - ttl
    if not 10**9 <= issued < 10**10:
        raise UsageError(f"a CDN token needs a 10-digit issue time, got {issued} (expiry {expires_at}, ttl {ttl})")
    mac = hmac.new(secret.encode(), f"{scope}{issued}".encode(), hashlib.sha256).digest()
    token = f"{issued}-{base64.urlsafe_b64encode(mac).decode('ascii').rstrip('=')}"
    register_secret(token)
    return token


def cdn_urls(auth: TokenAuth, container: str, secret: str, sas_query: str, expires_at: int,
             paths: dict[str, str]) -> dict[str, str]:
    """`{name: {base_url}/{container}/{path}?{SAS}&{param}={token}}` and `cdn_base_url` (append a path
    before the `?`); the token comes last, where it must stay."""
    token = make_token(secret, auth.scope(container), expires_at, auth.ttl)
    query = f"{sas_query}&{auth.param}={token}" if sas_query else f"{auth.param}={token}"
    register_secret(query)
    urls = {name: f"{public_url(auth.base_url, container, path)}?{query}" for name, path in paths.items()}
    urls["cdn_base_url"] = f"{auth.base_url}/{quote(container, safe='')}?{query}"
    return urls


class RulesApi(Protocol):
    def find_rules(self, ref: str) -> list[dict[str, Any]] | None: ...

    def upsert_rule(self, rule: dict[str, Any]) -> str: ...


def _same(found: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return (found.get("expression") == wanted["expression"] and found.get("action") == wanted["action"]
            and found.get("enabled", True) is True)


def rule_state(api: RulesApi, auth: TokenAuth, container: str, generation: Generation) -> str:
    """'ok', 'missing' (no rule with the tenant's ref) or 'differs' (another secret, ttl or parameter)."""
    found = api.find_rules(rule_ref(container))
    if not found:
        return "missing"
    wanted = tenant_rule(auth, container, generation)
    return "ok" if all(_same(rule, wanted) for rule in found) else "differs"


def require_rule(api: RulesApi, auth: TokenAuth, container: str, generation: Generation, tenant: str) -> str:
    """Before a grant: the tenant's rule must hold its current secret. A missing rule is installed
    ('created'; the tenant's paths were unguarded); one that differs refuses the grant (exit 2),
    because its tokens would not pass, or the rule is someone else's."""
    if check_rule(api, auth, container, generation, tenant) == "missing":
        return api.upsert_rule(tenant_rule(auth, container, generation))
    return "unchanged"


def check_rule(api: RulesApi, auth: TokenAuth, container: str, generation: Generation, tenant: str) -> str:
    """`require_rule` without the change (a grant's dry run too): 'ok' or 'missing'; refuses one that differs."""
    state = rule_state(api, auth, container, generation)
    if state == "differs":
        raise UsageError(
            f"the CDN rule {rule_ref(container)} does not hold {container}'s current token secret (generation "
            f"{generation.number}), ttl {auth.ttl}s and parameter {auth.param!r}: an interrupted revoke, a changed "
            f"[store] max_grant_expiry or [cdn] token_param / base_url, or another setup's rule; run "
            f"`b2release revoke --tenant {tenant}` to rotate the secret and rewrite the rule (ends its grants)")
    return state


def edge_checks(config: Config, api: RulesApi | None, generations: Generations | None,
                containers: list[str]) -> list[tuple[str, str, str]]:
    """What `doctor` reports about isolation at the edge, as (status, name, detail); only reads."""
    if config.get("cdn.provider") == "none":
        return []
    if not enabled(config):
        return [("warn", "token auth", "off: tenant isolation at the edge rests on a cache key that includes the "
                 "query string, and versioned files should be private (docs/cdn.md, 'Without token auth')")]
    auth = from_config(config)
    checks = [("ok", "token auth", f"parameter {auth.param!r}, ttl {auth.ttl}s, base {auth.base_url}")]
    if api is None or generations is None:
        return checks
    for container in containers:
        generation = generations.get(container)
        if generation is None:
            checks.append(("warn", rule_ref(container), "no token generation yet: the first grant or revoke of the "
                           "tenant makes one and installs its rule"))
            continue
        state = rule_state(api, auth, container, generation)
        status = {"ok": "ok", "missing": "fail", "differs": "fail"}[state]
        detail = {"ok": f"installed, generation {generation.number}",
                  "missing": "missing from the zone's custom rules: the tenant's paths are unguarded at the edge",
                  "differs": "does not hold the current secret: run b2release revoke for this tenant"}[state]
        checks.append((status, rule_ref(container), detail))
    return checks
