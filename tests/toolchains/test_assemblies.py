"""The .NET metadata reader on real assemblies compiled by mcs (`compiled`, tests/fixtures/projects.py)
and Mono's own, when present."""

from __future__ import annotations

from pathlib import Path

import pytest

from b2release.toolchains import assemblies


@pytest.mark.mono
def test_identity_and_references(compiled):
    lib = assemblies.read(compiled / "Lib.dll")
    assert (lib.name, lib.version, lib.culture, lib.reference_assembly) == ("Lib", "1.2.3.4", "", False)
    assert lib.reference("system.xml") is not None and lib.reference("mscorlib").version == "4.0.0.0"
    tests = assemblies.read(compiled / "Tests.dll")
    nunit = tests.reference("nunit.framework")
    assert nunit is not None and nunit.major == 2


@pytest.mark.mono
def test_reference_assemblies(compiled):
    assert assemblies.read(compiled / "RefAsm.dll").reference_assembly is True
    for path, expected in ((Path("/usr/lib/mono/4.8-api/mscorlib.dll"), True),  # defines the attribute itself
                           (Path("/usr/lib/mono/4.8-api/System.Web.dll"), True),
                           (Path("/usr/lib/mono/4.5/mscorlib.dll"), False)):
        if path.is_file():
            assert assemblies.read(path).reference_assembly is expected, path


def test_anything_else_is_none(tmp_path, compiled):
    data = (compiled / "Lib.dll").read_bytes()
    for name, content in (("empty.dll", b""), ("text.dll", b"hello"), ("mz.dll", b"MZ" + b"\0" * 200),
                          ("truncated.dll", data[: data.index(b"BSJB") + 40]), ("headers.dll", data[:512])):
        (tmp_path / name).write_bytes(content)
        assert assemblies.read(tmp_path / name) is None, name
    assert assemblies.read(tmp_path / "missing.dll") is None
