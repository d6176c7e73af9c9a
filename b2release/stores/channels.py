"""Release-level operations on a store: versions and signed channel pointers.

Shared by upload, rollback, promote and refresh (through b2release.repoint) and grant.
All of them keep to the layout in stores/base.py:

    <product>/<version>/<files>              (SHA256SUMS is written last in each container)
    <product>/channels/<channel>.json        (pointer, canonical JSON, formats.pointer)
    <product>/channels/<channel>.json.sig    (detached signature over the pointer bytes)
"""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import sha256

from b2release import log
from b2release.errors import CheckFailed, VerificationError
from b2release.formats import checksums
from b2release.formats import manifest as manifest_fmt
from b2release.formats import pointer as pointer_fmt
from b2release.formats.manifest import CHECKSUMS_NAME, MANIFEST_NAME
from b2release.formats.signature import PublicKey, SigningKey
from b2release.stores.base import BlobInfo, PreconditionFailed, Store

logger = log.get("store")
MAX_POINTER = 64 << 10


def version_prefix(product: str, version: str) -> str:
    return f"{product}/{version}/"


def package_name(product: str, version: str) -> str:
    return f"{product}-{version}.zip"


def signature_path(pointer_path: str) -> str:
    return pointer_path + ".sig"


@dataclass
class ChannelState:
    """A channel pointer as found in one container (pointer None: no pointer yet)."""

    container: str
    path: str
    pointer: pointer_fmt.Pointer | None = None
    raw: bytes | None = None
    signature: bytes | None = None
    etag: str | None = None  # of the .json blob, for a compare-and-swap write
    verified: bool | None = None  # None: not checked (no key given)
    signature_etag: str | None = None  # of the .sig blob: the signature is written with compare-and-swap too

    @property
    def settled(self) -> bool:
        """No pointer, or one whose signature matches (or was not checked)."""
        return self.raw is None or self.verified is not False


def read_channel(store: Store, container: str, product: str, channel: str,
                 public_key: PublicKey | None = None) -> ChannelState:
    """Read (and, given a public key, verify) a channel pointer.

    A pointer that does not parse raises VerificationError. With `public_key`, a missing
    or non-verifying signature sets `verified=False` (the caller decides what to do: a
    torn write is rewritten). A pointer whose signature verifies but which is bound to
    another place (container, product or channel) was copied here: VerificationError,
    because nothing read from it can be believed and the copy must be looked into.
    """
    path = pointer_fmt.pointer_path(product, channel)
    state = ChannelState(container=container, path=path)
    found = store.read_bytes(container, path, MAX_POINTER)
    if found is None:
        return state
    state.raw, info = found
    state.etag = info.etag
    state.pointer = pointer_fmt.parse(state.raw, f"{container}/{path}")
    sig = store.read_bytes(container, signature_path(path), 4096)
    state.signature = sig[0] if sig else None
    state.signature_etag = sig[1].etag if sig else None
    if public_key is not None:
        if state.signature is None:
            state.verified = False
        else:
            try:
                public_key.verify(state.raw, state.signature, f"{container}/{path}")
                state.verified = True
            except VerificationError:
                state.verified = False
        p = state.pointer
        if state.verified and p.bound and (p.container, p.product, p.channel) != (container, product, channel):
            raise VerificationError(
                f"{container}/{path} is validly signed but bound to {p.container}/{p.product}/{p.channel}: a pointer "
                f"was copied between containers (tampering or a faulty sync); remove {container}/{path} and its .sig, "
                "then publish again"
            )
    return state


def verify_version(store: Store, container: str, product: str, version: str,
                   manifest_sha256: str | None = None) -> list[BlobInfo]:
    """Check that a version is complete in a container, without downloading payloads.

    Reads SHA256SUMS, then checks every file it lists exists with that sha256 (metadata);
    with `manifest_sha256`, also that manifest.json is the expected one. Raises CheckFailed
    naming the first problem; returns the files on success. A pointer may only name a
    version that passes this check (rollback / promote must call it first).
    """
    prefix = version_prefix(product, version)
    where = f"{container}/{prefix}"
    found = store.read_bytes(container, prefix + CHECKSUMS_NAME, 16 << 20)
    if found is None:
        raise CheckFailed(f"{where} is incomplete or missing: no {CHECKSUMS_NAME} (upload it first)")
    sums = checksums.parse(found[0], f"{where}{CHECKSUMS_NAME}")
    blobs = {b.path: b for b in store.list(container, prefix)}
    for name, digest in sorted(sums.items()):
        blob = blobs.get(prefix + name)
        if blob is None:
            raise CheckFailed(f"{where}{name} is listed in {CHECKSUMS_NAME} but missing")
        if blob.sha256 != digest:
            raise CheckFailed(
                f"{where}{name} has sha256 {str(blob.sha256)[:12]}..., {CHECKSUMS_NAME} says {digest[:12]}..."
            )
    if manifest_sha256 is not None and sums.get(MANIFEST_NAME) != manifest_sha256:
        raise CheckFailed(f"{where}{MANIFEST_NAME} is not the manifest the pointer expects")
    return [blobs[prefix + name] for name in sorted(sums)] + [blobs[prefix + CHECKSUMS_NAME]]


@dataclass(frozen=True)
class ReleaseDigests:
    """What a pointer binds a version to: its manifest's and its package zip's sha256."""

    manifest_sha256: str
    package_sha256: str


