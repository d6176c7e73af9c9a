"""PE detection by header (not extension) and the Authenticode certificate table."""

from __future__ import annotations

import struct

import pytest

from b2release.signers import pe
from tests.fixtures.pe import ossl_sign


def synthetic_pe(*, plus: bool = False, dll: bool = True, security: tuple[int, int] = (0, 0),
                 lfanew: int = 0x80, size: int = 8192, magic: int | None = None) -> bytes:
    """A minimal PE header image (not loadable; enough for the header parser)."""
    data = bytearray(size)
    data[0:2] = b"MZ"
    struct.pack_into("<I", data, 0x3C, lfanew)
    data[lfanew:lfanew + 4] = b"PE\0\0"
    opt_size = 240 if plus else 224
    struct.pack_into("<HHIIIHH", data, lfanew + 4, 0x8664 if plus else 0x14C, 1, 0, 0, 0, opt_size,
                     0x2000 if dll else 0x0002)
    opt = lfanew + 24
    struct.pack_into("<H", data, opt, magic if magic is not None else (0x20B if plus else 0x10B))
    count_at, dirs_at = (opt + 108, opt + 112) if plus else (opt + 92, opt + 96)
    struct.pack_into("<I", data, count_at, 16)
    struct.pack_into("<II", data, dirs_at + 8 * 4, *security)
    return bytes(data)


def test_mcs_dll_and_exe_are_unsigned_pe(pe_files):
    dll, exe = pe.inspect(pe_files.dll), pe.inspect(pe_files.exe)
    assert dll is not None and exe is not None
    assert dll.dll and not exe.dll
    assert dll.dotnet and exe.dotnet
    assert not dll.signed and not exe.signed
    assert not pe.has_signature(pe_files.dll)


def test_detection_ignores_the_extension(pe_files, tmp_path):
    renamed = tmp_path / "connector.txt"
    renamed.write_bytes(pe_files.dll.read_bytes())
    assert pe.is_pe(renamed)
    fake = tmp_path / "fake.dll"
    fake.write_text("not a dll at all")
    assert not pe.is_pe(fake)


def test_signed_file_has_security_directory(pe_files, dev_keys, tmp_path, osslsigncode):
    signed = ossl_sign(pe_files.dll, tmp_path / "signed.dll", dev_keys)
    info = pe.inspect(signed)
    assert info is not None and info.signed
    assert info.security_offset + info.security_size == info.size  # the table sits at the end


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"MZ",
        b"MZ" + b"\0" * 100,  # e_lfanew = 0
        synthetic_pe()[:0x90],  # truncated inside the COFF header
        synthetic_pe(magic=0x999),  # unknown optional-header magic
        synthetic_pe().replace(b"PE\0\0", b"PX\0\0", 1),
        b"\x7fELF" + b"\0" * 200,
    ],
    ids=["empty", "mz-only", "lfanew-zero", "truncated", "bad-magic", "bad-signature", "elf"],
)
def test_not_pe(tmp_path, data):
    path = tmp_path / "x.bin"
    path.write_bytes(data)
    assert pe.inspect(path) is None


def test_pe32plus_and_security_directory(tmp_path):
    path = tmp_path / "x64.dll"
    path.write_bytes(synthetic_pe(plus=True, security=(4096, 1024)))
    info = pe.inspect(path)
    assert info is not None and info.pe32plus and info.dll and info.signed
    assert (info.security_offset, info.security_size) == (4096, 1024)


def test_security_directory_outside_the_file_is_not_a_signature(tmp_path):
    path = tmp_path / "x.exe"
    path.write_bytes(synthetic_pe(dll=False, security=(8000, 4096), size=8192))
    info = pe.inspect(path)
    assert info is not None and not info.signed and not info.dll


def test_long_dos_stub(tmp_path):
    path = tmp_path / "stub.dll"
    path.write_bytes(synthetic_pe(lfanew=0x2000, size=0x4000, security=(0x3000, 0x100)))
    info = pe.inspect(path)
    assert info is not None and info.signed


def test_directory_and_missing_file(tmp_path):
    assert pe.inspect(tmp_path) is None
    assert pe.inspect(tmp_path / "missing.dll") is None


@pytest.mark.parametrize("data", [
    synthetic_pe(),
    synthetic_pe(plus=True, security=(0x1000, 0x100)),
    synthetic_pe(lfanew=0x2000, size=0x4000, security=(0x3000, 0x100)),  # long DOS stub: a second read
    synthetic_pe(lfanew=0xC01, size=0x2000),  # stub just long enough to need one
    synthetic_pe(lfanew=0x10000, size=0x12000),  # the longest stub followed
    synthetic_pe(lfanew=0x10004, size=0x12000),  # one too long: not followed
    b"MZ" + b"\0" * 100,
    b"not a PE at all",
])
def test_headers_from_a_streamed_start_equal_those_from_the_file(tmp_path, data):
    # verify inspects entries it streams from their first bytes (pe.MAX_HEAD of them, or all).
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert pe.inspect_head(data[:pe.MAX_HEAD], len(data)) == pe.inspect(path)
