"""scan: NuGet vulnerabilities, licence policy, leaked secrets; SBOM, SARIF and report.

Inputs: the source tree (--source, else [scan] source, else the folder the build stage
recorded) and the build output (the `binary` artifacts), at least one of them.
Outputs in the work dir, written atomically and recorded in state.json even when the
policy fails (CI uploads the SARIF of a failed scan too): scan-report.json
("scan-report"), scan.sarif ("sarif"), sbom.cdx.json ("sbom"; package ships it).
`ScanRecord.manifest_summary` goes into the signed manifest: digests, threshold and
counts only, so identical inputs give identical manifests.

Policy: vulnerabilities at or above --fail-on (default high) fail, unless an unexpired
ignore entry covers them; a secret always fails; a denied (or not allowed) licence
fails; an unknown licence warns or fails per [scan] unknown_license. Failure is a
PolicyError (exit 1) naming the findings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from b2release import log
from b2release.artifacts import BuildRecord, Kind, ScanRecord
from b2release.context import Context
from b2release.errors import InputError, PolicyError, UsageError
from b2release.fsutil import atomic_write_bytes, files_digest, path_digest
from b2release.scanners import ignore, inventory, licenses, matching, osv, report, sarif, sbom, secrets
from b2release.scanners.findings import Finding
from b2release.stages import StageResult

NAME = "scan"
# What decides whether `release` may leave scan out (stages/uptodate.py): the [scan] section,
# and the tree and ignore file it reads (`fingerprint`). Online advisories and the expiry of
# accepted risks are judged when scan runs: `release --force` (or `--from scan`) re-scans.
FINGERPRINT_CONFIG = ("scan",)
REPORT_NAME = "scan-report.json"
SARIF_NAME = "scan.sarif"
SBOM_NAME = "sbom.cdx.json"
MAX_LISTED = 6  # findings named in the one-line policy error


@dataclass
class Options:
    source: Path | None = None
    advisories: Path | None = None
    online: bool | None = None
    fail_on: str | None = None
    ignore_file: Path | None = None


@dataclass
class _Inputs:
    source: Path | None
    binaries: list[tuple[Path, str, str, int]]  # (file, name, sha256, size)
    fail_on: str
    online: bool
    advisories: Path | None
    ignore_file: Path | None


def _source(ctx: Context, opts: Options) -> Path | None:
    """--source, else [scan] source, else the build's source tree."""
    source = opts.source or ctx.config.path("scan.source")
    built = BuildRecord.read(ctx.state)
    if source is None and built is not None and built.source_dir:
        source = Path(built.source_dir)
    return Path(source) if source is not None else None


def fingerprint(ctx: Context, opts: Options) -> dict[str, str]:
    source = _source(ctx, opts)
    tree = files_digest(source, inventory.walk(source, [ctx.work_dir])) if source and source.is_dir() else ""
    return {"source": tree, "ignore_file": path_digest(Path.cwd() / ignore.FILE_NAME)}


def _resolve_inputs(ctx: Context, opts: Options) -> _Inputs:
    cfg = ctx.config
    fail_on = (opts.fail_on or cfg.get("scan.fail_on") or "high").lower()
    if fail_on not in matching.THRESHOLDS:
        raise UsageError(f"--fail-on must be one of {', '.join(matching.THRESHOLDS)}, got {fail_on!r}")

    source = _source(ctx, opts)
    if source is not None:
        if not source.is_dir():
            raise InputError(f"source tree {source} does not exist or is not a folder")

    binaries = [
        (ctx.state.abs(a.path), str(a.extra.get("name") or Path(a.path).name), a.sha256, a.size)
        for a in ctx.state.consume(Kind.BINARY)
    ]
    if source is None and not binaries:
        raise UsageError(
            "nothing to scan: no source tree and no build output; pass --source DIR, set [scan] source, "
            "or run `b2release build` first"
        )

    online = cfg.get("scan.online") if opts.online is None else opts.online
    advisories = opts.advisories or cfg.path("scan.advisories")
    if not online and advisories is None:
        raise UsageError(
            "no advisory database: pass --advisories PATH (a folder of OSV records or OSV's NuGet all.zip) "
            "or --online, or set [scan] advisories"
        )

    ignore_file = opts.ignore_file or cfg.path("scan.ignore_file")
    if ignore_file is None:
        for folder in [Path.cwd()] + ([source] if source else []):
            candidate = folder / ignore.FILE_NAME
            if candidate.is_file():
                ignore_file = candidate
                break
    return _Inputs(source, binaries, fail_on, bool(online), Path(advisories) if advisories else None, ignore_file)


