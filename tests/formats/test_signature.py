import pytest

from b2release.errors import KeyFileError, VerificationError
from b2release.formats.signature import load_public_key, load_signing_key
from b2release.stages import keys


@pytest.mark.parametrize("algorithm", ["ecdsa-p256", "ed25519"])
def test_sign_verify_and_determinism(tmp_path, algorithm):
    keys.generate(tmp_path, algorithm)
    key = load_signing_key(tmp_path / "release-signing.key")
    pub = load_public_key(tmp_path / "release-signing.pub")
    assert key.key_id == pub.key_id and key.algorithm == algorithm
    sig = key.sign(b"manifest bytes")
    assert sig == key.sign(b"manifest bytes")  # RFC 6979 / Ed25519: deterministic
    pub.verify(b"manifest bytes", sig, "m")
    with pytest.raises(VerificationError, match="does not verify"):
        pub.verify(b"manifest bytez", sig, "m")


def test_encrypted_key_needs_passphrase(tmp_path, monkeypatch):
    monkeypatch.setenv("B2RELEASE_KEY_PASSPHRASE", "correct horse")
    keys.generate(tmp_path)
    assert b"ENCRYPTED PRIVATE KEY" in (tmp_path / "release-signing.key").read_bytes()
    assert load_signing_key(tmp_path / "release-signing.key").algorithm == "ecdsa-p256"
    monkeypatch.setenv("B2RELEASE_KEY_PASSPHRASE", "wrong horse")
    with pytest.raises(KeyFileError, match="wrong passphrase") as exc:
        load_signing_key(tmp_path / "release-signing.key")
    assert "wrong horse" not in str(exc.value)
    monkeypatch.delenv("B2RELEASE_KEY_PASSPHRASE")
    with pytest.raises(KeyFileError, match="is encrypted"):
        load_signing_key(tmp_path / "release-signing.key")


def test_unusable_key_files(tmp_path):
    (tmp_path / "garbage.key").write_text("not a key")
    with pytest.raises(KeyFileError, match="not a PEM private key"):
        load_signing_key(tmp_path / "garbage.key")
    with pytest.raises(KeyFileError, match="does not exist"):
        load_signing_key(tmp_path / "missing.key")
    keys.generate(tmp_path / "k")
    with pytest.raises(KeyFileError, match="looks like a private key"):
        load_public_key(tmp_path / "k" / "release-signing.key")
    with pytest.raises(KeyFileError, match="unsupported key type"):
        load_signing_key(tmp_path / "k" / "codesign.key")  # RSA: not a release key
