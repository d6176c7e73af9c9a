"""init: write a commented `b2release.toml` for a .NET project, from what is on disk.

It looks for the solution (or project) to build, reads what kind of projects it holds
(classic or SDK-style, target frameworks, test projects), asks this machine which build
tool `auto` would pick, and takes tenants from `--tenant` or from a local store that
already has tenant containers. Every value it writes is one the commands accept: the
file is loaded back with the strict config loader before it replaces anything, and an
existing file is only replaced with --force (atomically, never half-written).

It writes only that file: no work dir, no state.json.
"""

from __future__ import annotations

import json
import re
import shlex
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from b2release import config as config_mod
from b2release.context import Context
from b2release.errors import B2ReleaseError, ConfigError, InputError, UsageError
from b2release.formats.names import validate_product_name
from b2release.fsutil import atomic_write_bytes
from b2release.stages import StageResult
from b2release.stores import url_problem
from b2release.stores.tenants import TENANT_PREFIX, validate_tenant_id, validate_tenants
from b2release.toolchains import discovery, testprojects

NAME = "init"
RECORDED = False
MAX_DEPTH = 3  # how deep to look for a solution below the folder
SKIP_DIRS = {".git", ".vs", "bin", "obj", "node_modules", "packages", ".venv", "dist", "releases"}
DEFAULT_STORE = "file://releases"


@dataclass
class Options:
    folder: Path = Path(".")
    project: Path | None = None
    name: str | None = None
    tenants: list[str] = field(default_factory=list)
    store: str | None = None
    out: Path | None = None  # default: <folder>/b2release.toml
    force: bool = False


@dataclass
class Detected:
    entry: Path
    kind: str  # "classic" | "SDK-style" | "mixed classic and SDK-style"
    frameworks: list[str]
    tests: list[str]
    tool: str  # what `auto` picks on this machine, or why none
    tenants: list[str]
    tenants_from: str


def _candidates(folder: Path) -> list[Path]:
    """Solutions below `folder` (breadth first, skipping build output), else project files."""
    for suffixes in ((discovery.SOLUTION_SUFFIX,), discovery.PROJECT_SUFFIXES):
        found: list[Path] = []
        level = [folder]
        for _ in range(MAX_DEPTH + 1):
            found += sorted(p for d in level for p in d.iterdir()
                            if p.is_file() and p.suffix.lower() in suffixes)
            if found:
                return found
            level = sorted(p for d in level for p in d.iterdir()
                           if p.is_dir() and p.name not in SKIP_DIRS and not p.name.startswith("."))
    return []


def find_entry(folder: Path) -> Path:
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder")
    found = _candidates(folder)
    if not found:
        raise UsageError(f"no solution (.sln) or project file in {folder} or {MAX_DEPTH} levels below it: "
                         "pass --project FILE")
    if len(found) > 1:
        shown = ", ".join(str(p.relative_to(folder)) for p in found[:5])
        raise UsageError(f"several candidates in {folder} ({shown}{', ...' if len(found) > 5 else ''}): "
                         "choose one with --project FILE")
    return found[0]


def _frameworks(projects: list[discovery.ProjectFile]) -> list[str]:
    names: set[str] = set()
    for project in projects:
        try:
            root = ET.parse(project.path).getroot()
        except (ET.ParseError, OSError):
            continue
        for el in root.iter():
            tag = el.tag.rsplit("}", 1)[-1]
            text = (el.text or "").strip()
            if tag == "TargetFrameworkVersion" and re.fullmatch(r"v\d+(\.\d+)*", text):
                names.add("net" + text[1:].replace(".", ""))  # v4.8 -> net48
            elif tag in ("TargetFramework", "TargetFrameworks") and text and "$(" not in text:
                names.update(t.strip() for t in text.split(";") if t.strip())
    return sorted(names)


def _store_tenants(store: str, base: Path) -> list[str]:
    """Tenant ids a local folder store already holds (tenant-<id> containers)."""
    if not store.startswith("file://"):
        return []
    root = Path(store[len("file://"):])
    root = root if root.is_absolute() else base / root
    if not root.is_dir():
        return []
    ids = []
    for child in sorted(root.iterdir()):
        if child.is_dir() and child.name.startswith(TENANT_PREFIX):
            try:
                ids.append(validate_tenant_id(child.name[len(TENANT_PREFIX):]))
            except B2ReleaseError:
                continue
    return ids


def product_name_from(entry: Path) -> str:
    """Enventa.Connector.sln -> enventa-connector (the product name rules: lower case, dashes)."""
    name = re.sub(r"[^a-z0-9]+", "-", entry.stem.lower()).strip("-")
    return name or "product"


