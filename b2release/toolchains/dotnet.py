"""`dotnet build` (the .NET SDK), for SDK-style projects."""

from __future__ import annotations

from b2release.process import query, tool_env
from b2release.toolchains.base import BuildSpec, Toolchain, property_arg


class Dotnet(Toolchain):
    name = "dotnet"
    property_prefix = "-p:"

    def command(self, spec: BuildSpec) -> list[str]:
        argv = [self.executable, "build", str(spec.project), "--nologo", "-c", spec.configuration,
                "-v:minimal", "-nodeReuse:false"]
        # Configuration goes through -c; the rest as MSBuild properties.
        props = [(k, v) for k, v in self.common_properties(spec) if k != "Configuration"] + spec.properties

        return argv + [property_arg(self.property_prefix, k, v) for k, v in props]

    def env(self) -> dict[str, str]:
        return {
            "DOTNET_CLI_TELEMETRY_OPTOUT": "1",
            "DOTNET_NOLOGO": "1",
            "DOTNET_SKIP_FIRST_TIME_EXPERIENCE": "1",
            "MSBUILDDISABLENODEREUSE": "1",
        }

    def tool_version(self) -> str:
        out = query([self.executable, "--version"], env=tool_env(self.env()))
        return out.strip().splitlines()[-1].strip() if out and out.strip() else "unknown"
