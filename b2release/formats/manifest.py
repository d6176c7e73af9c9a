"""manifest.json: what a release contains, signed by the release key (docs/formats.md).

The bytes are canonical (formats.canonical) and depend only on the inputs: nothing
run-specific (correlation id, wall-clock time, paths of the machine) goes in here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from b2release.errors import VerificationError
from b2release.formats import canonical
from b2release.formats.names import entry_name_problem

MANIFEST_FORMAT = "b2release-manifest/1"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.json.sig"
CHECKSUMS_NAME = "SHA256SUMS"
# Inside the zip, the manifest and signature live in a reserved folder no payload may use.
RESERVED_DIR = ".b2release"
ZIP_MANIFEST = f"{RESERVED_DIR}/{MANIFEST_NAME}"
ZIP_SIGNATURE = f"{RESERVED_DIR}/{SIGNATURE_NAME}"

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def attachment_path_problem(path: object) -> str | None:
    """Why an attachment path is not allowed, or None. Attachments are flat names inside
    `.b2release/` (older verifiers accept nothing else): the SBOM, `<Assembly>.api.txt`."""
    if not isinstance(path, str) or not path:
        return "not a name"
    if "/" in path or path in (".", ".."):
        return "not a flat name"
    if entry_name_problem(path):
        return "not a safe entry name"
    return None


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


@dataclass
class Manifest:
    product: str
    version: str
    key_id: str
    files: list[FileEntry]
    timestamp: dict[str, Any] = field(default_factory=dict)
    build: dict[str, Any] | None = None
    scan: dict[str, Any] | None = None
    signing: dict[str, Any] | None = None
    # Files shipped beside the payload inside .b2release/ (the SBOM; the API files, kind "api",
    # which ship inside the zip only): path, kind, size, sha256.
    attachments: list[dict[str, Any]] | None = None
    # How the zip was compressed (libraries, versions, levels): a rebuild is byte-comparable.
    packaging: dict[str, Any] | None = None
    # The public-API check against the previous release (compat stage): docs/formats.md.
    compat: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "product": self.product,
            "version": self.version,
            "key_id": self.key_id,
            "files": [f.to_dict() for f in sorted(self.files, key=lambda f: f.path)],
            "timestamp": self.timestamp,
        }
        for name in ("build", "scan", "signing", "attachments", "packaging", "compat"):
            value = getattr(self, name)
            if value is not None:
                doc[name] = value
        return doc

    def to_bytes(self) -> bytes:
        return canonical.dumps(self.to_dict())

    def file_map(self) -> dict[str, FileEntry]:
        return {f.path: f for f in self.files}


def parse(data: bytes, what: str = MANIFEST_NAME) -> Manifest:
    doc = canonical.loads(data, what)
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
        raise VerificationError(f"{what} is not a {MANIFEST_FORMAT} document")
    try:
        files = []
        seen: set[str] = set()
        for entry in doc["files"]:
            path, size, digest = entry["path"], entry["size"], entry["sha256"]
            if (not isinstance(path, str) or not isinstance(size, int) or isinstance(size, bool)
                    or not _HEX64.fullmatch(str(digest))):
                raise ValueError(f"bad file entry {entry!r}")
            if path in seen:
                raise ValueError(f"file {path} listed twice")
            seen.add(path)
            files.append(FileEntry(path, size, digest))
        manifest = Manifest(
            product=str(doc["product"]),
            version=str(doc["version"]),
            key_id=str(doc["key_id"]),
            files=files,
            timestamp=doc.get("timestamp") or {},
            build=doc.get("build"),
            scan=doc.get("scan"),
            signing=doc.get("signing"),
            attachments=doc.get("attachments"),
            packaging=doc.get("packaging"),
            compat=doc.get("compat"),
        )
        if manifest.attachments is not None and not isinstance(manifest.attachments, list):
            raise ValueError("attachments is not a list")
        paths: set[str] = set()
        for att in manifest.attachments or []:
            if (not isinstance(att, dict) or attachment_path_problem(att.get("path")) is not None
                    or not _HEX64.fullmatch(str(att.get("sha256")))
                    or not isinstance(att.get("size"), int) or isinstance(att.get("size"), bool)):
                raise ValueError(f"bad attachment {att!r}")
            if att["path"] in paths:
                raise ValueError(f"attachment {att['path']} listed twice")
            paths.add(att["path"])
        if manifest.compat is not None and not isinstance(manifest.compat, dict):
            raise ValueError("compat is not an object")
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationError(f"{what} is malformed: {exc}") from None
    return manifest
