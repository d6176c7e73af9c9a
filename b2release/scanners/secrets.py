"""Leaked credentials in the build output and in shipped config files.

What is looked for (rule ids are stable; SARIF uses them):
- B2S001 private-key: a PEM private key block (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted);
- B2S002 azure-storage-key: an Azure connection string / account key (`AccountKey=` with a
  base64 key; `SharedAccessKey=`); Azurite's published development key is not a secret;
- B2S003 sas-token: a shared access signature (`sig=` next to `sv=`/`se=`/`sp=`, or
  `SharedAccessSignature=`);
- B2S004 cloudflare-token: a Cloudflare API token or key assigned to a Cloudflare-named
  setting (tokens have no prefix, so context is required to avoid noise);
- B2S005 config-password: a non-placeholder password in a config file (`*.config`,
  `appsettings*.json`, ...): connection-string `Password=`/`Pwd=`, `<add key="...Password"
  value="..."/>`, JSON `"Password": "..."`.

Binary files (assemblies) are searched too: .NET stores string literals as UTF-16, so
the bytes are read both as Latin-1 and as UTF-16LE. The secret itself never leaves this
module: a finding carries the rule, file, line and at most a 4-character prefix. Every
value found is also registered for redaction, so no log line can print it by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from b2release.redact import register_secret

MAX_FILE_BYTES = 64 << 20
CONFIG_SUFFIXES = (".config", ".json", ".xml", ".settings", ".ini", ".env", ".yml", ".yaml", ".pubxml", ".props")
# Source-tree files that ship or carry deployment settings.
# (Key files in the source tree are not shipped by themselves; if the build copies one into
# its output, the build-output scan reports it.)
SOURCE_PATTERNS = ("*.config", "appsettings*.json", "*.pubxml", "*.env", "*.settings")
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

RULES = {
    "B2S001": ("private-key", "Private key in a shipped file"),
    "B2S002": ("azure-storage-key", "Azure storage account key or connection string"),
    "B2S003": ("sas-token", "Azure shared access signature (SAS) token"),
    "B2S004": ("cloudflare-token", "Cloudflare API token or key"),
    "B2S005": ("config-password", "Password in a configuration file"),
}

_PEM = re.compile(r"-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----")
_ACCOUNT_KEY = re.compile(r"\b(?:AccountKey|SharedAccessKey)\s*=\s*([A-Za-z0-9+/]{20,}={0,2})", re.IGNORECASE)
_SAS_SIG = re.compile(r"(?:[?&;]|^|\b)sig=([A-Za-z0-9%+/=]{16,})", re.IGNORECASE)
_SAS_CONTEXT = re.compile(r"[?&;](?:sv|se|sp|spr|srt|ss)=", re.IGNORECASE)  # ";": &amp; in XML
_SAS_CONN = re.compile(r"SharedAccessSignature\s*=\s*([^;\s\"'<>]{16,})", re.IGNORECASE)
_CLOUDFLARE = re.compile(
    r"(?:cloudflare|\bcf)[\w.-]*(?:token|key|secret)[\"']?\s*(?:[:=]|value\s*=)\s*[\"']?([A-Za-z0-9_-]{37,40})\b",
    re.IGNORECASE,
)
_CONN_PASSWORD = re.compile(r"(?:^|[;\"'\s])(?:password|pwd|passwd)\s*=\s*([^;\"'<>\s&]+)", re.IGNORECASE)
_XML_PASSWORD = re.compile(
    r"key\s*=\s*\"[^\"]*(?:password|passwd|pwd|secret)[^\"]*\"\s+value\s*=\s*\"([^\"]+)\"", re.IGNORECASE
)
_JSON_PASSWORD = re.compile(r"\"[^\"]*(?:password|passwd|pwd|clientsecret|secret)\"\s*:\s*\"([^\"]+)\"", re.IGNORECASE)


@dataclass(frozen=True)
class SecretFinding:
    rule: str
    name: str
    path: str  # as shown in reports: relative to the scanned root, prefixed by its label
    line: int | None
    hint: str  # a redacted prefix, never the secret

    def to_dict(self) -> dict:
        return {"rule": self.rule, "name": self.name, "path": self.path, "line": self.line, "hint": self.hint}


def _placeholder(value: str) -> bool:
    v = value.strip()
    if not v or v in ("***", "****", "<secret>", "changeit-in-deployment"):
        return True
    return v.startswith(("$", "%", "{", "#{", "__", "<", "@")) or v.lower() in ("null", "none", "empty", "string")


def hint(value: str) -> str:
    """At most a 4-character prefix, and only of long values: enough to find it, not to use it."""
    return (value[:4] + "..." if len(value) >= 20 else "") + "(redacted)"


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def scan_text(text: str, label: str, *, config_like: bool, binary: bool = False) -> list[SecretFinding]:
    found: list[SecretFinding] = []

    def add(rule: str, offset: int, value: str) -> None:
        register_secret(value)
        line = None if binary else _line_of(text, offset)
        found.append(SecretFinding(rule, RULES[rule][0], label, line, hint(value)))

    for m in _PEM.finditer(text):
        # The "secret" is the key body; the header is not secret, so the hint names the type.
        register_secret(text[m.end(): m.end() + 64].strip())
        found.append(SecretFinding("B2S001", RULES["B2S001"][0], label, None if binary else _line_of(text, m.start()),
                                   m.group(1)))
    for m in _ACCOUNT_KEY.finditer(text):
        if m.group(1) != AZURITE_KEY:
            add("B2S002", m.start(), m.group(1))
    for m in _SAS_SIG.finditer(text):
        window = text[max(0, m.start() - 512): m.end() + 512]
        if _SAS_CONTEXT.search(window):
            add("B2S003", m.start(), m.group(1))
    for m in _SAS_CONN.finditer(text):
        add("B2S003", m.start(), m.group(1))
    for m in _CLOUDFLARE.finditer(text):
        add("B2S004", m.start(), m.group(1))
    if config_like:
        seen_offsets: set[int] = set()
        for pattern in (_XML_PASSWORD, _JSON_PASSWORD, _CONN_PASSWORD):
            for m in pattern.finditer(text):
                value = m.group(1)
                if _placeholder(value) or m.start(1) in seen_offsets:
                    continue
                seen_offsets.add(m.start(1))
                add("B2S005", m.start(), value)
    return found


def _is_binary(data: bytes) -> bool:
    return b"\x00" in data[:8192]


def scan_file(path: Path, label: str) -> list[SecretFinding]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return []
        data = path.read_bytes()
    except OSError:
        return []
    name = path.name.lower()
    config_like = name.endswith(CONFIG_SUFFIXES)
    if not _is_binary(data):
        text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
        return scan_text(text, label, config_like=config_like)
    findings: list[SecretFinding] = []
    views = [data.decode("latin-1"), data.decode("utf-16-le", errors="replace"),
             data[1:].decode("utf-16-le", errors="replace")]
    for view in views:
        findings.extend(scan_text(view, label, config_like=False, binary=True))
    return findings


def scan_files(files: Iterable[tuple[Path, str]]) -> list[SecretFinding]:
    """Scan (path, label) pairs; one finding per (rule, label, line, hint)."""
    unique: dict[tuple, SecretFinding] = {}
    for path, label in files:
        for f in scan_file(path, label):
            unique.setdefault((f.rule, f.path, f.line, f.hint), f)
    return sorted(unique.values(), key=lambda f: (f.path, f.line or 0, f.rule, f.hint))


def source_config_files(root: Path, walk) -> list[Path]:
    """Config files of a source tree worth checking (they ship or configure deployments)."""
    import fnmatch

    out = []
    for path in walk(root):
        name = path.name
        if any(fnmatch.fnmatch(name.lower(), pattern.lower()) for pattern in SOURCE_PATTERNS):
            if "obj" in path.relative_to(root).parts:
                continue
            out.append(path)
    return out
