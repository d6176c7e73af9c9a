"""package: build output -> deterministic zip + manifest + signature + SHA256SUMS.

Outputs (in the work dir): `<name>-<version>.zip` (payload + `.b2release/manifest.json`
+ `.b2release/manifest.json.sig` + attachments such as the SBOM), `manifest.json`,
`manifest.json.sig`, attachments, the signed build provenance `<name>-<version>.intoto.jsonl`
(b2release.attestation), and `SHA256SUMS`, written last. Nothing is regenerated after it
was signed.

The compat stage's API files (`<work dir>/api/<Assembly>.api.txt`) ship inside the zip
only, as attachments `.b2release/<Assembly>.api.txt` (kind `api`), and its verdict goes
into the manifest's `compat` (with the reason when `--allow-breaking` let a violation
through): the next release compares against them without needing these binaries.
"""

from __future__ import annotations

import os
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from b2release import attestation, log
from b2release.artifacts import (
    ATTACHMENT_KINDS,
    PACKAGE_KINDS,
    BuildRecord,
    CompatRecord,
    Kind,
    PackageRecord,
    ScanRecord,
)
from b2release.context import Context
from b2release.errors import StaleInputError, UsageError
from b2release.formats import archive, checksums
from b2release.formats.manifest import (
    CHECKSUMS_NAME,
    MANIFEST_NAME,
    RESERVED_DIR,
    SIGNATURE_NAME,
    ZIP_MANIFEST,
    ZIP_SIGNATURE,
    FileEntry,
    Manifest,
)
from b2release.fsutil import atomic_write_bytes, sha256_bytes, temp_path_beside
from b2release.inputs import Entries, check_entry_names, collect_entries
from b2release.progress import Progress, shown
from b2release.signers import policy as authenticode_policy
from b2release.stages import PIPELINE, StageResult
from b2release.state import Artifact, check_digest

NAME = "package"
# What decides whether `release` may leave package out (stages/uptodate.py): these config
# values (the release key by content), its options, what it consumes, SOURCE_DATE_EPOCH.
FINGERPRINT_CONFIG = ("product", "release", "sign.required")


@dataclass
class Options:
    input: Path | None = None
    name: str | None = None
    version: str | None = None
    signing_key: Path | None = None
    allow_unsigned: bool = False


@dataclass(frozen=True)
class Payload:
    files: Entries
    source: str  # "input" or "build"
    root: Path | None
    recorded: list[Artifact] | None = None  # for "build": the state record of each file, in order


def collect_payload(ctx: Context, opts: Options) -> Payload:
    if opts.input is not None:
        root = Path(opts.input)
        return Payload(collect_entries(root), "input", root.resolve())
    # Presence only: packaging reads every byte anyway and compares the digests then.
    binaries = ctx.state.consume(Kind.BINARY, rehash=False)
    if not binaries:
        raise UsageError("nothing to package: run `b2release build` first, or pass --input DIR with prebuilt binaries")
    files = [(unicodedata.normalize("NFC", a.extra.get("name") or Path(a.path).name), ctx.state.abs(a.path))
             for a in binaries]
    check_entry_names(files)
    return Payload(files, "build", None, binaries)


@dataclass(frozen=True)
class ApiCheck:
    files: list[Artifact]  # the compat stage's api/<Assembly>.api.txt files, to ship in the zip
    summary: dict | None  # the manifest's "compat"


