"""osslsigncode adapter: command lines, secrets through -readpass, verify report parsing."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from b2release.errors import ToolError, ToolMissingError
from b2release.signers import SignSpec, failure_line, find_tool, install_hint, select_signer
from b2release.signers import certs as certs_mod
from b2release.signers.osslsigncode import OsslSignCode, parse_verify, secret_file
from tests.fixtures.pe import make_codesign_cert, ossl_sign, ossl_verify


def spec_for(cert: Path, key: Path, **kw) -> SignSpec:
    return SignSpec(material=certs_mod.load_material(cert, key, None, key_passphrase=kw.pop("passphrase", None)), **kw)


def test_sign_args_fixed_time_and_attributes(dev_keys, tmp_path):
    spec = spec_for(dev_keys / "codesign.crt", dev_keys / "codesign.key", epoch=1700000000,
                    description="Enventa Connector", url="https://b2connect.example")
    args = OsslSignCode("/usr/bin/osslsigncode").sign_args(tmp_path / "a.dll", tmp_path / "out" / "a.dll", spec)
    assert args[:2] == ["/usr/bin/osslsigncode", "sign"]
    assert args[args.index("-certs") + 1] == str(dev_keys / "codesign.crt")
    assert args[args.index("-h") + 1] == "sha256"
    assert args[args.index("-time") + 1] == "1700000000"
    assert args[args.index("-n") + 1] == "Enventa Connector"
    assert args[args.index("-i") + 1] == "https://b2connect.example"
    assert "-ts" not in args and "-pass" not in args and "-readpass" not in args
    assert args[-4:] == ["-in", str(tmp_path / "a.dll"), "-out", str(tmp_path / "out" / "a.dll")]


def test_sign_args_timestamp_replaces_fixed_time(dev_keys, tmp_path):
    spec = spec_for(dev_keys / "codesign.crt", dev_keys / "codesign.key", epoch=None,
                    timestamp_url="http://timestamp.example/tsa")
    args = OsslSignCode().sign_args(tmp_path / "a.dll", tmp_path / "b.dll", spec, readpass=tmp_path / "pw")
    assert args[args.index("-ts") + 1] == "http://timestamp.example/tsa"
    assert "-time" not in args
    assert args[args.index("-readpass") + 1] == str(tmp_path / "pw")


def test_sign_args_pfx(dev_keys, tmp_path):
    spec = SignSpec(material=certs_mod.load_material(None, None, dev_keys / "codesign.pfx"), epoch=5)
    args = OsslSignCode().sign_args(tmp_path / "a.dll", tmp_path / "b.dll", spec)
    assert args[args.index("-pkcs12") + 1] == str(dev_keys / "codesign.pfx")
    assert "-certs" not in args and "-key" not in args


def test_relative_paths_become_absolute(dev_keys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    spec = spec_for(dev_keys / "codesign.crt", dev_keys / "codesign.key", epoch=1)
    args = OsslSignCode().sign_args(Path("a.dll"), Path("b.dll"), spec)
    assert args[args.index("-in") + 1] == str(tmp_path / "a.dll")
    assert OsslSignCode().verify_args(Path("a.dll"), Path("ca.pem"))[-1] == str(tmp_path / "ca.pem")


def test_verify_args_are_offline(tmp_path):
    args = OsslSignCode("osslsigncode").verify_args(tmp_path / "a.dll", tmp_path / "ca.pem")
    assert "-ignore-cdp" in args
    assert args[args.index("-CAfile") + 1] == str(tmp_path / "ca.pem")
    assert "-CAfile" not in OsslSignCode().verify_args(tmp_path / "a.dll", None)


def test_secret_file_is_private_and_removed():
    with secret_file("s3cret-value") as path:
        assert path is not None
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text() == "s3cret-value"  # no newline: osslsigncode reads it verbatim
    assert not path.exists()
    with secret_file(None) as nothing:
        assert nothing is None


def test_sign_with_encrypted_key_uses_readpass(pe_files, tmp_path, osslsigncode, monkeypatch):
    import subprocess

    paths = make_codesign_cert(tmp_path / "k", key_passphrase="pass-phrase-42")
    spec = spec_for(paths["crt"], paths["key"], passphrase="pass-phrase-42", epoch=1700000000)
    seen: list[list[str]] = []

    class Spy(subprocess.Popen):  # every tool b2release runs starts here
        def __init__(self, args, *more, **kw):
            seen.append(list(args))
            super().__init__(args, *more, **kw)

    monkeypatch.setattr(subprocess, "Popen", Spy)
    out = tmp_path / "signed.dll"
    OsslSignCode(osslsigncode).sign(pe_files.dll, out, spec)
    assert ossl_verify(out, paths["crt"]).returncode == 0
    assert seen and all("pass-phrase-42" not in " ".join(a) for a in seen)
    readpass = Path(seen[0][seen[0].index("-readpass") + 1])
    assert not readpass.exists()  # deleted right after the call


def test_sign_refuses_existing_output_with_tool_error(pe_files, dev_keys, tmp_path, osslsigncode):
    out = tmp_path / "exists.dll"
    out.write_bytes(b"x")
    spec = spec_for(dev_keys / "codesign.crt", dev_keys / "codesign.key", epoch=1)
    with pytest.raises(ToolError, match="could not sign"):
        OsslSignCode(osslsigncode).sign(pe_files.dll, out, spec)


def test_remove_signature_then_sign_is_not_nested(pe_files, dev_keys, other_keys, tmp_path, osslsigncode):
    tool = OsslSignCode(osslsigncode)
    first = ossl_sign(pe_files.dll, tmp_path / "first.dll", other_keys)
    tool.remove_signature(first, tmp_path / "clean.dll")
    from b2release.signers import pe

    assert not pe.has_signature(tmp_path / "clean.dll")
    with pytest.raises(ToolError, match="remove the signature"):
        tool.remove_signature(tmp_path / "missing.dll", tmp_path / "x.dll")


def test_verify_real_outputs(pe_files, dev_keys, other_keys, tmp_path, osslsigncode):
    tool = OsslSignCode(osslsigncode)
    signed = ossl_sign(pe_files.dll, tmp_path / "signed.dll", dev_keys)
    ok = tool.verify(signed, dev_keys / "codesign.crt", cwd=tmp_path)
    assert ok.ok and ok.signed and ok.digest_match
    assert ok.subject == "CN=b2release development code signing, O=B2Connect (development)"
    assert ok.digest_algorithm == "sha256" and len(ok.message_digest) == 64
    assert ok.signatures == 1

    untrusted = tool.verify(signed, other_keys / "codesign.crt", cwd=tmp_path)
    assert not untrusted.ok and untrusted.digest_match
    assert "not trusted by the CA file" in untrusted.reason

    unsigned = tool.verify(pe_files.dll, dev_keys / "codesign.crt", cwd=tmp_path)
    assert not unsigned.ok and not unsigned.signed and "not signed" in unsigned.reason

    data = bytearray(signed.read_bytes())
    data[0x300] ^= 0x01  # inside the image, covered by the Authenticode digest
    tampered = tmp_path / "tampered.dll"
    tampered.write_bytes(bytes(data))
    bad = tool.verify(tampered, dev_keys / "codesign.crt", cwd=tmp_path)
    assert not bad.ok and bad.digest_match is False and "digest mismatch" in bad.reason


def test_parse_newer_subject_format():
    text = """Signature Index: 0  (Primary Signature)
