"""What every build tool adapter shares: the BuildSpec, the Toolchain base class, and the
MSBuild property dialect (names, escaping, the recorded command line with secrets masked).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from b2release.errors import UsageError
from b2release.redact import MASK

# The mapped root of every source path in symbols and embedded paths (Roslyn's convention).
PATH_MAP_TARGET = "/_/"
# Properties whose values must never be logged: b2release computes or owns these.
RESERVED_PROPERTIES = {"outdir", "outputpath"}
_PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_SECRET_NAME = re.compile(r"password|passwd|pwd|secret|token|key|credential|connectionstring|sas", re.IGNORECASE)


@dataclass
class BuildSpec:
    project: Path  # the .sln or project file inside the build copy
    configuration: str
    version_properties: list[tuple[str, str]]
    out_dir: Path  # where the tool puts the binaries (OutDir)
    path_map_root: Path  # the build copy's root, mapped to PATH_MAP_TARGET
    properties: list[tuple[str, str]] = field(default_factory=list)  # user's, applied last
    warnings_as_errors: bool = False
    sdk_style: bool = False
    response_file: Path | None = None  # xbuild: extra compiler options (pathmap)


def parse_property(text: str, where: str = "--property") -> tuple[str, str]:
    """'K=V' -> (K, V); the name must be an MSBuild property name."""
    name, sep, value = str(text).partition("=")
    name = name.strip()
    if not sep or not _PROPERTY_NAME.fullmatch(name):
        raise UsageError(f"{where}: expected NAME=VALUE with an MSBuild property name, got {text!r}")
    if name.lower() in RESERVED_PROPERTIES:
        raise UsageError(f"{where}: {name} is set by b2release (the output goes to the work dir's build/ folder)")
    return name, value


def is_secret_property(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def escape_value(value: str) -> str:
    """MSBuild escaping for a /p: value.

    `;` and `,` separate properties inside one /p: switch, `%` starts an escape and `"`
    is stripped by MSBuild's command-line parser, so each becomes its %XX form (MSBuild
    unescapes global properties). Spaces need no escaping: the value travels as one argv
    element, never through a shell.
    """
    out = []
    for ch in value:
        if ch in "%;,\"":
            out.append(f"%{ord(ch):02X}")
        else:
            out.append(ch)
    return "".join(out)


def property_arg(prefix: str, name: str, value: str) -> str:
    return f"{prefix}{name}={escape_value(value)}"


def path_map_value(root: Path) -> str:
    # A trailing separator so only whole path components are mapped.
    text = str(root)
    sep = "\\" if (len(text) > 1 and text[1] == ":") else "/"
    return (text if text.endswith(sep) else text + sep) + "=" + PATH_MAP_TARGET


def render_command(argv: Sequence[str], secrets: Sequence[str] = ()) -> str:
    """The command line as a shell would take it, with secret values masked."""
    masked = []
    for arg in argv:
        for secret in sorted((s for s in secrets if s), key=len, reverse=True):
            arg = arg.replace(escape_value(secret), MASK).replace(secret, MASK)
        masked.append(arg)
    if sys.platform == "win32":
        return subprocess.list2cmdline(masked)
    return shlex.join(masked)


class Toolchain:
    name = ""
    property_prefix = "-p:"

    def __init__(self, executable: str):
        self.executable = executable

    def command(self, spec: BuildSpec) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def tool_version(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        """Variables the tool needs beyond the allowlist of b2release.process."""
        return {}

    def reference_dirs(self) -> list[Path]:
        """Folders of framework reference assemblies / GAC: never part of the output."""
        return []

    def common_properties(self, spec: BuildSpec) -> list[tuple[str, str]]:
        props = [("Configuration", spec.configuration)]
        props += [
            # Deterministic compiler output, and paths in PDBs mapped away from the build copy.
            ("Deterministic", "true"),
            ("ContinuousIntegrationBuild", "true"),
            ("PathMap", path_map_value(spec.path_map_root)),
            # Absolute paths in diagnostics, so they map back to the user's tree.
            ("GenerateFullPaths", "true"),
            ("OutDir", str(spec.out_dir) + ("\\" if "\\" in str(spec.out_dir) else "/")),
        ]
        props += spec.version_properties
        if spec.warnings_as_errors:
            props.append(("TreatWarningsAsErrors", "true"))
        return props

    def property_args(self, spec: BuildSpec, extra: list[tuple[str, str]] | None = None) -> list[str]:
        props = self.common_properties(spec) + (extra or []) + spec.properties
        return [property_arg(self.property_prefix, k, v) for k, v in props]
