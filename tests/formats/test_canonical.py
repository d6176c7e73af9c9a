"""b2release.formats.canonical: bytes that depend only on the data."""

from __future__ import annotations

import json

import pytest

from b2release.errors import VerificationError
from b2release.formats import canonical


def test_sorted_keys_no_spaces_one_trailing_lf():
    assert canonical.dumps({"b": 1, "a": [1, 2, {"d": None, "c": True}]}) == \
        b'{"a":[1,2,{"c":true,"d":null}],"b":1}\n'


def test_independent_of_insertion_order():
    first = {"product": "p", "version": "1.0.0", "nested": {"x": 1, "y": 2}}
    second = {"nested": {"y": 2, "x": 1}, "version": "1.0.0", "product": "p"}
    assert canonical.dumps(first) == canonical.dumps(second)


def test_non_ascii_is_written_as_utf8_not_escaped():
    data = canonical.dumps({"name": "Grüße ✓"})
    assert data == '{"name":"Grüße ✓"}\n'.encode()
    assert b"\\u" not in data


def test_exactly_one_lf_at_the_end_and_none_inside():
    data = canonical.dumps({"text": "line one\nline two", "list": [1, 2]})
    assert data.endswith(b"}\n") and data.count(b"\n") == 1  # the LF in the value is escaped as \\n


def test_round_trip():
    doc = {"a": [1, 2.5, "x", None, False], "ü": {"k": "v"}}
    data = canonical.dumps(doc)
    assert canonical.loads(data, "doc") == doc
    assert canonical.dumps(canonical.loads(data, "doc")) == data


@pytest.mark.parametrize("data", [b"{not json", b"", b'{"a": 1} trailing', b"\xef\xbb\xbf{}"])
def test_non_json_names_what_was_read(data):
    with pytest.raises(VerificationError) as info:
        canonical.loads(data, "release-1.0.0.zip: .b2release/manifest.json")
    assert info.value.message.startswith("release-1.0.0.zip: .b2release/manifest.json is not valid JSON: ")
    assert info.value.exit_code == 1


def test_non_utf8_names_what_was_read():
    with pytest.raises(VerificationError, match=r"^pointer stable\.json is not valid JSON: .*utf-8"):
        canonical.loads(b'{"a": "\xff"}', "pointer stable.json")


def test_loads_accepts_what_plain_json_accepts():
    """Whitespace and key order do not matter to the reader, only to the writer."""
    text = json.dumps({"b": 1, "a": 2}, indent=4).encode()
    assert canonical.loads(text, "x") == {"a": 2, "b": 1}
