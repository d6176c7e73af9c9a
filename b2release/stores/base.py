"""The small interface every store implements, and the values it passes around.

A store holds *containers* (Azure containers, or sub-folders of a local folder), each
holding blobs addressed by a '/'-separated path. b2release uses one layout per container:

    <product>/<version>/<files>              immutable: create-only, sha256 in metadata
    <product>/channels/<channel>.json(.sig)  mutable: the signed channel pointer

Everything above the store (upload, rollback, promote, refresh, grant, revoke) talks to
this interface only; SDKs are imported inside the implementations, lazily.

Contract for implementers:
- `create_from_file` and `copy_within` are create-only: if the destination exists they
  raise `AlreadyExists` and change nothing. A blob becomes visible only when complete
  (Azure: block list committed / copy finished; local: written to a temp file, then
  hard-linked into place), so a crash never leaves a partial versioned file.
- `stat` / `list` report the sha256 recorded when the blob was created (`sha256` metadata
  on Azure; computed from the file for the local store).
- `write_bytes` is for small mutable blobs (pointers). `if_match` (an etag from `stat` /
  `read_bytes`) makes it a compare-and-swap; `if_none_match=True` means "only if absent".
  A failed condition raises `PreconditionFailed` and changes nothing.
- `grant_read` / `revoke_grants`: a read-only, expiring, revocable grant on a container
  (Azure: a SAS bound to a stored access policy). A store without grants refuses both.
- Errors the user can act on are `b2release.errors` classes (RemoteError for service
  failures) with one-line messages that never contain credentials.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from b2release.errors import UsageError

# Versioned files never change, so caches may keep them for a year.
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"
SHA256_METADATA = "sha256"

# Called with the number of bytes just sent (a delta), for progress display.
ProgressFn = Callable[[int], None]


class AlreadyExists(Exception):
    """A create-only write found the destination present; nothing was changed."""


class PreconditionFailed(Exception):
    """A conditional write (if_match / if_none_match) did not hold; nothing was changed."""


@dataclass(frozen=True)
class BlobInfo:
    path: str  # inside the container, '/'-separated
    size: int
    sha256: str | None  # from metadata (Azure) or computed (local); None if unknown
    etag: str  # opaque; pass back as if_match for a compare-and-swap write
    cache_control: str | None = None
    content_md5: str | None = None  # hex, when the store keeps one

    def to_dict(self) -> dict:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class ReadGrant:
    """A read grant on one container: `query` is the secret to append to its URLs."""

    container: str
    policy_id: str
    query: str
    dropped: list[str]  # expired grants removed to make room


@dataclass(frozen=True)
class Revocation:
    container: str
    removed: list[str]  # b2release grants that stopped working
    kept: list[str]  # other policies on the container, left alone


class Store(ABC):
    """One storage account (Azure) or one root folder (file://)."""

    kind: str = ""  # "azure" | "file"
    supports_grants: bool = False  # SAS grants / stored access policies (Azure only)

    @property
    @abstractmethod
    def description(self) -> str:
        """Where this store is, for messages (never contains a credential)."""

    # --- containers ----------------------------------------------------------------------
    @abstractmethod
    def container_exists(self, container: str) -> bool: ...

    @abstractmethod
    def ensure_container(self, container: str) -> bool:
        """Create the container (private) if missing; True if it was created."""

    def containers_starting_with(self, prefix: str, limit: int) -> set[str] | None:
        """The containers whose name starts with `prefix`, from one listing; None when there
        are more than `limit` (or the store cannot list them cheaply): then ask each one."""
        return None

    # --- reading ---------------------------------------------------------------------------
    @abstractmethod
    def stat(self, container: str, path: str) -> BlobInfo | None:
        """The blob's info, or None when it (or its container) does not exist."""

    @abstractmethod
    def list(self, container: str, prefix: str = "") -> list[BlobInfo]:
        """Every blob whose path starts with `prefix`, sorted by path ([] if no container)."""

    def list_existing(self, container: str, prefix: str = "") -> list[BlobInfo] | None:
        """`list`, or None when the container does not exist: one request tells both (a
        fan-out then neither reads a new tenant's channel nor re-creates an existing one)."""
        return self.list(container, prefix) if self.container_exists(container) else None

    @abstractmethod
    def read_bytes(self, container: str, path: str, max_size: int = 1 << 20) -> tuple[bytes, BlobInfo] | None:
        """A small blob's bytes and info, or None if absent. Larger than max_size: RemoteError."""

    # --- writing ---------------------------------------------------------------------------
    @abstractmethod
    def create_from_file(self, container: str, path: str, source: Path, sha256: str, cache_control: str,
                         progress: ProgressFn | None = None) -> int:
        """Create-only upload of a file with its sha256 as metadata; returns bytes sent."""

    @abstractmethod
    def copy_within(self, src_container: str, path: str, dst_container: str, sha256: str,
                    size: int | None = None) -> None:
        """Create-only server-side copy of one blob to the same path in another container.

        Waits for the copy to finish; a failed copy raises RemoteError. The copy keeps the
        source's content settings (Cache-Control) and records `sha256` as metadata. `size`,
        the source's size when the caller knows it, lets a store pick how to copy.
        """

    @abstractmethod
    def write_bytes(self, container: str, path: str, data: bytes, cache_control: str, *,
                    if_match: str | None = None, if_none_match: bool = False) -> BlobInfo:
        """Write a small mutable blob, optionally conditionally (see module docstring)."""

    def location(self, container: str, path: str) -> str:
        """Where a blob is, as an operator would look for it (a file path or a URL, never a
        credential): what upload's log lines and summary print."""
        return f"{self.description.rstrip('/')}/{container}/{path}"

    # --- grants ---------------------------------------------------------------------------
    def blob_url(self, container: str, path: str) -> str:
        """Where a client downloads a blob (no credential in it)."""
        raise UsageError(f"{self.description} has no download URLs")

    def container_url(self, container: str) -> str:
        raise UsageError(f"{self.description} has no download URLs")

    def read_query(self, container: str, minutes: int) -> str:
        """A short-lived read-only query (SAS) for downloads from `container_url`; "" if none is needed."""
        raise UsageError(f"{self.description} has no download URLs")

    def require_grants(self, command: str) -> None:
        """Refuse (before any other work) a grant command on a store without grants."""
        if not self.supports_grants:
            raise UsageError(
                f"{command} needs an Azure store, but the store is {self.description}: a local folder has no SAS "
                "or access policies (share it by other means, e.g. a file server's permissions)"
            )

    def grant_read(self, container: str, start: datetime, expiry: datetime) -> ReadGrant:
        self.require_grants("grant")
        raise NotImplementedError  # pragma: no cover - a store with grants overrides this

    def revoke_grants(self, container: str) -> Revocation:
        self.require_grants("revoke")
        raise NotImplementedError  # pragma: no cover - a store with grants overrides this

    # Read-only twins of the two above, for --dry-run: what they would do now, changing nothing.
    def plan_grant(self, container: str) -> list[str]:
        """The expired grants `grant_read` would drop now; refuses as it would (no free slot)."""
        self.require_grants("grant")
        raise NotImplementedError  # pragma: no cover - a store with grants overrides this

    def plan_revoke(self, container: str) -> Revocation:
        """What `revoke_grants` would remove and keep now."""
        self.require_grants("revoke")
        raise NotImplementedError  # pragma: no cover - a store with grants overrides this

    def close(self) -> None:  # noqa: B027 - optional hook, most stores hold nothing
        """Release connections; the store is not used afterwards."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
