"""Detached release signatures over exact bytes (manifest.json, channel pointers).

ECDSA P-256 + SHA-256 (DER-encoded signature, RFC 6979 deterministic nonces so the
same manifest always gives the same signature bytes), or Ed25519 (64 raw bytes, which
is deterministic by construction). Both verify with plain openssl: docs/auditing.md.
The key id is the sha256 of the public key's DER SubjectPublicKeyInfo.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from b2release.errors import KEYS_HINT, KeyFileError, VerificationError
from b2release.redact import KEY_PASSPHRASE_ENV as PASSPHRASE_ENV
from b2release.redact import secret_from_env

ALGORITHMS = ("ecdsa-p256", "ed25519")


@dataclass(frozen=True)
class SigningKey:
    private: Any
    algorithm: str
    key_id: str
    path: Path

    def sign(self, data: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        if self.algorithm == "ed25519":
            return self.private.sign(data)
        return self.private.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))

    def public(self) -> PublicKey:
        pub = self.private.public_key()
        return PublicKey(pub, self.algorithm, self.key_id, self.path)


@dataclass(frozen=True)
class PublicKey:
    public: Any
    algorithm: str
    key_id: str
    path: Path | None

    def verify(self, data: bytes, signature: bytes, what: str) -> None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            if self.algorithm == "ed25519":
                self.public.verify(signature, data)
            else:
                self.public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            raise VerificationError(
                f"{what}: signature does not verify with public key {self.key_id[:16]}... "
                "(signed by another key, or the signed file changed)"
            ) from None

    def pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def _algorithm_of(key: Any, path: Path) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "ed25519"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)) and isinstance(
        key.curve, ec.SECP256R1
    ):
        return "ecdsa-p256"
    raise KeyFileError(f"{path}: unsupported key type (release keys are ECDSA P-256 or Ed25519)")


def key_id_of(public: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"{what} {path} does not exist",
                           hint=KEYS_HINT) from None
    except IsADirectoryError:
        raise KeyFileError(f"{what} {path} is a directory, not a key file") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read {what} {path}: {exc.strerror}") from None


def load_signing_key(path: Path) -> SigningKey:
    from cryptography.hazmat.primitives import serialization

    data = _read(path, "signing key")
    passphrase = secret_from_env(PASSPHRASE_ENV)
    try:
        private = serialization.load_pem_private_key(data, password=passphrase.encode() if passphrase else None)
    except TypeError:
        # cryptography raises TypeError for "encrypted but no password" and the reverse.
        if passphrase:
            raise KeyFileError(f"signing key {path} is not encrypted, but {PASSPHRASE_ENV} is set; unset it") from None
        raise KeyFileError(f"signing key {path} is encrypted: set {PASSPHRASE_ENV} (or {PASSPHRASE_ENV}_FILE)") from None
    except ValueError:
        if passphrase and b"ENCRYPTED" in data:
            raise KeyFileError(f"signing key {path}: wrong passphrase in {PASSPHRASE_ENV}") from None
        raise KeyFileError(f"signing key {path} is not a PEM private key") from None
    except Exception:  # cryptography may raise UnsupportedAlgorithm for odd PEMs
        raise KeyFileError(f"signing key {path} is not a usable PEM private key") from None
    algorithm = _algorithm_of(private, path)
    return SigningKey(private, algorithm, key_id_of(private.public_key()), Path(path))


def load_public_key(path: Path) -> PublicKey:
    from cryptography.hazmat.primitives import serialization

    data = _read(path, "public key")
    try:
        public = serialization.load_pem_public_key(data)
    except Exception:
        hint = " (this looks like a private key; pass the .pub file)" if b"PRIVATE KEY" in data else ""
        raise KeyFileError(f"public key {path} is not a PEM SubjectPublicKeyInfo public key{hint}") from None
    algorithm = _algorithm_of(public, path)
    return PublicKey(public, algorithm, key_id_of(public), Path(path))
