"""verify --remote: download a channel pointer (and the release it names) or a versioned
package over HTTPS, then verify it exactly as the offline verify does, plus the pointer
rules TUF clients apply: valid signature, not expired (freeze protection), sequence not
lower than the last one seen (rollback protection).

- The URL may carry a SAS query string (`?sv=...&sig=...`, from `b2release grant`): it is
  re-used for the sibling files, registered as a secret and never shown (messages name the
  URL without its query).
- Downloads go into a temp dir we own, with a size cap per file, through b2release.http
  (timeouts, bounded retries, no redirects: a SAS must not travel to another host).
- https only; plain http needs `--allow-insecure-http` (local mirrors, test servers).
- The pointers accepted so far (`--last-seen`) are verification.last_seen's.
- The build provenance is checked as the offline verify checks it: for a pointer, it is
  one of the files SHA256SUMS lists; for a package URL, the `.intoto.jsonl` beside it.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from b2release.errors import RemoteError, UsageError, VerificationError
from b2release.formats import checksums
from b2release.formats import pointer as pointer_fmt
from b2release.formats.manifest import CHECKSUMS_NAME, MANIFEST_NAME
from b2release.formats.names import container_name_problem, validate_product_name, validate_version
from b2release.formats.provenance import envelope_name
from b2release.fsutil import sha256_file
from b2release.http import HttpClient
from b2release.redact import MASK, register_secret
from b2release.verification import last_seen, package
from b2release.verification.provenance import NO_EXPECTATIONS, Expectations, check_beside

# Size caps: a hostile or broken server must not fill the disk or the memory.
MAX_POINTER = 64 << 10
MAX_SIGNATURE = 4096
MAX_METADATA = 16 << 20  # SHA256SUMS, manifest.json
MAX_ATTACHMENT = 256 << 20  # SBOM and other files listed in SHA256SUMS
MAX_PACKAGE = 4 << 30
MAX_LISTED_FILES = 64  # SHA256SUMS is not signed: do not let it make us download without end

TIMEOUT_S = 30.0
RETRIES = 4
CHUNK = 1 << 16


# --- the URL -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """What --remote names: a channel pointer or a versioned package, and where its siblings are."""

    kind: str  # "pointer" | "package"
    prefix: str  # scheme://host/.../ up to (and including) the '/' before <product>
    product: str
    channel: str = ""
    version: str = ""
    query: str = ""
    host: str = ""  # host[:port], no user info: part of the last-seen key
    container: str | None = None  # the path segment before <product>, when it is a container name

    def last_seen_key(self, container: str) -> str:
        return last_seen.key_for(self.host, container, self.product, self.channel)

    def url(self, rel: str) -> str:
        """Download URL of a file `rel` (relative to the prefix), carrying the SAS query if any."""
        quoted = "/".join(quote(seg, safe="") for seg in rel.split("/"))
        return self.prefix + quoted + (f"?{self.query}" if self.query else "")

    def display(self, rel: str) -> str:
        """The same URL for messages: the query (a SAS) is never shown."""
        return self.prefix + rel + (f"?{MASK}" if self.query else "")

    @property
    def self_rel(self) -> str:
        if self.kind == "pointer":
            return pointer_fmt.pointer_path(self.product, self.channel)
        return f"{self.product}/{self.version}/{self.product}-{self.version}.zip"


def parse_target(url: str, allow_insecure_http: bool = False) -> Target:
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise UsageError("--remote is not a URL (malformed host)") from None
    if parts.query:
        # Register before any message can mention the URL: the query is a SAS credential.
        register_secret(parts.query)
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name.lower() == "sig":
                register_secret(value)
    netloc = parts.netloc.rpartition("@")[2]  # never show user info
    shown = f"{parts.scheme}://{netloc}{parts.path}" + (f"?{MASK}" if parts.query else "")
    if "@" in parts.netloc:
        register_secret(parts.netloc.rpartition("@")[0])
        register_secret(parts.password)
        raise UsageError(f"--remote {shown}: a user name or password in the URL is not accepted; a download "
                         "grant is a SAS query (b2release grant)")
    if parts.scheme == "http":
        if not allow_insecure_http:
            raise UsageError(
                f"--remote {shown} uses plain http; use https (or --allow-insecure-http for a local mirror)"
            )
    elif parts.scheme != "https":
        raise UsageError(f"--remote must be an https URL, got {shown!r}")
    if not parts.netloc or parts.fragment:
        raise UsageError(f"--remote must be an https URL with a host and no #fragment, got {shown!r}")
    raw = parts.path.split("/")
    segs = [unquote(s) for s in raw]
    expected = (
        "--remote must name a channel pointer (.../<product>/channels/<channel>.json) or a package "
        f"(.../<product>/<version>/<product>-<version>.zip), got {shown}"
    )
    if len(segs) < 4:
        raise UsageError(expected)
    try:
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # a malformed host or port (e.g. "[::1" or ":99999")
        raise UsageError(f"--remote {shown}: the host or port is malformed") from None
    host = f"[{host}]" if ":" in host else host
    host += f":{port}" if port else ""
    prefix = f"{parts.scheme}://{parts.netloc}{'/'.join(raw[:-3])}/"
    container = segs[-4] if len(segs) >= 5 and container_name_problem(segs[-4]) is None else None
    first, second, last = segs[-3], segs[-2], segs[-1]
    if second == "channels" and last.endswith(".json"):
        product = validate_product_name(first)
        channel = pointer_fmt.validate_channel(last[: -len(".json")])
        return Target("pointer", prefix, product, channel=channel, query=parts.query, host=host, container=container)
    if last == f"{first}-{second}.zip":
        product = validate_product_name(first)
        version = validate_version(second)
        return Target("package", prefix, product, version=version, query=parts.query, host=host, container=container)
    raise UsageError(expected)


# --- downloads -----------------------------------------------------------------------------
class Missing(Exception):
    """The server answered 404 for a file (the caller decides what that means)."""


class Downloader:
    """Files into a temp dir we own, with a size cap per file, through b2release.http."""

    def __init__(self, timeout: float = TIMEOUT_S, retries: int = RETRIES):
        self.http = HttpClient(timeout=timeout, retries=retries, logger="verify")
        self.bytes = 0
        self.files = 0

    def close(self) -> None:
        self.http.close()

    def fetch(self, url: str, display: str, dest: Path, limit: int) -> int:
        """Download `url` into `dest` (at most `limit` bytes). Missing on 404."""

        def handle(resp: Any) -> int:
            status = resp.status_code
            if status == 200:
                return self._save(resp, display, dest, limit)
            if status == 404:
                raise Missing(display)
            if 300 <= status < 400:
                raise RemoteError(f"{display}: HTTP {status} redirect; redirects are not followed")
            hint = None
            if status in (401, 403):
                hint = "a download grant (SAS) may have expired or been revoked: ask for a new one"
            raise RemoteError(f"{display}: HTTP {status}", hint=hint)

        size = self.http.call("GET", url, display=f"{display}: download", handle=handle, stream=True)
        self.bytes += size
        self.files += 1
        return size

    @staticmethod
    def _save(resp: Any, display: str, dest: Path, limit: int) -> int:
        declared = resp.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise VerificationError(f"{display} is implausibly large ({declared} bytes, limit {limit})")
        size = 0
        with open(dest, "wb") as out:
            for chunk in resp.iter_content(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise VerificationError(f"{display} is larger than the {limit}-byte limit")
                out.write(chunk)
        return size


# --- verification --------------------------------------------------------------------------
def _rewrite_paths(exc: VerificationError, folder: Path, shown: str) -> VerificationError:
    """Name the remote file, not our temp copy, in messages about the release folder."""
    exc.message = exc.message.replace(str(folder) + "/", shown).replace(str(folder), shown.rstrip("/"))
    exc.args = (exc.message,)
    return exc


def _fetch_small(dl: Downloader, target: Target, rel: str, tmp: Path, limit: int) -> bytes:
    dest = tmp / f"small-{dl.files}"
    dl.fetch(target.url(rel), target.display(rel), dest, limit)
    return dest.read_bytes()


def verify_pointer(target: Target, container: str, key: Any, dl: Downloader, tmp: Path,
                   seen_so_far: dict[str, Any], audit: Any = None,
                   expect: Expectations = NO_EXPECTATIONS) -> tuple[package.Report, pointer_fmt.Pointer]:
    """The pointer at `target`, which must be the one written for `container`, and the
    release it names, downloaded into `tmp` and verified."""
    rel = target.self_rel
    shown = target.display(rel)
    what = f"channel pointer {shown}"
    try:
        data = _fetch_small(dl, target, rel, tmp, MAX_POINTER)
    except Missing:
        raise RemoteError(f"{shown}: HTTP 404 (no such channel pointer)") from None
    try:
        signature = _fetch_small(dl, target, rel + ".sig", tmp, MAX_SIGNATURE)
    except Missing:
        raise VerificationError(f"{what} has no signature ({target.display(rel + '.sig')}: HTTP 404)") from None
    key.verify(data, signature, what)
    pointer = pointer_fmt.parse(data, what)
    if (pointer.product, pointer.channel) != (target.product, target.channel):
        raise VerificationError(
            f"{what} is signed for {pointer.product}/{pointer.channel}, not {target.product}/{target.channel}"
        )
    if not pointer.bound:
        raise VerificationError(f"{what} is a {pointer_fmt.LEGACY_FORMAT} pointer, which names neither its container "
                                "nor its package; re-publish the channel (upload, promote or refresh) to bind it")
    if pointer.container != container:
        raise VerificationError(f"{what} was signed for container {pointer.container}, not {container}: "
                                "another tenant's pointer (or a copy of it) is served here; refusing")
    try:
        validate_version(pointer.version)
    except UsageError:
        raise VerificationError(f"{what} names an invalid version {pointer.version!r}") from None

    seen = seen_so_far["pointers"].get(target.last_seen_key(container))
    pointer_fmt.check_fresh(pointer, what, last_seen_sequence=seen["sequence"] if seen else None)
    if seen and pointer.sequence == seen["sequence"] and (
        pointer.manifest_sha256 != seen.get("manifest_sha256") or pointer.version != seen.get("version")
    ):
        raise VerificationError(
            f"{what} has the same sequence {pointer.sequence} as the last seen pointer but names another release "
            f"({pointer.version}, last seen {seen.get('version')}); refusing"
        )

    # The version folder the pointer names: SHA256SUMS first, then everything it lists.
    folder = tmp / "release"
    folder.mkdir()
    base = f"{target.product}/{pointer.version}/"
    shown_folder = target.prefix + base
    try:
        sums_bytes = _fetch_small(dl, target, base + CHECKSUMS_NAME, tmp, MAX_METADATA)
    except Missing:
        raise VerificationError(
            f"{what} names version {pointer.version}, but {target.display(base + CHECKSUMS_NAME)} is missing (HTTP 404)"
        ) from None
    sums = checksums.parse(sums_bytes, target.display(base + CHECKSUMS_NAME))
    if len(sums) > MAX_LISTED_FILES:
        raise VerificationError(
            f"{target.display(base + CHECKSUMS_NAME)} lists {len(sums)} files (limit {MAX_LISTED_FILES})"
        )
    (folder / CHECKSUMS_NAME).write_bytes(sums_bytes)
    for name in sorted(sums):
        if name == CHECKSUMS_NAME:
            continue
        if name.endswith(".zip"):
            limit = MAX_PACKAGE
        elif name.startswith(MANIFEST_NAME):
            limit = MAX_METADATA
        else:
            limit = MAX_ATTACHMENT
        try:
            dl.fetch(target.url(base + name), target.display(base + name), folder / name, limit)
        except Missing:
            raise VerificationError(
                f"{what} names version {pointer.version}, but {target.display(base + name)} is missing (HTTP 404)"
            ) from None

    report = package.Report(path=shown_folder, kind="remote-pointer")
    entries = tmp / "entries"
    entries.mkdir()
    try:
        package.verify_folder(folder, key, report, audit, entries, expect)
        if (report.product, report.version) != (pointer.product, pointer.version):
            raise VerificationError(
                f"{shown_folder}: the manifest is for {report.product} {report.version}, "
                f"but the pointer names {pointer.product} {pointer.version}"
            )
        digest, _ = sha256_file(folder / MANIFEST_NAME)
        if digest != pointer.manifest_sha256:
            raise VerificationError(
                f"{shown_folder}{MANIFEST_NAME} has sha256 {digest[:16]}..., but {what} names "
                f"{pointer.manifest_sha256[:16]}..."
            )
        zip_name = f"{pointer.product}-{pointer.version}.zip"
        digest, _ = sha256_file(folder / zip_name)
        if digest != pointer.package_sha256:
            raise VerificationError(
                f"{shown_folder}{zip_name} has sha256 {digest[:16]}..., but {what} names "
                f"{str(pointer.package_sha256)[:16]}..."
            )
    except VerificationError as exc:
        raise _rewrite_paths(exc, folder, shown_folder) from None
    report.checks.insert(0, f"channel pointer signature valid (key {key.key_id[:16]}...)")
    report.checks.insert(1, f"pointer not expired (expires {pointer.expires_at})")
    if seen:
        report.checks.insert(2, f"sequence {pointer.sequence} not lower than the last seen {seen['sequence']}")
    report.checks.insert(1, f"pointer bound to container {container}")
    report.checks.append(f"{MANIFEST_NAME} and the package's sha256 equal the pointer's")
    report.notes = [n.replace(str(folder) + "/", shown_folder).replace(str(folder), shown_folder) for n in report.notes]
    if pointer.rollback:
        report.notes.append(f"deliberate rollback: {json.dumps(pointer.rollback, sort_keys=True)}")
    return report, pointer


def verify_package(target: Target, key: Any, dl: Downloader, tmp: Path, audit: Any = None,
                   expect: Expectations = NO_EXPECTATIONS) -> package.Report:
    rel = target.self_rel
    shown = target.display(rel)
    dest = tmp / f"{target.product}-{target.version}.zip"
    try:
        dl.fetch(target.url(rel), shown, dest, MAX_PACKAGE)
    except Missing:
        raise RemoteError(f"{shown}: HTTP 404 (no such package)") from None
    report = package.Report(path=shown, kind="remote-package")
    entries = tmp / "entries"
    entries.mkdir()
    try:
        package.verify_zip(dest, key, report, audit, entries)
    except VerificationError as exc:
        exc.message = exc.message.replace(str(dest), shown)
        exc.args = (exc.message,)
        raise exc from None
    if (report.product, report.version) != (target.product, target.version):
        raise VerificationError(
            f"{shown}: the package is {report.product} {report.version}, not {target.product} {target.version}"
        )
    # A package URL names no SHA256SUMS: its provenance is the one file beside it, if published.
    rel_prov = f"{target.product}/{target.version}/{envelope_name(target.product, target.version)}"
    try:
        dl.fetch(target.url(rel_prov), target.display(rel_prov), tmp / envelope_name(target.product, target.version),
                 MAX_METADATA)
    except Missing:
        pass  # check_beside notes it, or fails when an expectation was given
    try:
        check_beside(tmp, dest, key, report, expect)
    except VerificationError as exc:
        exc.message = exc.message.replace(str(tmp) + "/", target.prefix + f"{target.product}/{target.version}/")
        exc.args = (exc.message,)
        raise exc from None
    return report


@dataclass
class RemoteOutcome:
    target: Target
    report: package.Report
    pointer: pointer_fmt.Pointer | None  # None for a package URL
    downloaded_bytes: int
    downloaded_files: int


def verify_remote(target: Target, container: str | None, key: Any, seen_so_far: dict[str, Any],
                  audit: Any = None, expect: Expectations = NO_EXPECTATIONS) -> RemoteOutcome:
    """Download what `target` names into a temp dir of ours and verify it; nothing is kept.
    A pointer must be the one written for `container`."""
    dl = Downloader()
    try:
        with tempfile.TemporaryDirectory(prefix="b2release-remote-") as tmp_name:
            tmp = Path(tmp_name)
            if target.kind == "pointer":
                if container is None:
                    raise UsageError(f"{target.display(target.self_rel)} names no container before "
                                     f"{target.product}/: pass --tenant ID to say whose pointer this must be")
                report, pointer = verify_pointer(target, container, key, dl, tmp, seen_so_far, audit, expect)
            else:
                report, pointer = verify_package(target, key, dl, tmp, audit, expect), None
    finally:
        dl.close()
    return RemoteOutcome(target, report, pointer, dl.bytes, dl.files)
