"""What the package stage's build provenance says, gathered from the work dir, git and CI.

The statement format is formats/provenance.py; this module only collects its facts:

- the stages of this release and what they were given, from state.json: the build stage
  (its build-info.json: tool, configuration, project, masked properties), test (runners and
  counts), sign (what it signed, with which certificate), scan (the policy threshold and
  result), any other pipeline stage before package by name, and package itself;
- the toolchain and its version (the build's), or "prebuilt" when the payload did not come
  from this work dir's build;
- the source: commit and dirty flag as the build recorded them (else as git says now for
  `package --input DIR`), and the repository URL of `origin` without credentials. No git
  checkout, no commit or no usable remote is stated in `sourceNote`, never a failure: a
  release from a plain folder is legitimate, its provenance just says less;
- the scan report and SBOM digests (the scan's record, the same ones the manifest names);
- the builder from the CI environment (formats/origin.py), the correlation id, and the
  run's start (the earliest recorded start of the stages above, or this package run's)
  and finish (now).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from b2release import log, vcs
from b2release.artifacts import BuildRecord, CompatRecord, Kind, ScanRecord, SignRecord, TestRecord
from b2release.context import Context
from b2release.errors import B2ReleaseError, InputError
from b2release.formats import provenance
from b2release.formats.provenance import ArtifactRef, ProvenanceInputs, SourceInfo, StageRun
from b2release.formats.signature import SigningKey
from b2release.fsutil import atomic_write_bytes, sha256_file
from b2release.state import StageRecord

_MEDIA_TYPES = {Kind.SCAN_REPORT: "application/json", Kind.SBOM: "application/vnd.cyclonedx+json"}
_DEFAULT_NAMES = {Kind.SCAN_REPORT: "scan-report.json", Kind.SBOM: "sbom.cdx.json"}


@dataclass(frozen=True)
class PackageRun:
    """What the package stage knows when the zip is final."""

    product: str
    version: str
    zip_name: str
    zip_sha256: str
    payload_source: str  # "build": this work dir's build/sign output; "input": `--input DIR`
    input_root: Path | None
    source_date_epoch: int
    started_at: float  # this package run's start (seconds since the epoch)
    options: dict[str, Any]  # the package stage's own options, as given


def _start_of(run: StageRecord) -> float | None:
    if not run.finished_at:
        return None
    return run.finished_at - (run.duration_s or 0.0)


def _read_build_info(ctx: Context) -> dict[str, Any]:
    """build-info.json, if it is still the file the build recorded (else {}: facts from the record only)."""
    for art in ctx.state.find(Kind.BUILD_INFO):
        path = ctx.state.abs(art.path)
        try:
            digest, _ = sha256_file(path)
            if digest != art.sha256:
                log.get("package").warning("%s changed since the build recorded it; provenance takes the build's "
                                           "facts from state.json only", path)
                return {}
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return doc if isinstance(doc, dict) else {}
    return {}


def _stages(ctx: Context, run: PackageRun, pipeline: list[str]) -> tuple[list[StageRun], list[StageRecord]]:
    """The stages of this release, in pipeline order, and their state.json runs (for the start time)."""
    state = ctx.state
    from_build = run.payload_source == "build"
    built = BuildRecord.read(state) if from_build else None
    signed = SignRecord.read(state) if from_build else None
    # Sign only counts when the binaries package took are the ones it wrote.
    signed_here = signed is not None and any(a.stage == "sign" for a in state.find(Kind.BINARY))
    scanned = ScanRecord.read(state)
    stages: list[StageRun] = []
    runs: list[StageRecord] = []
    for name in pipeline[:pipeline.index("package")] if "package" in pipeline else pipeline:
        record = state.runs.get(name)
        if record is None or record.status != "ok":
            continue
        if name == "build":
            if built is None:
                continue
            info = _read_build_info(ctx)
            options = {
                "tool": built.tool,
                "configuration": info.get("configuration", built.manifest_info.get("configuration")),
                "project": info.get("project", built.manifest_info.get("project")),
                "version": built.version,
            }
            if "properties" in info:
                options["properties"] = info["properties"]  # secret values already masked by build
        elif name == "test":
            tested = TestRecord.read(state) if from_build else None
            if tested is None:  # it tested this work dir's build, not a prebuilt payload
                continue
            options = {"runners": sorted({str(p.get("runner")) for p in tested.projects if p.get("runner")}),
                       "projects": len(tested.projects), "counts": dict(tested.counts)}
        elif name == "sign":
            if not signed_here or signed is None:
                continue
            options = {"signed": len(signed.signed), "kept_signed": len(signed.kept_signed),
                       "certificate_sha256": signed.cert_sha256, "subject": signed.subject}
        elif name == "compat":
            checked = CompatRecord.read(state) if from_build else None
            if checked is None or checked.version != run.options.get("version"):
                continue  # it checked another version, or this work dir's build and not a prebuilt payload
            options = {"baseline": checked.baseline, "previous_version": checked.previous_version or None,
                       "level": checked.level or None, "required_bump": checked.required_bump or None,
                       "actual_bump": checked.actual_bump or None}
            if checked.allowed_breaking_reason:
                options["allowed_breaking_reason"] = checked.allowed_breaking_reason
        elif name == "scan":
            if scanned is None:
                continue
            options = {"fail_on": scanned.manifest_summary.get("fail_on"), "result": scanned.result}
        else:
            options = {}  # a stage whose record says nothing about how it was run
        stages.append(StageRun(name, options))
        runs.append(record)
    stages.append(StageRun("package", run.options))
    return stages, runs


def _git_source(tree: Path, commit: str | None, dirty: bool | None) -> tuple[SourceInfo | None, str | None]:
    """(source, note): the checkout at `tree`, with the commit/dirty the build recorded, or
    (commit None) git's answer now, dirty meaning anything uncommitted in the whole checkout."""
    top = vcs.git(["rev-parse", "--show-toplevel"], tree)
    if top is None:
        if commit:  # the build recorded a commit, but the tree is gone or moved
            return SourceInfo(None, commit, dirty), f"no repository URL: {tree} is no longer a git checkout"
        return None, f"no source recorded: {tree} is not a git checkout"
    head = (vcs.git(["rev-parse", "HEAD"], tree) or "").strip() or None
    if commit is None:
        commit = head
        if commit is None:
            return None, f"no source recorded: the git checkout at {top.strip()} has no commit"
        status = vcs.git(["status", "--porcelain"], tree)
        dirty = bool(status.strip()) if status is not None else None
    ref = None
    if head == commit:  # the branch name only describes the commit when HEAD is still on it
        name = (vcs.git(["rev-parse", "--symbolic-full-name", "HEAD"], tree) or "").strip()
        ref = name if name.startswith("refs/") else None
    remote = (vcs.git(["remote", "get-url", "origin"], tree) or "").strip()
    if not remote:
        return SourceInfo(None, commit, dirty, ref), "no repository URL: the checkout has no remote named origin"
    try:
        uri = provenance.source_uri(remote)
    except InputError:
        # A local path or file:// remote says nothing to someone else: not published.
        return SourceInfo(None, commit, dirty, ref), "no repository URL: the origin remote is a local path"
    return SourceInfo(uri, commit, dirty, ref), None


