"""Cloudflare API v4 cache purge: `POST {api_base}/zones/{zone_id}/purge_cache` {"files": [...]}.

The token (CLOUDFLARE_API_TOKEN, read through redact.secret_from_env so it is masked
everywhere) goes only into the Authorization header; it is never logged and never part of
an error message. URLs go out in batches of `batch_size` because the per-request limit
depends on the plan. Retries of 429 (honouring Retry-After), 5xx, timeouts and dropped
connections are b2release.http's, bounded by `[cdn] retries`. A `success: false` answer
is final: it becomes a RemoteError (exit 3) carrying Cloudflare's error codes and messages.

For `[cdn] token_auth` (cdn/tokens.py) it also keeps one WAF custom rule per tenant in the
zone's `http_request_firewall_custom` entry point ruleset (Rulesets API): `find_rules`
reads it, `upsert_rule` creates the ruleset or the rule, or patches the rule with the same
`ref`. A rule's expression holds a tenant's token secret: request bodies are never logged,
and Cloudflare's answers are redacted before they become an error message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from b2release.cdn.base import BatchFn, PurgeReport
from b2release.cdn.targets import is_loopback
from b2release.config import Config
from b2release.errors import ConfigError, RemoteError
from b2release.http import HttpClient
from b2release.redact import CLOUDFLARE_TOKEN_ENV, redact, redact_obj, secret_from_env

NAME = "cloudflare"
_ZONE_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
FIREWALL_PHASE = "http_request_firewall_custom"  # WAF custom rules: they run before the cache
_RULE_FIELDS = ("ref", "description", "expression", "action", "enabled")
PURGE_PERMISSION = "Zone / Cache Purge / Purge"
WAF_PERMISSION = "Zone / Zone WAF / Edit"


def check_api_base(api_base: str) -> str:
    """https only: the token travels in a header. Plain http is accepted for loopback fakes."""
    parts = urlsplit(api_base or "")
    if not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"cdn.api_base must be an https URL, got {api_base!r}")
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(api_base)):
        raise ConfigError(
            f"cdn.api_base must use https (the API token is sent to it), got {api_base!r}; "
            "plain http is allowed only for a local test server on 127.0.0.1"
        )
    return api_base.rstrip("/")


def _format_errors(doc: Any) -> str:
    """Cloudflare's `errors` array as 'code 1234: message; ...' (nested error_chain included)."""
    items: list[str] = []

    def walk(errors: Any) -> None:
        if not isinstance(errors, list):
            return
        for err in errors:
            if isinstance(err, dict):
                code = err.get("code")
                message = " ".join(str(err.get("message", "")).split())
                items.append(f"code {code}: {message}" if code is not None else message)
                walk(err.get("error_chain"))
            else:
                items.append(" ".join(str(err).split()))

    walk(doc.get("errors") if isinstance(doc, dict) else None)
    return "; ".join(i for i in items if i) or "no error details given"


