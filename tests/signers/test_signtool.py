"""signtool adapter (Windows): its command lines, checked here without Windows.

A stand-in `signtool.exe` script on PATH records its arguments, so the whole path
(one-time PFX, in-place signing of a copy, cleanup) runs for real except the signature.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from b2release import redact
from b2release.errors import ToolError, ToolMissingError
from b2release.signers import SignSpec, select_signer
from b2release.signers import certs as certs_mod
from b2release.signers.signtool import SignTool
from tests.fixtures.pe import make_codesign_cert

FAKE = """#!{python}
import json, os, sys
args = sys.argv[1:]
record = {{"args": args}}
if "/f" in args:
    pfx = args[args.index("/f") + 1]
    record["pfx_exists"] = os.path.exists(pfx)
    record["pfx_mode"] = oct(os.stat(pfx).st_mode & 0o777)
with open({log!r}, "a") as fh:
    fh.write(json.dumps(record) + "\\n")
if os.path.exists({log!r} + ".fail"):  # tools see an allowlisted environment: the knob is a file
    print("SignTool Error: No certificates were found that met all the given criteria.")
    sys.exit(1)
with open(args[-1], "ab") as fh:
    fh.write(b"SIGNED")
"""


@pytest.fixture
def fake_signtool(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "signtool.log"
    exe = bindir / "signtool.exe"
    exe.write_text(FAKE.format(python=sys.executable, log=str(log)))
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    return exe, log


def material(dev_keys):
    return certs_mod.load_material(dev_keys / "codesign.crt", dev_keys / "codesign.key", None)


def test_sign_args(dev_keys, tmp_path):
    spec = SignSpec(material=material(dev_keys), timestamp_url="http://tsa.example", description="Connector",
                    url="https://b2connect.example")
    args = SignTool("C:/sdk/signtool.exe").sign_args(tmp_path / "a.dll", spec, tmp_path / "x.pfx", "otp")
    assert args == ["C:/sdk/signtool.exe", "sign", "/fd", "sha256", "/f", str(tmp_path / "x.pfx"), "/p", "otp",
                    "/d", "Connector", "/du", "https://b2connect.example", "/tr", "http://tsa.example",
                    "/td", "sha256", str(tmp_path / "a.dll")]


def test_sign_args_minimal_and_remove(dev_keys, tmp_path):
    spec = SignSpec(material=material(dev_keys), epoch=1)
    args = SignTool("signtool.exe").sign_args(tmp_path / "a.dll", spec, tmp_path / "x.pfx", None)
    assert args == ["signtool.exe", "sign", "/fd", "sha256", "/f", str(tmp_path / "x.pfx"), str(tmp_path / "a.dll")]
    assert SignTool("signtool.exe").remove_args(tmp_path / "a.dll") == ["signtool.exe", "remove", "/s",
                                                                        str(tmp_path / "a.dll")]


def test_user_password_never_reaches_signtool(tmp_path, fake_signtool):
    exe, log = fake_signtool
    paths = make_codesign_cert(tmp_path / "k", pfx_password="users-pfx-password")
    spec = SignSpec(material=certs_mod.load_material(None, None, paths["pfx"], pfx_password="users-pfx-password"))
    src = tmp_path / "a.dll"
    src.write_bytes(b"MZ-original")
    dst = tmp_path / "out.dll"
    signer = select_signer("win32")
    assert isinstance(signer, SignTool) and signer.path == str(exe)
    signer.sign(src, dst, spec)
    record = json.loads(log.read_text().splitlines()[0])
    args = record["args"]
    assert "users-pfx-password" not in " ".join(args)
    one_time = args[args.index("/p") + 1]
    assert one_time in redact.registered()  # redacted wherever it might show up
    assert record["pfx_exists"] and record["pfx_mode"] == "0o600"
    assert not Path(args[args.index("/f") + 1]).exists()  # the throwaway PFX is gone
    assert src.read_bytes() == b"MZ-original"  # signed a copy, in place
    assert dst.read_bytes() == b"MZ-originalSIGNED"


def test_one_time_pfx_holds_the_checked_key(dev_keys):
    from cryptography.hazmat.primitives.serialization import pkcs12

    spec = SignSpec(material=material(dev_keys))
    with SignTool()._one_time_pfx(spec) as (pfx, password):
        key, cert, _ = pkcs12.load_key_and_certificates(pfx.read_bytes(), password.encode())
        assert cert == spec.material.certificate
        assert key.public_key().public_numbers() == spec.material.private_key.public_key().public_numbers()
    assert not pfx.exists()


def test_signtool_failure_is_a_tool_error(tmp_path, fake_signtool, dev_keys, monkeypatch):
    Path(f"{fake_signtool[1]}.fail").write_text("1")
    src = tmp_path / "a.dll"
    src.write_bytes(b"MZ")
    with pytest.raises(ToolError, match="signtool could not sign a.dll: SignTool Error: No certificates"):
        SignTool(str(fake_signtool[0])).sign(src, tmp_path / "out.dll", SignSpec(material=material(dev_keys)))


def test_remove_runs_on_a_copy(tmp_path, fake_signtool):
    exe, log = fake_signtool
    src = tmp_path / "a.dll"
    src.write_bytes(b"MZ")
    SignTool(str(exe)).remove_signature(src, tmp_path / "clean.dll")
    assert json.loads(log.read_text())["args"][:2] == ["remove", "/s"]
    assert src.read_bytes() == b"MZ"


def test_windows_without_any_tool(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissingError) as info:
        select_signer("win32")
    assert "Windows SDK" in info.value.hint


@pytest.mark.skipif(os.name == "nt", reason="POSIX PATH layout")
def test_windows_falls_back_to_osslsigncode(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "osslsigncode"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    assert select_signer("win32").name == "osslsigncode"
