"""Pre-flight checks of code-signing material, with `cryptography`, before any tool runs.

osslsigncode and signtool report a bad key, an expired certificate or a wrong password
late and cryptically (or sign happily with a certificate Windows will reject). Checking
here first gives one clear line naming the file, exit 2, and guarantees that nothing in
the work dir was touched.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from b2release.errors import InputError, KeyFileError

# One variable each for the whole tool: the release key and the code-signing key share
# the passphrase variable; `keys generate` and `sign` share the PFX password variable.
from b2release.redact import KEY_PASSPHRASE_ENV, PFX_PASSWORD_ENV, secret_from_env

MAX_KEY_FILE = 1 << 20  # certificates, keys and PFX files are a few KiB


@dataclass
class SigningMaterial:
    """What the signer needs, checked: file paths, secrets, and facts for the report."""

    cert_path: Path | None
    key_path: Path | None
    pfx_path: Path | None
    key_passphrase: str | None  # for an encrypted PEM key
    pfx_password: str | None
    subject: str
    issuer: str
    fingerprint_sha256: str
    not_before: str
    not_after: str
    self_signed: bool
    certificate: Any = None  # cryptography x509.Certificate (kept for callers that convert)
    private_key: Any = None
    chain: list[Any] | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "sha256_fingerprint": self.fingerprint_sha256,
            "not_before": self.not_before,
            "not_after": self.not_after,
            "source": str(self.pfx_path) if self.pfx_path else str(self.cert_path),
        }


def _read(path: Path, what: str) -> bytes:
    if not path.exists():
        raise InputError(f"{what} {path} does not exist")
    if not path.is_file():
        raise InputError(f"{what} {path} is not a file")
    if path.stat().st_size > MAX_KEY_FILE:
        raise KeyFileError(f"{what} {path} is implausibly large for a {what}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None


def load_certificate(path: Path):
    """The first certificate of a PEM (possibly a chain) or DER file."""
    from cryptography import x509

    data = _read(path, "certificate")
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
            return certs[0], certs[1:]
        return x509.load_der_x509_certificate(data), []
    except ValueError:
        raise KeyFileError(f"certificate {path} is not a PEM or DER X.509 certificate") from None


def load_private_key(path: Path, passphrase: str | None):
    from cryptography.hazmat.primitives import serialization

    data = _read(path, "private key")
    password = passphrase.encode("utf-8") if passphrase else None
    loader = serialization.load_pem_private_key if b"-----BEGIN" in data else serialization.load_der_private_key
    try:
        return loader(data, password=password)
    except TypeError:
        if password is None:
            raise KeyFileError(
                f"private key {path} is encrypted: set {KEY_PASSPHRASE_ENV} (or {KEY_PASSPHRASE_ENV}_FILE)"
            ) from None
        raise KeyFileError(f"private key {path} is not encrypted, but {KEY_PASSPHRASE_ENV} is set; unset it") from None
    except ValueError:
        if password is not None:
            raise KeyFileError(f"private key {path}: wrong passphrase in {KEY_PASSPHRASE_ENV} (or not a key)") from None
        raise KeyFileError(f"private key {path} is not a PEM or DER private key") from None
    except Exception:  # cryptography raises UnsupportedAlgorithm for odd key types
        raise KeyFileError(f"private key {path} is not a usable private key") from None


def load_pfx(path: Path, password: str | None):
    from cryptography.hazmat.primitives.serialization import pkcs12

    data = _read(path, "PFX file")
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password.encode("utf-8") if password else None)
    except ValueError:
        if password:
            raise KeyFileError(f"PFX file {path}: wrong password in {PFX_PASSWORD_ENV} (or not a PKCS#12 file)") from None
        raise KeyFileError(
            f"PFX file {path} is password-protected or not a PKCS#12 file: set {PFX_PASSWORD_ENV} "
            f"(or {PFX_PASSWORD_ENV}_FILE, or {KEY_PASSPHRASE_ENV} when it encrypted the PFX)"
        ) from None
    except Exception:
        raise KeyFileError(f"PFX file {path} is not a usable PKCS#12 file") from None
    if key is None or cert is None:
        raise KeyFileError(f"PFX file {path} must hold both the signing certificate and its private key")
    return key, cert, list(extra or [])


def _public_bytes(public_key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _utc(cert, attr: str) -> datetime.datetime:
    # cryptography >= 42 has the *_utc properties; older ones return naive UTC datetimes.
    value = getattr(cert, attr + "_utc", None)
    if value is None:  # pragma: no cover - old cryptography
        value = getattr(cert, attr).replace(tzinfo=datetime.timezone.utc)
    return value


def check_certificate(cert, source: str, now: datetime.datetime | None = None) -> None:
    """Validity period, codeSigning EKU, digitalSignature key usage: or a KeyFileError (exit 2)."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = now or datetime.datetime.now(datetime.timezone.utc)
    not_before, not_after = _utc(cert, "not_valid_before"), _utc(cert, "not_valid_after")
    if now < not_before:
        raise KeyFileError(f"certificate {source} is not valid yet (valid from {not_before:%Y-%m-%d %H:%M} UTC)")
    if now > not_after:
        raise KeyFileError(f"certificate {source} expired on {not_after:%Y-%m-%d %H:%M} UTC")
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = None
    # Windows rejects Authenticode signatures whose certificate does not allow code signing.
    if eku is None or ExtendedKeyUsageOID.CODE_SIGNING not in eku:
        raise KeyFileError(f"certificate {source} does not allow code signing (no codeSigning extended key usage)")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.digital_signature:
        raise KeyFileError(f"certificate {source} key usage does not include digitalSignature")


