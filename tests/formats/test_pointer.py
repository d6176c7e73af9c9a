import pytest

from b2release.errors import UsageError, VerificationError
from b2release.formats import pointer


def test_roundtrip_and_canonical_bytes():
    p = pointer.new("enventa-connector", "stable", "1.2.3", "ab" * 32, 4, ttl_s=3600, now=1700000000)
    data = p.to_bytes()
    assert data == pointer.parse(data).to_bytes()
    assert p.issued_at == "2023-11-14T22:13:20Z" and p.expires_at == "2023-11-14T23:13:20Z"


def test_freshness_rules():
    p = pointer.new("p", "stable", "1.0.0", "ab" * 32, 5, ttl_s=60, now=1000)
    pointer.check_fresh(p, "ptr", now=1030, last_seen_sequence=5)
    with pytest.raises(VerificationError, match="expired"):
        pointer.check_fresh(p, "ptr", now=1061)
    with pytest.raises(VerificationError, match="lower than the last seen 6"):
        pointer.check_fresh(p, "ptr", now=1030, last_seen_sequence=6)


def test_channel_names():
    assert pointer.validate_channel("canary") == "canary"
    with pytest.raises(UsageError):
        pointer.validate_channel("../stable")
