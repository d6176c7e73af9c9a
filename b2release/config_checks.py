"""Every config value checked the way the commands will use it, without running them
(`config check`, and `doctor`'s config checks).

Types, choices and unknown keys are config.load's (collected, not raised, for this
command); here come the meanings: durations (`config.parse_duration`), URLs, tenant ids
and channel names (the validators upload and grant use), the store URL, build properties,
paths that must exist, signing material that must come in pairs, and the `[cdn]`
settings and token when the provider is cloudflare (`cdn.make_provider`, the purge
stage's own check). Each problem names the file or environment variable its value came
from. No secret is read except to see that CLOUDFLARE_API_TOKEN is there (through
redact.secret_from_env, so it is masked from then on); none is printed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from b2release import cdn, stores
from b2release.cdn.cloudflare import check_api_base
from b2release.config import Config, Problem, parse_duration
from b2release.errors import B2ReleaseError
from b2release.formats.names import validate_product_name
from b2release.formats.pointer import validate_channel
from b2release.stores.tenants import validate_container_name, validate_tenant_id
from b2release.toolchains import parse_property

# A check yields the problems of one key, each a text starting with the key's name.
KeyCheck = Callable[[Config, str, Any], Iterator[str]]


def _named(dotted: str, text: str) -> str:
    """`dotted: text`, without saying the key twice when the validator already named it."""
    return text if text.startswith(dotted) else f"{dotted}: {text}"


def _valid(dotted: str, validate: Callable[[], Any]) -> Iterator[str]:
    try:
        validate()
    except B2ReleaseError as exc:
        yield _named(dotted, exc.message)


def _product_name(cfg: Config, dotted: str, value: Any) -> Iterator[str]:
    if value:
        yield from _valid(dotted, lambda: validate_product_name(value))


def _duration(cfg: Config, dotted: str, value: Any) -> Iterator[str]:
    yield from _valid(dotted, lambda: parse_duration(value, dotted))


def _http_url(cfg: Config, dotted: str, value: Any) -> Iterator[str]:
    if value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            yield f"{dotted}: expected an http(s) URL, got {value!r}"


def _account_url(cfg: Config, dotted: str, value: Any) -> Iterator[str]:
    # The Azure store's rule: https, plain http only for an emulator that was allowed.
    yield from _http_url(cfg, dotted, value)
    if value and urlsplit(value).scheme == "http" and not cfg.get("store.allow_http_emulator"):
        yield f"{dotted}: {value!r} is plain http; set store.allow_http_emulator = true for a local emulator only"


def _store_url(cfg: Config, dotted: str, value: Any) -> Iterator[str]:
    # The forms stores.open_store accepts (it resolves credentials too, which is doctor's job).
    problem = stores.url_problem((value or "").strip())
    if problem:
        yield f"{dotted}: {problem}"


def _tenants(cfg: Config, dotted: str, value: Any) -> Iterator[str]:
    for tenant in value or []:  # one problem per bad id, not only the first
        yield from _valid(dotted, lambda t=tenant: validate_tenant_id(t))


def _channel(cfg: Config, dotted: str, value: Any) -> Iterator[str]:
    yield from _valid(dotted, lambda: validate_channel(value))


def _optional_channel(cfg: Config, dotted: str, value: Any) -> Iterator[str]:
    if value:
        yield from _channel(cfg, dotted, value)


def _container(cfg: Config, dotted: str, value: Any) -> Iterator[str]:
    yield from _valid(dotted, lambda: validate_container_name(value, dotted))


def _properties(cfg: Config, dotted: str, value: Any) -> Iterator[str]:
    for prop in value or []:
        yield from _valid(dotted, lambda p=prop: parse_property(p, dotted))


def _at_least(minimum: int) -> KeyCheck:
    def check(cfg: Config, dotted: str, value: Any) -> Iterator[str]:
        if value < minimum:
            yield f"{dotted}: must be at least {minimum}, got {value}"
    return check


def _existing(kind: str) -> KeyCheck:
    """A path key, if set, must name an existing file ("file"), folder ("dir") or either ("any")."""
    def check(cfg: Config, dotted: str, value: Any) -> Iterator[str]:
        path = cfg.path(dotted)
        if path is None:
            return
        if not path.exists():
            yield f"{dotted}: {path} does not exist"
        elif kind == "file" and not path.is_file():
            yield f"{dotted}: {path} is not a file"
        elif kind == "dir" and not path.is_dir():
            yield f"{dotted}: {path} is not a folder"
    return check


KEY_CHECKS: dict[str, KeyCheck] = {
    "product.name": _product_name,
    "product.project": _existing("file"),
    "build.properties": _properties,
    "sign.cert": _existing("file"),
    "sign.key": _existing("file"),
    "sign.pfx": _existing("file"),
    "sign.timestamp_url": _http_url,
    "release.signing_key": _existing("file"),
    "release.public_key": _existing("file"),
    "scan.advisories": _existing("any"),
    "scan.osv_url": _http_url,
    "scan.source": _existing("dir"),
    "scan.ignore_file": _existing("file"),
    "store.url": _store_url,
    "store.tenants": _tenants,
    "store.channel": _channel,
    "store.pointer_ttl": _duration,
    "store.max_grant_expiry": _duration,
    "store.account_url": _account_url,
    "store.max_concurrency": _at_least(1),
    "store.fanout": _at_least(1),
    "store.release_container": _container,
    "store.retries": _at_least(0),
    "store.retry_backoff": _at_least(0),
    "promote.from": _optional_channel,
    "promote.to": _optional_channel,
    "promote.min_soak": _duration,
}


def _signing_material(cfg: Config) -> Iterator[tuple[str, str]]:
    """signers.certs.load_material's rule: --pfx, or --cert with --key."""
    cert, key, pfx = (cfg.get(f"sign.{k}") for k in ("cert", "key", "pfx"))
    if pfx and (cert or key):
        yield "sign.pfx", "sign.pfx is set together with sign.cert/sign.key: give one or the other"
    elif bool(cert) != bool(key):
        given, missing = ("sign.cert", "sign.key") if cert else ("sign.key", "sign.cert")
        yield given, f"{given} is set without {missing}: code signing needs both (or sign.pfx)"


