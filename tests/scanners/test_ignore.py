import datetime as dt

import pytest

from b2release.errors import ConfigError
from b2release.scanners import ignore


def write(tmp_path, text):
    path = tmp_path / ".b2release-ignore.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_entries(tmp_path):
    path = write(tmp_path, '[[ignore]]\nid = "GHSA-1"\nreason = "not reachable"\nexpires = 2999-01-01\n'
                           '[[ignore]]\nid = "CVE-2"\nreason = "r"\nexpires = "2000-01-01"\npackage = "Lib"\n')
    entries = ignore.load(path)
    assert [e.id for e in entries] == ["GHSA-1", "CVE-2"]
    assert entries[0].expires == dt.date(2999, 1, 1)
    assert not entries[0].expired(dt.date(2030, 1, 1))
    assert entries[1].expired(dt.date(2030, 1, 1))
    assert entries[1].applies(["GHSA-x", "cve-2"], "lib")
    assert not entries[1].applies(["CVE-2"], "OtherLib")


@pytest.mark.parametrize("text,needle", [
    ('[[ignore]]\nid = "GHSA-1"\nexpires = 2999-01-01\n', "has no reason"),
    ('[[ignore]]\nid = "GHSA-1"\nreason = "  "\nexpires = 2999-01-01\n', "has no reason"),
    ('[[ignore]]\nid = "GHSA-1"\nreason = "x"\n', "has no expires"),
    ('[[ignore]]\nid = "GHSA-1"\nreason = "x"\nexpires = "soon"\n', "not a date"),
    ('[[ignore]]\nreason = "x"\nexpires = 2999-01-01\n', "'id'"),
    ('[[ignore]]\nid = "G"\nreason = "x"\nexpires = 2999-01-01\nuntil = 1\n', "unknown key"),
    ('ignore = "x"\n', "array of tables"),
    ('[[ignore]\n', ""),
])
def test_refused_entries(tmp_path, text, needle):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        ignore.load(path)
    assert needle in info.value.message
    assert str(path) in info.value.message
