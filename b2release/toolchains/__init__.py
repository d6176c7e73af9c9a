"""Build tool adapters: msbuild, dotnet, Mono's xbuild.

Each adapter (a `Toolchain`, toolchains.base) turns a `BuildSpec` into the tool's argv and
knows how to ask the tool for its version. The stage (`b2release/stages/build.py`) owns
the copy, the run and the outputs; adapters own only the tool's command-line dialect.
discovery.py finds the project and the tool; stamping.py stamps the version into a copy
of the sources; diagnostics.py reads the tool's errors and warnings.
"""

from __future__ import annotations

from b2release.errors import UsageError
from b2release.toolchains.base import (
    BuildSpec,
    Toolchain,
    escape_value,
    is_secret_property,
    parse_property,
    path_map_value,
    property_arg,
    render_command,
)
from b2release.toolchains.dotnet import Dotnet
from b2release.toolchains.msbuild import MSBuild
from b2release.toolchains.xbuild import XBuild

__all__ = ["BuildSpec", "Toolchain", "escape_value", "get", "is_secret_property", "parse_property", "path_map_value",
           "property_arg", "render_command"]

_ADAPTERS: dict[str, type[Toolchain]] = {"msbuild": MSBuild, "dotnet": Dotnet, "xbuild": XBuild}


def get(name: str, executable: str) -> Toolchain:
    adapter = _ADAPTERS.get(name)
    if adapter is None:
        raise UsageError(f"unknown build tool {name!r}")
    return adapter(executable)
