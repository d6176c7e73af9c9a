"""CycloneDX 1.6 SBOM of the release, through cyclonedx-python-lib; byte-for-byte deterministic.

Contents: the product as metadata.component (version when known), every NuGet package of
the inventory (purl pkg:nuget/Id@Version, licence, direct ones "required", transitive
ones too, with the dependency graph when a lock/assets file gives it), and every file of
the build output by name (no digest: scan runs before sign and Authenticode changes the
bytes; the signed manifest carries the shipped files' digests).

Determinism: every bom-ref is derived from content (purls, file names), the timestamp
is SOURCE_DATE_EPOCH (or the commit time, or 1980-01-01), and the serial number is a
UUIDv5 of product, version, that epoch and a digest of the components, so identical
inputs give identical bytes and different contents never share a serial number.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from uuid import NAMESPACE_URL, uuid5

from b2release import __version__
from b2release.scanners.inventory import Package

UNVERSIONED = "unversioned"


@dataclass(frozen=True)
class FileEntry:
    name: str
    sha256: str
    size: int


def serial_number(product: str, version: str | None, epoch: int, content_digest: str) -> str:
    return str(uuid5(NAMESPACE_URL, f"b2release-sbom:{product}:{version or UNVERSIONED}:{epoch}:{content_digest}"))


def build(product: str, version: str | None, epoch: int, packages: list[Package],
          licenses: dict[str, str | None], files: list[FileEntry]) -> bytes:
    from cyclonedx.model import Property
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentScope, ComponentType
    from cyclonedx.model.license import LicenseExpression
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    content = hashlib.sha256()  # over sorted inputs: the same inputs in another order give the same serial
    for pkg in sorted(packages, key=lambda p: p.purl):
        content.update(f"{pkg.purl}|{licenses.get(pkg.key) or ''}|{int(pkg.direct)}\n".encode())
        content.update((",".join(sorted(pkg.dependencies)) + "\n").encode())
    for f in sorted(files, key=lambda f: (f.name, f.sha256, f.size)):
        content.update(f"file|{f.name}|{f.sha256}|{f.size}\n".encode())
    serial = serial_number(product, version, epoch, content.hexdigest())

    root_ref = f"pkg:generic/{product}@{version}" if version else f"pkg:generic/{product}"
    root = Component(type=ComponentType.APPLICATION, name=product, version=version, bom_ref=root_ref)
    tool = Component(type=ComponentType.APPLICATION, name="b2release", version=__version__,
                     bom_ref=f"pkg:pypi/b2release@{__version__}")
    metadata = BomMetaData(
        timestamp=datetime.fromtimestamp(epoch, timezone.utc),
        component=root,
        tools=None,
    )
    metadata.tools.components.add(tool)
    if not version:
        metadata.properties.add(Property(name="b2release:version", value=UNVERSIONED))
    from uuid import UUID

    bom = Bom(serial_number=UUID(serial), metadata=metadata)

    by_key: dict[str, Component] = {}
    for pkg in packages:
        comp = Component(
            type=ComponentType.LIBRARY,
            name=pkg.id,
            version=pkg.version,
            purl=PackageURL(type="nuget", name=pkg.id, version=pkg.version),
            bom_ref=pkg.purl,
            scope=ComponentScope.REQUIRED,
            licenses=[LicenseExpression(licenses[pkg.key])] if licenses.get(pkg.key) else None,
            properties=[
                Property(name="b2release:direct", value="true" if pkg.direct else "false"),
                *[Property(name="b2release:declared-in", value=d) for d in sorted(pkg.declared_in)],
            ],
        )
        bom.components.add(comp)
        by_key[pkg.key] = comp
    for f in files:
        # Names only: scan runs before sign, and Authenticode changes the PE bytes, so a
        # digest here would not match the shipped file. The signed manifest has the digests.
        bom.components.add(Component(type=ComponentType.FILE, name=f.name, bom_ref=f"file:{f.name}"))
    bom.register_dependency(root, [by_key[p.key] for p in packages if p.direct])
    for pkg in packages:
        deps = [by_key[k] for k in sorted(pkg.dependencies) if k in by_key]
        bom.register_dependency(by_key[pkg.key], deps)
    with warnings.catch_warnings():
        # An empty graph (no source tree, only build output) is the truth, not an omission.
        warnings.filterwarnings("ignore", message=".*has no defined dependencies.*")
        text = JsonV1Dot6(bom).output_as_string(indent=2)
    # Re-serialise with sorted keys: byte-stable regardless of the library's key order.
    return (json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
