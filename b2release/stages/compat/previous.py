"""The previous release's public API: where `compat` finds it, and why it may trust it.

`--against` picks the source (docs/compat.md):
- nothing: the version the channel serves in the store's release container. The channel
  pointer must verify with the release public key, then that version's manifest (against
  the pointer's digest and SHA256SUMS), then its package zip (against the pointer's
  digest), then the zip itself with `verify` (every entry against the signed manifest):
  only then are the API files it names read. No pointer: no previous release (a baseline).
- a version: that version in the release container, verified the same way;
- a package zip, or a release folder (holding SHA256SUMS and the zip): verified with the
  public key first, like `b2release verify`;
- any other folder (or one assembly file): its `*.api.txt` files, else its assemblies,
  read as they are (local input, for tests and for baselines kept in the source tree);
  its version is `--against-version`, else the AssemblyInformationalVersion the build
  stamped.

A release packaged before API files shipped has none: its assemblies are read from the
verified zip instead, and when they cannot be read the run records a baseline (warning).
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING

from b2release import log
from b2release.apicompat.versions import Version
from b2release.context import Context
from b2release.errors import CheckFailed, InputError, UsageError, VerificationError
from b2release.formats import manifest as manifest_fmt
from b2release.formats import pointer as pointer_fmt
from b2release.formats.archive_reader import PackageArchive
from b2release.formats.manifest import CHECKSUMS_NAME, MANIFEST_NAME, RESERVED_DIR, Manifest
from b2release.formats.names import validate_container_name
from b2release.formats.signature import PublicKey
from b2release.stores import open_store
from b2release.stores.base import Store
from b2release.stores.channels import package_name, read_channel, verify_release, version_prefix
from b2release.verification.package import Report, verify_zip

if TYPE_CHECKING:
    from b2release.apicompat.surface import ApiSurface

logger = log.get("compat")
MAX_PACKAGE = 1 << 30  # the previous package is read into memory once
MAX_API_FILE = 64 << 20
ASSEMBLY_SUFFIXES = (".dll", ".exe")


@dataclass
class Previous:
    """What the new build is compared with. `surfaces` None: nothing to compare (a baseline)."""

    version: str
    where: str  # for messages: "channel stable: releases/enventa-connector/1.4.0", a path, ...
    surfaces: dict[str, ApiSurface] | None
    commit: str = ""  # the previous build's git commit (its manifest's build.git_commit)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Request:
    """The compat options this module reads."""

    against: str | None
    against_version: str | None
    channel: str | None
    store: str | None
    public_key: Path | None


def find(ctx: Context, req: Request) -> Previous | None:
    """The previous release, or None when there is none (first release: record a baseline)."""
    if req.against_version is not None:
        if req.against is not None and not Path(req.against).exists() and not _is_version(req.against):
            raise InputError(f"--against {req.against}: no such folder or file")
        if req.against is None or not _unsigned(Path(req.against)):
            raise UsageError("--against-version only goes with --against FOLDER (of assemblies or API files) or an "
                             "assembly file")
    if req.against is None:
        return _from_channel(ctx, req)
    path = Path(req.against)
    if path.exists():
        return _from_path(ctx, req, path)
    try:
        version = str(Version.parse(req.against))
    except UsageError:
        raise UsageError(f"--against {req.against!r} is neither a version in the store nor an existing zip or "
                         "folder") from None
    with open_store(ctx.config, req.store, ctx.correlation_id) as store:
        container = _release_container(ctx)
        key = public_key(ctx, req)
        product = ctx.product_name()
        return _from_store(store, container, product, version, key, f"{container}/{version_prefix(product, version)}")


def _is_version(text: str) -> bool:
    try:
        Version.parse(text)
    except UsageError:
        return False
    return True


def public_key(ctx: Context, req: Request) -> PublicKey:
    """--public-key, else [release] public_key, else the release signing key's public half."""
    if req.public_key is not None or ctx.config.path("release.public_key") is not None:
        return ctx.public_key(req.public_key)
    if ctx.config.path("release.signing_key") is not None:
        return ctx.signing_key().public()
    raise UsageError("a previous release exists but there is no key to verify it: pass --public-key F or set "
                     "[release] public_key (or signing_key)")


def _release_container(ctx: Context) -> str:
    return validate_container_name(ctx.config.get("store.release_container"), "store.release_container")


