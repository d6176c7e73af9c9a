"""Package policy: no unsigned PE file ships when `[sign] required = true`.

Called by the package stage with the payload's (entry name, path) pairs. The decision
is recorded in the manifest's "signing" field and depends only on the inputs (which
files are PE, which carry an Authenticode certificate table), so the manifest stays
reproducible. Presence is checked here; validity against a CA is `verify --ca`'s job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from b2release.errors import PolicyError
from b2release.signers import pe


def classify(files: list[tuple[str, Path]]) -> tuple[list[str], list[str]]:
    """(signed, unsigned) entry names of the PE files among `files`, sorted."""
    signed: list[str] = []
    unsigned: list[str] = []
    for name, path in files:
        info = pe.inspect(path)
        if info is None:
            continue
        (signed if info.signed else unsigned).append(name)
    return sorted(signed), sorted(unsigned)


def check(files: list[tuple[str, Path]], allow_unsigned: bool, required: bool) -> dict[str, Any] | None:
    """The manifest's "signing" field; PolicyError when `required` and a PE file is unsigned."""
    signed, unsigned = classify(files)
    if not signed and not unsigned:
        return None
    if not unsigned:
        return {"authenticode": "signed", "files": signed}
    if allow_unsigned:
        return {"authenticode": "unsigned-allowed", "unsigned": unsigned}
    if required:
        shown = ", ".join(unsigned[:5]) + (f" and {len(unsigned) - 5} more" if len(unsigned) > 5 else "")
        what = "an unsigned PE file" if len(unsigned) == 1 else "unsigned PE files"
        raise PolicyError(
            f"{shown}: {what} and sign.required is true; run `b2release sign` first "
            f"(or package with --allow-unsigned for a local experiment)",
            details={"unsigned": unsigned},
        )
    return {"authenticode": "unsigned", "unsigned": unsigned}
