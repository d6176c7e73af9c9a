"""sign: Authenticode-sign every PE file of the build output (or of --input DIR).

Input: the build stage's "binary" artifacts (re-hashed, stale files refused), or the
files of `--input DIR`, copied into `<work dir>/build/` and recorded as "binary"
artifacts so `package` picks them up (the user's folder is never modified).

All-or-nothing: every file is signed to a temp file in a private temp dir beside it;
only when all of them are signed are they renamed into place. A bad certificate, key or
password is found by the pre-flight checks (signers.certs) before any tool runs. So on
any error the build output is exactly as it was.

Without a timestamp server the signing time is SOURCE_DATE_EPOCH (else the source's
commit time, else a fixed epoch, as `package` does), raised to the certificate's notBefore
when earlier (never a backdated signature): signing the same input twice gives identical
bytes. Already signed files are re-signed (the old signature removed first, so signatures
are replaced, not nested) unless --skip-signed keeps them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from b2release import log
from b2release.artifacts import BUILD_DIR, Kind, SignRecord
from b2release.context import Context
from b2release.errors import B2ReleaseError, InputError, ToolError, UsageError
from b2release.inputs import collect_entries
from b2release.signers import Signer, SignSpec, certs, pe, select_signer
from b2release.stages import Skip, StageResult

NAME = "sign"
# What decides whether `release` may leave sign out (stages/uptodate.py): the [sign] section
# (certificate and key files by content) and its options; the binaries it consumes.
FINGERPRINT_CONFIG = ("sign",)


@dataclass
class Options:
    cert: Path | None = None
    key: Path | None = None
    pfx: Path | None = None
    timestamp_url: str | None = None
    description: str | None = None
    url: str | None = None
    skip_signed: bool = False
    input: Path | None = None
    files: list[Path] = field(default_factory=list)


@dataclass
class Target:
    name: str  # entry name (posix, relative): what package calls it
    path: Path  # where it lives now (build output, or the staged copy of --input)
    extra: dict[str, Any]
    info: pe.PEInfo | None = None


# --- inputs ---------------------------------------------------------------------------------
def _from_build(ctx: Context) -> list[Target]:
    binaries = ctx.state.consume(Kind.BINARY, consumer=NAME)
    if not binaries:
        raise UsageError("nothing to sign: run `b2release build` first, or pass --input DIR with prebuilt binaries")
    return [
        Target(a.extra.get("name") or Path(a.path).name, ctx.state.abs(a.path), dict(a.extra))
        for a in binaries
    ]


def _from_input(ctx: Context, root: Path) -> list[Target]:
    build = (ctx.work_dir / BUILD_DIR).resolve()
    resolved = root.resolve()
    if resolved == build or build in resolved.parents or resolved in build.parents:
        raise UsageError(f"--input {root} overlaps the work dir's {BUILD_DIR}/ folder; run sign without --input "
                         f"to sign the build output")
    return [Target(name, path, {"name": name}) for name, path in collect_entries(root)]


def _select_explicit(targets: list[Target], wanted: list[Path], where: str) -> set[str]:
    """Names of the targets the user named (by entry name or by path); each must be a PE file."""
    by_name = {t.name: t for t in targets}
    by_path = {t.path.resolve(): t for t in targets}
    chosen: set[str] = set()
    for item in wanted:
        target = by_name.get(Path(item).as_posix()) or by_path.get(Path(item).resolve())
        if target is None:
            raise InputError(f"{item} is not a file of {where}")
        if target.info is None:
            raise InputError(f"{item} is not a PE file (no MZ/PE header); only Windows executables and DLLs "
                             f"can be Authenticode-signed")
        chosen.add(target.name)
    return chosen


# --- signing material -------------------------------------------------------------------------
def _material(ctx: Context, opts: Options) -> certs.SigningMaterial | None:
    if opts.cert is not None or opts.key is not None or opts.pfx is not None:
        cert, key, pfx = opts.cert, opts.key, opts.pfx  # the command line wins as a whole
    else:
        cert, key, pfx = (ctx.config.path(f"sign.{k}") for k in ("cert", "key", "pfx"))
        if pfx is not None and (cert is not None or key is not None):
            raise UsageError("[sign] sets both pfx and cert/key; keep one of them")
    if cert is None and key is None and pfx is None:
        return None
    passphrase, pfx_password = certs.passwords_from_env()
    if pfx is not None:
        return certs.load_material(cert, key, pfx, pfx_password=pfx_password)
    return certs.load_material(cert, key, None, key_passphrase=passphrase)


# --- the all-or-nothing signing ------------------------------------------------------------------
class _Staging:
    """Private temp dirs beside each target; committed by rename, else removed."""

    def __init__(self) -> None:
        self.dirs: list[Path] = []
        self.pending: list[tuple[Path, Path]] = []  # (signed temp file, final path)

    def temp_for(self, final: Path) -> Path:
        tmp = Path(tempfile.mkdtemp(prefix=".sign-", dir=final.parent))
        self.dirs.append(tmp)
        return tmp

    def commit(self) -> None:
        for temp, final in self.pending:
            os.chmod(temp, 0o644)
            os.replace(temp, final)
        self.pending.clear()

    def cleanup(self) -> None:
        for tmp in self.dirs:
            shutil.rmtree(tmp, ignore_errors=True)
        self.dirs.clear()


def _sign_one(signer: Signer, spec: SignSpec, target: Target, staging: _Staging) -> None:
    tmp = staging.temp_for(target.path)
    source = target.path
    if target.info is not None and target.info.signed:
        # Replace, not nest: strip the old signature, then sign the clean image.
        unsigned = tmp / ("unsigned-" + target.path.name)
        signer.remove_signature(source, unsigned)
        source = unsigned
    out = tmp / target.path.name
    signer.sign(source, out, spec)
    info = pe.inspect(out)
    if info is None or not info.signed:
        raise ToolError(f"{signer.name} reported success but {target.name} carries no signature afterwards")
    staging.pending.append((out, target.path))


def _stage_input_copy(ctx: Context, targets: list[Target]) -> Path:
    """Copy --input files into a new build tree inside the work dir (renamed into place later)."""
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    tree = Path(tempfile.mkdtemp(prefix=".sign-build-", dir=ctx.work_dir))
    os.chmod(tree, 0o755)  # it becomes build/: mkdtemp's 0700 is for the temp phase only
    for t in targets:
        dest = tree / t.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(t.path, dest)
        os.chmod(dest, 0o644)
        t.path = dest
    return tree


def _swap_build_tree(ctx: Context, tree: Path) -> None:
    build = ctx.work_dir / BUILD_DIR
    old = None
    if build.exists() or build.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=".sign-old-", dir=ctx.work_dir)) / BUILD_DIR
        os.replace(build, old)
    os.replace(tree, build)
    if old is not None:
        shutil.rmtree(old.parent, ignore_errors=True)


def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    logger = log.get(NAME)
    input_mode = opts.input is not None
    targets = _from_input(ctx, Path(opts.input)) if input_mode else _from_build(ctx)
    where = f"--input {opts.input}" if input_mode else "the build output"
    for t in targets:
        t.info = pe.inspect(t.path)
    explicit = _select_explicit(targets, opts.files, where) if opts.files else None

    pe_targets = [t for t in targets if t.info is not None and (explicit is None or t.name in explicit)]
    kept = [t for t in pe_targets if opts.skip_signed and t.info.signed]
    to_sign = [t for t in pe_targets if t not in kept]
    if not to_sign and not input_mode:
        if kept:
            raise Skip(f"all {len(kept)} PE files are signed already (--skip-signed)")
        raise Skip("no PE files (Windows executables or DLLs) in the build output")

    material = _material(ctx, opts) if to_sign else None
    if to_sign and material is None:
        if ctx.config.get("sign.required"):
            raise UsageError("no code-signing certificate: pass --cert F --key F or --pfx F, or set [sign] cert and "
                             "key (or pfx) in b2release.toml")
        if not input_mode:
            raise Skip("no code-signing certificate configured and sign.required is false")
        to_sign = []
    signer = select_signer() if to_sign else None
    timestamp_url = opts.timestamp_url if opts.timestamp_url is not None else ctx.config.get("sign.timestamp_url")
    epoch: int | None = None
    epoch_source = "timestamp server"
    if to_sign and not timestamp_url:
        epoch, epoch_source = ctx.source_epoch(Path(opts.input).resolve() if input_mode else None)
        if material is not None:
            epoch, raised = material.signing_time(epoch)
            if raised:
                epoch_source = "certificate validity start (the source time is earlier)"
    spec = SignSpec(
        material=material,
        timestamp_url=timestamp_url or "",
        description=opts.description if opts.description is not None else ctx.config.get("sign.description"),
        url=opts.url if opts.url is not None else ctx.config.get("sign.url"),
        epoch=epoch,
    ) if material is not None else None

    staging = _Staging()
    tree: Path | None = None
    try:
        if input_mode:
            tree = _stage_input_copy(ctx, targets)
        for t in to_sign:
            logger.info("signing %s", t.name)
            _sign_one(signer, spec, t, staging)
        staging.commit()  # every file signed: now rename them into place
        staging.cleanup()  # before a staged --input tree moves to build/
        if tree is not None:
            _swap_build_tree(ctx, tree)
            tree = None
    except B2ReleaseError:
        raise
    except OSError as exc:
        raise ToolError(f"signing failed while writing {exc.filename or 'a temp file'}: {exc.strerror}") from None
    finally:
        staging.cleanup()
        if tree is not None:
            shutil.rmtree(tree, ignore_errors=True)

    state = ctx.state
    signed_names = {t.name for t in to_sign}
    if input_mode:
        state.forget_artifacts(kinds=[Kind.BINARY])
        build = ctx.work_dir / BUILD_DIR
        for t in targets:
            t.path = build / t.name
            state.record_artifact(Kind.BINARY, t.path, NAME, extra=t.extra)
    else:
        for t in to_sign:
            state.record_artifact(Kind.BINARY, t.path, NAME, extra=t.extra)
    by_path = {a.path: a for a in state.find(Kind.BINARY)}
    signed_info = []
    for t in sorted(to_sign, key=lambda t: t.name):
        art = by_path[state.rel(t.path)]
        signed_info.append({"name": t.name, "sha256": art.sha256, "size": art.size})

    data: dict[str, Any] = {
        "source": "input" if input_mode else "build",
        "signed": signed_info,
        "kept_signed": sorted(t.name for t in kept),
        "not_pe": sorted(t.name for t in targets if t.info is None),
        "tool": signer.name if signer else None,
        "certificate": material.describe() if material is not None else None,
        "timestamp_url": timestamp_url or None,
        "signing_time": epoch,
        "signing_time_source": epoch_source if to_sign else None,
    }
    if input_mode:
        data["copied"] = len(targets)
    summary = f"signed {len(signed_names)} PE file(s)"
    if material is not None:
        summary += f" with {material.subject}"
    if kept:
        summary += f"; kept {len(kept)} already signed"
    if input_mode:
        summary += f"; {len(targets)} file(s) from {opts.input} now in {ctx.work_dir / BUILD_DIR}"
    return StageResult(
        stage=NAME,
        summary=summary,
        data=data,
        record=SignRecord(
            signed=sorted(signed_names),
            kept_signed=data["kept_signed"],
            cert_sha256=material.fingerprint_sha256 if material is not None else None,
            subject=material.subject if material is not None else None,
        ),
    )
