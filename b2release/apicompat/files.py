"""API files on disk: extracting a build's assemblies, writing and loading `api/*.api.txt`.

A release ships one `<Assembly>.api.txt` per .NET assembly (not per file: the same
assembly copied to two folders is one API). Satellite (resource-only, culture-specific)
assemblies and native DLLs have no API and get no file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from b2release.errors import InputError
from b2release.fsutil import atomic_write_bytes

from .extract import AssemblyApi, read_assembly
from .parse import load_api_file
from .surface import ApiSurface, api_file_name

ASSEMBLY_SUFFIXES = (".dll", ".exe")


def find_assemblies(root: Path | str) -> list[Path]:
    """The .dll/.exe files under a folder (or the file itself), sorted, symlinks to files included."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputError(f"{root} does not exist")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in ASSEMBLY_SUFFIXES and p.is_file())


def read_assemblies(paths: Iterable[Path | str]) -> list[AssemblyApi]:
    return [read_assembly(p) for p in paths]


def surfaces_of(results: Iterable[AssemblyApi]) -> dict[str, ApiSurface]:
    """The API surfaces to ship, by assembly name.

    Skips files without .NET metadata and satellite assemblies. The same assembly found
    twice must have the same API; two different ones with one name are an InputError.
    """
    found: dict[str, tuple[ApiSurface, Path]] = {}
    for result in results:
        surface = result.surface
        if surface is None or result.is_satellite:
            continue
        seen = found.get(surface.assembly)
        if seen is None:
            found[surface.assembly] = (surface, result.path)
        elif seen[0].to_text() != surface.to_text():
            raise InputError(f"two different assemblies named {surface.assembly}: {seen[1]} and {result.path}")
    return {name: surface for name, (surface, _) in sorted(found.items())}


def write_api_files(surfaces: Iterable[ApiSurface], out_dir: Path | str, prune: bool = True) -> list[Path]:
    """Write `<Assembly>.api.txt` for each surface (UTF-8, LF, atomically).

    prune=True removes other `*.api.txt` files in out_dir, so an assembly that is no longer
    built does not leave a stale API file behind (which would hide its removal).
    """
    out_dir = Path(out_dir)
    written: list[Path] = []
    for surface in surfaces:
        path = out_dir / api_file_name(surface.assembly)
        atomic_write_bytes(path, surface.to_text().encode("utf-8"))
        written.append(path)
    if prune and out_dir.is_dir():
        keep = {p.name for p in written}
        for stale in out_dir.glob("*.api.txt"):
            if stale.name not in keep:
                stale.unlink()
    return written


def load_api_dir(directory: Path | str) -> dict[str, ApiSurface]:
    """All `*.api.txt` files of a folder (a previous release's `api/`), by assembly name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory} is not a folder of .api.txt files")
    surfaces: dict[str, ApiSurface] = {}
    for path in sorted(directory.glob("*.api.txt")):
        surface = load_api_file(path)
        if surface.assembly in surfaces:
            raise InputError(f"{path}: a second API file for assembly {surface.assembly}")
        surfaces[surface.assembly] = surface
    return surfaces