def _vulnerabilities(packages, db: osv.AdvisoryDB, ignores, fail_on: str, notes: list[str]) -> list[Finding]:
    today = ignore.today()
    used: set[int] = set()
    out: list[Finding] = []
    for pkg in packages:
        for record in db.for_package(pkg.id):
            m = matching.match(record, pkg.id, pkg.version)
            if m is None:
                continue
            path, line = pkg.location()
            f = Finding(
                kind="vulnerability", rule=m.record_id, severity=m.severity, title=m.summary, scope="nuget",
                path=path, line=line, package=pkg.id, version=pkg.version, score=m.score,
                details={"aliases": m.aliases, "fixed_in": m.fixed_in, "references": m.references,
                         "direct": pkg.direct, "declared_in": sorted(pkg.declared_in)},
            )
            for index, entry in enumerate(ignores):
                if entry.applies([m.record_id, *m.aliases], pkg.id):
                    used.add(index)
                    if entry.expired(today):
                        f.notes.append(f"ignore entry expired on {entry.expires.isoformat()}; no longer hidden")
                    else:
                        f.suppressed = entry.to_dict()
                    break
            f.blocking = f.active and matching.at_or_above(f.severity, fail_on)
            out.append(f)
    for index, entry in enumerate(ignores):
        if index not in used:
            notes.append(f"ignore entry {entry.id} matched no finding")
    return out


def _license_finding(verdict: licenses.Verdict, info: licenses.LicenseInfo, *, scope: str, name: str, version: str,
                     path: str, line: int | None, unknown_policy: str) -> Finding | None:
    if verdict.status == licenses.ALLOWED:
        return None
    rule = {"denied": "B2L001", "not-allowed": "B2L002", "unknown": "B2L003"}[verdict.status]
    title = {"denied": "licence on the deny list", "not-allowed": "licence not on the allow list",
             "unknown": "licence unknown"}[verdict.status]
    blocking = verdict.status != licenses.UNKNOWN or unknown_policy == "fail"
    return Finding(
        kind="license", rule=rule, severity="low" if verdict.status == licenses.UNKNOWN else "high", title=title,
        scope=scope, path=path, line=line, package=name, version=version, blocking=blocking,
        details={"status": verdict.status, "expression": info.expression, "source": info.source,
                 "detail": verdict.detail or info.note, "offending": verdict.offending},
    )


def _version(ctx: Context) -> str | None:
    # The SBOM names the release version when it is known (build --version, release
    # --version); a scan before any version exists says "unversioned" instead of failing.
    try:
        return ctx.release_version()
    except UsageError:
        return None