def detect(folder: Path, opts: Options, store: str, base: Path) -> Detected:
    entry = Path(opts.project) if opts.project is not None else find_entry(folder)
    build = discovery.inspect(entry)
    kinds = {p.sdk_style for p in build.projects}
    kind = "mixed classic and SDK-style" if len(kinds) > 1 else ("SDK-style" if True in kinds else "classic")
    try:
        tool = discovery.choose("auto", build)[0]
    except B2ReleaseError as exc:
        tool = f"none on this machine ({exc.message})"
    tests = [t.path.name for t in testprojects.find(build.projects)]
    if opts.tenants:
        tenants, source = validate_tenants(list(opts.tenants)), "--tenant"
    else:
        tenants = _store_tenants(store, base)
        source = f"the store {store}" if tenants else ""
    return Detected(entry=build.entry, kind=kind, frameworks=_frameworks(build.projects), tests=tests, tool=tool,
                    tenants=tenants, tenants_from=source)


def _q(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def _relative(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def render(found: Detected, name: str, store: str, base: Path) -> str:
    frameworks = ", ".join(found.frameworks) or "not stated in the project files"
    tests = (f"# {len(found.tests)} test project(s) found ({', '.join(found.tests)}): `b2release test` builds and "
             "runs them,\n# `b2release build` leaves them out.\n") if found.tests else \
        "# No test project found: the test stage skips (set [test] required = true to make that an error).\n"
    tenants = ", ".join(_q(t) for t in found.tenants)
    tenants_note = (f"# tenants from {found.tenants_from}" if found.tenants else
                    "# no tenants yet: add ids (lower case, e.g. \"acme\"); each gets its own container tenant-<id>")
    return f"""\
# b2release configuration, written by `b2release init`. Paths are relative to this file.
# Every key: docs/configuration.md, or `b2release config schema`. Check with `b2release config check`.

[product]
name = {_q(name)}
# {found.kind} project(s), target framework(s): {frameworks}
project = {_q(_relative(found.entry, base))}

[build]
# auto picks msbuild, then dotnet (SDK-style only), then Mono's xbuild (classic only).
# On this machine auto picks: {found.tool}
tool = "auto"
configuration = "Release"

{tests}
[release]
# The release signing key pair: `b2release keys generate --out keys` makes a development one.
# Production keys come from your vault; the private key never goes into git.
signing_key = "keys/release-signing.key"
public_key = "keys/release-signing.pub"

[sign]
# Authenticode certificate for the PE files (development: the one `keys generate` makes).
cert = "keys/codesign.crt"
key = "keys/codesign.key"

[scan]
# Advisories from OSV's API (api.osv.dev). Offline instead: online = false and
# advisories = "PATH" (a folder of OSV JSON files, or OSV's NuGet all.zip).
online = true

[store]
# file://PATH (a local folder), azure (AZURE_STORAGE_CONNECTION_STRING) or azure://ACCOUNT.
url = {_q(store)}
{tenants_note}
tenants = [{tenants}]

[cdn]
# cloudflare purges after every change; its token comes from CLOUDFLARE_API_TOKEN.
provider = "none"
"""


def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    folder = Path(opts.folder)
    out = Path(opts.out) if opts.out is not None else folder / config_mod.CONFIG_FILE_NAME
    if out.exists() and not opts.force:
        raise InputError(f"{out} already exists; refusing to overwrite (use --force)")
    store = opts.store or DEFAULT_STORE
    if problem := url_problem(store):
        raise UsageError(f"--store: {problem}")
    base = out.resolve().parent
    found = detect(folder, opts, store, base)
    if opts.name:
        name = validate_product_name(opts.name)
    else:
        name = product_name_from(found.entry)
        try:
            validate_product_name(name)
        except B2ReleaseError:
            raise UsageError(f"cannot make a product name from {found.entry.name}: pass --name NAME") from None
    text = render(found, name, store, base)

    # The file must load as written: check a temp copy before it replaces anything.
    probe = out.with_name(f".{out.name}.init-check")
    try:
        atomic_write_bytes(probe, text.encode("utf-8"))
        try:
            config_mod.load(probe)
        except ConfigError as exc:
            raise UsageError(f"init would write an invalid config ({exc.message}): check --store and --tenant") \
                from None
    finally:
        probe.unlink(missing_ok=True)
    atomic_write_bytes(out, text.encode("utf-8"))

    keys_out = _relative(base / "keys", Path.cwd())
    config_flag = [] if out.resolve() == (Path.cwd() / config_mod.CONFIG_FILE_NAME).resolve() else \
        ["--config", str(out)]
    follow_up = [
        ["b2release", "keys", "generate", "--out", keys_out],
        ["b2release", *config_flag, "config", "check"],
        ["b2release", *config_flag, "doctor"],
        ["b2release", *config_flag, "release", "--version", "1.0.0"],
    ]
    data: dict[str, Any] = {
        "config": str(out), "product": name, "project": str(found.entry), "kind": found.kind,
        "frameworks": found.frameworks, "test_projects": found.tests, "build_tool": found.tool,
        "tenants": found.tenants, "store": store, "follow_up": [shlex.join(c) for c in follow_up],
    }
    tenants = ", ".join(found.tenants) or "none yet"
    summary = (f"wrote {out} for {found.entry.name} ({found.kind}, {', '.join(found.frameworks) or 'framework?'}; "
               f"build tool: {found.tool}; tenants: {tenants}); next: " + "; ".join(data["follow_up"]))
    return StageResult(stage=NAME, summary=summary, data=data)