def served_version(ctx: Context, channel: str | None, store_url: str | None) -> str:
    """The version the channel's pointer in the release container names now ("" for none), unverified:
    for compat's fingerprint only (a pointer that does not verify fails compat when it runs)."""
    product = ctx.product_name()
    channel = pointer_fmt.validate_channel(channel or ctx.config.get("store.channel"))
    with open_store(ctx.config, store_url, ctx.correlation_id) as store:
        state = read_channel(store, _release_container(ctx), product, channel)
    return state.pointer.version if state.pointer is not None else ""


def _from_channel(ctx: Context, req: Request) -> Previous | None:
    product = ctx.product_name()
    channel = pointer_fmt.validate_channel(req.channel or ctx.config.get("store.channel"))
    container = _release_container(ctx)
    with open_store(ctx.config, req.store, ctx.correlation_id) as store:
        state = read_channel(store, container, product, channel)
        if state.pointer is None:
            logger.info("%s/%s: no channel pointer yet: nothing to compare with", container, state.path)
            return None
        key = public_key(ctx, req)
        state = read_channel(store, container, product, channel, key)
        p = state.pointer
        if p is None or not state.verified or (p.product, p.channel) != (product, channel):
            raise VerificationError(
                f"{container}/{state.path} does not verify with the release public key ({key.key_id[:16]}...): the "
                "version it names cannot be trusted as the previous release; pass --against VERSION to choose one"
            )
        where = f"channel {channel}: {container}/{version_prefix(product, p.version)}"
        return _from_store(store, container, product, p.version, key, where, p.manifest_sha256,
                           p.package_sha256 or None)


def _from_store(store: Store, container: str, product: str, version: str, key: PublicKey, where: str,
                manifest_sha256: str | None = None, package_sha256: str | None = None) -> Previous:
    prefix = version_prefix(product, version)
    if store.stat(container, prefix + CHECKSUMS_NAME) is None:
        raise CheckFailed(f"{container}/{prefix} holds no complete release {version} (no {CHECKSUMS_NAME})")
    digests = verify_release(store, container, product, version, key, manifest_sha256)
    if package_sha256 is not None and digests.package_sha256 != package_sha256:
        raise VerificationError(f"{container}/{prefix}{package_name(product, version)} is not the package the "
                                "channel pointer names")
    found = store.read_bytes(container, prefix + package_name(product, version), MAX_PACKAGE)
    if found is None:
        raise CheckFailed(f"{container}/{prefix}{package_name(product, version)} is missing")
    data = found[0]
    if sha256(data).hexdigest() != digests.package_sha256:
        raise VerificationError(f"{container}/{prefix}{package_name(product, version)} does not match "
                                f"{CHECKSUMS_NAME} (changed in the store?)")
    with tempfile.TemporaryDirectory(prefix="b2release-compat-") as tmp:
        zip_path = Path(tmp) / package_name(product, version)
        zip_path.write_bytes(data)
        return _from_zip(zip_path, key, where, product, digests.manifest_sha256)


def _unsigned(path: Path) -> bool:
    """A folder that is not a release folder, or an assembly file: local input, read as it is."""
    if path.is_file():
        return path.suffix.lower() in ASSEMBLY_SUFFIXES
    return path.is_dir() and not (path / CHECKSUMS_NAME).exists()


def _from_path(ctx: Context, req: Request, path: Path) -> Previous | None:
    if _unsigned(path):
        return _from_folder(path, req.against_version)
    if path.is_file():
        return _from_zip(path, public_key(ctx, req), str(path), _product_or_none(ctx))
    if (path / CHECKSUMS_NAME).is_file():  # a release folder: its zip carries and proves everything
        try:
            named = manifest_fmt.parse((path / MANIFEST_NAME).read_bytes(), str(path / MANIFEST_NAME))
        except OSError as exc:
            raise InputError(f"cannot read {path / MANIFEST_NAME}: {exc.strerror or exc}") from None
        zip_path = path / package_name(named.product, named.version)
        return _from_zip(zip_path, public_key(ctx, req), str(path), _product_or_none(ctx))
    raise UsageError(f"--against {path} is neither a package zip, a release folder, a folder nor an assembly")


def _product_or_none(ctx: Context) -> str | None:
    try:
        return ctx.product_name()
    except UsageError:
        return None


