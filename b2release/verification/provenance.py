"""The build provenance beside a package: `<product>-<version>.intoto.jsonl` (formats/provenance.py).

Checked whenever the file is there (listed in SHA256SUMS or not: its own signature is what
counts): the DSSE signature by the release key, that its subject is the zip (the canonical
name `<product>-<version>.zip` and the zip's actual sha256, so a renamed download still
checks), and the expectations the auditor gave (`--source-uri`, `--builder-id`). A release
without provenance (made before b2release wrote it) is a note, unless an expectation was
given: then there is nothing to meet it, and that fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from b2release.errors import VerificationError
from b2release.formats.provenance import check_provenance, envelope_name
from b2release.formats.signature import PublicKey
from b2release.fsutil import sha256_file

if TYPE_CHECKING:
    from b2release.verification.package import Report

MAX_PROVENANCE = 16 << 20  # one signed line: a statement far beyond this is not ours


@dataclass(frozen=True)
class Expectations:
    """What the auditor requires of the provenance (None: anything)."""

    source_uri: str | None = None
    builder_id: str | None = None

    @property
    def given(self) -> list[str]:
        return [flag for flag, value in (("--source-uri", self.source_uri), ("--builder-id", self.builder_id)) if value]


NO_EXPECTATIONS = Expectations()


def check_beside(folder: Path, zip_path: Path, key: PublicKey, report: Report, expect: Expectations = NO_EXPECTATIONS,
                 zip_sha256: str | None = None, listed: set[str] | None = None) -> None:
    """Check `<product>-<version>.intoto.jsonl` in `folder` against the verified zip at `zip_path`.

    `report` must already name the product and version (verify_zip sets them). `zip_sha256`
    saves a second read of the zip when the caller has it; `listed` is SHA256SUMS's names.
    """
    name = envelope_name(report.product, report.version)
    zip_name = f"{report.product}-{report.version}.zip"
    path = folder / name
    if not path.is_file():
        if expect.given:
            raise VerificationError(f"{path}: no build provenance, so {' and '.join(expect.given)} cannot be checked "
                                    "(a release made before b2release wrote provenance, or a copy without it)")
        report.notes.append(f"no build provenance ({name}) beside {zip_name}: not checked")
        return
    if path.stat().st_size > MAX_PROVENANCE:
        raise VerificationError(f"{path} is implausibly large for a provenance statement")
    digest = zip_sha256 or sha256_file(zip_path)[0]
    summary = check_provenance(path.read_bytes(), zip_name, digest, key, expect_source_uri=expect.source_uri,
                               expect_builder_id=expect.builder_id, what=str(path))
    report.provenance = summary.to_dict()
    source = summary.source_uri or "no recorded repository"
    if summary.source_commit:
        source += f" at {summary.source_commit[:12]}" + (" (dirty)" if summary.source_dirty else "")
    met = f"; {' and '.join(expect.given)} met" if expect.given else ""
    report.checks.append(f"{name}: provenance signature valid, subject is {zip_name} (sha256 {digest[:16]}...), "
                         f"built by {summary.builder_id} from {source}{met}")
    if listed is not None and name not in listed:
        report.notes.append(f"{name} is not listed in SHA256SUMS (checked by its signature)")
