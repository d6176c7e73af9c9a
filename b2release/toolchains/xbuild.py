"""Mono's xbuild (deprecated by Mono, still shipped by Debian's mono-devel) driving mcs.

xbuild's Csc task knows neither Deterministic nor PathMap, but:
* mcs output is deterministic by itself: the PE timestamp is 0 and the MVID is derived
  from the image content (measured: two builds at different times and in different
  folders give identical bytes);
* the .mdb symbol files hold absolute source paths; the mapping is passed to mcs as
  `-pathmap:` in a response file (xbuild forwards `CompilerResponseFile` as `@file`).
"""

from __future__ import annotations

import re
from pathlib import Path

from b2release.process import query
from b2release.toolchains.base import BuildSpec, Toolchain, path_map_value

_MONO_VERSION = re.compile(r"Mono,? (?:JIT compiler )?[Vv]ersion (\S+)")
_ENGINE_VERSION = re.compile(r"XBuild Engine Version (\S+)")
MONO_LIB = Path("/usr/lib/mono")


def response_file_text(spec: BuildSpec) -> str:
    value = path_map_value(spec.path_map_root)
    return f'"-pathmap:{value}"\n' if " " in value else f"-pathmap:{value}\n"


class XBuild(Toolchain):
    name = "xbuild"
    property_prefix = "/p:"

    def command(self, spec: BuildSpec) -> list[str]:
        argv = [self.executable, str(spec.project), "/nologo", "/t:Build", "/v:normal"]
        extra = [("CompilerResponseFile", str(spec.response_file))] if spec.response_file else []
        return argv + self.property_args(spec, extra)

    def tool_version(self) -> str:
        out = query([self.executable, "/version", "/nologo"]) or ""
        engine = _ENGINE_VERSION.search(out)
        mono = _MONO_VERSION.search(out)
        if engine and mono:
            return f"{engine.group(1)} (Mono {mono.group(1)})"
        if mono:
            return f"Mono {mono.group(1)}"
        return "unknown"

    def reference_dirs(self) -> list[Path]:
        base = self._mono_lib()
        dirs = [p for p in sorted(base.glob("4.*-api")) if p.is_dir()]
        dirs += [p / "Facades" for p in dirs if (p / "Facades").is_dir()]
        dirs += [base / "4.5", base / "gac"]
        return [d for d in dirs if d.is_dir()]

    def _mono_lib(self) -> Path:
        # /usr/bin/xbuild -> /usr/lib/mono; a Mono in /opt/mono/bin -> /opt/mono/lib/mono
        candidate = Path(self.executable).resolve().parent.parent / "lib" / "mono"
        return candidate if candidate.is_dir() else MONO_LIB