def _from_zip(zip_path: Path, key: PublicKey, where: str, product: str | None,
              manifest_sha256: str | None = None) -> Previous:
    """A package zip, verified like `b2release verify` does before anything in it is read."""
    from b2release.apicompat import parse_api_text

    manifest_bytes = verify_zip(zip_path, key, Report(path=str(zip_path), kind="zip"))
    if manifest_sha256 is not None and sha256(manifest_bytes).hexdigest() != manifest_sha256:
        raise VerificationError(f"{zip_path.name}: its embedded manifest is not the release's {MANIFEST_NAME}")
    manifest = manifest_fmt.parse(manifest_bytes, f"{zip_path.name}: {RESERVED_DIR}/{MANIFEST_NAME}")
    if product is not None and manifest.product != product:
        raise UsageError(f"{where} is a release of {manifest.product}, not {product}")
    commit = str((manifest.build or {}).get("git_commit") or "")
    api = [a for a in manifest.attachments or [] if a.get("kind") == "api"]
    previous = Previous(manifest.version, where, None, commit)
    with PackageArchive.open(zip_path) as pkg:
        if api:
            surfaces = {}
            for att in api:
                name = f"{RESERVED_DIR}/{att['path']}"
                data = _read_verified(pkg, name, att["sha256"], zip_path)
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    raise InputError(f"{zip_path.name}: {name} is not UTF-8 text") from None
                surface = parse_api_text(text, f"{zip_path.name}: {name}")
                surfaces[surface.assembly] = surface
            previous.surfaces = surfaces
            return previous
        previous.warnings.append(f"{manifest.product} {manifest.version} was packaged before releases carried API "
                                 "files: comparing with the assemblies in its package")
        previous.surfaces = _assemblies_in_zip(pkg, manifest, zip_path, previous)
    return previous


def _read_verified(pkg: PackageArchive, name: str, digest: str, zip_path: Path) -> bytes:
    entry = pkg.entry(name)
    if entry is None:
        raise VerificationError(f"{zip_path.name}: {name} listed in the manifest is missing")
    data = pkg.read(entry, MAX_API_FILE if name.endswith(".api.txt") else MAX_PACKAGE)
    if sha256(data).hexdigest() != digest:
        raise VerificationError(f"{zip_path.name}: entry {name} does not match the manifest")
    return data


def _assemblies_in_zip(pkg: PackageArchive, manifest: Manifest, zip_path: Path,
                       previous: Previous) -> dict[str, ApiSurface] | None:
    from b2release.apicompat import read_assemblies, surfaces_of

    files = [f for f in manifest.files if f.path.lower().endswith(ASSEMBLY_SUFFIXES)]
    with tempfile.TemporaryDirectory(prefix="b2release-compat-") as tmp:
        paths = []
        for i, f in enumerate(files):
            path = Path(tmp) / str(i) / Path(f.path).name
            path.parent.mkdir()
            path.write_bytes(_read_verified(pkg, f.path, f.sha256, zip_path))
            paths.append(path)
        try:
            surfaces = surfaces_of(read_assemblies(paths))
        except InputError as exc:
            previous.warnings.append(f"cannot read the assemblies of {manifest.version} ({exc.message}): recording a "
                                     "baseline instead of comparing")
            return None
    return surfaces


_FOUR_PART = re.compile(r"(\d+)\.(\d+)\.(\d+)\.0")


def _from_folder(path: Path, against_version: str | None) -> Previous:
    from b2release.apicompat import find_assemblies, load_api_dir, read_assemblies, surfaces_of

    if path.is_dir() and any(path.glob("*.api.txt")):
        surfaces = load_api_dir(path)
        if against_version is None:
            raise UsageError(f"{path} holds API files but no version: pass --against-version X.Y.Z")
        return Previous(str(Version.parse(against_version)), str(path), surfaces)
    results = read_assemblies(find_assemblies(path))
    surfaces = surfaces_of(results)
    if not surfaces:
        raise InputError(f"{path} holds no .NET assemblies and no .api.txt files to compare with")
    if against_version is not None:
        return Previous(str(Version.parse(against_version)), str(path), surfaces)
    stamped = sorted({r.version for r in results if r.surface is not None and not r.is_satellite})
    found = stamped[0] if len(stamped) == 1 else ""
    four = _FOUR_PART.fullmatch(found)
    if four:
        found = ".".join(four.groups())
    try:
        parsed = Version.parse(found) if found else None
    except UsageError:
        parsed = None
    # 0.0.0[-dev]: a developer build's placeholder (examples/enventa-connector), not a release.
    version = str(parsed) if parsed is not None and (parsed.major, parsed.minor, parsed.patch) != (0, 0, 0) else ""
    if not version:
        raise UsageError(f"cannot tell the version of the assemblies in {path} (they say {', '.join(stamped) or 'nothing'}): "
                         "pass --against-version X.Y.Z")
    return Previous(version, str(path), surfaces)
