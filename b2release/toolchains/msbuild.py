"""MSBuild (Visual Studio / Build Tools, or any `msbuild` on PATH)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from b2release.process import query
from b2release.toolchains.base import BuildSpec, Toolchain

_VERSION = re.compile(r"(\d+\.\d+\.\d+(?:\.\d+)?)\s*$")


class MSBuild(Toolchain):
    name = "msbuild"
    property_prefix = "-p:"

    def command(self, spec: BuildSpec) -> list[str]:
        argv = [self.executable, str(spec.project), "-nologo", "-nodeReuse:false", "-t:Build", "-v:minimal"]
        if spec.sdk_style:
            argv.append("-restore")  # msbuild does not restore SDK-style projects on its own
        return argv + self.property_args(spec)

    def env(self) -> dict[str, str]:
        # No lingering worker nodes holding files in the build copy after we return.
        return {"MSBUILDDISABLENODEREUSE": "1"}

    def tool_version(self) -> str:
        out = query([self.executable, "-version", "-nologo"])
        if out:
            for line in reversed(out.strip().splitlines()):
                m = _VERSION.search(line.strip())
                if m:
                    return m.group(1)
        return "unknown"

    def reference_dirs(self) -> list[Path]:
        dirs = []
        pf86 = os.environ.get("ProgramFiles(x86)")
        if pf86:
            dirs.append(Path(pf86) / "Reference Assemblies" / "Microsoft" / "Framework" / ".NETFramework")
        windir = os.environ.get("WINDIR")
        if windir:
            dirs.append(Path(windir) / "Microsoft.NET" / "assembly")
        return [d for d in dirs if d.is_dir()]
