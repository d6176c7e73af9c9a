"""Reading files: assemblies without API, satellites, native and non-PE files, corrupt DLLs."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

from b2release.apicompat import (
    NOT_DOTNET,
    find_assemblies,
    parse_api_text,
    read_assemblies,
    read_assembly,
    surfaces_of,
)
from b2release.errors import InputError

from .conftest import compile_csharp


def without_clr_header(dll: Path, dest: Path) -> Path:
    """A copy of a .NET DLL with the CLR data directory zeroed: a valid PE, but native."""
    data = bytearray(dll.read_bytes())
    (lfanew,) = struct.unpack_from("<I", data, 0x3C)
    opt = lfanew + 24
    (magic,) = struct.unpack_from("<H", data, opt)
    directories = opt + (96 if magic == 0x10B else 112)
    data[directories + 14 * 8:directories + 15 * 8] = bytes(8)
    dest.write_bytes(bytes(data))
    return dest


@pytest.mark.mono
def test_assembly_without_public_types(mcs, tmp_path):
    dll = compile_csharp(mcs, "namespace Hidden { internal class A { public void M() {} } }", tmp_path / "Hidden.dll")
    result = read_assembly(dll)
    assert result.is_dotnet and not result.is_satellite
    assert result.surface.to_text() == "assembly Hidden\n"


@pytest.mark.mono
def test_satellite_assembly(mcs, tmp_path):
    resource = tmp_path / "strings.txt"
    resource.write_text("hello\n", encoding="utf-8")
    dll = compile_csharp(mcs, '[assembly: System.Reflection.AssemblyCulture("de")]', tmp_path / "de" / "Hidden.resources.dll",
                         f"-resource:{resource},Hidden.Strings.de.resources")
    result = read_assembly(dll)
    assert result.culture == "de" and result.is_satellite
    assert "satellite" in result.note
    assert result.surface.to_text() == "assembly Hidden.resources\n"
    assert surfaces_of([result]) == {}  # no API file for a satellite


@pytest.mark.mono
def test_native_pe_is_a_result_not_an_error(rendering_dll, tmp_path):
    native = without_clr_header(rendering_dll, tmp_path / "native.dll")
    result = read_assembly(native)
    assert result.surface is None and not result.is_dotnet
    assert result.note == NOT_DOTNET
    assert surfaces_of([result]) == {}


@pytest.mark.parametrize("content", [b"", b"MZ", b"not a dll at all\n" * 10, b"MZ" + bytes(200)])
def test_non_pe_file_is_an_input_error_naming_it(tmp_path, content):
    path = tmp_path / "Broken.dll"
    path.write_bytes(content)
    with pytest.raises(InputError, match="Broken.dll"):
        read_assembly(path)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="Missing.dll"):
        read_assembly(tmp_path / "Missing.dll")


def _metadata_span(data: bytes) -> tuple[int, int]:
    start = data.index(b"BSJB")
    return start, min(len(data), start + 0x1800)


@pytest.mark.mono
def test_corrupt_and_truncated_dlls_raise_only_input_error(rendering_dll, tmp_path):
    """A seeded loop of truncations and bit flips over a real DLL: every outcome is either
    a surface (whose text still parses back) or an InputError naming the file."""
    original = rendering_dll.read_bytes()
    start, end = _metadata_span(original)
    rng = random.Random(20240601)
    path = tmp_path / "Fuzzed.dll"
    outcomes = {"ok": 0, "input-error": 0}
    for i in range(300):
        data = bytearray(original)
        if i % 4 == 0:
            data = data[:rng.randrange(0, len(original))]
        else:
            for _ in range(rng.randint(1, 12)):
                pos = rng.randrange(start, end)
                data[pos] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(data))
        try:
            result = read_assembly(path)
        except InputError as exc:
            assert "Fuzzed.dll" in exc.message
            outcomes["input-error"] += 1
            continue
        outcomes["ok"] += 1
        if result.surface is not None:
            text = result.surface.to_text()
            assert parse_api_text(text).to_text() == text
    # The loop exercised both paths: corruption that is caught, and harmless flips.
    assert outcomes["ok"] > 10 and outcomes["input-error"] > 50, outcomes


@pytest.mark.mono
def test_build_folder_scan(connector_builds, rendering_dll, tmp_path):
    build = tmp_path / "build"
    (build / "bin").mkdir(parents=True)
    (build / "copy").mkdir()
    for folder in ("bin", "copy"):  # the same assembly twice is one API
        (build / folder / "Enventa.Connector.dll").write_bytes(connector_builds["v1"].read_bytes())
    (build / "bin" / "Rendering.DLL").write_bytes(rendering_dll.read_bytes())
    without_clr_header(rendering_dll, build / "bin" / "native.dll")
    (build / "bin" / "readme.txt").write_text("not an assembly", encoding="utf-8")
    results = read_assemblies(find_assemblies(build))
    assert [r.path.name for r in results] == ["Enventa.Connector.dll", "Rendering.DLL", "native.dll",
                                              "Enventa.Connector.dll"]
    assert sorted(surfaces_of(results)) == ["Enventa.Connector", "Rendering"]


@pytest.mark.mono
def test_two_different_assemblies_with_one_name_are_refused(connector_builds):
    results = read_assemblies([connector_builds["v1"], connector_builds["removed_method"]])
    with pytest.raises(InputError, match="two different assemblies named Enventa.Connector"):
        surfaces_of(results)
