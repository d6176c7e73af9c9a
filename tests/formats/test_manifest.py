"""b2release.formats.manifest: canonical manifest bytes and a strict parser."""

from __future__ import annotations

import json
from typing import Any

import pytest

from b2release.errors import VerificationError
from b2release.formats import manifest as manifest_fmt
from b2release.formats.manifest import MANIFEST_FORMAT, FileEntry, Manifest, parse

SHA_A = "a" * 64
SHA_B = "b" * 64


def minimal(**kw: Any) -> Manifest:
    values: dict[str, Any] = {"product": "connector", "version": "1.2.3", "key_id": "k" * 64,
                              "files": [FileEntry("lib/B.dll", 20, SHA_B), FileEntry("A.dll", 10, SHA_A)],
                              "timestamp": {"epoch": 315532800, "source": "fixed"}}
    values.update(kw)
    return Manifest(**values)


def full() -> Manifest:
    return minimal(build={"tool": "xbuild", "commit": "abc"}, scan={"fail_on": "high"},
                   signing={"subject": "CN=Dev"},
                   attachments=[{"path": "sbom.cdx.json", "kind": "sbom", "size": 5, "sha256": SHA_B}])


def doc_of(m: Manifest) -> dict[str, Any]:
    return json.loads(m.to_bytes())


def raw(**changes: Any) -> bytes:
    """Manifest bytes with top-level keys changed (None removes a key)."""
    doc = doc_of(full())
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return json.dumps(doc).encode()


def test_names():
    assert manifest_fmt.ZIP_MANIFEST == ".b2release/manifest.json"
    assert manifest_fmt.ZIP_SIGNATURE == ".b2release/manifest.json.sig"
    assert MANIFEST_FORMAT == "b2release-manifest/1"


def test_bytes_are_canonical_and_files_sorted_by_path():
    data = minimal().to_bytes()
    assert data.endswith(b"}\n") and b": " not in data and b", " not in data
    doc = json.loads(data)
    assert list(doc) == sorted(doc)
    assert [f["path"] for f in doc["files"]] == ["A.dll", "lib/B.dll"]
    assert doc["files"][0] == {"path": "A.dll", "sha256": SHA_A, "size": 10}
    assert doc["format"] == MANIFEST_FORMAT


def test_bytes_do_not_depend_on_the_order_of_files():
    reordered = minimal(files=list(reversed(minimal().files)))
    assert reordered.to_bytes() == minimal().to_bytes()


def test_optional_fields_only_when_set():
    assert set(doc_of(minimal())) == {"format", "product", "version", "key_id", "files", "timestamp"}
    assert set(doc_of(full())) == {"format", "product", "version", "key_id", "files", "timestamp",
                                   "build", "scan", "signing", "attachments"}
    # an empty value that was set is still written: "set" means "not None"
    assert doc_of(minimal(scan={}))["scan"] == {}


@pytest.mark.parametrize("make", [minimal, full])
def test_round_trip(make):
    original = make()
    parsed = parse(original.to_bytes())
    assert parsed.to_bytes() == original.to_bytes()
    assert parsed.file_map() == {"A.dll": FileEntry("A.dll", 10, SHA_A), "lib/B.dll": FileEntry("lib/B.dll", 20, SHA_B)}
    assert (parsed.product, parsed.version, parsed.key_id) == ("connector", "1.2.3", "k" * 64)
    assert parsed.attachments == original.attachments and parsed.build == original.build


def test_a_missing_timestamp_reads_as_empty():
    assert parse(raw(timestamp=None)).timestamp == {}


@pytest.mark.parametrize("doc", [{"format": "b2release-manifest/2"}, {"format": "b2release-pointer/1"}, {}, [1, 2],
                                 "b2release-manifest/1"])
def test_a_wrong_format_id_is_refused(doc):
    with pytest.raises(VerificationError) as info:
        parse(json.dumps(doc).encode(), "pkg.zip: manifest.json")
    assert info.value.message == "pkg.zip: manifest.json is not a b2release-manifest/1 document"


def test_not_json_is_refused_naming_what():
    with pytest.raises(VerificationError, match="^release.zip: manifest.json is not valid JSON"):
        parse(b"\x00\x01", "release.zip: manifest.json")


def file_entry(**kw: Any) -> dict[str, Any]:
    return {"path": "A.dll", "size": 10, "sha256": SHA_A, **kw}


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        ([file_entry(), file_entry(sha256=SHA_B)], "file A.dll listed twice"),
        ([file_entry(sha256="A" * 64)], "bad file entry"),  # upper-case hex is not what we write
        ([file_entry(sha256="a" * 63)], "bad file entry"),
        ([file_entry(sha256="g" * 64)], "bad file entry"),
        ([file_entry(sha256=None)], "bad file entry"),
        ([file_entry(size="10")], "bad file entry"),
        ([file_entry(size=10.0)], "bad file entry"),
        ([file_entry(size=None)], "bad file entry"),
        ([file_entry(path=7)], "bad file entry"),
        ([{"path": "A.dll", "size": 10}], "'sha256'"),
        (["A.dll"], ""),
        ({"A.dll": file_entry()}, ""),
        (None, ""),
    ],
)
def test_bad_file_lists_are_refused(files, needle):
    with pytest.raises(VerificationError) as info:
        parse(raw(files=files), "m.json")  # None: no "files" key at all
    assert info.value.message.startswith("m.json is malformed: ")
    assert needle in info.value.message


@pytest.mark.parametrize("size", [True, False])
def test_a_boolean_size_is_refused(size):
    with pytest.raises(VerificationError, match="bad file entry"):
        parse(raw(files=[file_entry(size=size)]), "m.json")


@pytest.mark.parametrize(
    "attachment",
    [
        {"path": ".b2release/sbom.cdx.json", "kind": "sbom", "size": 5, "sha256": SHA_B},  # a '/': not beside
        {"path": "../sbom.cdx.json", "kind": "sbom", "size": 5, "sha256": SHA_B},
        {"path": 5, "kind": "sbom", "size": 5, "sha256": SHA_B},
        {"kind": "sbom", "size": 5, "sha256": SHA_B},
        {"path": "sbom.cdx.json", "kind": "sbom", "size": 5, "sha256": "nothex"},
        {"path": "sbom.cdx.json", "kind": "sbom", "size": 5},
    ],
)
def test_bad_attachments_are_refused(attachment):
    with pytest.raises(VerificationError, match="^m.json is malformed: bad attachment"):
        parse(raw(attachments=[attachment]), "m.json")


@pytest.mark.parametrize("attachments", [["sbom.cdx.json"], [["sbom.cdx.json", SHA_B]], "sbom.cdx.json"])
def test_attachments_that_are_not_objects_are_refused(attachments):
    with pytest.raises(VerificationError, match="^m.json is malformed"):
        parse(raw(attachments=attachments), "m.json")


@pytest.mark.parametrize("missing", ["product", "version", "key_id"])
def test_required_top_level_keys(missing):
    with pytest.raises(VerificationError, match=f"^m.json is malformed: '{missing}'"):
        parse(raw(**{missing: None}), "m.json")
