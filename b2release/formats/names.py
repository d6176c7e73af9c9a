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
    if "\x00" in name or any(ord(c) < 32 for c in name):
        return "contains a control character"
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
