"""file:// store: a local folder with the same layout as the Azure containers.

`<root>/<container>/<product>/<version>/...`: the embedded default for the demo and for
air-gapped mirrors. A version folder is itself a release folder that `b2release verify`
accepts. Create-only writes go to a temp file first and are hard-linked into place
(`os.link` fails if the name exists), so a crash never leaves a partial versioned file
and two writers can never both "create" the same file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from b2release.errors import RemoteError, UsageError
from b2release.formats.names import entry_path_problem
from b2release.fsutil import CHUNK, atomic_writer, sha256_bytes, sha256_file, temp_path_beside
from b2release.stores.base import AlreadyExists, BlobInfo, PreconditionFailed, ProgressFn, Store
from b2release.stores.tenants import validate_container_name


class LocalStore(Store):
    kind = "file"
    supports_grants = False

    def __init__(self, root: Path):
        self.root = Path(root)

    @property
    def description(self) -> str:
        return f"file://{self.root}"

    def location(self, container: str, path: str) -> str:
        # The file itself, absolute: "releases/enventa-connector/..." relative to an unnamed
        # root read as a path from the current folder, and it was not (issue #18).
        return str(self._file(container, path).absolute())

    # --- helpers ---------------------------------------------------------------------------
    def _container_dir(self, container: str) -> Path:
        return self.root / validate_container_name(container)

    def _file(self, container: str, path: str) -> Path:
        problem = entry_path_problem(path)
        if problem:
            raise UsageError(f"invalid blob path {path!r}: {problem}")
        return self._container_dir(container) / path

    def _info(self, container: str, path: str, file: Path) -> BlobInfo:
        digest, size = sha256_file(file)
        # The content digest is the etag: a compare-and-swap on it is exact.
        return BlobInfo(path=path, size=size, sha256=digest, etag=digest)

    # --- containers ------------------------------------------------------------------------
    def container_exists(self, container: str) -> bool:
        return self._container_dir(container).is_dir()

    def containers_starting_with(self, prefix: str, limit: int) -> set[str] | None:
        if not self.root.is_dir():  # no root yet: no container (creating one says what is wrong)
            return set()
        try:
            found = {d.name for d in self.root.iterdir() if d.name.startswith(prefix) and d.is_dir()}
        except OSError as exc:
            raise RemoteError(f"cannot list {self.root}: {exc.strerror}") from exc
        return found if len(found) <= limit else None

    def ensure_container(self, container: str) -> bool:
        folder = self._container_dir(container)
        if folder.is_dir():
            return False
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RemoteError(f"cannot create {folder}: {exc.strerror}") from exc
        return True

    # --- reading ---------------------------------------------------------------------------
    def stat(self, container: str, path: str) -> BlobInfo | None:
        file = self._file(container, path)
        if not file.is_file():
            return None
        return self._info(container, path, file)

    def list(self, container: str, prefix: str = "") -> list[BlobInfo]:
        base = self._container_dir(container)
        # Walk only the folder the prefix names (its part up to the last '/'), not the whole
        # container: listing one version costs the same with 1 or 500 versions beside it.
        head = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self._file(container, head) if head else base
        if not start.is_dir():
            return []
        out: list[BlobInfo] = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                if name.startswith("."):  # temp files of writes in progress (or of a crash)
                    continue
                full = Path(dirpath) / name
                rel = full.relative_to(base).as_posix()
                if rel.startswith(prefix):
                    out.append(self._info(container, rel, full))
        return sorted(out, key=lambda b: b.path)

    def read_bytes(self, container: str, path: str, max_size: int = 1 << 20) -> tuple[bytes, BlobInfo] | None:
        file = self._file(container, path)
        if not file.is_file():
            return None
        if file.stat().st_size > max_size:
            raise RemoteError(f"{file} is larger than {max_size} bytes; refusing to read it into memory")
        data = file.read_bytes()
        digest = sha256_bytes(data)
        return data, BlobInfo(path=path, size=len(data), sha256=digest, etag=digest)

    # --- writing ---------------------------------------------------------------------------
    def _create_only(self, dest: Path, fill) -> int:
        """Write via a temp file beside `dest`, then link it into place unless `dest` exists."""
        if dest.exists():
            raise AlreadyExists(str(dest))
        tmp = temp_path_beside(dest)
        try:
            with open(tmp, "wb") as out:
                written = fill(out)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)
            try:
                os.link(tmp, dest)  # atomic, fails if dest exists
            except FileExistsError:
                raise AlreadyExists(str(dest)) from None
            except OSError:
                # Filesystems without hard links: rename is atomic but not create-only;
                # re-check right before it (a narrow race, documented).
                if dest.exists():
                    raise AlreadyExists(str(dest)) from None
                os.replace(tmp, dest)
            return written
        finally:
            if tmp.exists():
                tmp.unlink()

    def create_from_file(self, container: str, path: str, source: Path, sha256: str, cache_control: str,
                         progress: ProgressFn | None = None) -> int:
        dest = self._file(container, path)

        def fill(out) -> int:
            total = 0
            with open(source, "rb") as src:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
                    total += len(chunk)
                    if progress is not None:
                        progress(len(chunk))
            return total

        try:
            return self._create_only(dest, fill)
        except AlreadyExists:
            raise
        except OSError as exc:
            raise RemoteError(f"cannot write {dest}: {exc.strerror}") from exc

    def copy_within(self, src_container: str, path: str, dst_container: str, sha256: str,
                    size: int | None = None) -> None:
        src = self._file(src_container, path)
        dest = self._file(dst_container, path)
        if not src.is_file():
            raise RemoteError(f"copy source {src} does not exist")

        def fill(out) -> int:
            with open(src, "rb") as fh:
                shutil.copyfileobj(fh, out, CHUNK)
            return 0

        try:
            self._create_only(dest, fill)
        except AlreadyExists:
            raise
        except OSError as exc:
            raise RemoteError(f"cannot copy {src} to {dest}: {exc.strerror}") from exc
        digest, _ = sha256_file(dest)
        if digest != sha256:
            raise RemoteError(f"copy {dest} does not match its sha256 {sha256[:12]}... (source changed?)")

    def write_bytes(self, container: str, path: str, data: bytes, cache_control: str, *,
                    if_match: str | None = None, if_none_match: bool = False) -> BlobInfo:
        dest = self._file(container, path)
        # The check and the rename are not one atomic step on a plain folder; a lock file
        # serialises b2release writers on the same machine (NFS mirrors: one writer).
        with _locked(self.root / f".{validate_container_name(container)}.lock"):
            current = self.stat(container, path)
            if if_none_match and current is not None:
                raise PreconditionFailed(f"{dest} exists")
            if if_match is not None and (current is None or current.etag != if_match):
                raise PreconditionFailed(f"{dest} changed")
            try:
                with atomic_writer(dest) as out:
                    out.write(data)
            except OSError as exc:
                raise RemoteError(f"cannot write {dest}: {exc.strerror}") from exc
        digest = sha256_bytes(data)
        return BlobInfo(path=path, size=len(data), sha256=digest, etag=digest, cache_control=cache_control)


class _locked:
    """An exclusive flock on a lock file beside the containers (no-op where flock is missing)."""

    def __init__(self, lock_file: Path):
        self.lock_file = lock_file
        self.fh = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.lock_file, "a+b")
        fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self.fh is not None:
            import fcntl

            fcntl.flock(self.fh.fileno(), fcntl.LOCK_UN)
            self.fh.close()
        return False
