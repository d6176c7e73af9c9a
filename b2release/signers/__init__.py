"""Authenticode signers: osslsigncode (Linux, macOS, also Windows) and signtool (Windows).

Stages talk to a `Signer` (signers.base); `select_signer` picks the tool by platform and
by what is installed. certs.py checks signing material before any tool runs; audit.py
checks signatures for `verify`; pe.py reads PE headers; policy.py is package's rule that
no unsigned PE file ships when signing is required.
"""

from __future__ import annotations

import shutil
import sys

from b2release.errors import ToolMissingError
from b2release.signers.base import Signer, SignSpec, failure_line, find_tool, install_hint, run_tool
from b2release.signers.osslsigncode import OsslSignCode
from b2release.signers.signtool import SignTool

__all__ = ["SignSpec", "Signer", "failure_line", "find_tool", "install_hint", "run_tool", "select_signer"]


def select_signer(platform: str | None = None) -> Signer:
    """signtool on Windows when present, else osslsigncode; osslsigncode everywhere else."""
    platform = platform or sys.platform
    if platform.startswith("win"):
        try:
            return SignTool(find_tool("signtool", platform))
        except ToolMissingError:
            if shutil.which("osslsigncode") is None and shutil.which("osslsigncode.exe") is None:
                raise
    return OsslSignCode(find_tool("osslsigncode", platform))