def _source(ctx: Context, run: PackageRun) -> tuple[SourceInfo | None, str | None]:
    if run.payload_source == "input" and run.input_root is not None:
        # Prebuilt binaries: the checkout they sit in, as it is now (its whole working tree).
        return _git_source(run.input_root, None, None)
    built = BuildRecord.read(ctx.state)
    if built is None or not built.source_dir:
        return None, "no source recorded: the binaries were not built by this work dir's build stage"
    info = _read_build_info(ctx)
    git_info = info.get("git") if isinstance(info.get("git"), dict) else {}
    commit = git_info.get("commit") or built.manifest_info.get("git_commit") or None
    dirty = git_info.get("dirty") if isinstance(git_info.get("dirty"), bool) else None
    if commit is None:
        return None, f"no source recorded: the build's source {built.source_dir} is not a git checkout"
    return _git_source(Path(built.source_dir), commit, dirty)


def _byproduct(ctx: Context, kind: Kind, digest: str | None) -> ArtifactRef | None:
    if not digest:
        return None
    named = [a for a in ctx.state.find(kind) if a.sha256 == digest]
    name = Path(named[0].path).name if named else _DEFAULT_NAMES[kind]
    return ArtifactRef(name, digest, _MEDIA_TYPES[kind])


def inputs_for(ctx: Context, run: PackageRun, pipeline: list[str]) -> ProvenanceInputs:
    stages, runs = _stages(ctx, run, pipeline)
    starts = [s for s in (_start_of(r) for r in runs) if s is not None]
    started = min([run.started_at, *starts])
    source, note = _source(ctx, run)
    built = BuildRecord.read(ctx.state) if run.payload_source == "build" else None
    scanned = ScanRecord.read(ctx.state)
    summary = scanned.manifest_summary if scanned else {}
    toolchain, toolchain_version = "prebuilt", None
    if built is not None and built.tool:
        toolchain, toolchain_version = built.tool, built.manifest_info.get("tool_version") or None
    return ProvenanceInputs(
        zip_name=run.zip_name,
        zip_sha256=run.zip_sha256,
        product=run.product,
        version=run.version,
        stages=tuple(stages),
        builder=provenance.detect_builder(os.environ),
        invocation_id=ctx.correlation_id,
        started_on=provenance.rfc3339(started),
        finished_on=provenance.rfc3339(time.time()),
        source=source,
        source_note=note,
        toolchain=toolchain,
        toolchain_version=toolchain_version,
        source_date_epoch=run.source_date_epoch,
        scan_report=_byproduct(ctx, Kind.SCAN_REPORT, summary.get("report_sha256")),
        sbom=_byproduct(ctx, Kind.SBOM, summary.get("sbom_sha256")),
    )


def write_provenance(ctx: Context, run: PackageRun, key: SigningKey, pipeline: list[str]) -> Path:
    """Write `<product>-<version>.intoto.jsonl` into the work dir; returns its path.

    A statement already there for this exact zip (same name and sha256, signed by this key)
    is kept: it is a true account of how these bytes were made, and re-packaging the same
    input then changes no published file (a statement records its own run: times, ids).
    """
    path = ctx.work_dir / provenance.envelope_name(run.product, run.version)
    try:
        provenance.check_provenance(path.read_bytes(), run.zip_name, run.zip_sha256, key.public())
    except (OSError, B2ReleaseError):
        atomic_write_bytes(path, provenance.sign_provenance(inputs_for(ctx, run, pipeline), key))
    else:
        log.get("package").info("kept %s: it already describes this exact zip", path.name)
    return path
