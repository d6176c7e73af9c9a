import pytest

from b2release.errors import UsageError, VerificationError
from b2release.formats import canonical, pointer

DIGEST = "ab" * 32
PACKAGE = "cd" * 32


def make(sequence: int = 4, ttl_s: int = 3600, now: float = 1700000000, **kw) -> pointer.Pointer:
    place = {"product": "enventa-connector", "channel": "stable", "container": "tenant-acme", "version": "1.2.3",
             "manifest_sha256": DIGEST, "package_sha256": PACKAGE}
    extra = {k: kw.pop(k) for k in list(kw) if k in place}
    return pointer.new(**{**place, **extra}, sequence=sequence, ttl_s=ttl_s, now=now, **kw)


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


# --- since and override (optional /2 fields) ----------------------------------------------------
def test_a_new_pointer_is_on_its_channel_since_it_was_issued():
    p = make(now=1700000000)
    assert p.since == p.issued_at == p.on_channel_since
    assert canonical.loads(p.to_bytes(), "p")["since"] == "2023-11-14T22:13:20Z"


def test_an_older_pointer_without_since_reads_and_counts_from_issued_at():
    doc = canonical.loads(make().to_bytes(), "p")
    del doc["since"]
    old = pointer.parse(canonical.dumps(doc))
    assert old.since is None and old.on_channel_since == old.issued_at
    assert "since" not in canonical.loads(old.to_bytes(), "p")  # written back as it was


@pytest.mark.parametrize("field, value", [("since", "yesterday"), ("since", 17), ("override", "forced"),
                                          ("override", {"checks": []})])
def test_malformed_since_or_override_is_a_malformed_pointer(field, value):
    doc = canonical.loads(make().to_bytes(), "p")
    doc[field] = value
    with pytest.raises(VerificationError):
        pointer.parse(canonical.dumps(doc))


def test_carry_over_keeps_since_for_the_same_release_only():
    earlier = make(sequence=4, now=1000, override={"reason": "hotfix", "checks": ["soak"]}, promoted_from="staging")
    refresh = make(sequence=5, now=5000, promoted_from="staging")
    kept = pointer.carry_over(earlier, True, refresh)
    assert (kept.since, kept.issued_at) == (earlier.since, pointer.rfc3339(5000))
    assert kept.override == {"reason": "hotfix", "checks": ["soak"]}  # the same decision, re-issued
    # Another release, an unverified predecessor, or one of another place: a new `since`.
    other = make(sequence=5, now=5000, version="1.2.4")
    assert pointer.carry_over(earlier, True, other).since == pointer.rfc3339(5000)
    assert pointer.carry_over(earlier, False, make(sequence=5, now=5000)).since == pointer.rfc3339(5000)
    moved = make(sequence=5, now=5000, container="tenant-globex")
    assert pointer.carry_over(earlier, True, moved).since == pointer.rfc3339(5000)
    # A rollback onto the same release keeps `since` but is its own decision: no inherited override.
    back = pointer.carry_over(earlier, True, make(sequence=5, now=5000, rollback={"from": "1.3.0", "reason": "x"}))
    assert back.since == earlier.since and back.override is None
