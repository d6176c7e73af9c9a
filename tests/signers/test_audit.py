"""`verify --ca`: Authenticode checks of the PE entries of a package, offline."""

from __future__ import annotations

import shutil
import threading
import zipfile
from pathlib import Path

import pytest

from b2release.errors import VerificationError
from b2release.signers import audit as audit_mod
from tests.conftest import assert_user_error
from tests.fixtures.pe import ossl_sign

EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}
DLL = "Enventa.Connector.dll"
EXE = "tools/Enventa.Tool.exe"

pytestmark = [pytest.mark.usefixtures("osslsigncode"), pytest.mark.osslsigncode, pytest.mark.mono]


def make_package(cli, tmp_path: Path, dev_keys: Path, dll: Path, exe: Path, *extra) -> Path:
    """Package a folder holding the given DLL and EXE (plus a text file); returns the work dir."""
    folder = tmp_path / "payload"
    (folder / "tools").mkdir(parents=True)
    shutil.copyfile(dll, folder / DLL)
    shutil.copyfile(exe, folder / EXE)
    (folder / "notes.txt").write_text("not a PE file\n")
    work = tmp_path / "dist"
    r = cli("--work-dir", work, "package", "--input", folder, "--name", "enventa-connector", "--version", "1.0.0",
            "--signing-key", dev_keys / "release-signing.key", *extra, env=EPOCH)
    assert r.exit_code == 0, r.output
    return work


def verify(cli, target: Path, dev_keys: Path, *extra):
    return cli("--json", "verify", target, "--public-key", dev_keys / "release-signing.pub", *extra)


@pytest.fixture
def signed_pe(tmp_path, pe_files, dev_keys) -> tuple[Path, Path]:
    return (ossl_sign(pe_files.dll, tmp_path / "signed.dll", dev_keys),
            ossl_sign(pe_files.exe, tmp_path / "signed.exe", dev_keys))


def test_signed_package_verifies_against_the_ca(cli, tmp_path, dev_keys, signed_pe):
    work = make_package(cli, tmp_path, dev_keys, *signed_pe)
    for target in (work, work / "enventa-connector-1.0.0.zip"):
        r = verify(cli, target, dev_keys, "--ca", dev_keys / "codesign.crt")
        assert r.exit_code == 0, r.output
        doc = r.json()
        entries = {e["file"]: e for e in doc["authenticode"]}
        assert set(entries) == {DLL, EXE}  # notes.txt is not PE
        for entry in entries.values():
            assert entry["valid"] is True and entry["signed"] is True
            assert entry["subject"] == "CN=b2release development code signing, O=B2Connect (development)"
            assert entry["digest_algorithm"] == "sha256" and len(entry["message_digest"]) == 64
            assert entry["checked_against"] == str(dev_keys / "codesign.crt")
        assert any("Authenticode signatures trusted by" in c for c in doc["checks"])


def test_signature_by_another_certificate(cli, tmp_path, dev_keys, other_keys, pe_files, signed_pe):
    theirs = ossl_sign(pe_files.dll, tmp_path / "theirs.dll", other_keys)
    work = make_package(cli, tmp_path, dev_keys, theirs, signed_pe[1])
    r = verify(cli, work, dev_keys, "--ca", dev_keys / "codesign.crt")
    assert_user_error(r, 1, DLL, "not trusted by the CA file")


def test_wrong_ca_for_our_signature(cli, tmp_path, dev_keys, other_keys, signed_pe):
    work = make_package(cli, tmp_path, dev_keys, *signed_pe)
    r = verify(cli, work, dev_keys, "--ca", other_keys / "codesign.crt")
    assert_user_error(r, 1, DLL, "Authenticode check failed")


def test_byte_changed_inside_a_signed_dll_before_packaging(cli, tmp_path, dev_keys, signed_pe):
    """The manifest is fine (it was made from the changed DLL): the Authenticode digest is not."""
    data = bytearray(signed_pe[0].read_bytes())
    data[0x300] ^= 0x01
    tampered = tmp_path / "tampered.dll"
    tampered.write_bytes(bytes(data))
    work = make_package(cli, tmp_path, dev_keys, tampered, signed_pe[1])
    r = verify(cli, work, dev_keys, "--ca", dev_keys / "codesign.crt")
    assert_user_error(r, 1, DLL, "digest mismatch")
    # Without --ca the mismatch is reported, as information.
    r = verify(cli, work, dev_keys)
    assert r.exit_code == 0, r.output
    entry = next(e for e in r.json()["authenticode"] if e["file"] == DLL)
    assert entry["digest_match"] is False and "digest mismatch" in entry["reason"] and entry["valid"] is None