def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    logger = log.get(NAME)
    cfg = ctx.config
    inp = _resolve_inputs(ctx, opts)
    ignores = ignore.load(inp.ignore_file) if inp.ignore_file else []
    notes: list[str] = []

    # 1. inventory
    if inp.source is not None:
        inv = inventory.collect(inp.source, exclude=[ctx.work_dir])
    else:
        inv = inventory.Inventory(root=Path("."))
        notes.append("no source tree: the dependency inventory is empty (only the build output was scanned)")
    notes.extend(inv.notes)
    packages = inv.sorted()
    logger.info("inventory: %d NuGet packages from %d files", len(packages), len(inv.project_files))

    # 2. advisories
    if inp.online:
        logger.info("querying OSV at %s for %d packages", cfg.get("scan.osv_url"), len(packages))
        db = osv.load_online(cfg.get("scan.osv_url"), [(p.id, p.version) for p in packages])
    else:
        db = osv.load_offline(inp.advisories)  # type: ignore[arg-type]
    findings = _vulnerabilities(packages, db, ignores, inp.fail_on, notes)

    # 3. licences: NuGet packages, then the tool's own Python environment
    allow, deny = list(cfg.get("scan.licenses_allow")), list(cfg.get("scan.licenses_deny"))
    unknown_policy = cfg.get("scan.unknown_license")
    sol_dirs = licenses.solution_dirs(inv.packages_config_dirs, inv.root) if inp.source else []
    globals_ = licenses.global_packages_folders(inv.package_folders)
    license_of: dict[str, str | None] = {}
    inventory_doc = []
    for pkg in packages:
        info = licenses.nuget_license(pkg.id, pkg.version, sol_dirs, globals_)
        verdict = licenses.evaluate(info, allow, deny)
        license_of[pkg.key] = licenses.normalize(info.expression)[0] if info.expression else None
        path, line = pkg.location()
        f = _license_finding(verdict, info, scope="nuget", name=pkg.id, version=pkg.version, path=path, line=line,
                             unknown_policy=unknown_policy)
        if f:
            findings.append(f)
        inventory_doc.append({**pkg.to_dict(), "license": {**info.to_dict(), "status": verdict.status}})
    tool_doc = []
    if cfg.get("scan.tool_licenses"):
        for row in sorted(licenses.python_environment(), key=lambda r: (r["name"].lower(), r["version"])):
            info = licenses.python_license(row["license"])
            verdict = licenses.evaluate(info, allow, deny)
            tool_doc.append({"name": row["name"], "version": row["version"], "license": row["license"],
                             "spdx": info.expression, "status": verdict.status})
            f = _license_finding(verdict, info, scope="python", name=row["name"], version=row["version"], path="",
                                 line=None, unknown_policy=unknown_policy)
            if f:
                findings.append(f)

    # 4. secrets: the build output and the source tree's shipped config files
    targets: list[tuple[Path, str]] = []
    for path, name, _, _ in inp.binaries:
        targets.append((path, f"build-output\0{name}"))
    config_files = []
    if inp.source is not None:
        walker = lambda root: inventory.walk(root, [ctx.work_dir])  # noqa: E731
        config_files = secrets.source_config_files(inp.source, walker)
        for path in config_files:
            targets.append((path, f"source\0{path.relative_to(inp.source).as_posix()}"))
    for s in secrets.scan_files(targets):
        scope, rel = s.path.split("\0", 1)
        findings.append(Finding(
            kind="secret", rule=s.rule, severity="critical", title=secrets.RULES[s.rule][1], scope=scope,
            path=rel, line=s.line, blocking=True, details={"name": s.name, "hint": s.hint},
        ))
    findings.sort(key=Finding.sort_key)

    # 5. outputs
    version = _version(ctx)
    product = cfg.get("product.name") or (inp.source.resolve().name if inp.source else "release")
    epoch = ctx.source_epoch(inp.source)[0]
    policy = {"fail_on": inp.fail_on, "licenses_allow": sorted(allow), "licenses_deny": sorted(deny),
              "unknown_license": unknown_policy, "tool_licenses": bool(cfg.get("scan.tool_licenses"))}
    advisories = {"mode": db.source, "records": len(db.records), "sha256": db.digest()}
    scanned = {"packages": len(packages), "project_files": len(inv.project_files),
               "build_output_files": len(inp.binaries), "config_files": len(config_files),
               "python_packages": len(tool_doc)}
    report_doc = report.build(product=product, version=version, policy=policy, advisories=advisories,
                              inventory=inventory_doc, tool_licenses=tool_doc, findings=findings,
                              scanned=scanned, notes=notes,
                              ignores=[e.to_dict() for e in sorted(ignores, key=lambda e: e.id)])
    report_bytes = report.to_bytes(report_doc)
    sarif_bytes = report.to_bytes(sarif.build(findings))
    files = [sbom.FileEntry(name, digest, size)
             for _, name, digest, size in sorted(inp.binaries, key=lambda b: b[1])]
    sbom_bytes = sbom.build(product, version, epoch, packages, license_of, files)

    work = ctx.work_dir
    work.mkdir(parents=True, exist_ok=True)
    state = ctx.state
    state.forget_artifacts(stage=NAME)
    outputs = {}
    for kind, name, data in ((Kind.SCAN_REPORT, REPORT_NAME, report_bytes), (Kind.SARIF, SARIF_NAME, sarif_bytes),
                             (Kind.SBOM, SBOM_NAME, sbom_bytes)):
        atomic_write_bytes(work / name, data)
        outputs[kind] = state.record_artifact(kind, work / name, NAME)

    for note in sorted(set(notes)):
        logger.warning("%s", note)
    # The same split everywhere (warning, table, summary): the release's own findings, and
    # non-blocking notes about b2release's Python environment (the table's footnote).
    tool_notes = [f for f in findings if report.is_tool_note(f)]
    release_findings = [f for f in findings if not report.is_tool_note(f)]
    unknown = [f for f in release_findings
               if f.kind == "license" and f.details.get("status") == "unknown" and not f.blocking]
    if unknown:
        logger.warning("%d NuGet package(s) with an unknown licence (see %s)", len(unknown), REPORT_NAME)
    if not ctx.json_output and ctx.verbosity >= 0:
        report.render(ctx.console, findings, "")

    counts = report_doc["counts"]
    blocking = [f for f in findings if f.blocking]
    data: dict[str, Any] = {
        "result": report_doc["result"],
        "fail_on": inp.fail_on,
        "counts": counts,
        "packages": len(packages),
        "advisories": advisories,
        "findings": [f.to_dict() for f in findings],
        "report": state.rel(work / REPORT_NAME),
        "sarif": state.rel(work / SARIF_NAME),
        "sbom": state.rel(work / SBOM_NAME),
        "report_sha256": outputs[Kind.SCAN_REPORT].sha256,
        "sbom_sha256": outputs[Kind.SBOM].sha256,
    }
    if blocking:
        listed = "; ".join(f.short() for f in blocking[:MAX_LISTED])
        more = f"; and {len(blocking) - MAX_LISTED} more" if len(blocking) > MAX_LISTED else ""
        raise PolicyError(
            f"scan failed the release policy (fail_on={inp.fail_on}) with {len(blocking)} blocking "
            f"finding(s): {listed}{more} (details in {work / REPORT_NAME})",
            details={"failed": [f.to_dict() for f in blocking], "counts": counts},
        )
    notes_text = f" (and {len(tool_notes)} licence note(s) on b2release's own environment)" if tool_notes else ""
    summary = (f"scan passed (fail_on={inp.fail_on}): {len(packages)} packages, {len(release_findings)} finding(s) "
               f"below the threshold or accepted{notes_text}; report {work / REPORT_NAME}, SBOM {work / SBOM_NAME}")
    manifest_summary = {
        "report_sha256": outputs[Kind.SCAN_REPORT].sha256,
        "sbom_sha256": outputs[Kind.SBOM].sha256,
        "fail_on": inp.fail_on,
        "findings": counts,
    }
    return StageResult(stage=NAME, summary=summary, data=data,
                       record=ScanRecord(manifest_summary=manifest_summary, result=report_doc["result"]))