def _cdn(cfg: Config) -> Iterator[tuple[str, str]]:
    base_url = cfg.get("cdn.base_url")
    if base_url or cfg.get("cdn.provider") == "cloudflare":
        yield from (("cdn.base_url", t) for t in _valid("cdn.base_url", lambda: cdn.check_base_url(base_url)))
    if cfg.get("cdn.provider") != "cloudflare":
        return
    api_base = cfg.get("cdn.api_base")
    yield from (("cdn.api_base", t) for t in _valid("cdn.api_base", lambda: check_api_base(api_base)))
    # The purge stage's own check: zone id, batch size, timeout, retries, the token. It stops
    # at its first problem; one already reported above is not reported twice.
    try:
        cdn.make_provider(cfg)
    except B2ReleaseError as exc:
        named = re.search(r"\bcdn\.[a-z_]+", exc.message)
        key = named.group(0) if named else "cdn.provider"
        if key not in ("cdn.base_url", "cdn.api_base"):
            yield key, exc.message


def _label(cfg: Config, dotted: str) -> str:
    """Where a value came from, in config.load's words: the file, or "environment variable X"."""
    source = cfg.source(dotted)
    if source == "default" and dotted.startswith("cdn.") and cfg.source("cdn.provider") != "default":
        # A default that is wrong only for the chosen provider (an empty zone id): name who chose it.
        return _label(cfg, "cdn.provider")
    if source.startswith("environment "):
        return "environment variable " + source[len("environment "):]
    return source


def _problem(cfg: Config, dotted: str, text: str) -> Problem:
    label = _label(cfg, dotted)
    return Problem(label, dotted, f"{label}: {text}")


def check(cfg: Config) -> list[Problem]:
    """Every problem of the values `cfg` holds (config.load's own are in `cfg.problems`)."""
    problems = [_problem(cfg, dotted, text) for dotted, fn in KEY_CHECKS.items()
                for text in fn(cfg, dotted, cfg.get(dotted))]
    for dotted, text in [*_signing_material(cfg), *_cdn(cfg)]:
        problems.append(_problem(cfg, dotted, text))
    return problems

