"""The staging gate of `promote` (docs/rollback.md, "The staging gate").

A promote between a gated pair of channels (`[promote] gated`, e.g. `staging->stable`)
moves a container only if the release its source channel serves there

- **verify**: passes `verify --remote` (verification/remote.py: pointer signature, binding,
  expiry; the version folder; the zip, its manifest, every entry) downloaded through the
  address that container's tenant downloads from: `{cdn.base_url}/{container}/...` when a
  CDN base URL is configured; else the Azure blob URL with a read-only container SAS made
  for this check (15 minutes, bound to no stored access policy: nothing in the store
  changes); a `file://` store without a CDN has no URL, so its folder is read in place by
  the same code. What is served must be the release the store's pointer names: a CDN still
  serving an older pointer fails the check (purge, then promote again);
- **soak**: has been on the source channel for at least `[promote] min_soak`, measured from
  the signed pointer's `since` (formats/pointer.py: carried over by refresh and by every
  re-issue of the same release; `issued_at` for an older pointer without it), never from
  local files;
- **provenance**: its build provenance (`<product>-<version>.intoto.jsonl`, fetched the same
  way, signature and subject checked against the pointer's package digest) records a test
  run with no failed test and a scan whose result is `pass`.

Every container is checked and every failed condition named; the command decides (refuse,
or record an override with `--force --reason`). Read-only: downloads into temp dirs, nothing
is kept, nothing is written.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from b2release import cdn, fanout
from b2release.config import Config
from b2release.errors import B2ReleaseError, ConfigError, UsageError, VerificationError
from b2release.formats import canonical, dsse
from b2release.formats import pointer as pointer_fmt
from b2release.formats.provenance import check_provenance, envelope_name
from b2release.formats.signature import PublicKey
from b2release.stores.base import Store
from b2release.verification import remote

SAS_MINUTES = 15  # long enough to download a release, short enough not to matter if it leaked
WORKERS = 4  # containers checked at once (each downloads a whole release)
CHECKS = ("verify", "soak", "provenance")


@dataclass(frozen=True)
class Failure:
    check: str  # one of CHECKS
    container: str
    message: str


@dataclass
class GateReport:
    pair: str  # "staging->stable"
    min_soak_s: int
    via: str  # where the releases were read: "cdn", "blob" or "folder"
    passed: dict[str, list[str]] = field(default_factory=dict)  # container -> what passed
    failures: list[Failure] = field(default_factory=list)

    @property
    def failed_checks(self) -> list[str]:
        return [c for c in CHECKS if any(f.check == c for f in self.failures)]

    def message(self, listed: int = 5) -> str:
        """One line for many containers: each failure once, with the containers it was found in
        (`<container>` standing for each in the text; the JSON document lists them one by one)."""
        groups: dict[tuple[str, str], list[str]] = {}
        for f in self.failures:
            groups.setdefault((f.check, f.message.replace(f.container, "<container>")), []).append(f.container)
        parts = []
        for (check_name, text), containers in groups.items():
            if len(containers) == 1:
                text = text.replace("<container>", containers[0])
            names = ", ".join(containers[:listed]) + (f" and {len(containers) - listed} more"
                                                      if len(containers) > listed else "")
            parts.append(f"{check_name} [{names}]: {text}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"pair": self.pair, "min_soak_s": self.min_soak_s, "via": self.via, "passed": self.passed,
                "failed": [{"check": f.check, "container": f.container, "message": f.message}
                           for f in self.failures]}


def human(seconds: float) -> str:
    """1d, 12d 3h, 5h 20m, 42m, 30s: how long, to the minute (the two largest units)."""
    s = max(0, int(seconds))
    days, hours, minutes = s // 86400, s % 86400 // 3600, s % 3600 // 60
    if days:
        return f"{days}d" + (f" {hours}h" if hours else "")
    if hours:
        return f"{hours}h" + (f" {minutes}m" if minutes else "")
    return f"{minutes}m" if minutes else f"{s}s"


class _Folder(remote.Downloader):
    """remote.Downloader's `fetch`, from a local store's folder (a file:// store has no URL)."""

    def __init__(self, root: Path):  # no HTTP client: nothing goes over the network
        self.root = root.resolve()
        self.bytes = 0
        self.files = 0

    def close(self) -> None:
        pass

    def fetch(self, url: str, display: str, dest: Path, limit: int) -> int:
        path = Path(unquote(url.removeprefix("file://"))).resolve()
        if not path.is_relative_to(self.root):  # names come from SHA256SUMS, which is not signed
            raise VerificationError(f"{display} is outside the store")
        if not path.is_file():
            raise remote.Missing(display)
        size = path.stat().st_size
        if size > limit:
            raise VerificationError(f"{display} is larger than the {limit}-byte limit")
        shutil.copyfile(path, dest)
        self.bytes, self.files = self.bytes + size, self.files + 1
        return size


@dataclass(frozen=True)
class _Source:
    """Where one container's release is read: a Target (URL prefix + query) and a downloader."""

    target: remote.Target
    folder: Path | None = None  # set for a file:// store without a CDN

    def downloader(self) -> remote.Downloader:
        return _Folder(self.folder) if self.folder is not None else remote.Downloader()


def _via(store: Store, config: Config) -> str:
    if config.get("cdn.base_url"):
        return "cdn"
    return "folder" if store.kind == "file" and getattr(store, "root", None) is not None else "blob"


def _source(store: Store, config: Config, container: str, product: str, channel: str) -> _Source:
    """Made when that container's turn comes: a SAS is made just before its downloads."""
    rel = pointer_fmt.pointer_path(product, channel)
    via = _via(store, config)
    if via == "cdn":
        base = cdn.check_base_url(config.get("cdn.base_url"))
        url = cdn.public_url(base, container, rel)
        return _Source(remote.parse_target(url, allow_insecure_http=base.startswith("http://")))
    if via == "folder":  # a LocalStore's folder
        root = Path(store.root)  # type: ignore[attr-defined]
        prefix = f"{root.resolve().as_uri()}/{container}/"
        return _Source(remote.Target("pointer", prefix, product, channel=channel, host="file", container=container),
                       folder=root)
    query = store.read_query(container, SAS_MINUTES)
    url = f"{store.container_url(container)}/{rel}" + (f"?{query}" if query else "")
    # The store itself only talks plain http to an emulator it was allowed to (Azurite).
    return _Source(remote.parse_target(url, allow_insecure_http=url.startswith("http://")))


def _verify(src: _Source, container: str, public: PublicKey, expected: pointer_fmt.Pointer) -> str:
    dl = src.downloader()
    try:
        with tempfile.TemporaryDirectory(prefix="b2release-gate-") as tmp:
            _, served = remote.verify_pointer(src.target, container, public, dl, Path(tmp), {"pointers": {}})
    finally:
        dl.close()
    if not pointer_fmt.same_release(served, expected):
        raise VerificationError(f"{src.target.display(src.target.self_rel)} serves {served.version} (sequence "
                                f"{served.sequence}), but the store's pointer names {expected.version} (sequence "
                                f"{expected.sequence}): purge the CDN and promote again")
    return f"verified {served.version} at {src.target.display(src.target.self_rel)} ({dl.files} files)"


def stage_options(envelope: bytes, public: PublicKey, what: str) -> dict[str, dict[str, Any]]:
    """The stages a provenance statement records, by name: their options (signature checked)."""
    doc: Any = canonical.loads(dsse.verify(envelope, public, what).payload, f"{what}: statement")
    for key in ("predicate", "buildDefinition", "externalParameters"):
        doc = doc.get(key) if isinstance(doc, dict) else None
    stages = doc.get("stages") if isinstance(doc, dict) else None
    if not isinstance(stages, list):
        raise VerificationError(f"{what}: the statement records no stages")
    return {s["name"]: s["options"] if isinstance(s.get("options"), dict) else {}
            for s in stages if isinstance(s, dict) and isinstance(s.get("name"), str)}


def results_problems(stages: dict[str, dict[str, Any]]) -> list[str]:
    """What keeps recorded test and scan results from passing ([] when they pass)."""
    problems = []
    tests = stages.get("test")
    counts = tests.get("counts") if isinstance(tests, dict) else None
    if not isinstance(counts, dict) or not isinstance(counts.get("failed"), int):
        problems.append("records no test run (packaged from --input, or the test stage did not pass)")
    elif counts["failed"] != 0:
        problems.append(f"records {counts['failed']} failed of {counts.get('total', '?')} tests")
    scan = stages.get("scan")
    if not isinstance(scan, dict) or "result" not in scan:
        problems.append("records no scan")
    elif scan["result"] != "pass":
        problems.append(f"records scan result {scan['result']!r}, not 'pass'")
    return problems


def _provenance(src: _Source, public: PublicKey, pointer: pointer_fmt.Pointer) -> str:
    name = envelope_name(pointer.product, pointer.version)
    rel = f"{pointer.product}/{pointer.version}/{name}"
    shown = src.target.display(rel)
    dl = src.downloader()
    try:
        with tempfile.TemporaryDirectory(prefix="b2release-gate-") as tmp:
            dest = Path(tmp) / name
            try:
                dl.fetch(src.target.url(rel), shown, dest, remote.MAX_METADATA)
            except remote.Missing:
                raise VerificationError(f"no build provenance: {shown} is missing") from None
            envelope = dest.read_bytes()
    finally:
        dl.close()
    zip_name = f"{pointer.product}-{pointer.version}.zip"
    check_provenance(envelope, zip_name, str(pointer.package_sha256), public, what=shown)
    problems = results_problems(stage_options(envelope, public, shown))
    if problems:
        raise VerificationError(f"{shown} " + " and ".join(problems))
    return f"{name}: tests passed, scan passed"


def check(store: Store, config: Config, *, pair: tuple[str, str], product: str,
          pointers: dict[str, pointer_fmt.Pointer], public: PublicKey, now: float, min_soak_s: int) -> GateReport:
    """Check every container's source release (`pointers`: container -> its trusted source pointer)."""
    source = pair[0]
    report = GateReport(f"{source}->{pair[1]}", min_soak_s, _via(store, config))

    def one(container: str) -> tuple[list[str], list[Failure]]:
        pointer, src = pointers[container], _source(store, config, container, product, source)
        passed: list[str] = []
        failures: list[Failure] = []
        since = pointer.on_channel_since
        age = now - pointer_fmt.parse_rfc3339(since)
        if age < min_soak_s:
            failures.append(Failure("soak", container, f"{product} {pointer.version} has been on {source} for "
                                    f"{human(age)} (since {since}), less than promote.min_soak {human(min_soak_s)}"))
        else:
            passed.append(f"on {source} for {human(age)} (since {since})")
        for name, step in (("verify", lambda: _verify(src, container, public, pointer)),
                           ("provenance", lambda: _provenance(src, public, pointer))):
            try:
                passed.append(step())
            except (UsageError, ConfigError):
                raise  # a setting is wrong (exit 2), not the release
            except B2ReleaseError as exc:
                failures.append(Failure(name, container, exc.message))
                if name == "verify":  # nothing read from an unverified release can be believed
                    failures.append(Failure("provenance", container, "not checked: the release did not verify"))
                    break
        return passed, failures

    containers = list(pointers)
    for container, (passed, failures) in zip(containers, fanout.each(one, containers, WORKERS), strict=True):
        report.passed[container] = passed
        report.failures.extend(failures)
    return report
