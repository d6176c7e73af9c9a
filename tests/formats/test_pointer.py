import pytest

from b2release.errors import UsageError, VerificationError
from b2release.formats import canonical, pointer

DIGEST = "ab" * 32
PACKAGE = "cd" * 32


def make(sequence: int = 4, ttl_s: int = 3600, now: float = 1700000000, **kw) -> pointer.Pointer:
    return pointer.new(product="enventa-connector", channel="stable", container="tenant-acme", version="1.2.3",
                       manifest_sha256=DIGEST, package_sha256=PACKAGE, sequence=sequence, ttl_s=ttl_s, now=now, **kw)


def test_roundtrip_and_canonical_bytes():
    p = make()
    data = p.to_bytes()
    assert data == pointer.parse(data).to_bytes()
    assert p.issued_at == "2023-11-14T22:13:20Z" and p.expires_at == "2023-11-14T23:13:20Z"
    doc = canonical.loads(data, "p")
    # Bound to its place and its bytes: both are inside the signed document.
    assert doc["format"] == "b2release-pointer/2"
    assert doc["container"] == "tenant-acme" and doc["package_sha256"] == PACKAGE


def test_freshness_rules():
    p = make(sequence=5, ttl_s=60, now=1000)
    pointer.check_fresh(p, "ptr", now=1030, last_seen_sequence=5)
    with pytest.raises(VerificationError, match="expired"):
        pointer.check_fresh(p, "ptr", now=1061)
    with pytest.raises(VerificationError, match="lower than the last seen 6"):
        pointer.check_fresh(p, "ptr", now=1030, last_seen_sequence=6)


def test_channel_names():
    assert pointer.validate_channel("canary") == "canary"
    with pytest.raises(UsageError):
        pointer.validate_channel("../stable")


def test_a_legacy_pointer_reads_as_unbound_and_is_never_written():
    legacy = canonical.dumps({"format": "b2release-pointer/1", "product": "p", "channel": "stable", "version": "1.0.0",
                              "manifest_sha256": DIGEST, "sequence": 3, "issued_at": "2023-11-14T22:13:20Z",
                              "expires_at": "2023-11-14T23:13:20Z"})
    p = pointer.parse(legacy)
    assert not p.bound and p.container is None and p.package_sha256 is None
    with pytest.raises(ValueError):
        p.to_bytes()


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("container", None, "container"),
    ("package_sha256", "not-hex", "package_sha256"),
    ("manifest_sha256", DIGEST.upper(), "manifest_sha256"),
    ("sequence", "5", "sequence"),
    ("sequence", True, "sequence"),
    ("sequence", -1, "sequence"),
    ("version", 1, "version"),
])
def test_malformed_fields_are_refused(field, value, needle):
    doc = canonical.loads(make().to_bytes(), "p")
    if value is None:
        del doc[field]
    else:
        doc[field] = value
    with pytest.raises(VerificationError, match=needle):
        pointer.parse(canonical.dumps(doc), "ptr")
