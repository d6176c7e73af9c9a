"""signtool.exe (Windows SDK): Authenticode signing on Windows.

signtool signs in place and reads keys from a PFX (or the certificate store) only, with
the PFX password on its command line (`/p`): it offers no file or stdin for it. So the
user's password never goes there: the checked key and certificate are written to a
throwaway PFX in a private temp dir, protected by a random one-time password, and that
file is deleted right after the call. The one-time password is registered for redaction.

signtool cannot set the signing time, so only timestamped signatures are meaningful on
Windows and its output is not byte-reproducible (osslsigncode's is).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from b2release.errors import ToolError
from b2release.redact import register_secret
from b2release.signers.base import SignSpec, failure_line, run_tool


class SignTool:
    name = "signtool"

    def __init__(self, path: str = "signtool.exe"):
        self.path = path

    def sign_args(self, target: Path, spec: SignSpec, pfx: Path, password: str | None) -> list[str]:
        args = [self.path, "sign", "/fd", spec.digest, "/f", str(pfx)]
        if password:
            args += ["/p", password]
        if spec.description:
            args += ["/d", spec.description]
        if spec.url:
            args += ["/du", spec.url]
        if spec.timestamp_url:
            args += ["/tr", spec.timestamp_url, "/td", spec.digest]
        args += [os.path.abspath(target)]
        return args

    def remove_args(self, target: Path) -> list[str]:
        return [self.path, "remove", "/s", os.path.abspath(target)]

    @contextmanager
    def _one_time_pfx(self, spec: SignSpec) -> Iterator[tuple[Path, str]]:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import pkcs12

        m = spec.material
        password = secrets.token_urlsafe(24)
        register_secret(password)
        data = pkcs12.serialize_key_and_certificates(
            b"b2release-codesign", m.private_key, m.certificate, m.chain or None,
            serialization.BestAvailableEncryption(password.encode("ascii")),
        )
        with tempfile.TemporaryDirectory(prefix="b2release-signtool-") as tmp:
            pfx = Path(tmp) / "codesign.pfx"
            pfx.write_bytes(data)
            pfx.chmod(0o600)
            yield pfx, password

    def sign(self, src: Path, dst: Path, spec: SignSpec) -> None:
        shutil.copyfile(src, dst)  # signtool signs in place: sign the copy
        with self._one_time_pfx(spec) as (pfx, password):
            proc = run_tool(self.sign_args(dst, spec, pfx, password), f"signing {src.name}", cwd=dst.parent)
        if proc.returncode != 0:
            raise ToolError(f"signtool could not sign {src.name}: {failure_line(proc.stdout + proc.stderr)}")

    def remove_signature(self, src: Path, dst: Path) -> None:
        shutil.copyfile(src, dst)
        proc = run_tool(self.remove_args(dst), f"removing the signature of {src.name}", cwd=dst.parent)
        if proc.returncode != 0:
            raise ToolError(
                f"signtool could not remove the signature of {src.name}: {failure_line(proc.stdout + proc.stderr)}"
            )