def api_check(ctx: Context, payload: Payload, version: str) -> ApiCheck:
    """What the compat stage leaves for the package, refused unless it describes this payload."""
    logger = log.get(NAME)
    files = ctx.state.consume(Kind.API_FILE)  # refuses the files of a failed compat run
    compat = CompatRecord.read(ctx.state)
    if payload.source != "build":
        if compat is not None:
            logger.warning("the compat stage checked the build output, not --input: the package ships no API files")
        return ApiCheck([], None)
    if compat is None:
        logger.warning("the compat stage did not run: the package ships no API files and no compat verdict")
        return ApiCheck([], None)
    if compat.version != version:
        raise StaleInputError(f"the compat stage checked version {compat.version}, not {version}; "
                              f"re-run `{ctx.follow_up('compat')}`")
    # The API files must describe exactly the assemblies shipped (sign changes their bytes, not their API).
    from b2release.apicompat import read_assembly, surfaces_of

    assemblies = [path for name, path in payload.files if name.lower().endswith((".dll", ".exe"))]
    shipped = {s.file_name: s.to_text().encode("utf-8") for s in surfaces_of(map(read_assembly, assemblies)).values()}
    recorded = {Path(a.path).name: ctx.state.abs(a.path).read_bytes() for a in files}
    if shipped != recorded:
        differ = sorted(n for n in shipped.keys() | recorded.keys() if shipped.get(n) != recorded.get(n))
        raise StaleInputError(f"the compat stage's API files do not describe the binaries being packaged "
                              f"({', '.join(differ)}); re-run `{ctx.follow_up('compat')}`")
    return ApiCheck(files, compat.manifest_summary or None)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # reading it reports the problem