@dataclass
class CloudflareProvider:
    zone_id: str
    api_base: str
    token: str
    batch_size: int = 30
    timeout: float = 30.0
    retries: int = 5
    name: str = NAME
    enabled: bool = True

    @property
    def endpoint(self) -> str:
        return f"{self.api_base}/zones/{quote(self.zone_id, safe='')}/purge_cache"

    def purge(self, urls: list[str], on_batch: BatchFn | None = None) -> PurgeReport:
        report = PurgeReport()
        batches = [urls[i:i + self.batch_size] for i in range(0, len(urls), self.batch_size)]
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        with HttpClient(timeout=self.timeout, retries=self.retries, headers=headers, trust_env=False,
                        logger="purge") as client:
            try:
                for number, batch in enumerate(batches, 1):
                    where = f"batch {number} of {len(batches)}"
                    client.call("POST", self.endpoint, display=f"Cloudflare purge {where}", json={"files": batch},
                                handle=lambda response, where=where: self._answer(response, where))
                    report.batches += 1
                    report.urls.extend(batch)
                    if on_batch is not None:
                        on_batch(number, len(batches), len(batch))
            finally:
                report.requests, report.retries = client.counters.requests, client.counters.retries
        return report

    def _answer(self, resp: Any, where: str) -> dict[str, Any]:
        return self._envelope(resp, f"Cloudflare purge failed ({where}", PURGE_PERMISSION, self.endpoint)

    def _envelope(self, resp: Any, failed: str, permission: str, endpoint: str) -> dict[str, Any]:
        """Cloudflare's answer when it says success; else RemoteError '<failed>, HTTP n, ...): errors'."""
        status = resp.status_code
        try:
            doc = resp.json()
        except ValueError:
            doc = None
        if 200 <= status < 300 and isinstance(doc, dict) and doc.get("success") is True:
            return doc
        if not isinstance(doc, dict):
            raise RemoteError(f"{failed}): HTTP {status} with a body that is not JSON")
        hint = None
        if status in (401, 403):
            hint = (f"check that {CLOUDFLARE_TOKEN_ENV} is valid and has the {permission} permission for "
                    f"zone {self.zone_id}")
        # Cloudflare's text is foreign: redact it here, because the runner records the message
        # in state.json as the failure reason.
        raise RemoteError(
            redact(f"{failed}, HTTP {status}, success: false): {_format_errors(doc)}"),
            hint=hint,
            details={"endpoint": endpoint, "status": status,
                     "errors": redact_obj(doc.get("errors") or [])},
        )

    # --- WAF custom rules (Rulesets API), for cdn.token_auth --------------------------------
    def _zone(self) -> str:
        return f"{self.api_base}/zones/{quote(self.zone_id, safe='')}"

    def _rules_client(self) -> HttpClient:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        return HttpClient(timeout=self.timeout, retries=self.retries, headers=headers, trust_env=False, logger="cdn")

    def _call(self, client: HttpClient, method: str, url: str, what: str, body: Any = None,
              missing_ok: bool = False) -> dict[str, Any] | None:
        """One Rulesets API request; the body (which may hold a rule's secret) is never logged."""
        def handle(resp: Any) -> dict[str, Any] | None:
            if missing_ok and resp.status_code == 404:
                return None
            return self._envelope(resp, f"Cloudflare rules API failed ({what}", WAF_PERMISSION, url)

        kwargs = {"json": body} if body is not None else {}
        return client.call(method, url, display=f"Cloudflare rules API: {what}", handle=handle, **kwargs)

    def _entrypoint(self, client: HttpClient) -> dict[str, Any] | None:
        url = f"{self._zone()}/rulesets/phases/{FIREWALL_PHASE}/entrypoint"
        doc = self._call(client, "GET", url, f"reading the {FIREWALL_PHASE} entry point ruleset", missing_ok=True)
        return None if doc is None else _ruleset(doc)

    def find_rules(self, ref: str) -> list[dict[str, Any]] | None:
        """The rules with this `ref` in the zone's custom rules (None: the zone has no custom rules yet)."""
        with self._rules_client() as client:
            ruleset = self._entrypoint(client)
        return None if ruleset is None else [r for r in ruleset.get("rules") or [] if r.get("ref") == ref]

    def upsert_rule(self, rule: dict[str, Any]) -> str:
        """Make the zone's custom rules hold `rule` (matched by its `ref`): 'created', 'updated' or 'unchanged'.

        No entry point ruleset yet: it is created with this one rule (POST, which fails rather than
        replacing a ruleset someone else created meanwhile; then the rule is added to theirs).
        A new rule goes first, before any skip rule. Each rule with the ref is patched to the
        definition (all fields, as PATCH requires), and the answer is checked.
        """
        wanted = {k: rule[k] for k in _RULE_FIELDS}
        with self._rules_client() as client:
            ruleset = self._entrypoint(client)
            if ruleset is None:
                try:
                    created = self._call(client, "POST", f"{self._zone()}/rulesets", "creating the entry point ruleset",
                                         {"name": "default", "kind": "zone", "phase": FIREWALL_PHASE,
                                          "description": "WAF custom rules", "rules": [wanted]})
                    _require(_ruleset(created), wanted)
                    return "created"
                except RemoteError:
                    ruleset = self._entrypoint(client)  # created by someone else in between?
                    if ruleset is None:
                        raise
            base = f"{self._zone()}/rulesets/{quote(str(ruleset.get('id', '')), safe='')}/rules"
            matches = [r for r in ruleset.get("rules") or [] if r.get("ref") == wanted["ref"]]
            if not matches:
                added = self._call(client, "POST", base, f"adding rule {wanted['ref']}",
                                   {**wanted, "position": {"before": ""}})
                _require(_ruleset(added), wanted)
                return "created"
            changed = False
            for found in matches:
                if all(found.get(k, True if k == "enabled" else "") == wanted[k] for k in _RULE_FIELDS):
                    continue
                patched = self._call(client, "PATCH", f"{base}/{quote(str(found.get('id', '')), safe='')}",
                                     f"updating rule {wanted['ref']}", wanted)
                _require(_ruleset(patched), wanted)
                changed = True
            return "updated" if changed else "unchanged"


