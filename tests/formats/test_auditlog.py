"""Audit log: signed, hash-chained lines; every kind of tampering is named by file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from b2release.errors import InputError
from b2release.formats import auditchain, auditlog
from b2release.formats.auditlog import AuditChainError, AuditRecord
from b2release.formats.signature import load_public_key, load_signing_key

JAN = "audit/2024/01.jsonl"
FEB = "audit/2024/02.jsonl"


def _keypair(tmp_path: Path, name: str):
    private = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / f"{name}.key").write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / f"{name}.pub").write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return load_signing_key(tmp_path / f"{name}.key"), load_public_key(tmp_path / f"{name}.pub")


@pytest.fixture
def keys(tmp_path):
    return _keypair(tmp_path, "release")


def _record(i: int, day: str = "2024-01-15", **kw) -> AuditRecord:
    base = dict(time=f"{day}T10:00:{i % 60:02d}Z", actor="octocat@github-actions/b2connect/connector/runs/1",
                command="promote", action="move-pointer", correlation_id=f"corr-{i}", tenants=("acme", "globex"),
                product="enventa-connector", version="1.4.0", channel="stable", sequence_before=i, sequence_after=i + 1)
    base.update(kw)
    return AuditRecord(**base)


def _chain(key, n: int) -> bytes:
    data = b""
    for i in range(n):
        data += auditlog.next_line_for(data, _record(i), key)
    return data


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def _fails(files, pub, line: int, kind: str, file: str = JAN, match: str | None = None) -> AuditChainError:
    with pytest.raises(AuditChainError, match=match) as exc:
        auditchain.verify_chain(files, pub)
    assert (exc.value.failure.file, exc.value.failure.line, exc.value.failure.kind) == (file, line, kind), exc.value.message
    assert exc.value.message.startswith(f"{file} line {line}: ")
    assert "\n" not in exc.value.message
    return exc.value


def test_a_chain_verifies(keys):
    key, pub = keys
    data = _chain(key, 5)
    result = auditchain.verify_chain([(JAN, data)], pub)
    assert (result.files, result.lines, result.first_seq, result.last_seq) == (1, 5, 1, 5)
    assert result.head == auditlog.line_hash(_lines(data)[-1])
    first, second = auditlog.parse_lines(data, JAN)[:2]
    assert first.prev == auditlog.GENESIS_PREV and first.seq == 1
    assert second.prev == auditlog.line_hash(first.raw) and second.seq == 2
    assert first.record == _record(0)


def test_line_format(keys):
    key, pub = keys
    line = auditlog.make_line(_record(3, grant_id="grant-acme-01"), None, key)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    doc = json.loads(line)
    assert list(doc) == sorted(doc)  # canonical: sorted keys
    assert doc["format"] == "b2release-audit/1" and doc["keyid"] == key.key_id
    assert doc["grant_id"] == "grant-acme-01" and doc["tenants"] == ["acme", "globex"]
    # The signature covers the canonical JSON of everything but sig (prev and seq included).
    import base64
    pub.verify(auditlog.signed_bytes(doc), base64.b64decode(doc["sig"]), "line")


def test_editing_a_byte_names_the_line(keys):
    key, pub = keys
    lines = _lines(_chain(key, 5))
    lines[2] = lines[2].replace(b'"version":"1.4.0"', b'"version":"1.4.1"')
    _fails([(JAN, b"".join(lines))], pub, 3, "changed", match="signature does not verify")


def test_a_non_canonical_edit_is_a_change(keys):
    key, pub = keys
    lines = _lines(_chain(key, 3))
    lines[1] = lines[1].replace(b'"action":', b'"action": ')
    _fails([(JAN, b"".join(lines))], pub, 2, "changed", match="canonical")


def test_deleting_a_line_names_the_next_line(keys):
    key, pub = keys
    lines = _lines(_chain(key, 5))
    del lines[2]
    _fails([(JAN, b"".join(lines))], pub, 3, "removed", match=r"1 line missing before this one \(seq 3..3\)")


def test_deleting_the_first_line(keys):
    key, pub = keys
    lines = _lines(_chain(key, 3))
    _fails([(JAN, b"".join(lines[1:]))], pub, 1, "removed")
    # Verifying a later stretch on purpose: anchor at whatever comes first.
    assert auditchain.verify_chain([(JAN, b"".join(lines[1:]))], pub, start_prev=None, start_seq=None).lines == 2


def test_swapping_two_lines(keys):
    key, pub = keys
    lines = _lines(_chain(key, 5))
    lines[1], lines[2] = lines[2], lines[1]
    _fails([(JAN, b"".join(lines))], pub, 2, "reordered", match=f"seq 3 where 2 belongs \\(2 is at {JAN} line 3\\)")


def test_appending_a_line_signed_by_another_key(tmp_path, keys):
    key, pub = keys
    other, _ = _keypair(tmp_path, "other")
    data = _chain(key, 3)
    data += auditlog.next_line_for(data, _record(9), other)
    _fails([(JAN, data)], pub, 4, "foreign-key", match="not the release key")


def test_inserting_a_validly_signed_line_breaks_the_chain(keys):
    # Even with the release key, a line slipped in between breaks `seq` or `prev` of the next.
    key, pub = keys
    lines = _lines(_chain(key, 4))
    forged = auditlog.make_line(_record(7), lines[1], key)  # seq 3, chained to line 2
    lines.insert(2, forged)
    _fails([(JAN, b"".join(lines))], pub, 4, "reordered", match="seq 3 comes after seq 3")


def test_replacing_a_line_with_a_validly_signed_one(keys):
    key, pub = keys
    lines = _lines(_chain(key, 4))
    lines[1] = auditlog.make_line(_record(8), lines[0], key)  # same seq and prev, other content
    _fails([(JAN, b"".join(lines))], pub, 3, "inserted", match=f"prev does not match {JAN} line 2")


def test_truncating_the_last_line(keys):
    key, pub = keys
    data = _chain(key, 4)
    _fails([(JAN, data[:-20])], pub, 4, "truncated", match="no terminating LF")
    _fails([(JAN, data[:-1])], pub, 4, "truncated")
    with pytest.raises(AuditChainError, match=f"{JAN} line 4: truncated"):
        auditlog.parse_lines(data[:-5], JAN)


def test_removing_whole_lines_from_the_end_needs_the_head(keys):
    key, pub = keys
    data = _chain(key, 4)
    head = auditchain.verify_chain([(JAN, data)], pub).head
    shortened = b"".join(_lines(data)[:3])
    assert auditchain.verify_chain([(JAN, shortened)], pub).lines == 3  # invisible from the file alone
    with pytest.raises(AuditChainError, match=f"{JAN} line 3: removed: the log ends at"):
        auditchain.verify_chain([(JAN, shortened)], pub, expect_head=head)


def test_empty_line_inserted(keys):
    key, pub = keys
    lines = _lines(_chain(key, 3))
    lines.insert(1, b"\n")
    _fails([(JAN, b"".join(lines))], pub, 2, "inserted", match="empty line")


# --- month files, seals and the append protocol ---------------------------------------------------
class MemoryStore:
    """Append blobs with Azure's conditions: create If-None-Match *, append at a given position."""

    def __init__(self):
        self.blobs: dict[str, bytes] = {}

    def latest(self):
        names = auditchain.chain_files(list(self.blobs))
        return (names[-1], self.blobs[names[-1]]) if names else None

    def run(self, steps) -> bool:
        for step in steps:
            if step.create:
                if step.blob in self.blobs:
                    return False  # 409 BlobAlreadyExists
                self.blobs[step.blob] = step.line
            else:
                if len(self.blobs.get(step.blob, b"")) != step.append_pos:
                    return False  # 412 AppendPositionConditionNotMet
                self.blobs[step.blob] += step.line
        return True

    def append(self, record, key, tries: int = 5) -> int:
        for attempt in range(1, tries + 1):
            if self.run(auditlog.plan_append(self.latest(), record, key)):
                return attempt
        raise AssertionError("gave up")

    def files(self):
        return [(n, self.blobs[n]) for n in auditchain.chain_files(list(self.blobs))]