Message digest algorithm  : SHA256
Current message digest    : AABB
Calculated message digest : AABB
Signer's certificate:
\tSigner #0:
\t\tSubject: CN=Acme Code Signing, O=Acme
\t\tIssuer : CN=Acme CA
Signature verification: ok
Number of verified signatures: 1
Succeeded
"""
    r = parse_verify(text, 0)
    assert r.ok and r.subject == "CN=Acme Code Signing, O=Acme" and r.issuer == "CN=Acme CA"
    assert r.message_digest == "aabb"


def test_parse_exit_code_decides_without_details():
    r = parse_verify("something odd\nFailed\n", 1)
    assert not r.ok and r.signed and "something odd" in r.reason


def test_failure_line_picks_the_telling_line():
    assert failure_line("PE checksum\nError: self-signed certificate\nFailed\n") == "Error: self-signed certificate"
    assert failure_line("") == "no output"
    assert failure_line("just text\nFailed") == "just text"


def test_missing_tool_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissingError) as info:
        find_tool("osslsigncode", "linux")
    assert "apt-get install osslsigncode" in info.value.hint
    with pytest.raises(ToolMissingError):
        select_signer("linux")
    assert "brew install osslsigncode" in install_hint("osslsigncode", "darwin")
    assert "winget install" in install_hint("osslsigncode", "win32")