def _ruleset(doc: Any) -> dict[str, Any]:
    result = doc.get("result") if isinstance(doc, dict) else None
    if not isinstance(result, dict):
        raise RemoteError("Cloudflare rules API answered without a ruleset")
    return result


def _require(ruleset: dict[str, Any], wanted: dict[str, Any]) -> None:
    """The ruleset Cloudflare answered with holds the rule as written (its secret is never shown)."""
    for rule in ruleset.get("rules") or []:
        if rule.get("ref") == wanted["ref"] and rule.get("expression") == wanted["expression"]:
            return
    raise RemoteError(f"Cloudflare rules API: rule {wanted['ref']} is not in the ruleset after writing it")


def from_config(config: Config) -> CloudflareProvider:
    """Check every setting before the first request; a missing token is a usage error (exit 2)."""
    zone_id = config.get("cdn.zone_id") or ""
    if not zone_id:
        raise ConfigError("cdn.zone_id is not set (needed for cdn.provider = cloudflare)")
    if not _ZONE_ID.fullmatch(zone_id):
        raise ConfigError(f"cdn.zone_id must be the zone's identifier (letters and digits), got {zone_id!r}")
    api_base = check_api_base(config.get("cdn.api_base"))
    batch_size = config.get("cdn.batch_size")
    if batch_size < 1:
        raise ConfigError(f"cdn.batch_size must be at least 1, got {batch_size}")
    timeout = config.get("cdn.timeout")
    if timeout < 1:
        raise ConfigError(f"cdn.timeout must be at least 1 (seconds), got {timeout}")
    retries = config.get("cdn.retries")
    if retries < 0 or retries > 20:
        raise ConfigError(f"cdn.retries must be between 0 and 20, got {retries}")
    token = secret_from_env(CLOUDFLARE_TOKEN_ENV)
    permissions = PURGE_PERMISSION + (f" and {WAF_PERMISSION}" if config.get("cdn.token_auth") else "")
    if not token:
        raise ConfigError(
            f"{CLOUDFLARE_TOKEN_ENV} is not set: the Cloudflare API token for cdn.provider = cloudflare",
            hint=f"create a token with the {permissions} permission and export it as {CLOUDFLARE_TOKEN_ENV} "
            f"(or put it in a file named by {CLOUDFLARE_TOKEN_ENV}_FILE)",
        )
    return CloudflareProvider(zone_id=zone_id, api_base=api_base, token=token, batch_size=batch_size,
                              timeout=float(timeout), retries=retries)
