import json

import pytest

from b2release.errors import InputError, StaleInputError
from b2release.state import StageRecord, State
from tests.conftest import assert_user_error


def test_artifacts_roundtrip_relative_paths(tmp_path):
    work = tmp_path / "dist"
    (work / "build").mkdir(parents=True)
    (work / "build" / "a.dll").write_bytes(b"MZ")
    state = State(work)
    art = state.record_artifact("binary", work / "build" / "a.dll", "build", {"name": "a.dll"})
    assert art.path == "build/a.dll"
    state.save()
    moved = tmp_path / "moved"
    work.rename(moved)  # CI passes the work dir along: it must still resolve
    again = State(moved)
    assert [a.path for a in again.consume("binary")] == ["build/a.dll"]


def test_consume_refuses_changed_or_missing_file(tmp_path):
    state = State(tmp_path)
    (tmp_path / "a.dll").write_bytes(b"one")
    state.record_artifact("binary", tmp_path / "a.dll", "build")
    (tmp_path / "a.dll").write_bytes(b"two")
    with pytest.raises(StaleInputError, match="a.dll changed on disk"):
        state.consume("binary")
    (tmp_path / "a.dll").unlink()
    with pytest.raises(StaleInputError, match="a.dll was recorded by the build stage but is missing"):
        state.consume("binary")


def test_outputs_of_a_failed_run_are_stale(tmp_path):
    state = State(tmp_path)
    (tmp_path / "a.dll").write_bytes(b"one")
    state.record_artifact("binary", tmp_path / "a.dll", "build")
    state.record_run(StageRecord(stage="build", status="failed", reason="compile error"))
    with pytest.raises(StaleInputError, match="last build run, which failed"):
        state.consume("binary")


def test_corrupt_state_file(tmp_path):
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(InputError, match="state.json is not a valid b2release state file"):
        State(tmp_path)


def test_stage_refuses_tampered_input_in_fresh_process(cli, cli_subprocess, tmp_path, dev_keys):
    """package consumes binaries recorded in state by an earlier job; a changed file is refused."""
    work = tmp_path / "dist"
    (work / "build").mkdir(parents=True)
    dll = work / "build" / "Enventa.Connector.xml"
    dll.write_text("<doc/>")
    state = State(work)
    state.record_artifact("binary", dll, "build", {"name": "Enventa.Connector.xml"})
    state.record_run(StageRecord(stage="build", status="ok", data={"version": "1.0.0"}))
    state.save()
    args = ("--work-dir", work, "package", "--name", "p", "--signing-key", dev_keys / "release-signing.key")
    ok = cli_subprocess(*args)
    assert ok.exit_code == 0, ok.output
    assert json.loads((work / "manifest.json").read_text())["version"] == "1.0.0"  # version from build state
    dll.write_text("<doc>tampered</doc>")
    r = cli_subprocess(*args)
    assert_user_error(r, 1, "Enventa.Connector.xml", "changed on disk")
