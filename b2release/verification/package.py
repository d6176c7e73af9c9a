"""Offline proof that a package (zip) or a release folder is what was signed.

Strictly offline: only the public key and the files are read; no socket is opened, and
nothing here imports Azure or requests (tests check it). Entries are inflated and hashed
on all cores, streamed (flat memory), and never extracted outside a temp dir we own. Every failure is a VerificationError (exit 1)
naming the file or entry. `verify` (local) and `verify --remote` (after downloading) both
end here.
"""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from b2release.errors import UsageError, VerificationError
from b2release.formats import checksums
from b2release.formats import manifest as manifest_fmt
from b2release.formats.archive_hash import hash_entries
from b2release.formats.archive_reader import PackageArchive, ZipEntry
from b2release.formats.manifest import (
    CHECKSUMS_NAME,
    MANIFEST_NAME,
    RESERVED_DIR,
    SIGNATURE_NAME,
    ZIP_MANIFEST,
    ZIP_SIGNATURE,
)
from b2release.formats.provenance import envelope_name
from b2release.formats.signature import PublicKey
from b2release.fsutil import sha256_file
from b2release.verification import versions
from b2release.verification.provenance import NO_EXPECTATIONS, Expectations, check_beside

MAX_MANIFEST = 16 << 20
MAX_SIGNATURE = 4096


@dataclass
class Options:
    path: Path | None = None
    public_key: Path | None = None
    ca: Path | None = None


@dataclass
class Report:
    path: str
    kind: str  # zip | folder
    product: str = ""
    version: str = ""
    key_id: str = ""
    algorithm: str = ""
    files: int = 0
    checks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    authenticode: list[dict[str, Any]] = field(default_factory=list)
    provenance: dict[str, Any] | None = None  # what the build provenance says, when there is one

    def to_dict(self) -> dict[str, Any]:
        return {
            "verified": True,
            "path": self.path,
            "kind": self.kind,
            "product": self.product,
            "version": self.version,
            "key_id": self.key_id,
            "algorithm": self.algorithm,
            "files": self.files,
            "checks": self.checks,
            "notes": self.notes,
            "authenticode": self.authenticode,
            "provenance": self.provenance,
        }


class EntryCheck(Protocol):
    """Checks the contents of payload entries (Authenticode: signers.audit.AuthenticodeAudit).

    Called from several worker threads at once, so it must be thread-safe. For each entry
    it sees its first bytes first (`head_length` of them, given the first `first_bytes`;
    never more than `head_bytes`); `wants_file` says whether it needs the whole entry, which
    is then copied to a temp file verify owns. `check` runs once the entry's sha256 matched
    the manifest, with that file's path or None.
    """

    head_bytes: int
    first_bytes: int

    def head_length(self, start: bytes) -> int: ...

    def wants_file(self, head: bytes, size: int) -> bool: ...

    def check(self, name: str, head: bytes, size: int, temp_path: Path | None) -> None: ...


class ProgressBar(Protocol):
    """b2release.progress.Progress: told the total, then each checked chunk (from worker threads)."""

    def begin(self, description: str, total: int) -> None: ...

    def advance(self, nbytes: int) -> None: ...


class _CheckSink:
    """One entry's bytes for an EntryCheck: its first bytes always, a temp copy only if asked for."""

    def __init__(self, check: EntryCheck, entry: ZipEntry, path: Path, expected_sha256: str,
                 mismatch: Callable[[str, str], VerificationError]):
        self.check, self.entry, self.path = check, entry, path
        self.expected, self.mismatch = expected_sha256, mismatch
        self.wanted = min(entry.size, check.first_bytes)
        self.sized = False  # whether `wanted` is the final head length yet
        self.head = bytearray()
        self.file = None
        self.decided = False

    def _decide(self) -> None:
        self.decided = True
        if self.check.wants_file(bytes(self.head), self.entry.size):
            self.file = open(self.path, "wb")
            self.file.write(self.head)

    def wants_more(self) -> bool:
        return not self.decided or self.file is not None

    def write(self, data: bytes) -> None:
        if self.file is not None:
            self.file.write(data)
            return
        if self.decided:
            return
        take = self.wanted - len(self.head)
        self.head += data[:take]
        if len(self.head) >= self.wanted and not self.sized:
            # The first bytes say how many the check looks at (a long DOS stub: more).
            self.sized = True
            self.wanted = min(self.entry.size, self.check.head_length(bytes(self.head)), self.check.head_bytes)
            more = self.wanted - len(self.head)
            if more > 0:
                self.head += data[take:take + more]
                take += more
        if len(self.head) >= self.wanted:
            self._decide()
            if self.file is not None and len(data) > take:
                self.file.write(data[take:])

    def finish(self, sha256: str, size: int) -> None:
        try:
            if not self.decided:
                self._decide()
            if self.file is not None:
                self.file.close()
            if sha256 != self.expected:  # the check sees verified bytes only
                raise self.mismatch(self.entry.name, sha256)
            self.check.check(self.entry.name, bytes(self.head), size, self.path if self.file is not None else None)
        finally:
            self.path.unlink(missing_ok=True)

    def abort(self) -> None:
        if self.file is not None:
            self.file.close()
        self.path.unlink(missing_ok=True)


