"""What every Authenticode signer shares: the spec, the Signer protocol, finding and
running the tool, and reading its failure. A missing tool is a ToolMissingError (exit 3)
carrying the platform's install hint. Secrets never reach a command line when the tool
can read them another way.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

from b2release import process
from b2release.errors import ToolMissingError
from b2release.redact import redact
from b2release.signers.certs import SigningMaterial


@dataclass
class SignSpec:
    """How to sign: checked material plus the Authenticode options."""

    material: SigningMaterial
    digest: str = "sha256"
    timestamp_url: str = ""
    description: str = ""
    url: str = ""
    epoch: int | None = None  # signing time when there is no timestamp server


class Signer(Protocol):
    name: str
    path: str

    def sign(self, src: Path, dst: Path, spec: SignSpec) -> None:
        """Write a signed copy of src to dst (dst must not exist)."""

    def remove_signature(self, src: Path, dst: Path) -> None:
        """Write an unsigned copy of src to dst (dst must not exist)."""


def install_hint(tool: str, platform: str | None = None) -> str:
    platform = platform or sys.platform
    if tool == "signtool":
        return ("signtool.exe comes with the Windows SDK (\"Windows SDK Signing Tools for Desktop Apps\"); "
                "install it or put signtool.exe on PATH, or install osslsigncode: winget install "
                "MichalTrojnara.osslsigncode")
    if platform.startswith("win"):
        return "install osslsigncode: winget install MichalTrojnara.osslsigncode (or MSYS2: pacman -S osslsigncode)"
    if platform == "darwin":
        return "install osslsigncode: brew install osslsigncode"
    return ("install osslsigncode: sudo apt-get install osslsigncode (Debian/Ubuntu), "
            "sudo dnf install osslsigncode (Fedora)")


def find_tool(tool: str, platform: str | None = None) -> str:
    """Absolute path of a tool on PATH, or ToolMissingError with the install hint."""
    exe = tool + ".exe" if (platform or sys.platform).startswith("win") else tool
    found = shutil.which(exe) or shutil.which(tool)
    if not found:
        raise ToolMissingError(f"{tool} is not installed (not found on PATH)", hint=install_hint(tool, platform))
    return found


def run_tool(args: Sequence[str], what: str, cwd: Path | None = None,
             timeout: float = process.DEFAULT_TIMEOUT) -> process.Completed:
    """A signing tool run to completion; our own secrets travel in files, never in its environment."""
    return process.run(args, what=what, cwd=cwd, timeout=timeout, hint=install_hint(Path(args[0]).stem))


def failure_line(output: str) -> str:
    """The most telling line of a tool's output, for a one-line error message."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    noise = {"failed", "succeeded", "signature verification: failed"}
    useful = [line for line in lines if line.lower() not in noise]
    for line in useful:
        lowered = line.lower()
        if any(word in lowered for word in ("error", "failed", "unable", "cannot", "wrong", "invalid", "mismatch",
                                            "not supported", "no signature")):
            return redact(line)[:300]
    return redact(useful[-1])[:300] if useful else "no output"
