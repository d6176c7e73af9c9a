"""`doctor`: is this machine ready to release? Tools, keys, config, work dir, services.

Each check returns a `Check` (ok / warn / fail / skip with a detail line); the command
exits 1 when any check fails. Checks never print or return a secret.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from typing import Callable

from b2release import __version__
from b2release.context import Context
from b2release.errors import B2ReleaseError


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
    from b2release.formats.signature import load_public_key, load_signing_key

    checks = []
    signing = public = None
    for key, loader in (("release.signing_key", load_signing_key), ("release.public_key", load_public_key)):
        path = ctx.config.path(key)
        if path is None:
            checks.append(Check("keys", key, "warn", "not configured"))
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


# Order matters only for display. Stage areas (signing certificate, store, CDN) add theirs.
CHECKS: list[CheckFn] = [_python, _config, _tools, _keys, _work_dir]


def run(ctx: Context, checks: list[CheckFn] | None = None) -> list[Check]:
    results: list[Check] = []
    for fn in checks or CHECKS:
        try:
            results.extend(fn(ctx))
        except B2ReleaseError as exc:
            results.append(Check(fn.__name__.strip("_"), "check", "fail", exc.message))
    return results


def to_dict(results: list[Check]) -> dict:
    return {"ok": not any(c.status == "fail" for c in results), "checks": [asdict(c) for c in results]}

