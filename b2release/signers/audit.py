"""Authenticode checks of package entries, for `verify` (offline).

`verify` streams every payload entry on all cores; this audit looks at each entry's first
bytes (`wants_file`: its PE headers) and only the entries osslsigncode must see are copied
into a temp dir verify owns. Every entry then gets `check`, with that copy's path or None.
It is called from several threads at once, so its results are kept under a lock.
PE entries are handed to `osslsigncode verify`:

- with a CA file (`--ca`): every PE entry must carry a signature that verifies against
  it (content digest and certificate chain); anything else is a VerificationError
  naming the entry (exit 1);
- without one: each PE entry's signature status is reported as information only.

osslsigncode parses untrusted input here (Debian's 2.9 has a known flaw verifying
untrusted files, fixed upstream in 2.12), so it only ever sees a copy in our temp dir,
runs with that dir as its working directory, without network (-ignore-cdp) and with a
timeout, and entries above MAX_PE_SIZE are refused rather than handed to it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from b2release.errors import ToolMissingError, VerificationError
from b2release.signers import pe
from b2release.signers.base import find_tool
from b2release.signers.certs import load_ca_file
from b2release.signers.osslsigncode import OsslSignCode

MAX_PE_SIZE = 512 << 20


@dataclass
class AuthenticodeAudit:
    ca: Path | None
    tool: OsslSignCode | None = None  # None when it is absent and no --ca was given
    results: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def create(cls, ca: Path | None) -> AuthenticodeAudit:
        """Fail fast (before reading the package) on a bad --ca file or a missing tool."""
        if ca is not None:
            load_ca_file(ca)
            return cls(ca=ca, tool=OsslSignCode(find_tool("osslsigncode")))
        try:
            return cls(ca=None, tool=OsslSignCode(find_tool("osslsigncode")))
        except ToolMissingError:
            return cls(ca=None, tool=None)  # headers only: still says signed / unsigned

    # How many leading bytes of an entry `wants_file` and `check` need (the PE headers): at
    # most head_bytes; given the first `first_bytes`, exactly `head_length` of them.
    head_bytes = pe.MAX_HEAD
    first_bytes = pe.HEADER_READ

    def head_length(self, start: bytes) -> int:
        return pe.head_length(start)

    def wants_file(self, head: bytes, size: int) -> bool:
        """Whether `check` needs the whole entry in a file: only for osslsigncode."""
        info = pe.inspect_head(head, size)
        if info is None or info.size > MAX_PE_SIZE:
            return False
        return info.signed and (self.ca is not None or self.tool is not None)

    def check(self, name: str, head: bytes, size: int, temp_path: Path | None) -> None:
        """Check one verified entry from its first bytes, and its copy when `wants_file` asked for one."""
        info = pe.inspect_head(head, size)
        if info is None:
            return
        entry: dict[str, Any] = {
            "file": name, "signed": info.signed, "checked_against": str(self.ca) if self.ca else None,
        }
        if self.ca is not None:
            if info.size > MAX_PE_SIZE:
                raise VerificationError(f"{name}: PE file of {info.size} bytes is above the {MAX_PE_SIZE >> 20} MiB "
                                        f"limit for Authenticode checks")
            if not info.signed:
                raise VerificationError(f"{name} is an unsigned PE file (no Authenticode signature)")
            assert temp_path is not None and self.tool is not None
            result = self.tool.verify(temp_path, self.ca, cwd=temp_path.parent)
            if not result.ok:
                raise VerificationError(f"{name}: Authenticode check failed: {result.reason}")
            entry.update(result.to_dict())
        elif temp_path is not None and self.tool is not None and info.signed and info.size <= MAX_PE_SIZE:
            result = self.tool.verify(temp_path, None, cwd=temp_path.parent)
            entry.update(result.to_dict())
            entry["valid"] = None  # not checked against a CA: information only
            # Without a CA the chain verdict (system store) means nothing here; a digest
            # mismatch does, so that one reason is kept.
            entry["reason"] = result.reason if result.digest_match is False else ""
        else:
            entry.update({"valid": None, "reason": "" if info.signed else "not signed"})
        if not entry["signed"]:
            entry["reason"] = "not signed"
        with self._lock:
            self.results.append(entry)

    def __call__(self, name: str, path: Path) -> None:
        """`check` of a whole file on disk."""
        with open(path, "rb") as fh:
            head = fh.read(self.head_bytes)
        size = path.stat().st_size
        self.check(name, head, size, path if self.wants_file(head, size) else None)

    def phrase(self) -> str:
        """What Authenticode state was seen, for verify's one result line."""
        if not self.results:
            return "Authenticode: no PE files"
        if self.ca is not None:
            return f"Authenticode: {len(self.results)} PE files trusted by {self.ca}"
        signed = sum(1 for r in self.results if r["signed"])
        broken = [r["file"] for r in self.results if r["signed"] and r.get("digest_match") is False]
        text = f"Authenticode: {signed} of {len(self.results)} PE files signed"
        if broken:
            text += f", {len(broken)} with a digest that no longer matches ({', '.join(broken)})"
        return text + " (not checked against a CA: pass --ca)"

    def summary(self) -> tuple[list[str], list[str]]:
        """(checks, notes) lines for the verify report."""
        if not self.results:
            return [], (["Authenticode: no PE files in the package"] if self.ca else [])
        if self.ca is not None:
            return [f"{len(self.results)} PE files carry valid Authenticode signatures trusted by {self.ca}"], []
        signed = [r["file"] for r in self.results if r["signed"]]
        unsigned = [r["file"] for r in self.results if not r["signed"]]
        note = f"Authenticode (information only, pass --ca to check): {len(signed)} signed, {len(unsigned)} unsigned"
        if unsigned:
            note += f" ({', '.join(unsigned)})"
        return [], [note]