def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    started = time.time()  # the provenance's start when no earlier stage of this release was recorded
    logger = log.get(NAME)
    product = ctx.product_name(opts.name)
    version = ctx.release_version(opts.version)
    key = ctx.signing_key(opts.signing_key)  # fail fast, before any work
    payload = collect_payload(ctx, opts)
    signing_policy = authenticode_policy.check(payload.files, opts.allow_unsigned,
                                               required=bool(ctx.config.get("sign.required")))

    built = BuildRecord.read(ctx.state) if payload.source == "build" else None
    if built is not None and built.version and version != built.version:
        # The binaries carry the build's version: a package claiming another would be a lie
        # that verify cannot see from the manifest alone.
        raise UsageError(f"version {version} differs from the version build stamped into the binaries "
                         f"({built.version}): package them as {built.version}, or run build with --version {version}")
    epoch, epoch_source = ctx.source_epoch(payload.root)
    attachments = [a for kind in ATTACHMENT_KINDS for a in ctx.state.consume(kind)]
    scanned = ScanRecord.read(ctx.state)
    checked = api_check(ctx, payload, version)

    work = ctx.work_dir
    work.mkdir(parents=True, exist_ok=True)
    zip_name = f"{product}-{version}.zip"
    logger.info("packaging %d files from %s as %s", len(payload.files), payload.root or "the build output", zip_name)

    with tempfile.TemporaryDirectory(prefix=".package-", dir=work) as spool:
        total = sum(_size(source) for _, source in payload.files) if shown(ctx) else 0
        with Progress(ctx, f"compressing {len(payload.files):,} files", total) as bar:
            entries = archive.prepare_files(payload.files, Path(spool), progress=bar.advance)
        if payload.recorded is not None:
            # The hash computed while compressing: a binary changed since build/sign is refused.
            for entry, art, (_, source) in zip(entries, payload.recorded, payload.files, strict=True):
                check_digest(source, art.sha256, art.size, entry.sha256, entry.size, recorded_by=art.stage)
        attachment_info = []
        for art in attachments:
            data = ctx.state.abs(art.path).read_bytes()
            base = Path(art.path).name
            entries.append(archive.prepare_bytes(f"{RESERVED_DIR}/{base}", data))
            attachment_info.append({"path": base, "kind": art.kind, "sha256": art.sha256, "size": art.size})
        for art in checked.files:  # inside the zip only: not beside it, not in SHA256SUMS
            data = ctx.state.abs(art.path).read_bytes()
            check_digest(ctx.state.abs(art.path), art.sha256, art.size, sha256_bytes(data), len(data),
                         recorded_by=art.stage)
            name = Path(art.path).name
            entries.append(archive.prepare_bytes(f"{RESERVED_DIR}/{name}", data))
            attachment_info.append({"path": name, "kind": "api", "sha256": art.sha256, "size": art.size})

        manifest = Manifest(
            product=product,
            version=version,
            key_id=key.key_id,
            files=[FileEntry(e.name, e.size, e.sha256) for e in entries if not e.name.startswith(RESERVED_DIR + "/")],
            timestamp={"epoch": epoch, "source": epoch_source},
            build=(built.manifest_info or None) if built else None,
            scan=(scanned.manifest_summary or None) if scanned else None,
            signing=signing_policy,
            packaging={"compressor": archive.COMPRESSOR},
            compat=checked.summary,
        )
        if attachment_info:
            manifest.attachments = sorted(attachment_info, key=lambda a: a["path"])
        manifest_bytes = manifest.to_bytes()
        signature = key.sign(manifest_bytes)
        entries.append(archive.prepare_bytes(ZIP_MANIFEST, manifest_bytes))
        entries.append(archive.prepare_bytes(ZIP_SIGNATURE, signature))

        zip_path = work / zip_name
        tmp_zip = temp_path_beside(zip_path)
        try:
            with open(tmp_zip, "wb") as out, \
                    Progress(ctx, f"writing {zip_name}", sum(e.compressed_size for e in entries)) as bar:
                archive.write(out, entries, epoch, progress=bar.advance)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp_zip, 0o644)
            os.replace(tmp_zip, zip_path)
        finally:
            if tmp_zip.exists():
                tmp_zip.unlink()

    atomic_write_bytes(work / MANIFEST_NAME, manifest_bytes)
    atomic_write_bytes(work / SIGNATURE_NAME, signature)
    for art in attachments:
        src = ctx.state.abs(art.path)
        if src.resolve() != (work / src.name).resolve():
            atomic_write_bytes(work / src.name, src.read_bytes())

    state = ctx.state
    state.forget_artifacts(kinds=PACKAGE_KINDS)
    zip_art = state.record_artifact(Kind.PACKAGE, zip_path, NAME)
    man_art = state.record_artifact(Kind.MANIFEST, work / MANIFEST_NAME, NAME)
    sig_art = state.record_artifact(Kind.SIGNATURE, work / SIGNATURE_NAME, NAME)
    sums = {zip_name: zip_art.sha256, MANIFEST_NAME: man_art.sha256, SIGNATURE_NAME: sig_art.sha256}
    for art in attachments:
        sums[Path(art.path).name] = art.sha256
    # --- build provenance (SLSA v1, issue #14): a signed statement about the final zip -------
    provenance_path = attestation.write_provenance(ctx, attestation.PackageRun(
        product=product, version=version, zip_name=zip_name, zip_sha256=zip_art.sha256,
        payload_source=payload.source, input_root=payload.root, source_date_epoch=epoch, started_at=started,
        options={"input": str(opts.input) if opts.input is not None else None, "name": product, "version": version,
                 "allow_unsigned": opts.allow_unsigned, "key_id": key.key_id},
    ), key, PIPELINE)
    sums[provenance_path.name] = state.record_artifact(Kind.PROVENANCE, provenance_path, NAME).sha256
    # --- end build provenance -------------------------------------------------------------
    # SHA256SUMS is written last: everything it lists is final.
    checksums.write_path(work / CHECKSUMS_NAME, sums)
    state.record_artifact(Kind.CHECKSUMS, work / CHECKSUMS_NAME, NAME)

    payload_bytes = sum(f.size for f in manifest.files)
    data = {
        "product": product,
        "version": version,
        "package": zip_name,
        "package_sha256": zip_art.sha256,
        "package_size": zip_art.size,
        "manifest_sha256": man_art.sha256,
        "provenance": provenance_path.name,
        "key_id": key.key_id,
        "algorithm": key.algorithm,
        "files": len(manifest.files),
        "payload_bytes": payload_bytes,
        "source_date_epoch": epoch,
        "timestamp_source": epoch_source,
        "work_dir": str(work),
        "api_files": [Path(a.path).name for a in checked.files],
    }
    return StageResult(
        stage=NAME,
        summary=f"packaged {product} {version}: {len(manifest.files)} files -> {zip_path}",
        data=data,
        record=PackageRecord(product=product, version=version, package=zip_name, manifest_sha256=man_art.sha256,
                             key_id=key.key_id),
    )
