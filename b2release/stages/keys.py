"""keys generate: a development release key pair and a self-signed code-signing certificate.

For development and demos only: production release keys live in an HSM or a vault and
production code-signing certificates come from a CA. Private files are created 0600.
It writes only the key folder: no state.json.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from b2release.context import Context
from b2release.errors import InputError, UsageError
from b2release.formats.signature import ALGORITHMS, key_id_of
from b2release.fsutil import atomic_write_bytes
from b2release.redact import KEY_PASSPHRASE_ENV, PFX_PASSWORD_ENV, secret_from_env
from b2release.stages import StageResult

NAME = "keys"
RECORDED = False
FILES = {
    "release-signing.key": 0o600,
    "release-signing.pub": 0o644,
    "codesign.crt": 0o644,
    "codesign.key": 0o600,
    "codesign.pfx": 0o600,
}
CODESIGN_SUBJECT = "b2release development code signing"
CODESIGN_DAYS = 730
MIN_PASSPHRASE = 12


@dataclass
class Options:
    out: Path = Path("keys")
    algorithm: str = "ecdsa-p256"
    force: bool = False


@dataclass
class GeneratedKeys:
    out: Path
    algorithm: str
    key_id: str
    files: dict[str, str]
    cert_fingerprint: str
    encrypted: bool

    def to_dict(self) -> dict:
        return {
            "out": str(self.out),
            "algorithm": self.algorithm,
            "key_id": self.key_id,
            "files": self.files,
            "codesign_sha256_fingerprint": self.cert_fingerprint,
            "private_keys_encrypted": self.encrypted,
        }


def _encryption(passphrase: str | None):
    from cryptography.hazmat.primitives import serialization

    if passphrase:
        return serialization.BestAvailableEncryption(passphrase.encode("utf-8"))
    return serialization.NoEncryption()


def _codesign_certificate(now: datetime.datetime):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, CODESIGN_SUBJECT),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "B2Connect (development)"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CODESIGN_DAYS))
        # Self-signed and used as its own trust anchor by `verify --ca`; OpenSSL only
        # accepts a self-signed anchor whose key usage allows certificate signing.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def generate(out: Path, algorithm: str = "ecdsa-p256", force: bool = False) -> GeneratedKeys:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.hazmat.primitives.serialization import pkcs12

    if algorithm not in ALGORITHMS:
        raise UsageError(f"unknown algorithm {algorithm!r} (choose {' or '.join(ALGORITHMS)})")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder")
    existing = sorted(name for name in FILES if (out / name).exists())
    if existing and not force:
        raise InputError(f"{out} already holds {', '.join(existing)}; refusing to overwrite (use --force)")

    passphrase = secret_from_env(KEY_PASSPHRASE_ENV)
    # Every private key file is encrypted when a passphrase is given: the PFX with its own
    # password, else with the key passphrase (`sign` reads it back the same way).
    pfx_password = secret_from_env(PFX_PASSWORD_ENV) or passphrase
    for variable, value in ((KEY_PASSPHRASE_ENV, passphrase), (PFX_PASSWORD_ENV, pfx_password)):
        if value and len(value) < MIN_PASSPHRASE:
            raise UsageError(f"{variable} is {len(value)} characters long; use at least {MIN_PASSPHRASE} (a short "
                             "passphrase is weak, and masking it in every output would rewrite ordinary words)")

    private = ed25519.Ed25519PrivateKey.generate() if algorithm == "ed25519" else ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cs_key, cert = _codesign_certificate(now)
    pfx_encryption = (
        serialization.BestAvailableEncryption(pfx_password.encode("utf-8")) if pfx_password else serialization.NoEncryption()
    )
    contents = {
        "release-signing.key": private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, _encryption(passphrase)
        ),
        "release-signing.pub": private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "codesign.crt": cert.public_bytes(serialization.Encoding.PEM),
        "codesign.key": cs_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, _encryption(passphrase)
        ),
        "codesign.pfx": pkcs12.serialize_key_and_certificates(
            b"b2release-dev-codesign", cs_key, cert, None, pfx_encryption
        ),
    }
    out.mkdir(parents=True, exist_ok=True)
    old_umask = os.umask(0o077)
    try:
        for name, data in contents.items():
            atomic_write_bytes(out / name, data, mode=FILES[name])
    finally:
        os.umask(old_umask)
    return GeneratedKeys(
        out=out,
        algorithm=algorithm,
        key_id=key_id_of(private.public_key()),
        files={name: str(out / name) for name in FILES},
        cert_fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
        encrypted=bool(passphrase or pfx_password),
    )


def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    generated = generate(opts.out, opts.algorithm, opts.force)
    protection = ("private keys encrypted (release and code-signing key with the key passphrase, the PFX with "
                  f"{PFX_PASSWORD_ENV if os.environ.get(PFX_PASSWORD_ENV) else 'the key passphrase'})"
                  if generated.encrypted else
                  f"private keys NOT encrypted: set {KEY_PASSPHRASE_ENV} to encrypt them")
    return StageResult(
        stage=NAME,
        summary=(f"generated {generated.algorithm} release key {generated.key_id[:16]}... and a dev code-signing "
                 f"certificate in {opts.out}; {protection}"),
        data=generated.to_dict(),
    )
