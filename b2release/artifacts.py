"""What stages hand each other through `state.json`: artifact kinds and per-stage records.

Two kinds of hand-over, both typed here and nowhere else:

- *artifacts*: files a stage produced, recorded with their sha256 (`State.record_artifact`)
  under one of the `Kind`s below; a later stage consumes them by kind and refuses any that
  changed since (`State.consume`);
- *records*: the small facts a stage leaves for later stages (the version build stamped,
  the scan summary the manifest carries, what package produced, ...). Each stage has one
  record class; the runner stores `record.to_dict()` as the run's `data` in state.json and
  `Record.read(state)` gives it back, typed, to any later stage (in this process or in a
  CI job on another machine). A stage whose last run failed or was skipped has no record.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any, ClassVar, Protocol, TypeVar

# The build output inside the work dir: build writes it, sign rewrites it, package reads it.
BUILD_DIR = "build"
# The compat stage's API files inside the work dir (<Assembly>.api.txt); package ships them.
API_DIR = "api"


class Kind(str, Enum):
    """Artifact kinds. A str, so state.json keeps the plain names ("binary", ...)."""

    BINARY = "binary"  # a file of the build output (entry name in extra["name"])
    BUILD_INFO = "build-info"
    BUILD_LOG = "build-log"
    TEST_RESULT = "test-result"  # a test runner's native result file (NUnit, xUnit, TRX)
    TEST_JUNIT = "test-junit"  # the normalised JUnit XML of a test run
    TEST_LOG = "test-log"
    API_FILE = "api-file"  # <work dir>/api/<Assembly>.api.txt (attachment name in extra["name"])
    RELEASE_NOTES = "release-notes"
    SCAN_REPORT = "scan-report"
    SARIF = "sarif"
    SBOM = "sbom"
    PACKAGE = "package"
    MANIFEST = "manifest"
    SIGNATURE = "signature"
    CHECKSUMS = "checksums"
    PROVENANCE = "provenance"  # <product>-<version>.intoto.jsonl: signed SLSA provenance of the zip

    def __str__(self) -> str:
        return self.value


# Artifacts that ship beside the payload: inside the zip's .b2release/ and in SHA256SUMS.
ATTACHMENT_KINDS: tuple[Kind, ...] = (Kind.SBOM,)
# What a package run produces (and replaces on the next run).
PACKAGE_KINDS: tuple[Kind, ...] = (Kind.PACKAGE, Kind.MANIFEST, Kind.SIGNATURE, Kind.PROVENANCE, Kind.CHECKSUMS)
# Everything upload sends: the package stage's outputs and the attachments they list.
RELEASE_KINDS: tuple[Kind, ...] = (*PACKAGE_KINDS, *ATTACHMENT_KINDS)


class _RunData(Protocol):
    def data(self, stage: str) -> dict[str, Any]: ...


R = TypeVar("R", bound="Record")


@dataclass(frozen=True)
class Record:
    """Base of the per-stage records. Every field has a default, so a state file written by
    an older b2release (a key missing) still reads."""

    STAGE: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def read(cls: type[R], state: _RunData) -> R | None:
        """The record of the stage's last successful run, or None."""
        data = state.data(cls.STAGE)
        if not data:
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class BuildRecord(Record):
    STAGE: ClassVar[str] = "build"
    version: str = ""
    source_dir: str = ""  # the source tree (git top-level when inside one)
    manifest_info: dict[str, Any] = field(default_factory=dict)  # what the manifest's "build" says
    tool: str = ""
    outputs: list[dict[str, Any]] = field(default_factory=list)  # [{name, sha256, size}]


@dataclass(frozen=True)
class TestRecord(Record):
    __test__ = False  # not a pytest test class
    STAGE: ClassVar[str] = "test"
    counts: dict[str, int] = field(default_factory=dict)  # total, passed, failed, skipped
    projects: list[dict[str, Any]] = field(default_factory=list)  # [{project, assembly, runner, counts}]
    junit: str = ""  # the JUnit file, relative to the work dir


@dataclass(frozen=True)
class CompatRecord(Record):
    """The public-API check: what it compared with, its verdict, and what package ships."""

    STAGE: ClassVar[str] = "compat"
    version: str = ""  # the release version that was checked
    previous_version: str = ""  # "" when there was nothing to compare with (a baseline)
    against: str = ""  # where the previous API came from, for messages
    baseline: bool = False
    level: str = ""  # "breaking" | "additive" | "none"
    required_bump: str = ""
    actual_bump: str = ""
    allowed_breaking_reason: str = ""  # set when --allow-breaking let a violation through
    api_files: list[dict[str, Any]] = field(default_factory=list)  # [{name: "X.api.txt", sha256, size}]
    manifest_summary: dict[str, Any] = field(default_factory=dict)  # what the manifest's "compat" says


@dataclass(frozen=True)
class ScanRecord(Record):
    STAGE: ClassVar[str] = "scan"
    manifest_summary: dict[str, Any] = field(default_factory=dict)  # what the manifest's "scan" says
    result: str = ""


@dataclass(frozen=True)
class SignRecord(Record):
    STAGE: ClassVar[str] = "sign"
    signed: list[str] = field(default_factory=list)
    kept_signed: list[str] = field(default_factory=list)
    cert_sha256: str | None = None
    subject: str | None = None


@dataclass(frozen=True)
class PackageRecord(Record):
    STAGE: ClassVar[str] = "package"
    product: str = ""
    version: str = ""
    package: str = ""  # the zip's file name in the work dir
    manifest_sha256: str = ""
    key_id: str = ""


@dataclass(frozen=True)
class UploadRecord(Record):
    STAGE: ClassVar[str] = "upload"
    product: str = ""
    version: str = ""
    channel: str = ""
    sequence: int = 0
    store: str = ""
    tenants: list[str] = field(default_factory=list)
    release_container: str = ""


@dataclass(frozen=True)
class PurgeRecord(Record):
    STAGE: ClassVar[str] = "purge"
    provider: str = ""
    purged: int = 0
    urls: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RepointRecord(Record):
    """rollback, promote and refresh: which containers' pointers moved where."""

    product: str = ""
    store: str = ""
    containers: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class RollbackRecord(RepointRecord):
    STAGE: ClassVar[str] = "rollback"
    channel: str = ""
    version: str = ""
    reason: str = ""


@dataclass(frozen=True)
class PromoteRecord(RepointRecord):
    STAGE: ClassVar[str] = "promote"
    from_channel: str = ""
    to_channel: str = ""
    versions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RefreshRecord(RepointRecord):
    STAGE: ClassVar[str] = "refresh"
    channel: str = ""


@dataclass(frozen=True)
class GrantRecord(Record):
    """The last grant from this work dir (never the SAS itself)."""

    STAGE: ClassVar[str] = "grant"
    tenant: str = ""
    container: str = ""
    version: str = ""
    policy_id: str = ""
    expires_at: str = ""


@dataclass(frozen=True)
class RevokeRecord(Record):
    STAGE: ClassVar[str] = "revoke"
    tenant: str = ""
    container: str = ""
    removed: list[str] = field(default_factory=list)
