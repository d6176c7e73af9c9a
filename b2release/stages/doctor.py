"""doctor: is this machine ready to release? Tools, keys, config, work dir, services.

Each check returns a `Check` (ok / warn / fail / skip with a detail line); the command
prints them as a table and exits 1 when any check fails. Checks never print or return a
secret. It only reads: no state.json is written.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from typing import Callable

from b2release import __version__, cdn, config_checks
from b2release.cdn import cloudflare, tokens
from b2release.context import Context
from b2release.errors import B2ReleaseError, CheckFailed
from b2release.formats.signature import load_public_key, load_signing_key
from b2release.signers.certs import load_material, passwords_from_env
from b2release.stages import StageResult
from b2release.stores import PreconditionFailed, open_store
from b2release.stores.tenants import tenant_container

NAME = "doctor"
RECORDED = False


@dataclass
class Options:
    pass


@dataclass
class Check:
    area: str
    name: str
    status: str  # ok | warn | fail | skip
    detail: str = ""


CheckFn = Callable[[Context], list[Check]]


def _python(ctx: Context) -> list[Check]:
    version = ".".join(map(str, sys.version_info[:3]))
    status = "ok" if sys.version_info >= (3, 10) else "fail"
    return [Check("runtime", "python", status, f"Python {version}, b2release {__version__}")]


def _config(ctx: Context) -> list[Check]:
    source = str(ctx.config.file) if ctx.config.file else "no b2release.toml (defaults and environment only)"
    checks = [Check("config", "file", "ok", source)]
    # Every value, checked as `config check` does (doctor runs with the config collected, not
    # refused, so a bad value is a failed check here rather than no report at all).
    for problem in [*ctx.config.problems, *config_checks.check(ctx.config)]:
        checks.append(Check("config", problem.key or problem.source, "fail", problem.message))
    name = ctx.config.get("product.name")
    checks.append(Check("config", "product.name", "ok" if name else "warn", name or "not set: pass --name to package"))
    return checks


def _tools(ctx: Context) -> list[Check]:
    wanted = {
        "build": ["msbuild", "dotnet", "xbuild"],
        "sign": ["signtool", "osslsigncode"] if os.name == "nt" else ["osslsigncode"],
        "vcs": ["git"],
    }
    checks = []
    for area, names in wanted.items():
        found = {n: shutil.which(n) for n in names}
        present = [f"{n} ({p})" for n, p in found.items() if p]
        if present:
            checks.append(Check("tools", area, "ok", ", ".join(present)))
        else:
            checks.append(Check("tools", area, "warn", f"none of {', '.join(names)} on PATH"))
    return checks


def _keys(ctx: Context) -> list[Check]:
    checks = []
    signing = public = None
    for key, loader in (("release.signing_key", load_signing_key), ("release.public_key", load_public_key)):
        path = ctx.config.path(key)
        if path is None:
            checks.append(Check("keys", key, "warn", "not configured; `b2release keys generate --out keys` makes a "
                                f"development pair, then set [release] {key.split('.')[1]}"))
            continue
        try:
            loaded = loader(path)
        except B2ReleaseError as exc:
            checks.append(Check("keys", key, "fail", exc.message))
            continue
        checks.append(Check("keys", key, "ok", f"{loaded.algorithm}, key id {loaded.key_id[:16]}..."))
        if key == "release.signing_key":
            signing = loaded
        else:
            public = loaded
    if signing is not None and public is not None and signing.key_id != public.key_id:
        checks.append(Check("keys", "pair", "fail", "release.public_key does not belong to release.signing_key"))
    return checks


def _work_dir(ctx: Context) -> list[Check]:
    work = ctx.work_dir
    try:
        work.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=work, prefix=".doctor-"):
            pass
        state = ctx.state
        detail = f"{work} writable; state: {', '.join(sorted(state.runs)) or 'no stage has run'}"
        return [Check("work dir", str(work), "ok", detail)]
    except B2ReleaseError as exc:
        return [Check("work dir", str(work), "fail", exc.message)]
    except OSError as exc:
        return [Check("work dir", str(work), "fail", f"not writable: {exc.strerror}")]


def _codesign(ctx: Context) -> list[Check]:
    """The Authenticode certificate: readable, key matches, valid now, codeSigning EKU."""
    cert, key, pfx = (ctx.config.path(f"sign.{k}") for k in ("cert", "key", "pfx"))
    if cert is None and key is None and pfx is None:
        status = "fail" if ctx.config.get("sign.required") else "warn"
        return [Check("sign", "certificate", status, "no [sign] cert/key or pfx configured")]
    try:
        material = load_material(cert, key, pfx, *passwords_from_env())
    except B2ReleaseError as exc:
        return [Check("sign", "certificate", "fail", exc.message)]
    kind = "self-signed, development only" if material.self_signed else f"issued by {material.issuer}"
    return [Check("sign", "certificate", "ok", f"{material.subject} ({kind}), valid until {material.not_after}")]


def _store(ctx: Context) -> list[Check]:
    """The store answers (Azure: a real request; file://: the folder is writable)."""
    container = ctx.config.get("store.release_container")
    try:
        with open_store(ctx.config, None, ctx.correlation_id) as store:
            exists = store.container_exists(container)
            detail = f"{store.description}: release container {container} " + ("exists" if exists else "not created yet")
    except B2ReleaseError as exc:
        return [Check("store", "connect", "fail", exc.message)]
    tenants = ctx.config.get("store.tenants")
    checks = [Check("store", "connect", "ok", detail)]
    if tenants:
        try:
            names = [tenant_container(t) for t in tenants]
            checks.append(Check("store", "tenants", "ok", ", ".join(names)))
        except B2ReleaseError as exc:
            checks.append(Check("store", "tenants", "fail", exc.message))
    return checks


def _cdn(ctx: Context) -> list[Check]:
    """CDN settings and credentials are complete (no purge request is sent)."""
    name = cdn.provider_name(ctx.config)
    if name == "none":
        return [Check("cdn", "provider", "skip", "cdn.provider is none: nothing to purge")]
    try:
        cdn.make_provider(ctx.config)
    except B2ReleaseError as exc:
        return [Check("cdn", name, "fail", exc.message)]
    return [Check("cdn", name, "ok", f"zone {ctx.config.get('cdn.zone_id')}, base URL {ctx.config.get('cdn.base_url')}")]


# Order matters only for display.
def _edge(ctx: Context) -> list[Check]:
    """Tenant isolation at the edge: a warning without token auth; with it, each configured
    tenant's WAF rule against its current generation (reads only: a GET and the store)."""
    if cdn.provider_name(ctx.config) == "none":
        return []
    try:
        if not tokens.enabled(ctx.config):
            results = tokens.edge_checks(ctx.config, None, None, [])
        else:
            api = cloudflare.from_config(ctx.config)
            with open_store(ctx.config, None, ctx.correlation_id) as store:
                generations = tokens.Generations(store, ctx.config.get("store.release_container"), PreconditionFailed)
                containers = [tenant_container(t) for t in ctx.config.get("store.tenants")]
                results = tokens.edge_checks(ctx.config, api, generations, containers)
    except B2ReleaseError as exc:
        return [Check("cdn", "token auth", "fail", exc.message)]
    return [Check("cdn", name, status, detail) for status, name, detail in results]


CHECKS: list[CheckFn] = [_python, _config, _tools, _keys, _codesign, _work_dir, _store, _cdn, _edge]


def run_checks(ctx: Context, checks: list[CheckFn] | None = None) -> list[Check]:
    results: list[Check] = []
    for fn in checks or CHECKS:
        try:
            results.extend(fn(ctx))
        except B2ReleaseError as exc:
            results.append(Check(fn.__name__.strip("_"), "check", "fail", exc.message))
    return results


def to_dict(results: list[Check]) -> dict:
    return {"ok": not any(c.status == "fail" for c in results), "checks": [asdict(c) for c in results]}



def _render(ctx: Context, results: list[Check]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table("area", "check", "status", "detail", show_lines=False)
    colours = {"ok": "green", "warn": "yellow", "fail": "red", "skip": "dim"}
    for c in results:
        # Details quote paths, config keys ("[sign] cert") and tool output: never markup.
        table.add_row(escape(c.area), escape(c.name), f"[{colours[c.status]}]{c.status}[/]", escape(c.detail))
    ctx.console.print(table)


def run(ctx: Context, options: Options | None = None) -> StageResult:
    results = run_checks(ctx)
    if not ctx.json_output and ctx.verbosity >= 0:
        _render(ctx, results)
    failed = [c for c in results if c.status == "fail"]
    if failed:
        raise CheckFailed(
            f"doctor: {len(failed)} check(s) failed: " + "; ".join(f"{c.area} {c.name}: {c.detail}" for c in failed),
            details=to_dict(results),
        )
    return StageResult(stage=NAME, summary=f"doctor: {len(results)} checks, none failed", data=to_dict(results))