def verify_release(store: Store, container: str, product: str, version: str, public_key: PublicKey,
                   manifest_sha256: str | None = None) -> ReleaseDigests:
    """`verify_version`, plus the signed manifest: returns the digests a pointer names.

    For commands that point a channel at a version already in the store (rollback,
    promote): the version must be complete (every SHA256SUMS file present with its
    sha256), manifest.json's bytes must hash to the SHA256SUMS entry, its signature must
    verify with the release key, and it must describe `product` `version`. Only the
    small manifest and signature are downloaded. Raises CheckFailed / VerificationError.
    """
    prefix = version_prefix(product, version)
    where = f"{container}/{prefix}"
    blobs = {b.path: b for b in verify_version(store, container, product, version, manifest_sha256)}
    listed = blobs.get(prefix + MANIFEST_NAME)
    if listed is None:
        raise CheckFailed(f"{where}{CHECKSUMS_NAME} does not list {MANIFEST_NAME}")
    found = store.read_bytes(container, prefix + MANIFEST_NAME, 16 << 20)
    sig = store.read_bytes(container, prefix + manifest_fmt.SIGNATURE_NAME, 4096)
    if found is None or sig is None:
        raise CheckFailed(f"{where}{MANIFEST_NAME if found is None else manifest_fmt.SIGNATURE_NAME} is missing")
    data = found[0]
    digest = sha256(data).hexdigest()
    if digest != listed.sha256:
        raise VerificationError(f"{where}{MANIFEST_NAME} does not match {CHECKSUMS_NAME} (sha256 {digest[:12]}...)")
    public_key.verify(data, sig[0], f"{where}{MANIFEST_NAME}")
    manifest = manifest_fmt.parse(data, f"{where}{MANIFEST_NAME}")
    if (manifest.product, manifest.version) != (product, version):
        raise VerificationError(
            f"{where}{MANIFEST_NAME} describes {manifest.product} {manifest.version}, not {product} {version}"
        )
    package = blobs.get(prefix + package_name(product, version))
    if package is None or package.sha256 is None:
        raise CheckFailed(f"{where}{CHECKSUMS_NAME} does not list {package_name(product, version)}")
    return ReleaseDigests(digest, package.sha256)


class PointerConflict(CheckFailed):
    """The pointer changed between our read and our write (compare-and-swap failed), or
    another writer replaced our pointer before we signed it. Nothing of ours is left
    half-done: read again and decide again (repoint.write_moves does)."""


SIGNATURE_ATTEMPTS = 5


def write_channel(store: Store, container: str, pointer: pointer_fmt.Pointer, key: SigningKey,
                  cache_control: str, expected_etag: str | None, existed: bool, *,
                  signature_etag: str | None = None, signature_existed: bool | None = None) -> list[str]:
    """Write `<pointer>.json` (conditionally), then `<pointer>.json.sig` (conditionally).

    The .json write is a compare-and-swap against the etag read before (or "only if
    absent" when there was none), so two concurrent writers cannot silently overwrite
    each other's pointer: the loser gets PointerConflict (a CheckFailed), having changed
    nothing, and reads again.

    The .sig write is a compare-and-swap too (given `signature_existed`, against the
    signature read with the pointer), so that a slow writer whose pointer was already
    replaced cannot put its signature beside the newer pointer: when the swap fails,
    the signature is written only while the .json is still ours (checked after reading
    the signature's etag); if another writer replaced our .json meanwhile, that writer
    signs its own pointer and we get PointerConflict. The last .json written therefore
    always ends with its own signature. Between the two writes (or after a crash between
    them) a client sees a signature that does not match and refuses the pointer (fail
    closed); the next run rewrites both, because a pointer that does not verify with the
    release key is always rewritten. Returns the paths written.
    """
    path = pointer_fmt.pointer_path(pointer.product, pointer.channel)
    sig_path = signature_path(path)
    data = pointer.to_bytes()
    signature = key.sign(data)
    try:
        ours = store.write_bytes(container, path, data, cache_control,
                                 if_match=expected_etag if existed else None, if_none_match=not existed)
    except PreconditionFailed:
        # Either another writer got there first, or our own write landed and only its answer
        # was lost (a retried request then fails its own condition): the bytes tell.
        found = store.read_bytes(container, path, MAX_POINTER)
        if found is None or found[0] != data:
            raise PointerConflict(
                f"{container}/{path} changed while this command ran (another upload?); nothing was overwritten, re-run"
            ) from None
        ours = found[1]
    logger.info("%s/%s -> %s %s (sequence %d)", container, path, pointer.product, pointer.version, pointer.sequence)
    if signature_existed is None:  # no expectation given: plain write
        store.write_bytes(container, sig_path, signature, cache_control)
        return [path, sig_path]
    sig_exists, sig_etag = signature_existed, signature_etag
    for _ in range(SIGNATURE_ATTEMPTS):
        try:
            store.write_bytes(container, sig_path, signature, cache_control,
                              if_match=sig_etag if sig_exists else None, if_none_match=not sig_exists)
            return [path, sig_path]
        except PreconditionFailed:
            # Someone wrote the signature since we read it. The etag of the signature
            # first, then whether the .json is still ours: a later .json write by
            # another writer is followed by its own signature write, which then fails
            # its swap and repeats this check, so the newest pointer is signed last.
            current_sig = store.stat(container, sig_path)
            current = store.stat(container, path)
            if current is None or current.etag != ours.etag:
                raise PointerConflict(
                    f"{container}/{path} was replaced by another writer before this command signed it"
                ) from None
            sig_exists, sig_etag = current_sig is not None, current_sig.etag if current_sig else None
    raise PointerConflict(f"{container}/{sig_path} kept changing while this command signed its pointer; re-run")
