"""osslsigncode: Authenticode signing and offline verification of PE files.

Passwords go through `-readpass FILE` (a 0600 temp file outside the work dir, deleted
right after the call), never `-pass`, so they do not show in `ps` or in any log. Without
a timestamp server the signing time is fixed with `-time` (SOURCE_DATE_EPOCH), which
makes the signed bytes a function of the inputs: signing twice gives identical files.
"""

from __future__ import annotations

import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from b2release.errors import ToolError
from b2release.signers.base import SignSpec, failure_line, run_tool

VERIFY_TIMEOUT = 120


@dataclass
class VerifyResult:
    """osslsigncode's verdict on one file, parsed from its report."""

    ok: bool
    signed: bool
    subject: str = ""
    issuer: str = ""
    digest_algorithm: str = ""
    message_digest: str = ""  # the digest the tool calculated over the file
    digest_match: bool | None = None
    signatures: int = 0
    reason: str = ""
    details: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "signed": self.signed,
            "valid": self.ok,
            "subject": self.subject,
            "issuer": self.issuer,
            "digest_algorithm": self.digest_algorithm,
            "message_digest": self.message_digest,
            "digest_match": self.digest_match,
            "signatures": self.signatures,
            "reason": self.reason,
        }


@contextmanager
def secret_file(secret: str | None) -> Iterator[Path | None]:
    """A 0600 temp file holding the secret (no trailing newline), removed on exit."""
    if not secret:
        yield None
        return
    fd, name = tempfile.mkstemp(prefix="b2release-pass-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secret)
        yield Path(name)
    finally:
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass


class OsslSignCode:
    name = "osslsigncode"

    def __init__(self, path: str = "osslsigncode"):
        self.path = path

    # --- signing -------------------------------------------------------------------------
    def sign_args(self, src: Path, dst: Path, spec: SignSpec, readpass: Path | None = None) -> list[str]:
        m = spec.material
        args = [self.path, "sign"]
        if m.pfx_path is not None:
            args += ["-pkcs12", str(m.pfx_path)]
        else:
            args += ["-certs", str(m.cert_path), "-key", str(m.key_path)]
        if readpass is not None:
            args += ["-readpass", str(readpass)]
        args += ["-h", spec.digest]
        if spec.description:
            args += ["-n", spec.description]
        if spec.url:
            args += ["-i", spec.url]
        if spec.timestamp_url:
            # RFC 3161; the TSA's time then is the signing time (not reproducible by design).
            args += ["-ts", spec.timestamp_url]
        elif spec.epoch is not None:
            args += ["-time", str(spec.epoch)]
        args += ["-in", os.path.abspath(src), "-out", os.path.abspath(dst)]
        return args

    def sign(self, src: Path, dst: Path, spec: SignSpec) -> None:
        m = spec.material
        secret = m.pfx_password if m.pfx_path is not None else m.key_passphrase
        with secret_file(secret) as readpass:
            proc = run_tool(self.sign_args(src, dst, spec, readpass), f"signing {src.name}", cwd=dst.parent)
        if proc.returncode != 0 or not dst.is_file():
            raise ToolError(f"osslsigncode could not sign {src.name}: {failure_line(proc.stdout + proc.stderr)}")

    def remove_signature(self, src: Path, dst: Path) -> None:
        proc = run_tool([self.path, "remove-signature", "-in", os.path.abspath(src), "-out", os.path.abspath(dst)],
                        f"removing the signature of {src.name}", cwd=dst.parent)
        if proc.returncode != 0 or not dst.is_file():
            raise ToolError(
                f"osslsigncode could not remove the signature of {src.name}: {failure_line(proc.stdout + proc.stderr)}"
            )

    # --- verification --------------------------------------------------------------------
    def verify_args(self, path: Path, ca: Path | None) -> list[str]:
        # -ignore-cdp: never fetch CRLs from the network; verify stays offline.
        args = [self.path, "verify", "-in", os.path.abspath(path), "-ignore-cdp"]
        if ca is not None:
            args += ["-CAfile", os.path.abspath(ca)]
        return args

    def verify(self, path: Path, ca: Path | None, cwd: Path | None = None) -> VerifyResult:
        proc = run_tool(self.verify_args(path, ca), f"verifying {path.name}", cwd=cwd, timeout=VERIFY_TIMEOUT)
        return parse_verify(proc.stdout + "\n" + proc.stderr, proc.returncode)


_SUBJECT = re.compile(r"^\s*Subject\s*:\s*(.+?)\s*$", re.MULTILINE)
_ISSUER = re.compile(r"^\s*Issuer\s*:\s*(.+?)\s*$", re.MULTILINE)
_DIGEST_ALG = re.compile(r"^\s*Message digest algorithm\s*:\s*(\S+)", re.MULTILINE)
_CURRENT = re.compile(r"^\s*Current message digest\s*:\s*([0-9A-Fa-f]+)", re.MULTILINE)
_CALCULATED = re.compile(r"^\s*Calculated message digest\s*:\s*([0-9A-Fa-f]+)\s*(MISMATCH)?", re.MULTILINE)
_COUNT = re.compile(r"Number of verified signatures:\s*(\d+)")
_ERROR = re.compile(r"^\s*Error:\s*(.+?)\s*$", re.MULTILINE)


def parse_verify(output: str, returncode: int) -> VerifyResult:
    """Read osslsigncode's verify report (2.x layout; the subject format changed in 2.10)."""
    if "No signature found" in output:
        return VerifyResult(ok=False, signed=False, reason="not signed (no Authenticode signature)")
    signer_part = output.split("Signer's certificate:", 1)[-1]
    subject = _SUBJECT.search(signer_part)
    issuer = _ISSUER.search(signer_part)
    alg = _DIGEST_ALG.search(output)
    current = _CURRENT.search(output)
    calculated = _CALCULATED.search(output)
    count = _COUNT.search(output)
    digest_match: bool | None = None
    if calculated is not None:
        digest_match = calculated.group(2) is None and (current is None or current.group(1) == calculated.group(1))
    result = VerifyResult(
        ok=returncode == 0 and digest_match is not False,
        signed=True,
        subject=_clean_name(subject.group(1)) if subject else "",
        issuer=_clean_name(issuer.group(1)) if issuer else "",
        digest_algorithm=alg.group(1).lower() if alg else "",
        message_digest=calculated.group(1).lower() if calculated else "",
        digest_match=digest_match,
        signatures=int(count.group(1)) if count else 0,
    )
    if not result.ok:
        if digest_match is False:
            result.reason = "file content does not match its signature (digest mismatch: changed after signing)"
        else:
            errors = [e for e in _ERROR.findall(output)]
            if errors:
                result.reason = f"signature not trusted by the CA file ({errors[0]})"
            else:
                result.reason = f"signature verification failed ({failure_line(output)})"
    return result


def _clean_name(name: str) -> str:
    # 2.9 prints "/CN=x/O=y", 2.10+ prints "CN=x, O=y"; report one form.
    if name.startswith("/"):
        parts = [p for p in re.split(r"/(?=[A-Za-z.0-9]+=)", name) if p]
        return ", ".join(parts)
    return name
