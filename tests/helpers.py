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
                add: dict[str, bytes] | None = None) -> None:
    """Copy a zip entry by entry with changes (CRCs stay consistent, like a careful attacker)."""
    replace = replace or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in drop:
                continue
            data = replace.get(info.filename, zin.read(info))
            zout.writestr(zipfile.ZipInfo(info.filename, info.date_time), data)
        for name, data in (add or {}).items():
            zout.writestr(zipfile.ZipInfo(name), data)


def payload_names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as zf:
        return [n for n in zf.namelist() if n not in (ZIP_MANIFEST, ZIP_SIGNATURE)]
