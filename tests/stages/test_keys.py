import os
import stat

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.conftest import assert_user_error


def test_generate_files_modes_and_cert(cli, tmp_path):
    out = tmp_path / "keys"
    r = cli("--json", "keys", "generate", "--out", out)
    assert r.exit_code == 0, r.output
    doc = r.json()
    assert doc["algorithm"] == "ecdsa-p256" and len(doc["key_id"]) == 64
    assert sorted(os.listdir(out)) == sorted(
        ["release-signing.key", "release-signing.pub", "codesign.crt", "codesign.key", "codesign.pfx"]
    )
    for private in ("release-signing.key", "codesign.key", "codesign.pfx"):
        assert stat.S_IMODE((out / private).stat().st_mode) == 0o600
    assert b"BEGIN PRIVATE KEY" in (out / "release-signing.key").read_bytes()  # PKCS#8
    assert b"BEGIN PUBLIC KEY" in (out / "release-signing.pub").read_bytes()  # SubjectPublicKeyInfo
    cert = x509.load_pem_x509_certificate((out / "codesign.crt").read_bytes())
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CODE_SIGNING in eku
    key, pfx_cert, _ = pkcs12.load_key_and_certificates((out / "codesign.pfx").read_bytes(), None)
    assert pfx_cert == cert


def test_generate_with_passwords(cli, tmp_path):
    out = tmp_path / "keys"
    r = cli("keys", "generate", "--out", out, "--algorithm", "ed25519",
            env={"B2RELEASE_KEY_PASSPHRASE": "s3cret-passphrase", "B2RELEASE_PFX_PASSWORD": "pfx-s3cret-password"})
    assert r.exit_code == 0, r.output
    assert b"ENCRYPTED PRIVATE KEY" in (out / "release-signing.key").read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in (out / "codesign.key").read_bytes()
    pkcs12.load_key_and_certificates((out / "codesign.pfx").read_bytes(), b"pfx-s3cret-password")
    assert "s3cret" not in r.output


def test_refuses_to_overwrite_without_force(cli, tmp_path):
    out = tmp_path / "keys"
    assert cli("keys", "generate", "--out", out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    r = cli("keys", "generate", "--out", out)
    assert_user_error(r, 2, "refusing to overwrite", "release-signing.key")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert cli("keys", "generate", "--out", out, "--force").exit_code == 0
    assert (out / "release-signing.key").read_bytes() != before["release-signing.key"]


def test_bad_algorithm(cli, tmp_path):
    assert_user_error(cli("keys", "generate", "--out", tmp_path, "--algorithm", "rsa"), 2, "unknown algorithm 'rsa'")


def test_every_private_key_file_is_encrypted_with_the_passphrase(cli, tmp_path):
    import subprocess

    out = tmp_path / "keys"
    passphrase = "correct horse battery"
    r = cli("keys", "generate", "--out", out, env={"B2RELEASE_KEY_PASSPHRASE": passphrase})
    assert r.exit_code == 0, r.output
    assert "private keys encrypted" in r.stderr and passphrase not in r.output
    for name in ("release-signing.key", "codesign.key"):
        assert b"ENCRYPTED PRIVATE KEY" in (out / name).read_bytes()
    pkcs12 = ["openssl", "pkcs12", "-in", str(out / "codesign.pfx"), "-nodes", "-nocerts"]
    empty = subprocess.run([*pkcs12, "-passin", "pass:"], capture_output=True, text=True)
    assert empty.returncode != 0 and "PRIVATE KEY" not in empty.stdout  # no key for an empty password
    right = subprocess.run([*pkcs12, "-passin", f"pass:{passphrase}"], capture_output=True, text=True)
    assert right.returncode == 0 and "PRIVATE KEY" in right.stdout


def test_unencrypted_keys_are_said_to_be(cli, tmp_path):
    r = cli("keys", "generate", "--out", tmp_path / "keys")
    assert r.exit_code == 0 and "NOT encrypted" in r.stderr


def test_a_short_passphrase_is_refused(cli, tmp_path, monkeypatch):
    from b2release import redact

    # The refused value is registered for masking when read: keep it out of later tests' registry.
    monkeypatch.setattr(redact, "_short", dict(redact._short))
    monkeypatch.setattr(redact, "_secrets", set(redact._secrets))
    r = cli("keys", "generate", "--out", tmp_path / "keys", env={"B2RELEASE_KEY_PASSPHRASE": "signing"})
    assert_user_error(r, 2, "B2RELEASE_KEY_PASSPHRASE is 7 characters long", "at least 12")
    assert not (tmp_path / "keys").exists()
    assert "signing" not in r.stderr.replace("B2RELEASE", "")  # the value itself is not shown
