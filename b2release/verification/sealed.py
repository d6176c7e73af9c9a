"""Files a package sealed, watched across a later stage.

`package` ends by writing SHA256SUMS over everything it published into the work dir (the
zip, manifest, signature, attachments such as the SBOM). A stage run after it (scan again,
sign again) may rewrite one of those files: the zip still holds the old bytes, so `verify`
of the work dir and `upload` would fail or ship something else than the files beside it.
The runner takes a snapshot before such a stage and warns afterwards, naming the files.

Cheap by design: only files whose size or modification time changed are hashed again, so a
stage that did not touch a 2 GiB zip never reads it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from b2release.errors import B2ReleaseError
from b2release.formats import checksums
from b2release.formats.manifest import CHECKSUMS_NAME


@dataclass
class Snapshot:
    work_dir: Path
    sums: dict[str, str] = field(default_factory=dict)  # name -> sha256 that SHA256SUMS sealed
    stats: dict[str, tuple[int, int, int] | None] = field(default_factory=dict)


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def snapshot(work_dir: Path) -> Snapshot | None:
    """The sealed files' state before a stage, or None when nothing is sealed (no package yet)."""
    sums_path = work_dir / CHECKSUMS_NAME
    try:
        sums = checksums.parse(sums_path.read_bytes(), str(sums_path))
    except (OSError, B2ReleaseError):
        return None
    snap = Snapshot(work_dir, sums)
    snap.stats = {name: _stat(work_dir / name) for name in sums if os.sep not in name}
    return snap


def rewritten(snap: Snapshot) -> list[str]:
    """Names whose bytes the stage changed and that no longer match their seal."""
    changed = []
    for name, before in snap.stats.items():
        path = snap.work_dir / name
        if _stat(path) == before:
            continue
        if _sha256(path) != snap.sums[name]:
            changed.append(name)
    return sorted(changed)
