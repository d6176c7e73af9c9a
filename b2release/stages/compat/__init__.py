"""compat: the public-API gate. Build output -> `api/<Assembly>.api.txt`, compared with the
previous release, judged by the semver rule (docs/compat.md).

1. Reads the public API of every .NET assembly of the build output (`apicompat`; native
   DLLs and satellite assemblies have none) and writes `<work dir>/api/<Assembly>.api.txt`
   (canonical text, byte-identical for the same source). Package ships them inside the zip.
2. Finds the previous release (`previous.py`: the version the channel serves, a version
   in the store, a package zip or a folder, each verified before it is trusted) and
   classifies every change: breaking, additive, none.
3. Judges the version: breaking needs a major bump (minor while 0.y.z), additive a minor,
   none allows a patch. A violation is exit 1 naming each offending member before and
   after, unless `--allow-breaking --reason` lets it through (the reason goes into the
   manifest). No previous release: the API is recorded as the baseline and the check passes.
4. Writes `<work dir>/release-notes.md` (notes.py) in every case, also when the check fails.
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from b2release import log
from b2release.artifacts import API_DIR, BuildRecord, CompatRecord, Kind
from b2release.context import Context
from b2release.errors import CheckFailed, UsageError
from b2release.fsutil import atomic_write_bytes, path_digest
from b2release.stages import StageResult
from b2release.stages.compat import notes
from b2release.stages.compat.previous import Previous, Request, find, served_version

if TYPE_CHECKING:
    from b2release.apicompat import ApiChange, ApiSurface, CompatReport

NAME = "compat"
# What decides whether `release` may leave compat out (stages/uptodate.py): these config
# values, and the release it compares with (`fingerprint`).
FINGERPRINT_CONFIG = ("product", "release", "store.url", "store.channel", "store.release_container")
RELEASE_NOTES = "release-notes.md"
MAX_REASON = 500
MAX_NAMED = 20  # offending members named in the one-line error; --json and the notes have all


@dataclass
class Options:
    against: str | None = None  # VERSION in the store, or PATH: package zip, release folder, folder
    against_version: str | None = None  # the version of an --against folder
    channel: str | None = None
    store: str | None = None
    public_key: Path | None = None
    allow_breaking: bool = False
    reason: str | None = None

    def __post_init__(self) -> None:
        # Checked when the options are made, so `release --allow-breaking` without a reason
        # fails before the build starts.
        if self.reason is not None:
            self.reason = " ".join(self.reason.split())
            if not self.reason:
                raise UsageError("--reason is empty")
            if len(self.reason) > MAX_REASON or any(unicodedata.category(ch) == "Cc" for ch in self.reason):
                raise UsageError(f"--reason must be one line of at most {MAX_REASON} characters")
            if not self.allow_breaking:
                raise UsageError("--reason goes with --allow-breaking")
        elif self.allow_breaking:
            raise UsageError('--allow-breaking needs --reason "...": the reason is recorded in the signed manifest')


def fingerprint(ctx: Context, opts: Options) -> dict[str, str]:
    """The previous release is an input: an --against file or folder by content, an --against
    version as given, else the version the channel serves now (read from the store). Once
    this very release is on the channel (a release re-run after its upload, e.g. when purge
    failed), the one compat compared with is still the one it recorded."""
    if opts.against is not None:
        path = Path(opts.against)
        return {"against": path_digest(path) if path.exists() else opts.against}
    served = served_version(ctx, opts.channel, opts.store)
    recorded = CompatRecord.read(ctx.state)
    if recorded is not None and served == recorded.version == ctx.release_version():
        served = recorded.previous_version
    return {"against": served}


def run(ctx: Context, options: Options | None = None) -> StageResult:
    from b2release.apicompat import check_compatibility

    opts = options or Options()
    logger = log.get(NAME)
    built = BuildRecord.read(ctx.state)
    binaries = ctx.state.consume(Kind.BINARY)
    if built is None or not binaries:
        raise UsageError("nothing to check: run `b2release build` first (in this work dir)")
    version = ctx.release_version()
    surfaces = read_build(ctx, binaries)
    api_files = write_api(ctx, surfaces)
    logger.info("read the public API of %s", ", ".join(surfaces) or "no .NET assembly (none in the build output)")

    previous = find(ctx, Request(opts.against, opts.against_version, opts.channel, opts.store, opts.public_key))
    for warning in previous.warnings if previous else []:
        logger.warning("%s", warning)
    report = None
    if previous is not None and previous.surfaces is not None:
        report = check_compatibility(previous.surfaces, previous.version, surfaces, version)
    verdict = judge(report, previous, version, opts)

    commits = notes.commits_between(built.source_dir, previous.commit if previous else "",
                                    str(built.manifest_info.get("git_commit") or ""))
    notes_path = ctx.work_dir / RELEASE_NOTES
    text = notes.render(product_title(ctx), version, report, previous.version if previous else "", surfaces, commits,
                        allowed_reason=verdict.allowed_reason, baseline_why=verdict.baseline_why)
    atomic_write_bytes(notes_path, text.encode("utf-8"))
    ctx.state.forget_artifacts(kinds=[Kind.RELEASE_NOTES])
    ctx.state.record_artifact(Kind.RELEASE_NOTES, notes_path, NAME)

    data = result_data(version, previous, report, verdict, api_files, notes_path)
    if verdict.failure is not None:
        verdict.failure.details.update(data)
        raise verdict.failure
    summary_doc = manifest_summary(previous, report, verdict)
    record = CompatRecord(version=version, previous_version=previous.version if previous else "",
                          against=previous.where if previous else "", baseline=report is None,
                          level=report.level if report else "", required_bump=report.required_bump if report else "",
                          actual_bump=report.actual_bump if report else "", allowed_breaking_reason=verdict.allowed_reason,
                          api_files=api_files, manifest_summary=summary_doc)
    return StageResult(stage=NAME, summary=verdict.summary, data=data, record=record)


def read_build(ctx: Context, binaries: list) -> dict[str, ApiSurface]:
    from b2release.apicompat import read_assembly, surfaces_of

    assemblies = [a for a in binaries if str(a.extra.get("name") or a.path).lower().endswith((".dll", ".exe"))]
    return surfaces_of(read_assembly(ctx.state.abs(a.path)) for a in assemblies)


def write_api(ctx: Context, surfaces: dict[str, ApiSurface]) -> list[dict[str, Any]]:
    """`<work dir>/api/<Assembly>.api.txt`, recorded as artifacts for package."""
    from b2release.apicompat import write_api_files

    state = ctx.state
    state.forget_artifacts(kinds=[Kind.API_FILE])
    out = ctx.work_dir / API_DIR
    if surfaces:
        out.mkdir(parents=True, exist_ok=True)
    recorded = []
    for path in write_api_files(surfaces.values(), out):
        art = state.record_artifact(Kind.API_FILE, path, NAME, extra={"name": path.name})
        recorded.append({"name": art.extra["name"], "sha256": art.sha256, "size": art.size})
    if not surfaces and out.is_dir():
        for stale in out.glob("*.api.txt"):
            stale.unlink()
    return recorded


def product_title(ctx: Context) -> str:
    try:
        return ctx.product_name()
    except UsageError:
        return "Release"


@dataclass
class Verdict:
    summary: str
    failure: CheckFailed | None = None
    allowed_reason: str = ""
    baseline_why: str = ""


def judge(report: CompatReport | None, previous: Previous | None, version: str, opts: Options) -> Verdict:
    from b2release.apicompat.versions import Version

    if report is None:
        why = "no previous release" if previous is None else f"{previous.version} has no readable API"
        if opts.allow_breaking:
            log.get(NAME).info("--allow-breaking was not needed: nothing to compare with")
        return Verdict(f"recorded the public-API baseline for {version} ({why})", baseline_why=why)
    assert previous is not None
    if Version.parse(previous.version).sort_key() == Version.parse(version).sort_key():
        # A re-run of the release the channel already serves: it must be the same API.
        if not report.changes:
            return Verdict(f"{version} is already released ({previous.where}) with the same public API")
        return Verdict("", CheckFailed(f"{version} is already released ({previous.where}) with a different public "
                                       f"API ({len(report.changes)} changes): publish a new version"))
    if report.ok:
        if opts.allow_breaking:
            log.get(NAME).info("--allow-breaking was not needed: %s", report.message)
        return Verdict(f"{report.message} (against {previous.where})")
    if opts.allow_breaking and report.actual_bump != "none":
        log.get(NAME).warning("allowed by --allow-breaking (%s): %s", opts.reason, report.message)
        return Verdict(f"{report.message}; allowed: {opts.reason}", allowed_reason=opts.reason or "")
    return Verdict("", violation(report, previous))


def offending(report: CompatReport) -> list[ApiChange]:
    """The changes the version is too small for (all of them when it is not greater at all)."""
    from b2release.apicompat.versions import BUMP_RANK, required_bump

    if report.actual_bump == "none":
        return [c for c in report.changes if c.kind != "none"]
    return [c for c in report.changes
            if BUMP_RANK[required_bump(c.kind, report.old_version)] > BUMP_RANK[report.actual_bump]]


def describe(change: ApiChange) -> str:
    return (f"{change.target}: {change.reason} (before: {change.before or '-'}; "
            f"after: {change.after or '-'})")


def violation(report: CompatReport, previous: Previous) -> CheckFailed:
    from b2release.apicompat.versions import Version, next_version

    bad = offending(report)
    named = "; ".join(describe(c) for c in bad[:MAX_NAMED])
    if len(bad) > MAX_NAMED:
        named += f"; and {len(bad) - MAX_NAMED} more (see --json or {RELEASE_NOTES})"
    message = f"{report.message} against {previous.where}" + (f": {named}" if named else "")
    hint = None
    if report.actual_bump != "none":
        hint = (f"release {next_version(Version.parse(report.old_version), report.required_bump)} instead, or pass "
                '--allow-breaking --reason "..." (recorded in the signed manifest)')
    return CheckFailed(message, hint=hint)


def manifest_summary(previous: Previous | None, report: CompatReport | None, verdict: Verdict) -> dict[str, Any]:
    """The manifest's `compat` (docs/formats.md): only inputs, so the manifest stays reproducible."""
    if report is None or previous is None:
        doc: dict[str, Any] = {"baseline": True}
        if previous is not None:
            doc["previous_version"] = previous.version
        return doc
    doc = {
        "previous_version": previous.version,
        "level": report.level,
        "required_bump": report.required_bump,
        "actual_bump": report.actual_bump,
        "changes": {kind: len(report.of_kind(kind)) for kind in ("breaking", "additive", "none")},
    }
    if verdict.allowed_reason:
        doc["allowed_breaking"] = {"reason": verdict.allowed_reason}
    return doc


def result_data(version: str, previous: Previous | None, report: CompatReport | None, verdict: Verdict,
                api_files: list[dict[str, Any]], notes_path: Path) -> dict[str, Any]:
    """The --json document (also the error details of a failed check): the classified diff."""
    return {
        "version": version,
        "previous_version": previous.version if previous else None,
        "against": previous.where if previous else None,
        "baseline": report is None,
        "ok": verdict.failure is None,
        "level": report.level if report else None,
        "required_bump": report.required_bump if report else None,
        "actual_bump": report.actual_bump if report else None,
        "allowed_breaking": {"reason": verdict.allowed_reason} if verdict.allowed_reason else None,
        "changes": [asdict(c) for c in report.changes] if report else [],
        "warnings": previous.warnings if previous else [],
        "api_files": api_files,
        "release_notes": str(notes_path),
    }