def _name(name) -> str:
    # Attributes in certificate order ("CN=..., O=..."), as osslsigncode and Windows show them.
    return ", ".join(attr.rfc4514_string() for attr in name)


def passwords_from_env() -> tuple[str | None, str | None]:
    """(key passphrase, PFX password): the PFX password falls back to the key passphrase,
    as `keys generate` encrypts the PFX with it when no PFX password is set."""
    passphrase = secret_from_env(KEY_PASSPHRASE_ENV)
    return passphrase, secret_from_env(PFX_PASSWORD_ENV) or passphrase


def load_material(
    cert: Path | None,
    key: Path | None,
    pfx: Path | None,
    key_passphrase: str | None = None,
    pfx_password: str | None = None,
    now: datetime.datetime | None = None,
) -> SigningMaterial:
    """Load and check cert + key (PEM/DER) or a PFX; every problem is a one-line exit-2 error."""
    from cryptography.hazmat.primitives import hashes

    # Absolute: the tools run with their own working directory.
    cert, key, pfx = (Path(os.path.abspath(p)) if p is not None else None for p in (cert, key, pfx))
    if pfx is not None and (cert is not None or key is not None):
        raise InputError("give either --pfx or --cert with --key, not both")
    if pfx is not None:
        private_key, certificate, chain = load_pfx(pfx, pfx_password)
        source = str(pfx)
    else:
        if cert is None or key is None:
            missing = "--key" if cert is not None else "--cert"
            raise InputError(f"code signing needs both --cert and --key (missing {missing}), or --pfx")
        certificate, chain = load_certificate(cert)
        private_key = load_private_key(key, key_passphrase)
        source = str(cert)
        if _public_bytes(private_key.public_key()) != _public_bytes(certificate.public_key()):
            raise KeyFileError(f"private key {key} does not match certificate {cert}")
    check_certificate(certificate, source, now)
    return SigningMaterial(
        cert_path=cert,
        key_path=key,
        pfx_path=pfx,
        key_passphrase=key_passphrase if pfx is None else None,
        pfx_password=pfx_password if pfx is not None else None,
        subject=_name(certificate.subject),
        issuer=_name(certificate.issuer),
        fingerprint_sha256=certificate.fingerprint(hashes.SHA256()).hex(),
        not_before=_utc(certificate, "not_valid_before").strftime("%Y-%m-%dT%H:%M:%SZ"),
        not_after=_utc(certificate, "not_valid_after").strftime("%Y-%m-%dT%H:%M:%SZ"),
        self_signed=certificate.subject == certificate.issuer,
        certificate=certificate,
        private_key=private_key,
        chain=chain,
    )


def load_ca_file(path: Path) -> list[Any]:
    """The certificates of a --ca PEM file (a CA, or the signing certificate itself)."""
    from cryptography import x509

    data = _read(path, "CA file")
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise InputError(f"CA file {path} holds no PEM certificate") from None
    return certs
