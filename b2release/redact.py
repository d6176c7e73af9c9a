"""Secret redaction for every log line, error message and JSON document.

Every known secret variable (and its NAME_FILE) is read and registered when a command
starts (`register_known_secrets`), before any stage runs or any tool is started; secrets
made later (a SAS) are registered the moment they exist. A secret is masked in each form
it may take in text: as given, URL-encoded, and base64-encoded. A short secret (under 8
characters) is masked where it stands alone (not inside a longer word), so that masking it
does not shred ordinary output. On top of that, a few patterns catch credentials that
arrive embedded in text we did not produce ourselves (SAS query strings in SDK errors,
connection strings, bearer headers).
"""

from __future__ import annotations

import base64
import os
import re
import threading
from urllib.parse import quote, quote_plus

from b2release.errors import InputError

MASK = "***"

# Every environment variable that carries a secret b2release reads (each may also be given
# as a file named by NAME_FILE). The one list: readers import the names from here.
KEY_PASSPHRASE_ENV = "B2RELEASE_KEY_PASSPHRASE"
PFX_PASSWORD_ENV = "B2RELEASE_PFX_PASSWORD"
AZURE_CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
AZURE_KEY_ENV = "AZURE_STORAGE_KEY"
AZURE_SAS_ENV = "AZURE_STORAGE_SAS_TOKEN"
CLOUDFLARE_TOKEN_ENV = "CLOUDFLARE_API_TOKEN"
CDN_TOKEN_KEY_ENV = "B2RELEASE_CDN_TOKEN_KEY"  # master key of the per-tenant CDN token secrets (cdn/tokens.py)
SECRET_ENV_VARS = (KEY_PASSPHRASE_ENV, PFX_PASSWORD_ENV, AZURE_CONNECTION_STRING_ENV, AZURE_KEY_ENV, AZURE_SAS_ENV,
                   CLOUDFLARE_TOKEN_ENV, CDN_TOKEN_KEY_ENV)

_lock = threading.Lock()
_secrets: set[str] = set()

# Shapes of credentials, redacted wherever they appear. Group 1 is kept, the rest masked.
_PATTERNS: list[re.Pattern[str]] = [
    # SAS signature and the whole SAS query string marker
    # (also after ';' or a space, as in an XML/HTML-encoded "&amp;sig=" of an Azure error or log line)
    re.compile(r"((?:^|[?&;\s])sig=)[^&\s\"'<>]+", re.IGNORECASE | re.MULTILINE),
    re.compile(r"((?:AccountKey|SharedAccessSignature|SharedAccessKey)=)[^;\s\"'<>]+", re.IGNORECASE),
    re.compile(r"((?:Authorization:\s*)?Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
    re.compile(r"((?:password|passwd|pwd|passphrase)\s*[=:]\s*)[^\s;\"'&]+", re.IGNORECASE),
]

# Secrets shorter than this are masked only where they stand alone: masking a short value
# inside every longer word would destroy the output without protecting more.
_SHORT_SECRET = 8
_short: dict[str, re.Pattern[str]] = {}


def _forms(value: str) -> set[str]:
    """The ways a secret may appear in text: as given, URL-encoded, base64 (std and url-safe)."""
    raw = value.encode("utf-8")
    forms = {value, quote(value, safe=""), quote_plus(value)}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        forms.update((text, text.rstrip("=")))
    return {f for f in forms if f}


def register_secret(value: str | None) -> None:
    """Remember a secret value so that it is masked wherever it appears later, in every form."""
    if not value:
        return
    with _lock:
        for form in _forms(value):
            if len(form) < _SHORT_SECRET:
                _short[form] = re.compile(r"(?<![A-Za-z0-9])" + re.escape(form) + r"(?![A-Za-z0-9])")
            else:
                _secrets.add(form)


def registered() -> frozenset[str]:
    with _lock:
        return frozenset(_secrets) | frozenset(_short)


def register_known_secrets(environ: dict[str, str] | None = None) -> None:
    """Read and register every secret variable b2release knows (and NAME_FILE), now.

    Called when a command starts, so that a secret is masked in everything a stage or a
    tool prints, even one the command itself never reads. The parts of an Azure connection
    string that are credentials (AccountKey, SharedAccessSignature) are registered too.
    """
    env = os.environ if environ is None else environ
    for name in SECRET_ENV_VARS:
        value = _read_secret(name, env)
        register_secret(value)
        if value and name == AZURE_CONNECTION_STRING_ENV:
            for part in value.split(";"):
                key, _, setting = part.partition("=")
                if key.strip().lower() in ("accountkey", "sharedaccesssignature"):
                    register_secret(setting.strip())


def redact(text: str) -> str:
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
        short = list(_short.values())
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in short:
        text = pattern.sub(MASK, text)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


def redact_obj(obj):
    """Redact every string inside a JSON-like structure (dicts, lists, strings)."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {k: redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_obj(v) for v in obj]
    return obj


def secret_from_env(name: str) -> str | None:
    """Read a secret from the environment (or NAME_FILE) and register it for redaction."""
    value = _read_secret(name, os.environ)
    register_secret(value)
    return value


def _read_secret(name: str, env: dict[str, str] | os._Environ[str]) -> str | None:
    value = env.get(name)
    if value is None:
        file_name = env.get(name + "_FILE")
        if file_name:
            try:
                with open(file_name, encoding="utf-8") as fh:
                    value = fh.read().rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or "not UTF-8 text"
                raise InputError(f"cannot read {name}_FILE {file_name}: {reason}") from exc
    if value is not None and any(ch in value for ch in "\r\n\0"):
        register_secret(value)  # mask it even in the error path
        where = f"{name}_FILE" if env.get(name) is None else name
        raise InputError(f"{where} holds more than one line (or a NUL): a secret is one line")
    return value
