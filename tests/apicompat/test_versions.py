"""The semver rule: which bump a change level needs, and which bump a version pair is."""

from __future__ import annotations

import pytest

from b2release.apicompat.versions import Version, actual_bump, bump_satisfies, next_version, required_bump
from b2release.errors import UsageError


@pytest.mark.parametrize("level, old, required", [
    ("breaking", "1.4.0", "major"),
    ("breaking", "0.3.0", "minor"),
    ("additive", "1.4.0", "minor"),
    ("additive", "0.3.0", "minor"),
    ("none", "1.4.0", "patch"),
])
def test_required_bump(level, old, required):
    assert required_bump(level, old) == required


@pytest.mark.parametrize("old, new, bump", [
    ("1.4.0", "2.0.0", "major"),
    ("1.4.0", "1.5.0", "minor"),
    ("1.4.0", "1.4.1", "patch"),
    ("1.4.0", "1.4.0", "none"),
    ("1.4.0", "1.3.9", "none"),
    ("1.4.0", "1.4.0+build.7", "none"),  # build metadata does not order versions
    ("1.4.0", "2.0.0-rc.1", "major"),
    ("2.0.0-rc.1", "2.0.0-rc.2", "prerelease"),
    ("2.0.0-rc.1", "2.0.0", "prerelease"),
    ("2.0.0", "2.0.0-rc.1", "none"),
    ("v1.4.0", "v1.5.0", "minor"),
])
def test_actual_bump(old, new, bump):
    assert actual_bump(old, new) == bump


def test_prerelease_ordering_follows_semver():
    versions = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
                "1.0.0-rc.1", "1.0.0"]
    keys = [Version.parse(v).sort_key() for v in versions]
    assert keys == sorted(keys)


def test_prerelease_baseline_promises_nothing():
    # Against 2.0.0-rc.1 even breaking changes pass with any greater version.
    assert bump_satisfies(Version.parse("2.0.0-rc.1"), Version.parse("2.0.0"), "major")
    assert not bump_satisfies(Version.parse("1.4.0"), Version.parse("1.5.0"), "major")


@pytest.mark.parametrize("text", ["1.4", "1.4.0.0", "01.4.0", "1.4.0-", "latest", ""])
def test_invalid_versions(text):
    with pytest.raises(UsageError):
        Version.parse(text)


def test_next_version():
    assert next_version(Version.parse("1.4.2"), "major") == "2.0.0"
    assert next_version(Version.parse("1.4.2"), "minor") == "1.5.0"
    assert next_version(Version.parse("1.4.2"), "patch") == "1.4.3"
