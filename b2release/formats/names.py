"""Validation of product names, versions and archive entry paths."""

from __future__ import annotations

import re
import unicodedata

from b2release.errors import UsageError

_PRODUCT = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")


def validate_product_name(name: str) -> str:
    # Product names become blob prefixes and file names: keep them boring.
    if not _PRODUCT.fullmatch(name or "") or ".." in name:
        raise UsageError(
            f"invalid product name {name!r}: use 1-64 lowercase letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit"
        )
    return name


def validate_version(version: str) -> str:
    import semver

    text = str(version)
    if text != text.strip():
        raise UsageError(f"invalid version {version!r}: no spaces or line breaks around it")
    if text.startswith("v"):
        raise UsageError(f"invalid version {version!r}: write it without the leading 'v' (e.g. {text[1:]})")
    try:
        semver.Version.parse(text)
    except (ValueError, TypeError):
        raise UsageError(
            f"invalid version {version!r}: expected semantic version X.Y.Z[-prerelease][+build], e.g. 1.4.0 or 2.0.0-rc.1"
        ) from None
    return text


def compare_versions(a: str, b: str) -> int:
    import semver

    return semver.Version.parse(a).compare(semver.Version.parse(b))


# --- Azure container names -------------------------------------------------------------
# 3-63 characters, lowercase letters, digits and '-', starting and ending with a letter or
# digit, every '-' between two letters/digits (no '--', no trailing '-'). One rule, used by
# stores (tenant containers), the file store's folders and CDN purge targets.
TENANT_PREFIX = "tenant-"  # a tenant's container is tenant-<id>
CONTAINER_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*$")


def container_name_problem(name: str) -> str | None:
    """Why `name` is not a valid Azure container name, or None."""
    if not 3 <= len(name) <= 63:
        return "must be 3-63 characters long"
    if name != name.lower():
        return "must be lowercase"
    if not CONTAINER_NAME.fullmatch(name):
        return ("may contain only lowercase letters, digits and '-', must start and end with a letter or digit, "
                "and must not contain '--'")
    return None


def validate_container_name(name: str, what: str = "container name") -> str:
    problem = container_name_problem(name or "")
    if problem:
        raise UsageError(f"invalid {what} {name!r}: Azure container names {problem}")
    return name


def windows_name_key(name: str) -> str:
    """The key under which Windows finds a file name: two names with one key cannot sit side by side.

    Unicode NFC first (a package holds NFC names, so `café` composed and decomposed are one
    name), then Windows' case rule: each character mapped to its simple uppercase form, one
    character to one, as NTFS's upcase table does. Not Python's casefold or upper: they map
    `ß` to `ss`/`SS`, so they would call `straße.txt` and `strasse.txt` one name, which Windows
    keeps apart.
    """
    nfc = unicodedata.normalize("NFC", name)
    return "".join(upper if len(upper := ch.upper()) == 1 else ch for ch in nfc)


# --- archive entry names ----------------------------------------------------------------
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_WINDOWS_BAD_CHARS = set('<>:"|?*\\')
_UNSAFE_CHARS = frozenset("\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
MAX_NAME_BYTES = 4096  # an entry's whole path, in UTF-8


def entry_path_problem(name: str) -> str | None:
    """Why an archive entry name is unsafe on Windows or Linux, or None if it is fine.

    Used both when packaging (refuse such input) and when verifying (refuse such zips).
    """
    if not name:
        return "empty name"
    if "\\" in name:
        return "contains a backslash"
    if name.startswith("/"):
        return "is absolute"
    if re.match(r"^[A-Za-z]:", name):
        return "has a drive letter"
    odd = sorted({ch for ch in name if ch in _UNSAFE_CHARS or unicodedata.category(ch) == "Cc"})
    if odd:
        # Control characters (C0, DEL, C1), line separators and bidi overrides change how a name
        # is listed or shown, not just stored (unzip silently drops DEL, for one).
        return (f"contains {', '.join(f'U+{ord(ch):04X}' for ch in odd)} (a control character, line separator "
                "or bidi override)")
    parts = name.split("/")
    for part in parts:
        if part in ("", "."):
            return "has an empty or '.' path component"
        if part == "..":
            return "contains '..'"
        bad = sorted(set(part) & _WINDOWS_BAD_CHARS)
        if bad:
            return f"contains {''.join(bad)!r}, which Windows does not allow"
        if part[-1] in " .":
            return "has a component ending in a space or dot, which Windows drops"
        if part.split(".")[0].upper() in _WINDOWS_RESERVED:
            return f"uses the reserved Windows device name {part.split('.')[0]!r}"
    return None


class NameSet:
    """Names added so far; `add` says why a new name cannot join them (duplicates under
    Windows' rules, a file that is also another entry's folder), or None."""

    def __init__(self) -> None:
        self._files: dict[str, str] = {}  # windows_key -> name
        self._folders: dict[str, str] = {}  # windows_key of every folder -> a name inside it

    def add(self, name: str) -> str | None:
        key = windows_name_key(name)
        if key in self._files:
            other = self._files[key]
            return ("appears twice" if other == name
                    else f"differs only in case from {other!r} (one name on Windows)")
        if key in self._folders:
            return f"is also the folder of {self._folders[key]!r}"
        parts = key.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder in self._files:
                return f"uses the file {self._files[folder]!r} as a folder"
        for depth in range(1, len(parts)):
            self._folders.setdefault("/".join(parts[:depth]), name)
        self._files[key] = name
        return None


def entry_name_problem(name: str) -> str | None:
    """Why a name cannot be an entry of a package, or None. The writer applies the same rules."""
    if name.endswith("/"):
        return "is a directory entry"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (lone surrogate)"
    if len(encoded) > MAX_NAME_BYTES:
        return f"is longer than {MAX_NAME_BYTES} bytes"
    if not unicodedata.is_normalized("NFC", name):
        return "is not in Unicode normal form NFC"
    problem = entry_path_problem(name)
    if problem:
        return f"is unsafe: {problem}"
    return None
