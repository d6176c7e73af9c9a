"""The release version inside the binaries: the assemblies the build stamped must carry the
version the signed manifest claims.

The build lists the shipped assemblies it stamped in the manifest (`build.assemblies`);
each must have `[AssemblyInformationalVersion]` equal to the manifest's version (build
metadata after `+` aside), or, without one, the AssemblyVersion `X.Y.Z.0` of that version.
Third-party assemblies in the package keep their own versions and are not compared. A
package made from `--input` (no build record) names no assemblies: nothing to compare.
"""

from __future__ import annotations

from b2release.errors import InputError, VerificationError
from b2release.formats.archive_reader import PackageArchive, ZipEntry
from b2release.formats.manifest import Manifest

MAX_ASSEMBLY = 256 * 1024 * 1024  # larger entries are read for their digest only


def stamped_names(manifest: Manifest) -> set[str]:
    listed = (manifest.build or {}).get("assemblies") or []
    return {str(name).lower() for name in listed if isinstance(name, str)}


def _numeric(version: str) -> str:
    core = version.split("-", 1)[0].split("+", 1)[0]
    major, minor, patch = core.split(".")[:3]
    return f"{int(major)}.{int(minor)}.{int(patch)}.0"


def check_stamped(pkg: PackageArchive, entries: dict[str, ZipEntry], manifest: Manifest, label: str) -> str | None:
    """Raise VerificationError naming the first assembly whose version is not the manifest's;
    return the check line for the report, or None when the manifest names no assemblies."""
    wanted = stamped_names(manifest)
    if not wanted:
        return None
    from b2release.apicompat import stamped_version  # dnfile: only for packages that name assemblies

    checked = 0
    for name in sorted(entries):
        base = name.rsplit("/", 1)[-1]
        stem, _, ext = base.rpartition(".")
        if ext.lower() not in ("dll", "exe") or stem.lower() not in wanted or entries[name].size > MAX_ASSEMBLY:
            continue
        try:
            stamped = stamped_version(pkg.read(entries[name], MAX_ASSEMBLY))
        except InputError as exc:
            raise VerificationError(f"{label}: {name}: {exc.message}") from None
        if stamped is None:
            raise VerificationError(f"{label}: {name} is listed as stamped by the build but is not a .NET assembly")
        if stamped.informational:
            ok = stamped.version.split("+", 1)[0] == manifest.version.split("+", 1)[0]
        else:
            ok = stamped.version == _numeric(manifest.version)
        if not ok:
            raise VerificationError(f"{label}: {name} carries version {stamped.version}, but the manifest says "
                                    f"{manifest.version} (a package relabelled after the build)")
        checked += 1
    return f"{checked} stamped assembl{'y carries' if checked == 1 else 'ies carry'} version {manifest.version}"
