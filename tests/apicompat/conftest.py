"""Fixtures for the API-compat tests: small C# and IL libraries, compiled once per session.

Mono's mcs/ilasm build them against the .NET Framework 4.8 reference assemblies (like the
connector). Missing Mono: the tests that need it skip, unless CI is set (then they fail).
The connector library is built in a base version and one variant per kind of change; the
variants compile in parallel (2 workers), about 0.3 s each.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CSHARP = HERE / "csharp"
IL = HERE / "il"
REFERENCE = Path("/usr/lib/mono/4.8-api")
FRAMEWORK = Path("/usr/lib/mono/4.5")


def require_tool(name: str) -> str:
    """The tool's path; skip when absent, but fail in CI (CI must run the real thing)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required in CI (install mono-devel)")
        pytest.skip(f"{name} not installed (install mono-devel to run this test)")
    return path


def require_framework() -> Path:
    if not (FRAMEWORK / "mscorlib.dll").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{FRAMEWORK} is required in CI (install mono-devel)")
        pytest.skip(f"no Mono framework assemblies in {FRAMEWORK}")
    return FRAMEWORK


def compile_csharp(mcs: str, source: str, out: Path, *flags: str) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    src = out.with_suffix(".cs")
    src.write_text(source, encoding="utf-8")
    args = [mcs, "-target:library", "-deterministic", "-nologo", "-langversion:experimental", "-unsafe",
            "-nowarn:67,169,414,649,628", f"-out:{out}", *flags]
    if REFERENCE.is_dir():
        args += ["-nostdlib", f"-lib:{REFERENCE}", "-r:mscorlib.dll", "-r:System.dll", "-r:System.Core.dll"]
    proc = subprocess.run([*args, str(src)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.fixture(scope="session")
def mcs() -> str:
    return require_tool("mcs")


@pytest.fixture(scope="session")
def rendering_dll(mcs, tmp_path_factory) -> Path:
    """csharp/Rendering.cs: every rendering case."""
    out = tmp_path_factory.mktemp("rendering") / "Rendering.dll"
    return compile_csharp(mcs, (CSHARP / "Rendering.cs").read_text(encoding="utf-8"), out)


@pytest.fixture(scope="session")
def modifiers_dll(tmp_path_factory) -> Path:
    """il/Modifiers.il: encodings C# compilers in Mono cannot emit (in, init, modopt, fnptr)."""
    ilasm = require_tool("ilasm")
    out = tmp_path_factory.mktemp("il") / "Modifiers.dll"
    proc = subprocess.run([ilasm, "/dll", "/quiet", f"/output:{out}", str(IL / "Modifiers.il")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


# The connector in version 1, and what each variant changes in it: (old text, new text).
CONNECTOR_VARIANTS: dict[str, list[tuple[str, str]]] = {
    "unchanged": [],
    "removed_method": [("        public void Remove(int id) { }\n", "")],
    "changed_parameter_type": [("public Order Get(int id)", "public Order Get(long id)")],
    "changed_return_type": [("public int Count(string filter)", "public long Count(string filter)")],
    "changed_enum_value": [("Closed = 2", "Closed = 3")],
    "new_interface_member": [("Order[] Fetch(int max);", "Order[] Fetch(int max);\n        void Reset();")],
    "reduced_visibility": [("public virtual void Refresh()", "protected virtual void Refresh()")],
    "new_public_class": [("    public class Helper", "    public class Invoice { }\n\n    public class Helper")],
    "sealed_added": [("public class Helper", "public sealed class Helper")],
    "base_interface_removed": [("public class Client : IDisposable", "public class Client")],
}


@pytest.fixture(scope="session")
def connector_builds(mcs, tmp_path_factory) -> dict[str, Path]:
    """{"v1": dll, variant: dll}: the same assembly name (Enventa.Connector) in separate folders."""
    root = tmp_path_factory.mktemp("connector")
    base = (CSHARP / "Connector.cs").read_text(encoding="utf-8")
    sources = {"v1": base}
    for name, edits in CONNECTOR_VARIANTS.items():
        text = base
        for old, new in edits:
            assert old in text, (name, old)
            text = text.replace(old, new)
        sources[name] = text
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(compile_csharp, mcs, text, root / name / "Enventa.Connector.dll")
                   for name, text in sources.items()}
        return {name: future.result() for name, future in futures.items()}