def test_byte_changed_inside_the_package(cli, tmp_path, dev_keys, signed_pe):
    work = make_package(cli, tmp_path, dev_keys, *signed_pe)
    original = work / "enventa-connector-1.0.0.zip"
    changed = tmp_path / "changed.zip"
    with zipfile.ZipFile(original) as src, zipfile.ZipFile(changed, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == DLL:
                data = data[:0x300] + bytes([data[0x300] ^ 1]) + data[0x301:]
            dst.writestr(info, data)
    r = verify(cli, changed, dev_keys, "--ca", dev_keys / "codesign.crt")
    assert_user_error(r, 1, DLL)


def test_unsigned_pe_in_package(cli, tmp_path, dev_keys, pe_files, signed_pe):
    work = make_package(cli, tmp_path, dev_keys, signed_pe[0], pe_files.exe, "--allow-unsigned")
    r = verify(cli, work, dev_keys, "--ca", dev_keys / "codesign.crt")
    assert_user_error(r, 1, EXE, "unsigned PE file")
    r = verify(cli, work, dev_keys)  # information only without --ca
    assert r.exit_code == 0, r.output
    doc = r.json()
    status = {e["file"]: e["signed"] for e in doc["authenticode"]}
    assert status == {DLL: True, EXE: False}
    assert any("1 signed, 1 unsigned" in n and EXE in n for n in doc["notes"])


def test_bad_ca_file(cli, tmp_path, dev_keys, signed_pe):
    work = make_package(cli, tmp_path, dev_keys, *signed_pe)
    junk = tmp_path / "junk.pem"
    junk.write_text("nothing")
    assert_user_error(verify(cli, work, dev_keys, "--ca", junk), 2, "holds no PEM certificate")
    assert_user_error(verify(cli, work, dev_keys, "--ca", tmp_path / "missing.pem"), 2, "does not exist")


def test_osslsigncode_missing(cli, tmp_path, dev_keys, signed_pe):
    work = make_package(cli, tmp_path, dev_keys, *signed_pe)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    r = cli("verify", work, "--public-key", dev_keys / "release-signing.pub", "--ca", dev_keys / "codesign.crt",
            env={"PATH": str(empty)})
    assert_user_error(r, 3, "osslsigncode is not installed")
    # Without --ca, the headers still tell signed from unsigned.
    r = cli("--json", "verify", work, "--public-key", dev_keys / "release-signing.pub", env={"PATH": str(empty)})
    assert r.exit_code == 0, r.output
    assert {e["file"]: e["signed"] for e in r.json()["authenticode"]} == {DLL: True, EXE: True}


def test_size_cap(tmp_path, dev_keys, signed_pe, monkeypatch):
    monkeypatch.setattr(audit_mod, "MAX_PE_SIZE", 1024)
    hook = audit_mod.AuthenticodeAudit.create(dev_keys / "codesign.crt")
    with pytest.raises(VerificationError, match="limit"):
        hook("big.dll", signed_pe[0])


def test_hook_directly(tmp_path, dev_keys, other_keys, pe_files, signed_pe):
    hook = audit_mod.AuthenticodeAudit.create(dev_keys / "codesign.crt")
    hook("ok.dll", signed_pe[0])
    notes = tmp_path / "notes.txt"
    notes.write_text("text")
    hook("notes.txt", notes)  # not PE: ignored
    assert [r["file"] for r in hook.results] == ["ok.dll"]
    with pytest.raises(VerificationError, match="theirs.dll: Authenticode check failed"):
        hook("theirs.dll", ossl_sign(pe_files.dll, tmp_path / "theirs.dll", other_keys))
    with pytest.raises(VerificationError, match="plain.dll is an unsigned PE file"):
        hook("plain.dll", pe_files.dll)


class RecordingAudit(audit_mod.AuthenticodeAudit):
    """The real audit, noting which entries it was handed a file for (verify calls it from
    several threads at once: one note at a time, none lost)."""

    notes_lock = threading.Lock()

    def check(self, name, head, size, temp_path):
        with self.notes_lock:
            self.copied = {**getattr(self, "copied", {}), name: temp_path is not None and temp_path.is_file()}
        super().check(name, head, size, temp_path)


def test_verify_streams_every_entry_and_copies_only_what_osslsigncode_checks(cli, tmp_path, dev_keys, pe_files,
                                                                             signed_pe):
    from b2release.formats.signature import load_public_key
    from b2release.verification.package import verify_path

    work = make_package(cli, tmp_path, dev_keys, signed_pe[0], pe_files.exe, "--allow-unsigned")
    key = load_public_key(dev_keys / "release-signing.pub")
    for ca in (None, dev_keys / "codesign.crt"):
        audit = RecordingAudit.create(ca)
        if ca is None:
            verify_path(work, key, audit)
            # The signed DLL goes to osslsigncode; the unsigned EXE and the text file are read from their headers.
            assert audit.copied == {DLL: True, EXE: False, "notes.txt": False}
            assert {r["file"]: r["signed"] for r in audit.results} == {DLL: True, EXE: False}
        else:
            with pytest.raises(VerificationError, match="Enventa.Tool.exe is an unsigned PE file"):
                verify_path(work, key, audit)