def test_blob_names():
    assert auditlog.blob_name("2024-02-29T23:59:59Z") == "audit/2024/02.jsonl"
    assert auditlog.blob_name("2024-12-01T00:00:00.5Z") == "audit/2024/12.jsonl"
    assert auditchain.chain_files(["audit/2024/10.jsonl", "audit/2023/12.jsonl", "audit/notes.txt", "x/2024/01.jsonl"]) == [
        "audit/2023/12.jsonl", "audit/2024/10.jsonl"]


def test_months_are_chained_through_a_seal(keys):
    key, pub = keys
    store = MemoryStore()
    store.append(_record(0, "2024-01-30"), key)
    store.append(_record(1, "2024-01-31"), key)
    store.append(_record(2, "2024-02-01"), key)
    store.append(_record(3, "2024-02-02"), key)
    jan = auditlog.parse_lines(store.blobs[JAN], JAN)
    feb = auditlog.parse_lines(store.blobs[FEB], FEB)
    assert [line.record.action for line in jan] == ["move-pointer", "move-pointer", "seal"]
    assert feb[0].prev == jan[-1].digest and feb[0].seq == 4
    result = auditchain.verify_chain(store.files(), pub)
    assert (result.files, result.lines, result.last_seq) == (2, 5, 5)


def test_a_missing_month_or_cut_seal_is_named(keys):
    key, pub = keys
    store = MemoryStore()
    for i, day in enumerate(["2024-01-30", "2024-02-01", "2024-03-01"]):
        store.append(_record(i, day), key)
    files = store.files()
    _fails([files[0], files[2]], pub, 1, "removed", file="audit/2024/03.jsonl", match="2 lines missing")
    cut = (JAN, b"".join(_lines(files[0][1])[:-1]))  # the seal removed
    _fails([cut, files[1], files[2]], pub, 1, "unsealed", file=FEB, match=f"{JAN} does not end with a seal")


