import pytest

from b2release.scanners.nuget_version import InvalidVersion, parse, resolve_requested


@pytest.mark.parametrize("a,b", [("1.0", "1.0.0.0"), ("1", "1.0.0"), ("1.01", "1.1"), ("1.0.0+build.7", "1.0.0"),
                                 ("1.0.0-Beta", "1.0.0-beta"), ("13.0.3", "13.0.3.0")])
def test_equal_versions(a, b):
    assert parse(a) == parse(b)
    assert hash(parse(a)) == hash(parse(b))


@pytest.mark.parametrize("low,high", [
    ("1.0.0", "1.0.0.1"),          # four parts: the revision counts
    ("4.3.3.9", "4.3.4"),
    ("1.0.0-alpha", "1.0.0"),      # a prerelease sorts before its release
    ("1.0.0-alpha", "1.0.0-beta"),
    ("1.0.0-ALPHA.2", "1.0.0-alpha.10"),  # numeric identifiers compare numerically, case-insensitive labels
    ("1.0.0-2", "1.0.0-alpha"),    # numeric below alphanumeric
    ("1.0.0-rc", "1.0.0-rc.1"),    # fewer identifiers sort first
    ("2.9.9.9", "10.0"),
])
def test_ordering(low, high):
    assert parse(low) < parse(high)
    assert not parse(high) < parse(low)


def test_normalized_form():
    assert parse("1.0").normalized() == "1.0.0"
    assert parse("1.2.3.4").normalized() == "1.2.3.4"
    assert parse("1.2.3-RC.1+sha").normalized() == "1.2.3-rc.1"


@pytest.mark.parametrize("text", ["", "1.2.3.4.5", "abc", "1..2", "1.0-"])
def test_invalid(text):
    with pytest.raises(InvalidVersion):
        parse(text)


@pytest.mark.parametrize("spec,expected", [("13.0.1", "13.0.1"), ("[13.0.1]", "13.0.1"), ("[1.2, 2.0)", "1.2.0"),
                                           ("[1.2.3, )", "1.2.3")])
def test_resolve_requested(spec, expected):
    version, why = resolve_requested(spec)
    assert version is not None and version.normalized() == expected, why


@pytest.mark.parametrize("spec,reason", [("1.2.*", "floating"), ("(1.0, 2.0)", "exclusive"),
                                         ("$(JsonVersion)", "property"), ("(, 2.0]", "no lower bound")])
def test_resolve_requested_unknowable(spec, reason):
    version, why = resolve_requested(spec)
    assert version is None and reason in why
