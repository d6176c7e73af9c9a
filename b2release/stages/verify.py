"""verify: prove a package or release folder is what was signed, offline with only the
public key; or, with --remote, download a channel pointer (and the release it names) or a
package and prove the same, plus the pointer rules (b2release.verification). The build
provenance beside the zip is checked too, against --source-uri / --builder-id if given.

It only reads: no state.json is written (an auditor runs it anywhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from b2release import log
from b2release.context import Context
from b2release.errors import UsageError
from b2release.progress import Progress
from b2release.signers.audit import AuthenticodeAudit
from b2release.stages import StageResult
from b2release.verification.package import Report, verify_path
from b2release.verification.provenance import Expectations

NAME = "verify"
RECORDED = False


@dataclass
class Options:
    path: Path | None = None
    public_key: Path | None = None
    ca: Path | None = None
    remote: str | None = None
    last_seen: Path | None = None
    allow_insecure_http: bool = False
    tenant: str | None = None  # with --remote: whose pointer this must be (default: the URL's container)
    source_uri: str | None = None  # the build provenance must name this source repository
    builder_id: str | None = None  # ... and this builder


def _add_authenticode(report: Report, audit: AuthenticodeAudit) -> None:
    report.authenticode = sorted(audit.results, key=lambda r: r["file"])
    checks, notes = audit.summary()
    report.checks.extend(checks)
    report.notes.extend(notes)


def _provenance_summary(report: Report) -> str:
    if report.provenance is None:
        return ""
    return f"; provenance: built by {report.provenance['builder_id']}"


def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    for flag, value in (("--source-uri", opts.source_uri), ("--builder-id", opts.builder_id)):
        if value is not None and not value.strip():
            raise UsageError(f"{flag} must not be empty")
    if opts.remote is not None:
        if opts.path is not None:
            raise UsageError("give either PATH or --remote URL, not both")
        return _remote(ctx, opts)
    if opts.last_seen is not None or opts.allow_insecure_http or opts.tenant is not None:
        raise UsageError("--last-seen, --tenant and --allow-insecure-http need --remote URL")
    if opts.path is None:
        raise UsageError("verify needs a PATH: a package zip or a release folder")
    key = ctx.public_key(opts.public_key)
    # Authenticode: checked against --ca, else reported as information only.
    audit = AuthenticodeAudit.create(opts.ca)
    with Progress(ctx) as bar:
        report = verify_path(Path(opts.path), key, audit, Expectations(opts.source_uri, opts.builder_id), bar)
    _add_authenticode(report, audit)
    return StageResult(
        stage=NAME,
        summary=(
            f"verified {report.product} {report.version}: {report.files} files, "
            f"key {report.key_id[:16]}... ({report.algorithm})"
            + f"; {audit.phrase()}"
            + _provenance_summary(report)
        ),
        data=report.to_dict(),
    )


def _remote(ctx: Context, opts: Options) -> StageResult:
    # Imported here: an offline verify needs none of the download code.
    from b2release.stores.tenants import tenant_container
    from b2release.verification import last_seen as last_seen_file
    from b2release.verification.remote import parse_target, verify_remote

    assert opts.remote is not None
    target = parse_target(opts.remote, opts.allow_insecure_http)
    if target.prefix.startswith("http:"):
        log.get(NAME).warning("downloading over plain http (--allow-insecure-http): transport is not protected; "
                              "only the signatures vouch for the files")
    if target.kind == "package" and opts.last_seen is not None:
        raise UsageError("--last-seen applies to channel pointers; this URL names a versioned package")
    container = tenant_container(opts.tenant) if opts.tenant is not None else target.container
    key = ctx.public_key(opts.public_key)
    if opts.last_seen is not None:
        last_seen_file.check_writable(opts.last_seen)
    seen = last_seen_file.load_last_seen(opts.last_seen)
    audit = AuthenticodeAudit.create(opts.ca)
    outcome = verify_remote(target, container, key, seen, audit, Expectations(opts.source_uri, opts.builder_id))
    report, pointer = outcome.report, outcome.pointer
    _add_authenticode(report, audit)
    shown = target.display(target.self_rel)
    data = report.to_dict()
    data.update({"remote": shown, "downloaded_bytes": outcome.downloaded_bytes,
                 "downloaded_files": outcome.downloaded_files})
    if pointer is None:
        summary = (f"verified {report.product} {report.version} from {shown}: {report.files} files, "
                   f"key {report.key_id[:16]}...; {audit.phrase()}{_provenance_summary(report)}")
        return StageResult(stage=NAME, summary=summary, data=data)

    data["pointer"] = pointer.to_dict()
    if opts.last_seen is not None and container is not None:
        last_seen_file.record(opts.last_seen, target.last_seen_key(container), {
            "sequence": pointer.sequence,
            "version": pointer.version,
            "manifest_sha256": pointer.manifest_sha256,
            "package_sha256": pointer.package_sha256,
            "issued_at": pointer.issued_at,
        })
        data["last_seen"] = str(opts.last_seen)
    summary = (f"verified channel {target.channel} of {target.product}: {pointer.version} "
               f"(sequence {pointer.sequence}, expires {pointer.expires_at}), {report.files} files, "
               f"key {report.key_id[:16]}...{_provenance_summary(report)}")
    return StageResult(stage=NAME, summary=summary, data=data)
