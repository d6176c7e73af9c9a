"""b2release.artifacts: artifact kinds as plain strings, and typed per-stage records via state.json."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from b2release import artifacts
from b2release.artifacts import (
    ATTACHMENT_KINDS,
    PACKAGE_KINDS,
    RELEASE_KINDS,
    BuildRecord,
    CompatRecord,
    GrantRecord,
    Kind,
    PackageRecord,
    PromoteRecord,
    PurgeRecord,
    Record,
    RefreshRecord,
    RevokeRecord,
    RollbackRecord,
    ScanRecord,
    SignRecord,
    UploadRecord,
)
from b2release.stages import OPERATIONS, PIPELINE
from b2release.state import StageRecord, State

SAMPLES: list[Record] = [
    BuildRecord(version="1.2.3", source_dir="/src/connector", manifest_info={"tool": "xbuild", "commit": "abc"},
                tool="xbuild", outputs=[{"name": "A.dll", "sha256": "0" * 64, "size": 3}]),
    CompatRecord(version="2.0.0", previous_version="1.2.3", against="channel stable", level="breaking",
                 required_bump="major", actual_bump="major", api_files=[{"name": "A.api.txt", "sha256": "1" * 64,
                                                                         "size": 9}],
                 manifest_summary={"previous_version": "1.2.3", "level": "breaking"}),
    ScanRecord(manifest_summary={"fail_on": "high", "findings": {"high": 0}}, result="pass"),
    SignRecord(signed=["A.dll"], kept_signed=["B.dll"], cert_sha256="f" * 64, subject="CN=Dev"),
    PackageRecord(product="connector", version="1.2.3", package="connector-1.2.3.zip", manifest_sha256="a" * 64,
                  key_id="b" * 64),
    UploadRecord(product="connector", version="1.2.3", channel="stable", sequence=7, store="file://r",
                 tenants=["t1", "t2"], release_container="releases"),
    PurgeRecord(provider="cloudflare", purged=2, urls=["https://cdn/a", "https://cdn/b"]),
    RollbackRecord(product="connector", store="file://r", containers=[{"name": "t1", "from": "1.2.3", "to": "1.2.2"}],
                   channel="stable", version="1.2.2", reason="regression"),
    PromoteRecord(product="connector", store="file://r", from_channel="beta", to_channel="stable",
                  versions=["1.2.3"]),
    RefreshRecord(product="connector", store="file://r", channel="stable"),
    GrantRecord(tenant="t1", container="t1", version="1.2.3", policy_id="p-1", expires_at="2030-01-01T00:00:00Z"),
    RevokeRecord(tenant="t1", container="t1", removed=["p-1"]),
]


def save_run(state: State, stage: str, status: str, data: dict) -> State:
    state.record_run(StageRecord(stage=stage, status=status, data=data))
    state.save()
    return State(state.work_dir)  # read back as the next process would


def test_kinds_are_the_plain_strings_of_state_json():
    assert {"binary", "build-info", "build-log", "test-result", "test-junit", "test-log", "api-file", "release-notes",
            "scan-report", "sarif", "sbom", "package", "manifest", "signature", "checksums",
            "provenance"} <= {k.value for k in Kind}
    for kind in Kind:
        assert str(kind) == kind.value and f"{kind}" == kind.value
        assert kind == kind.value and Kind(kind.value) is kind
        assert json.dumps(kind) == json.dumps(kind.value)


def test_a_recorded_artifact_is_stored_under_its_plain_kind(tmp_path):
    (tmp_path / "sbom.cdx.json").write_text("{}")
    state = State(tmp_path)
    state.record_artifact(Kind.SBOM, tmp_path / "sbom.cdx.json", "scan")
    state.save()
    doc = json.loads((tmp_path / "state.json").read_text())
    assert doc["artifacts"][0]["kind"] == "sbom"
    assert [a.path for a in State(tmp_path).find(Kind.SBOM)] == ["sbom.cdx.json"]


def test_kind_groups():
    assert ATTACHMENT_KINDS == (Kind.SBOM,)
    assert PACKAGE_KINDS == (Kind.PACKAGE, Kind.MANIFEST, Kind.SIGNATURE, Kind.PROVENANCE, Kind.CHECKSUMS)
    assert RELEASE_KINDS == PACKAGE_KINDS + ATTACHMENT_KINDS
    assert artifacts.BUILD_DIR == "build"


def test_every_record_belongs_to_a_known_command_and_each_command_has_at_most_one():
    stages = [r.STAGE for r in SAMPLES]
    assert len(set(stages)) == len(stages)
    assert set(stages) <= set(PIPELINE) | set(OPERATIONS)


@pytest.mark.parametrize("record", SAMPLES, ids=lambda r: type(r).__name__)
def test_round_trip_through_state_json(tmp_path, record):
    state = save_run(State(tmp_path), record.STAGE, "ok", record.to_dict())
    assert type(record).read(state) == record


@pytest.mark.parametrize("record", SAMPLES, ids=lambda r: type(r).__name__)
def test_every_field_has_a_default(record):
    """A state file written by an older b2release, with keys missing, still reads."""
    empty = type(record)()
    assert set(empty.to_dict()) == {f.name for f in fields(record)}


def test_read_without_a_run_is_none(tmp_path):
    assert BuildRecord.read(State(tmp_path)) is None


@pytest.mark.parametrize("status", ["failed", "skipped"])
def test_read_after_a_failed_or_skipped_run_is_none(tmp_path, status):
    state = save_run(State(tmp_path), "build", "ok", BuildRecord(version="1.0.0").to_dict())
    assert BuildRecord.read(state) == BuildRecord(version="1.0.0")
    state = save_run(state, "build", status, BuildRecord(version="2.0.0").to_dict())
    assert BuildRecord.read(state) is None  # not the earlier successful run's record either


def test_read_of_an_ok_run_without_data_is_none(tmp_path):
    state = save_run(State(tmp_path), "scan", "ok", {})
    assert ScanRecord.read(state) is None


def test_missing_keys_take_their_defaults(tmp_path):
    """An older state file: only some keys present."""
    state = save_run(State(tmp_path), "upload", "ok", {"product": "connector", "version": "1.0.0"})
    record = UploadRecord.read(state)
    assert record == UploadRecord(product="connector", version="1.0.0")
    assert record.tenants == [] and record.sequence == 0 and record.channel == ""


def test_unknown_keys_are_ignored(tmp_path):
    """A newer state file: keys this version does not know are dropped, not an error."""
    data = {**BuildRecord(version="1.0.0").to_dict(), "added_later": {"x": 1}, "STAGE": "scan"}
    state = save_run(State(tmp_path), "build", "ok", data)
    assert BuildRecord.read(state) == BuildRecord(version="1.0.0")


def test_read_takes_the_record_of_its_own_stage_only(tmp_path):
    state = State(tmp_path)
    state.record_run(StageRecord(stage="package", status="ok", data={"product": "packaged", "version": "1.0.0"}))
    state = save_run(state, "upload", "ok", {"product": "uploaded", "version": "2.0.0"})
    assert PackageRecord.read(state).product == "packaged"
    assert UploadRecord.read(state).product == "uploaded"
    assert BuildRecord.read(state) is None


def test_records_are_frozen_and_defaults_are_not_shared():
    first, second = BuildRecord(), BuildRecord()
    first.outputs.append({"name": "x"})
    assert second.outputs == []
    with pytest.raises(AttributeError):
        first.version = "1.0.0"  # type: ignore[misc]
