"""package: build output -> deterministic zip + manifest + signature + SHA256SUMS.

Outputs (in the work dir): `<name>-<version>.zip` (payload + `.b2release/manifest.json`
+ `.b2release/manifest.json.sig` + attachments such as the SBOM), `manifest.json`,
`manifest.json.sig`, attachments, and `SHA256SUMS`, written last. Nothing is
regenerated after it was signed.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from b2release import log, vcs
from b2release.context import Context
from b2release.errors import InputError, UsageError
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
from b2release.formats.names import entry_path_problem
from b2release.formats.signature import load_signing_key
from b2release.fsutil import atomic_write_bytes, temp_path_beside
from b2release.stages import StageResult
from b2release.state import Artifact, check_digest

NAME = "package"
FIXED_EPOCH = 315532800  # 1980-01-01T00:00:00Z, used when nothing better is known
# Artifact kinds that ship beside the payload (inside .b2release/ and in SHA256SUMS).
ATTACHMENT_KINDS = ("sbom",)
OUTPUT_KINDS = ("package", "manifest", "signature", "checksums", "attachment")


@dataclass
class Options:
    input: Path | None = None
    name: str | None = None
    version: str | None = None
    signing_key: Path | None = None
    allow_unsigned: bool = False


@dataclass(frozen=True)
class Payload:
    files: list[tuple[str, Path]]  # (entry name, source file)
    source: str  # "input" or "build"
    root: Path | None
    recorded: list[Artifact] | None = None  # for "build": the state record of each file, in order


def collect_input_dir(root: Path) -> list[tuple[str, Path]]:
    """Every regular file under root; symlinks, special files and unsafe names refused."""
    if not root.exists():
        raise InputError(f"input folder {root} does not exist")
    if not root.is_dir():
        raise InputError(f"input {root} is not a folder")
    files: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = Path(dirpath) / name
            mode = full.lstat().st_mode
            rel = full.relative_to(root).as_posix()
            if stat.S_ISLNK(mode):
                raise InputError(f"{full} is a symbolic link; packages hold regular files only")
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                raise InputError(f"{full} is not a regular file (device, socket or pipe); refusing to package it")
            files.append((rel, full))
    if not files:
        raise InputError(f"input folder {root} contains no files")
    return files


def check_entry_names(files: list[tuple[str, Path]]) -> None:
    seen: dict[str, str] = {}
    for name, source in files:
        problem = entry_path_problem(name)
        if problem:
            raise InputError(f"{source}: name {name!r} {problem}; it would be unsafe in a package")
        if name.split("/")[0] == RESERVED_DIR:
            raise InputError(f"{source}: the folder {RESERVED_DIR}/ is reserved for the package's own metadata")
        folded = name.casefold()
        if folded in seen:
            raise InputError(f"{source}: {name!r} and {seen[folded]!r} differ only in case, which Windows cannot hold")
        seen[folded] = name


def collect_payload(ctx: Context, opts: Options) -> Payload:
    if opts.input is not None:
        root = Path(opts.input)
        files = collect_input_dir(root)
        check_entry_names(files)
        return Payload(files, "input", root.resolve())
    # Presence only: packaging reads every byte anyway and compares the digests then.
    binaries = ctx.state.consume("binary", rehash=False)
    if not binaries:
        raise UsageError("nothing to package: run `b2release build` first, or pass --input DIR with prebuilt binaries")
    files = [(a.extra.get("name") or Path(a.path).name, ctx.state.abs(a.path)) for a in binaries]
    check_entry_names(files)
    return Payload(files, "build", None, binaries)


def source_date_epoch(source_dir: Path | None) -> tuple[int, str]:
    """SOURCE_DATE_EPOCH, else the commit time of the source tree, else a fixed epoch."""
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is not None and raw != "":
        if not raw.isdigit():
            raise UsageError(f"SOURCE_DATE_EPOCH must be a whole number of seconds, got {raw!r}")
        return int(raw), "SOURCE_DATE_EPOCH"
    commit_time = vcs.commit_time(source_dir)
    if commit_time is not None:
        return commit_time, "git"
    return FIXED_EPOCH, "fixed"


def resolve_signing_key(ctx: Context, override: Path | None):
    path = override or ctx.config.path("release.signing_key")
    if path is None:
        raise UsageError("no release signing key: pass --signing-key F or set [release] signing_key")
    return load_signing_key(path)


def _authenticode_policy(ctx: Context, files: list[tuple[str, Path]], allow_unsigned: bool) -> dict[str, Any] | None:
    """Refuse unsigned PE files when sign.required is set (the sign stage provides the check)."""
    try:
        from b2release.signers import policy as authenticode_policy
    except ImportError:  # the sign stage has not landed in this build
        return None
    return authenticode_policy.check(ctx, files, allow_unsigned)


def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    logger = log.get(NAME)
    product = ctx.product_name(opts.name)
    version = ctx.release_version(opts.version)
    key = resolve_signing_key(ctx, opts.signing_key)  # fail fast, before any work
    payload = collect_payload(ctx, opts)
    signing_policy = _authenticode_policy(ctx, payload.files, opts.allow_unsigned)

    build_data = ctx.state.data("build") if payload.source == "build" else {}
    source_dir = Path(build_data["source_dir"]) if build_data.get("source_dir") else payload.root
    epoch, epoch_source = source_date_epoch(source_dir)
    attachments = [a for kind in ATTACHMENT_KINDS for a in ctx.state.consume(kind)]
    scan_summary = ctx.state.data("scan").get("manifest_summary")

    work = ctx.work_dir
    work.mkdir(parents=True, exist_ok=True)
    zip_name = f"{product}-{version}.zip"
    logger.info("packaging %d files from %s as %s", len(payload.files), payload.root or "the build output", zip_name)

    with tempfile.TemporaryDirectory(prefix=".package-", dir=work) as spool:
        entries = archive.prepare_files(payload.files, Path(spool))
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

        manifest = Manifest(
            product=product,
            version=version,
            key_id=key.key_id,
            files=[FileEntry(e.name, e.size, e.sha256) for e in entries if not e.name.startswith(RESERVED_DIR + "/")],
            timestamp={"epoch": epoch, "source": epoch_source},
            build=build_data.get("manifest_info") or None,
            scan=scan_summary or None,
            signing=signing_policy,
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
            with open(tmp_zip, "wb") as out:
                archive.write(out, entries, epoch)
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
    state.forget_artifacts(kinds=OUTPUT_KINDS)
    zip_art = state.record_artifact("package", zip_path, NAME)
    man_art = state.record_artifact("manifest", work / MANIFEST_NAME, NAME)
    sig_art = state.record_artifact("signature", work / SIGNATURE_NAME, NAME)
    sums = {zip_name: zip_art.sha256, MANIFEST_NAME: man_art.sha256, SIGNATURE_NAME: sig_art.sha256}
    for art in attachments:
        sums[Path(art.path).name] = art.sha256
    # SHA256SUMS is written last: everything it lists is final.
    checksums.write_path(work / CHECKSUMS_NAME, sums)
    state.record_artifact("checksums", work / CHECKSUMS_NAME, NAME)

    payload_bytes = sum(f.size for f in manifest.files)
    data = {
        "product": product,
        "version": version,
        "package": zip_name,
        "package_sha256": zip_art.sha256,
        "package_size": zip_art.size,
        "manifest_sha256": man_art.sha256,
        "key_id": key.key_id,
        "algorithm": key.algorithm,
        "files": len(manifest.files),
        "payload_bytes": payload_bytes,
        "source_date_epoch": epoch,
        "timestamp_source": epoch_source,
        "work_dir": str(work),
    }
    return StageResult(
        stage=NAME,
        summary=f"packaged {product} {version}: {len(manifest.files)} files -> {zip_path}",
        data=data,
        state_data={k: data[k] for k in ("product", "version", "package", "manifest_sha256", "key_id")},
    )
