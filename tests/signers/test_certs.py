"""Pre-flight checks of code-signing material (cryptography only, no tool)."""

from __future__ import annotations

import datetime

import pytest

from b2release.errors import InputError, KeyFileError
from b2release.signers import certs
from tests.fixtures.pe import make_codesign_cert


def test_dev_certificate_from_keys_generate_is_accepted(dev_keys):
    m = certs.load_material(dev_keys / "codesign.crt", dev_keys / "codesign.key", None)
    assert m.subject.startswith("CN=b2release development code signing")
    assert m.self_signed
    assert len(m.fingerprint_sha256) == 64
    assert m.cert_path.is_absolute() and m.key_path.is_absolute()
    assert m.describe()["subject"] == m.subject


def test_dev_pfx_is_accepted(dev_keys):
    m = certs.load_material(None, None, dev_keys / "codesign.pfx")
    assert m.pfx_path is not None and m.subject.startswith("CN=b2release")


def test_key_that_does_not_match(dev_keys, other_keys):
    with pytest.raises(KeyFileError, match="does not match certificate"):
        certs.load_material(dev_keys / "codesign.crt", other_keys / "codesign.key", None)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"days_valid": (-30, -1)}, "expired on"),
        ({"days_valid": (2, 30)}, "not valid yet"),
        ({"eku": None}, "does not allow code signing"),
        ({"eku": "serverAuth"}, "does not allow code signing"),
        ({"digital_signature": False}, "digitalSignature"),
    ],
    ids=["expired", "not-yet-valid", "no-eku", "server-eku", "no-digital-signature"],
)
def test_unusable_certificates(tmp_path, kwargs, needle):
    paths = make_codesign_cert(tmp_path, **kwargs)
    with pytest.raises(KeyFileError, match=needle) as info:
        certs.load_material(paths["crt"], paths["key"], None)
    assert str(paths["crt"]) in info.value.message


def test_validity_is_checked_against_the_given_time(tmp_path):
    paths = make_codesign_cert(tmp_path, days_valid=(-1, 10))
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=20)
    with pytest.raises(KeyFileError, match="expired"):
        certs.load_material(paths["crt"], paths["key"], None, now=later)


def test_encrypted_key(tmp_path):
    paths = make_codesign_cert(tmp_path, key_passphrase="correct horse")
    with pytest.raises(KeyFileError, match="B2RELEASE_KEY_PASSPHRASE"):
        certs.load_material(paths["crt"], paths["key"], None)
    with pytest.raises(KeyFileError, match="wrong passphrase") as info:
        certs.load_material(paths["crt"], paths["key"], None, key_passphrase="wrong horse")
    assert "wrong horse" not in info.value.message
    m = certs.load_material(paths["crt"], paths["key"], None, key_passphrase="correct horse")
    assert m.key_passphrase == "correct horse"


def test_passphrase_for_unencrypted_key(dev_keys):
    with pytest.raises(KeyFileError, match="not encrypted"):
        certs.load_material(dev_keys / "codesign.crt", dev_keys / "codesign.key", None, key_passphrase="something")


def test_pfx_passwords(tmp_path):
    paths = make_codesign_cert(tmp_path, pfx_password="pfx-secret-1")
    with pytest.raises(KeyFileError, match="wrong password in B2RELEASE_PFX_PASSWORD") as info:
        certs.load_material(None, None, paths["pfx"], pfx_password="nope-nope")
    assert "nope-nope" not in info.value.message
    with pytest.raises(KeyFileError, match="B2RELEASE_PFX_PASSWORD"):
        certs.load_material(None, None, paths["pfx"])
    m = certs.load_material(None, None, paths["pfx"], pfx_password="pfx-secret-1")
    assert m.pfx_password == "pfx-secret-1" and m.key_passphrase is None


def test_pfx_without_key(tmp_path, dev_keys):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    cert = x509.load_pem_x509_certificate((dev_keys / "codesign.crt").read_bytes())
    pfx = tmp_path / "certonly.pfx"
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(b"x", None, None, [cert], serialization.NoEncryption()))
    with pytest.raises(KeyFileError, match="both the signing certificate and its private key"):
        certs.load_material(None, None, pfx)


def test_files_that_are_not_certificates_or_keys(tmp_path, dev_keys):
    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    with pytest.raises(KeyFileError, match="not a PEM or DER X.509 certificate"):
        certs.load_material(junk, dev_keys / "codesign.key", None)
    with pytest.raises(KeyFileError, match="not a PEM or DER private key"):
        certs.load_material(dev_keys / "codesign.crt", junk, None)
    with pytest.raises(KeyFileError, match="PFX"):
        certs.load_material(None, None, junk)
    with pytest.raises(InputError, match="does not exist"):
        certs.load_material(tmp_path / "missing.crt", dev_keys / "codesign.key", None)
    with pytest.raises(InputError, match="not a file"):
        certs.load_material(tmp_path, dev_keys / "codesign.key", None)


def test_cert_and_pfx_together_or_half_a_pair(dev_keys):
    with pytest.raises(InputError, match="either --pfx or --cert"):
        certs.load_material(dev_keys / "codesign.crt", None, dev_keys / "codesign.pfx")
    with pytest.raises(InputError, match="missing --key"):
        certs.load_material(dev_keys / "codesign.crt", None, None)
    with pytest.raises(InputError, match="missing --cert"):
        certs.load_material(None, dev_keys / "codesign.key", None)


def test_der_certificate(tmp_path, dev_keys):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate((dev_keys / "codesign.crt").read_bytes())
    der = tmp_path / "codesign.cer"
    der.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    assert certs.load_material(der, dev_keys / "codesign.key", None).subject.startswith("CN=")


def test_ca_file(tmp_path, dev_keys):
    assert len(certs.load_ca_file(dev_keys / "codesign.crt")) == 1
    bad = tmp_path / "bad.pem"
    bad.write_text("no certificate here")
    with pytest.raises(InputError, match="holds no PEM certificate"):
        certs.load_ca_file(bad)
