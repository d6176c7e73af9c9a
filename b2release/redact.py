"""Secret redaction for every log line, error message and JSON document.

Secrets are registered when they are read (environment, files); on top of that, a few
patterns catch credentials that arrive embedded in text we did not produce ourselves
(SAS query strings in SDK errors, connection strings, bearer headers).
"""

from __future__ import annotations

import os
import re
import threading

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
SECRET_ENV_VARS = (KEY_PASSPHRASE_ENV, PFX_PASSWORD_ENV, AZURE_CONNECTION_STRING_ENV, AZURE_KEY_ENV, AZURE_SAS_ENV,
                   CLOUDFLARE_TOKEN_ENV)

_lock = threading.Lock()
_secrets: set[str] = set()

# Shapes of credentials, redacted wherever they appear. Group 1 is kept, the rest masked.
_PATTERNS: list[re.Pattern[str]] = [
    # SAS signature and the whole SAS query string marker
    # (also after ';', as in an HTML-encoded "&amp;sig=" of a Storage Analytics log line)
    re.compile(r"((?:^|[?&;])sig=)[^&\s\"'<>]+", re.IGNORECASE),
    re.compile(r"((?:AccountKey|SharedAccessSignature|SharedAccessKey)=)[^;\s\"'<>]+", re.IGNORECASE),
    re.compile(r"((?:Authorization:\s*)?Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
    re.compile(r"((?:password|passwd|pwd|passphrase)\s*[=:]\s*)[^\s;\"'&]+", re.IGNORECASE),
]

# Values shorter than this are not treated as secrets: masking "1" everywhere would
# destroy the output without protecting anything.
_MIN_SECRET_LEN = 4


def register_secret(value: str | None) -> None:
    """Remember a secret value so that it is masked wherever it appears later."""
    if not value or len(value) < _MIN_SECRET_LEN:
        return
    with _lock:
        _secrets.add(value)


def registered() -> frozenset[str]:
    with _lock:
        return frozenset(_secrets)


def redact(text: str) -> str:
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
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
    value = os.environ.get(name)
    if value is None:
        file_name = os.environ.get(name + "_FILE")
        if file_name:
            try:
                with open(file_name, encoding="utf-8") as fh:
                    value = fh.read().rstrip("\r\n")
            except OSError as exc:
                raise InputError(f"cannot read {name}_FILE {file_name}: {exc.strerror}") from exc
    register_secret(value)
    return value