def test_a_line_after_a_seal_is_refused(keys):
    key, pub = keys
    store = MemoryStore()
    store.append(_record(0, "2024-01-30"), key)
    store.append(_record(1, "2024-02-01"), key)
    jan = store.blobs[JAN]
    late = auditlog.next_line_for(jan, _record(5, "2024-01-31"), key)  # appended to a closed month
    _fails([(JAN, jan + late), (FEB, store.blobs[FEB])], pub, 3, "inserted", match="after its month's seal")


def test_writer_that_lost_a_race_recomputes_prev(keys):
    key, pub = keys
    store = MemoryStore()
    store.append(_record(0), key)
    # Both writers read the same tail and plan; B lands first, A's conditional append fails.
    plan_a = auditlog.plan_append(store.latest(), _record(1), key)
    plan_b = auditlog.plan_append(store.latest(), _record(2), key)
    assert plan_a[0].line != plan_b[0].line and json.loads(plan_a[0].line)["seq"] == json.loads(plan_b[0].line)["seq"]
    assert store.run(plan_b) and not store.run(plan_a)
    assert store.run(auditlog.plan_append(store.latest(), _record(1), key))  # re-read, recompute
    lines = auditlog.parse_lines(store.blobs[JAN], JAN)
    assert [line.record.correlation_id for line in lines] == ["corr-0", "corr-2", "corr-1"]
    auditchain.verify_chain(store.files(), pub)


def test_race_at_the_month_boundary(keys):
    key, pub = keys
    store = MemoryStore()
    store.append(_record(0, "2024-01-31"), key)
    late_jan = auditlog.plan_append(store.latest(), _record(1, "2024-01-31"), key)
    first_feb = auditlog.plan_append(store.latest(), _record(2, "2024-02-01"), key)
    assert len(first_feb) == 2 and not first_feb[0].create and first_feb[1].create
    assert store.run(first_feb)  # seal January, create February
    assert not store.run(late_jan)  # January moved on: the late writer re-reads...
    assert store.append(_record(1, "2024-01-31"), key) == 1  # ...and lands in February, after the seal
    assert [json.loads(x)["correlation_id"] for x in _lines(store.blobs[FEB])] == ["corr-2", "corr-1"]
    auditchain.verify_chain(store.files(), pub)


def test_a_writer_that_died_after_sealing(keys):
    key, pub = keys
    store = MemoryStore()
    store.append(_record(0, "2024-01-31"), key)
    steps = auditlog.plan_append(store.latest(), _record(1, "2024-02-01"), key)
    assert store.run(steps[:1])  # sealed, then the writer died
    store.append(_record(2, "2024-01-31"), key)  # a skewed clock still goes forward, to February
    assert auditchain.chain_files(list(store.blobs)) == [JAN, FEB]
    auditchain.verify_chain(store.files(), pub)


