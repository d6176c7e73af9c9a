"""verify --remote: download a channel pointer (and the release it names) or a versioned
package over HTTPS, then verify it exactly as the offline verify does, plus the pointer
rules TUF clients apply: valid signature, not expired (freeze protection), sequence not
lower than the last one seen (rollback protection).

- The URL may carry a SAS query string (`?sv=...&sig=...`, from `b2release grant`): it is
  re-used for the sibling files, registered as a secret and never shown (messages name the
  URL without its query).
- Downloads go into a temp dir we own, with a size cap per file, a timeout, and bounded
  exponential backoff on 5xx / 429 / timeouts / dropped connections. Redirects are not
  followed (a SAS must not travel to another host).
- https only; plain http needs `--allow-insecure-http` (local mirrors, test servers) and warns.
- `--last-seen FILE` (JSON, written atomically) records per `<product>/<channel>` the
  sequence, version and manifest sha256 last accepted.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from b2release import log
from b2release.context import Context
from b2release.errors import InputError, RemoteError, UsageError, VerificationError
from b2release.formats import checksums
from b2release.formats import pointer as pointer_fmt
from b2release.formats.manifest import CHECKSUMS_NAME, MANIFEST_NAME
from b2release.formats.names import validate_product_name, validate_version
from b2release.fsutil import atomic_write_bytes, sha256_file
from b2release.redact import MASK, register_secret
from b2release.stages import StageResult
from b2release.stages import verify as verify_stage

NAME = "verify"
LAST_SEEN_FORMAT = "b2release-last-seen/1"

# Size caps: a hostile or broken server must not fill the disk or the memory.
MAX_POINTER = 64 << 10
MAX_SIGNATURE = 4096
MAX_METADATA = 16 << 20  # SHA256SUMS, manifest.json
MAX_ATTACHMENT = 256 << 20  # SBOM and other files listed in SHA256SUMS
MAX_PACKAGE = 4 << 30
MAX_LISTED_FILES = 64  # SHA256SUMS is not signed: do not let it make us download without end

TIMEOUT_S = 30.0
RETRIES = 4
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0
RETRY_AFTER_CAP_S = 60.0
CHUNK = 1 << 16
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _default_sleep(seconds: float) -> None:
    time.sleep(seconds)


# Tests replace this with a recorder so retries never really wait.
sleep: Callable[[float], None] = _default_sleep


@dataclass
class Options:
    url: str
    public_key: Path | None = None
    ca: Path | None = None
    last_seen: Path | None = None
    allow_insecure_http: bool = False


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
    parts = urlsplit(url)
    if parts.query:
        # Register before any message can mention the URL: the query is a SAS credential.
        register_secret(parts.query)
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name.lower() == "sig":
                register_secret(value)
    shown = f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{MASK}" if parts.query else "")
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
    prefix = f"{parts.scheme}://{parts.netloc}{'/'.join(raw[:-3])}/"
    first, second, last = segs[-3], segs[-2], segs[-1]
    if second == "channels" and last.endswith(".json"):
        product = validate_product_name(first)
        channel = pointer_fmt.validate_channel(last[: -len(".json")])
        return Target("pointer", prefix, product, channel=channel, query=parts.query)
    if last == f"{first}-{second}.zip":
        product = validate_product_name(first)
        version = validate_version(second)
        return Target("package", prefix, product, version=version, query=parts.query)
    raise UsageError(expected)


# --- downloads -----------------------------------------------------------------------------
class Missing(Exception):
    """The server answered 404 for a file (the caller decides what that means)."""


def _backoff(attempt: int) -> float:
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * (2**attempt))


class Downloader:
    def __init__(self, allow_insecure_http: bool, timeout: float = TIMEOUT_S, retries: int = RETRIES):
        import requests

        from b2release import __version__

        self.allow_insecure_http = allow_insecure_http
        self.timeout = timeout
        self.retries = retries
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"b2release/{__version__}"
        self.bytes = 0
        self.files = 0

    def close(self) -> None:
        self.session.close()

    def fetch(self, url: str, display: str, dest: Path, limit: int) -> int:
        """Download `url` into `dest` (at most `limit` bytes); retry transient failures."""
        import requests

        logger = log.get(NAME)
        attempt = 0
        while True:
            wait: float | None = None
            try:
                with self.session.get(url, stream=True, timeout=self.timeout, allow_redirects=False) as resp:
                    status = resp.status_code
                    if status == 200:
                        size = self._save(resp, display, dest, limit)
                        self.bytes += size
                        self.files += 1
                        return size
                    if status == 404:
                        raise Missing(display)
                    if status == 429 or status >= 500:
                        problem = f"HTTP {status}"
                        after = resp.headers.get("Retry-After", "")
                        if after.strip().isdigit():
                            wait = min(float(after), RETRY_AFTER_CAP_S)
                    else:
                        hint = None
                        if status in (401, 403):
                            hint = "a download grant (SAS) may have expired or been revoked: ask for a new one"
                        if 300 <= status < 400:
                            raise RemoteError(f"{display}: HTTP {status} redirect; redirects are not followed")
                        raise RemoteError(f"{display}: HTTP {status}", hint=hint)
            except requests.exceptions.SSLError:
                raise RemoteError(f"{display}: TLS handshake or certificate verification failed") from None
            except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                # Exception texts may contain the full URL with its SAS: report the kind only.
                problem = f"{type(exc).__name__}"
            except requests.RequestException as exc:
                raise RemoteError(f"{display}: request failed ({type(exc).__name__})") from None
            if attempt >= self.retries:
                raise RemoteError(f"{display}: download failed after {attempt + 1} attempts ({problem})")
            delay = _backoff(attempt) if wait is None else wait
            logger.warning("%s: %s; retrying in %gs (attempt %d of %d)", display, problem, delay, attempt + 2,
                           self.retries + 1)
            sleep(delay)
            attempt += 1

    def _save(self, resp: Any, display: str, dest: Path, limit: int) -> int:
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


# --- last seen -----------------------------------------------------------------------------
def load_last_seen(path: Path | None) -> dict[str, Any]:
    """The pointers accepted so far; a missing file means "none yet" (first use)."""
    if path is None or not path.exists():
        return {"format": LAST_SEEN_FORMAT, "pointers": {}}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        # Refuse rather than start afresh: resetting this file disables rollback protection.
        raise InputError(f"--last-seen {path} is not a readable JSON file ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or doc.get("format") != LAST_SEEN_FORMAT or not isinstance(doc.get("pointers"), dict):
        raise InputError(f"--last-seen {path} is not a {LAST_SEEN_FORMAT} document")
    for key, entry in doc["pointers"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("sequence"), int):
            raise InputError(f"--last-seen {path}: entry {key!r} has no integer sequence")
    return doc


def save_last_seen(path: Path, doc: dict[str, Any]) -> None:
    atomic_write_bytes(path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8"))


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


def verify_pointer(ctx: Context, target: Target, key: Any, dl: Downloader, tmp: Path,
                   last_seen: dict[str, Any], audit: Any = None) -> tuple[verify_stage.Report, pointer_fmt.Pointer]:
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
    try:
        validate_version(pointer.version)
    except UsageError:
        raise VerificationError(f"{what} names an invalid version {pointer.version!r}") from None
    if not _HEX64.match(pointer.manifest_sha256):
        raise VerificationError(f"{what}: manifest_sha256 is not a sha256 hex digest")

    seen = last_seen["pointers"].get(f"{target.product}/{target.channel}")
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

    report = verify_stage.Report(path=shown_folder, kind="remote-pointer")
    entries = tmp / "entries"
    entries.mkdir()
    try:
        verify_stage.verify_folder(folder, key, report, audit, entries)
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
    except VerificationError as exc:
        raise _rewrite_paths(exc, folder, shown_folder) from None
    report.checks.insert(0, f"channel pointer signature valid (key {key.key_id[:16]}...)")
    report.checks.insert(1, f"pointer not expired (expires {pointer.expires_at})")
    if seen:
        report.checks.insert(2, f"sequence {pointer.sequence} not lower than the last seen {seen['sequence']}")
    report.checks.append(f"{MANIFEST_NAME} sha256 equals the pointer's manifest_sha256")
    report.notes = [n.replace(str(folder) + "/", shown_folder).replace(str(folder), shown_folder) for n in report.notes]
    if pointer.rollback:
        report.notes.append(f"deliberate rollback: {json.dumps(pointer.rollback, sort_keys=True)}")
    return report, pointer


def verify_package(target: Target, key: Any, dl: Downloader, tmp: Path, audit: Any = None) -> verify_stage.Report:
    rel = target.self_rel
    shown = target.display(rel)
    dest = tmp / f"{target.product}-{target.version}.zip"
    try:
        dl.fetch(target.url(rel), shown, dest, MAX_PACKAGE)
    except Missing:
        raise RemoteError(f"{shown}: HTTP 404 (no such package)") from None
    report = verify_stage.Report(path=shown, kind="remote-package")
    entries = tmp / "entries"
    entries.mkdir()
    try:
        verify_stage.verify_zip(dest, key, report, audit, entries)
    except VerificationError as exc:
        exc.message = exc.message.replace(str(dest), shown)
        exc.args = (exc.message,)
        raise exc from None
    if (report.product, report.version) != (target.product, target.version):
        raise VerificationError(
            f"{shown}: the package is {report.product} {report.version}, not {target.product} {target.version}"
        )
    return report


def run(ctx: Context, options: Options) -> StageResult:
    logger = log.get(NAME)
    target = parse_target(options.url, options.allow_insecure_http)
    if target.prefix.startswith("http:"):
        logger.warning("downloading over plain http (--allow-insecure-http): transport is not protected; "
                       "only the signatures vouch for the files")
    if target.kind == "package" and options.last_seen is not None:
        raise UsageError("--last-seen applies to channel pointers; this URL names a versioned package")
    key = verify_stage.resolve_public_key(ctx, options.public_key)
    last_seen = load_last_seen(options.last_seen)

    # Authenticode of the downloaded PE files: against --ca, else reported as information.
    from b2release.signers.audit import AuthenticodeAudit

    audit = AuthenticodeAudit.create(Path(options.ca) if options.ca is not None else None)
    dl = Downloader(options.allow_insecure_http)
    try:
        with tempfile.TemporaryDirectory(prefix="b2release-remote-") as tmp_name:
            tmp = Path(tmp_name)
            if target.kind == "pointer":
                report, pointer = verify_pointer(ctx, target, key, dl, tmp, last_seen, audit)
            else:
                report, pointer = verify_package(target, key, dl, tmp, audit), None
    finally:
        dl.close()

    report.authenticode = sorted(audit.results, key=lambda r: r["file"])
    checks, notes = audit.summary()
    report.checks.extend(checks)
    report.notes.extend(notes)
    data = report.to_dict()
    data.update({"remote": target.display(target.self_rel), "downloaded_bytes": dl.bytes, "downloaded_files": dl.files})
    if pointer is None:
        summary = (f"verified {report.product} {report.version} from {target.display(target.self_rel)}: "
                   f"{report.files} files, key {report.key_id[:16]}...")
        return StageResult(stage=NAME, summary=summary, data=data)

    data["pointer"] = pointer.to_dict()
    if options.last_seen is not None:
        last_seen["pointers"][f"{target.product}/{target.channel}"] = {
            "sequence": pointer.sequence,
            "version": pointer.version,
            "manifest_sha256": pointer.manifest_sha256,
            "issued_at": pointer.issued_at,
        }
        save_last_seen(options.last_seen, last_seen)
        data["last_seen"] = str(options.last_seen)
    summary = (f"verified channel {target.channel} of {target.product}: {pointer.version} "
               f"(sequence {pointer.sequence}, expires {pointer.expires_at}), {report.files} files, "
               f"key {report.key_id[:16]}...")
    return StageResult(stage=NAME, summary=summary, data=data)