def verify_zip(zip_path: Path, key: PublicKey, report: Report, entry_check: EntryCheck | None = None,
               temp_dir: Path | None = None, progress: ProgressBar | None = None) -> bytes:
    """Verify a package; returns the embedded manifest bytes.

    The strict reader (formats.archive_reader) checks the whole zip layout first: the
    signature covers the manifest, not the zip's structure, so only the writer's exact
    layout is accepted and every zip reader (Info-ZIP, 7-Zip, .NET) sees the entries
    verified here. Entries are then inflated and hashed in parallel, streaming; `progress`
    hears of the bytes of each (uncompressed).
    """
    label = zip_path.name
    if not zip_path.is_file():
        raise VerificationError(f"{zip_path} does not exist or is not a file")
    with PackageArchive.open(zip_path) as pkg:
        names = {entry.name: entry for entry in pkg.entries}
        if ZIP_MANIFEST not in names or ZIP_SIGNATURE not in names:
            raise VerificationError(f"{label}: no embedded {ZIP_MANIFEST} and {ZIP_SIGNATURE}; not a b2release package")
        manifest_bytes = pkg.read(names[ZIP_MANIFEST], MAX_MANIFEST)
        signature = pkg.read(names[ZIP_SIGNATURE], MAX_SIGNATURE)
        key.verify(manifest_bytes, signature, f"{label}: {ZIP_MANIFEST}")
        report.checks.append(f"{ZIP_MANIFEST} signature valid ({key.algorithm}, key {key.key_id[:16]}...)")
        manifest = manifest_fmt.parse(manifest_bytes, f"{label}: {ZIP_MANIFEST}")
        if manifest.key_id != key.key_id:
            raise VerificationError(f"{label}: manifest names key {manifest.key_id[:16]}..., not {key.key_id[:16]}...")
        report.checks.append("zip layout is exactly the writer's (one reading for every zip reader)")

        expected = manifest.file_map()
        attachments = {f"{RESERVED_DIR}/{a['path']}": a for a in (manifest.attachments or [])}
        for name in names:
            if name in (ZIP_MANIFEST, ZIP_SIGNATURE) or name in attachments or name in expected:
                continue
            raise VerificationError(f"{label}: entry {name} is not listed in the manifest (added after signing)")
        for name in expected:
            if name not in names:
                raise VerificationError(f"{label}: entry {name} listed in the manifest is missing")
        for name in attachments:
            if name not in names:
                raise VerificationError(f"{label}: attachment {name} listed in the manifest is missing")

        checked = {n: (expected[n].size, expected[n].sha256) for n in sorted(expected)}
        checked.update({n: (int(a["size"]), a["sha256"]) for n, a in sorted(attachments.items())})
        for name, (size, _) in checked.items():  # before inflating anything
            if names[name].size != size:
                raise VerificationError(f"{label}: entry {name} does not match the manifest (size {names[name].size})")

        def mismatch(name: str, digest: str) -> VerificationError:
            return VerificationError(f"{label}: entry {name} does not match the manifest (sha256 {digest[:16]}...)")

        sink = None
        if entry_check is not None and temp_dir is not None:
            def sink(entry: ZipEntry) -> _CheckSink | None:
                if entry.name not in expected:
                    return None
                return _CheckSink(entry_check, entry, temp_dir / f"entry-{entry.index}", checked[entry.name][1],
                                  mismatch)

        if progress is not None:
            progress.begin(f"verifying {len(checked):,} files", sum(size for size, _ in checked.values()))
        digests = hash_entries(pkg, [names[n] for n in checked], sink=sink,
                               progress=progress.advance if progress is not None else None)
        for name, (size, digest) in checked.items():
            if digests[name] != (digest, size):
                raise mismatch(name, digests[name][0])
        report.checks.append(f"{len(expected)} payload entries match the manifest")
        if (stamped := versions.check_stamped(pkg, names, manifest, label)) is not None:
            report.checks.append(stamped)

    report.product, report.version = manifest.product, manifest.version
    report.key_id, report.algorithm = key.key_id, key.algorithm
    report.files = len(expected)
    return manifest_bytes