def test_verify_reads_files(tmp_path, keys):
    key, pub = keys
    (tmp_path / "01.jsonl").write_bytes(_chain(key, 2))
    assert auditchain.verify_chain([tmp_path / "01.jsonl"], pub).lines == 2
    with pytest.raises(InputError, match="cannot read audit log"):
        auditchain.verify_chain([tmp_path / "missing.jsonl"], pub)


@pytest.mark.parametrize("override, message", [
    ({"grant_id": "sv=2023-01-03&si=grant&sig=abc%3D"}, "never a SAS token"),
    ({"time": "2024-01-15 10:00:00"}, "not RFC 3339"),
    ({"command": "deploy"}, "audit command"),
    ({"action": "other"}, "audit action"),
    ({"tenants": ("Acme",)}, "not a tenant id"),
    ({"sequence_before": -1}, "non-negative"),
    ({"actor": ""}, "needs an actor"),
])
def test_records_b2release_must_not_write(keys, override, message):
    with pytest.raises(InputError, match=message):
        auditlog.make_line(_record(1, **override), None, keys[0])


def test_current_actor(monkeypatch):
    assert auditlog.current_actor({"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "octocat", "GITHUB_REPOSITORY": "o/r",
                                   "GITHUB_RUN_ID": "7"}) == "octocat@github-actions/o/r/runs/7"


def test_appending_to_a_damaged_tail_is_refused(keys):
    from b2release.errors import VerificationError

    key, _ = keys
    data = _chain(key, 2)
    damaged = data[:-10] + b'"xx"}\n'
    with pytest.raises(VerificationError, match="cannot append: the audit log's last line is not a valid audit line"):
        auditlog.next_line_for(damaged, _record(5), key)
    with pytest.raises(VerificationError, match=f"cannot append to {JAN}"):
        auditlog.plan_append((JAN, damaged), _record(5), key)
    with pytest.raises(InputError, match="previous line alone"):
        auditlog.make_line(_record(5), data, key)
    with pytest.raises(InputError, match="does not end with LF"):
        auditlog.next_line_for(data[:-1], _record(5), key)


# --- b2release-audit/2: a line with a reason -------------------------------------------------------
def test_a_reason_makes_a_v2_line_and_a_line_without_one_stays_v1(keys):
    key, pub = keys
    data = auditlog.next_line_for(b"", _record(0), key)
    data += auditlog.next_line_for(data, _record(1, reason="hotfix INC-4711"), key)
    data += auditlog.next_line_for(data, _record(2), key)
    first, second, third = auditlog.parse_lines(data, JAN)
    assert [json.loads(line.raw)["format"] for line in (first, second, third)] == [
        "b2release-audit/1", "b2release-audit/2", "b2release-audit/1"]
    assert "reason" not in json.loads(first.raw) and second.record.reason == "hotfix INC-4711"
    assert auditchain.verify_chain([(JAN, data)], pub).lines == 3
    # The reason is signed: changing it is a change.
    lines = _lines(data)
    lines[1] = lines[1].replace(b"INC-4711", b"INC-0000")
    _fails([(JAN, b"".join(lines))], pub, 2, "changed", match="signature does not verify")


@pytest.mark.parametrize("edit", [
    lambda doc: doc.update(reason="smuggled"),  # a /1 line with a reason: wrong keys
    lambda doc: doc.update(format="b2release-audit/2"),  # a /2 line without a reason: wrong keys
    lambda doc: doc.update(format="b2release-audit/2", reason=None),  # /2 with a null reason
    lambda doc: doc.update(format="b2release-audit/3"),
    lambda doc: doc.update(format=["b2release-audit/1"]),  # not even a string
    lambda doc: doc.update(format="b2release-audit/2", reason=["why"]),
])
def test_v1_and_v2_lines_have_exactly_their_keys(keys, edit):
    key, pub = keys
    doc = json.loads(auditlog.next_line_for(b"", _record(0), key))
    edit(doc)
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    with pytest.raises(AuditChainError) as exc:
        auditlog.parse_lines(raw, JAN)
    assert exc.value.failure.kind == "changed"


@pytest.mark.parametrize("reason", ["", "two\nlines", "x" * 501])
def test_a_reason_is_one_line_of_at_most_500_characters(keys, reason):
    key, _ = keys
    with pytest.raises(InputError, match="audit reason"):
        auditlog.make_line(_record(0, reason=reason), None, key)
