"""Helpers for building and tampering with packages in tests."""

from __future__ import annotations

import zipfile
from pathlib import Path

from b2release.formats.manifest import ZIP_MANIFEST, ZIP_SIGNATURE


def package_dir(cli, tmp_path: Path, keys: Path, input_dir: Path, version: str = "1.2.3",
                name: str = "enventa-connector", work: Path | None = None, env: dict | None = None) -> Path:
    work = work or tmp_path / "dist"
    result = cli(
        "--work-dir", work, "package", "--input", input_dir, "--name", name, "--version", version,
        "--signing-key", keys / "release-signing.key", env=env or {"SOURCE_DATE_EPOCH": "1700000000"},
    )
    assert result.exit_code == 0, result.output
    return work


def rewrite_zip(src: Path, dst: Path, *, drop: set[str] = frozenset(), replace: dict[str, bytes] | None = None,
                add: dict[str, bytes] | None = None, epoch: int = 1700000000) -> None:
    """Rebuild a package with changes in the writer's exact layout (a careful attacker keeps
    the zip valid: CRCs consistent, nothing the strict reader rejects for its structure)."""
    from b2release.formats import archive
    from b2release.formats.archive_reader import PackageArchive

    replace = replace or {}
    with PackageArchive.open(src) as pkg:
        entries = [archive.prepare_bytes(e.name, replace.get(e.name) or pkg.read(e, 1 << 30))
                   for e in pkg.entries if e.name not in drop]
    entries += [archive.prepare_bytes(name, data) for name, data in (add or {}).items()]
    with open(dst, "wb") as out:
        archive.write(out, entries, epoch)


def payload_names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as zf:
        return [n for n in zf.namelist() if n not in (ZIP_MANIFEST, ZIP_SIGNATURE)]