def verify_folder(folder: Path, key: PublicKey, report: Report, entry_check: EntryCheck | None = None,
                  temp_dir: Path | None = None, expect: Expectations = NO_EXPECTATIONS,
                  progress: ProgressBar | None = None) -> None:
    sums_path = folder / CHECKSUMS_NAME
    if not sums_path.is_file():
        raise VerificationError(f"{folder}: no {CHECKSUMS_NAME}; not a b2release release folder")
    if sums_path.stat().st_size > MAX_MANIFEST:
        raise VerificationError(f"{sums_path} is implausibly large")
    sums = checksums.parse(sums_path.read_bytes(), str(sums_path))
    for name in sorted(sums):
        if not (folder / name).is_file():
            raise VerificationError(f"{folder / name} is listed in {CHECKSUMS_NAME} but missing")
    # The files are hashed beside the rest (the zip is most of the bytes, and the entries'
    # own checks leave a core idle at first); a mismatch is still the error reported first.
    position = len(report.checks)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256sums") as pool:
        summed = pool.submit(_check_sums, folder, sums)
        try:
            _verify_listed(folder, sums, key, report, entry_check, temp_dir, expect, progress)
        except BaseException:
            summed.result()
            raise
        summed.result()
    report.checks.insert(position, f"{len(sums)} files match {CHECKSUMS_NAME}")


def _check_sums(folder: Path, sums: dict[str, str]) -> None:
    for name, expected in sorted(sums.items()):
        path = folder / name
        try:
            digest, _ = sha256_file(path)
        except FileNotFoundError:
            raise VerificationError(f"{path} is listed in {CHECKSUMS_NAME} but missing") from None
        if digest != expected:
            raise VerificationError(f"{path} does not match {CHECKSUMS_NAME}")


def _verify_listed(folder: Path, sums: dict[str, str], key: PublicKey, report: Report, entry_check: EntryCheck | None,
                   temp_dir: Path | None, expect: Expectations, progress: ProgressBar | None) -> None:
    sums_path = folder / CHECKSUMS_NAME
    for required in (MANIFEST_NAME, SIGNATURE_NAME):
        if required not in sums:
            raise VerificationError(f"{sums_path} does not list {required}")
    manifest_bytes = (folder / MANIFEST_NAME).read_bytes()
    key.verify(manifest_bytes, (folder / SIGNATURE_NAME).read_bytes(), str(folder / MANIFEST_NAME))
    manifest = manifest_fmt.parse(manifest_bytes, str(folder / MANIFEST_NAME))
    zip_name = f"{manifest.product}-{manifest.version}.zip"
    if zip_name not in sums:
        raise VerificationError(f"{sums_path} does not list the package {zip_name}")
    embedded = verify_zip(folder / zip_name, key, report, entry_check, temp_dir, progress)
    if embedded != manifest_bytes:
        raise VerificationError(f"{folder / zip_name}: embedded manifest differs from {folder / MANIFEST_NAME}")
    report.checks.append(f"{MANIFEST_NAME} equals the manifest embedded in {zip_name}")
    check_beside(folder, folder / zip_name, key, report, expect, zip_sha256=sums[zip_name], listed=set(sums))
    listed = set(sums) | {CHECKSUMS_NAME}
    if report.provenance is not None:  # verified by its signature even when SHA256SUMS omits it
        listed.add(envelope_name(report.product, report.version))
    extra = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in listed and not p.name.startswith("."))
    if extra:
        report.notes.append(f"files not covered by {CHECKSUMS_NAME} (not verified): {', '.join(extra)}")


def verify_path(path: Path, key: PublicKey, entry_check: EntryCheck | None = None,
                expect: Expectations = NO_EXPECTATIONS, progress: ProgressBar | None = None) -> Report:
    if not path.exists():
        raise UsageError(f"{path} does not exist")
    report = Report(path=str(path), kind="folder" if path.is_dir() else "zip")
    with tempfile.TemporaryDirectory(prefix="b2release-verify-") as tmp:
        temp_dir = Path(tmp)
        if path.is_dir():
            verify_folder(path, key, report, entry_check, temp_dir, expect, progress)
        else:
            verify_zip(path, key, report, entry_check, temp_dir, progress)
            # A zip alone: its provenance, if any, is the file beside it.
            check_beside(path.parent, path, key, report, expect)
    return report
