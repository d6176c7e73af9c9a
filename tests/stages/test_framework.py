import json
from types import SimpleNamespace

import pytest

from b2release import stages
from b2release.artifacts import ScanRecord
from b2release.config import Config
from b2release.context import Context
from b2release.errors import ToolError, UsageError
from b2release.stages import Skip, StageResult, runner
from tests.conftest import assert_user_error


def test_select_honours_from_to_skip():
    assert stages.select(None, None, []) == stages.PIPELINE
    assert stages.select("sign", "upload", ["package"]) == ["sign", "upload"]
    with pytest.raises(UsageError, match="unknown stage 'deploy'"):
        stages.select("deploy", None, [])
    with pytest.raises(UsageError, match="comes after"):
        stages.select("upload", "build", [])


def fake_modules(monkeypatch, **bodies):
    """Replace command modules by name with fakes whose run() is the given body."""
    modules = {name: SimpleNamespace(run=lambda ctx, options=None, body=body: body()) for name, body in bodies.items()}
    monkeypatch.setattr(runner, "load", lambda name: modules[name])


def test_runner_records_ok_skip_and_failure(tmp_path, monkeypatch):
    def skip():
        raise Skip("cdn.provider is none")

    def fail():
        raise ToolError("xbuild exited 1")

    fake_modules(monkeypatch, scan=lambda: StageResult(stage="scan", record=ScanRecord(result="pass")),
                 purge=skip, build=fail)
    ctx = Context(config=Config(), work_dir=tmp_path)
    runner.run_command(ctx, "scan")
    result = runner.run_command(ctx, "purge")
    assert result.status == "skipped" and result.reason == "cdn.provider is none"
    with pytest.raises(ToolError):
        runner.run_command(ctx, "build")
    doc = json.loads((tmp_path / "state.json").read_text())
    assert doc["runs"]["scan"]["status"] == "ok" and doc["runs"]["scan"]["data"]["result"] == "pass"
    assert doc["runs"]["purge"]["status"] == "skipped"
    assert doc["runs"]["build"] == {**doc["runs"]["build"], "status": "failed", "reason": "xbuild exited 1"}


def test_a_chained_stage_that_fails_fails_the_command(tmp_path, monkeypatch):
    def purge():
        raise ToolError("CDN unreachable")

    fake_modules(monkeypatch, rollback=lambda: StageResult(stage="rollback", then=["purge"], done="pointers moved"),
                 purge=purge)
    ctx = Context(config=Config(), work_dir=tmp_path)
    with pytest.raises(ToolError, match="rollback: pointers moved, but the purge stage failed: CDN unreachable"):
        runner.run_command(ctx, "rollback")
    runs = json.loads((tmp_path / "state.json").read_text())["runs"]
    assert runs["purge"]["status"] == "failed" and runs["rollback"]["status"] == "failed"


def _release_config(tmp_path, dev_keys, sample_input):
    cfg = tmp_path / "b2release.toml"
    cfg.write_text(
        f'[product]\nname = "enventa-connector"\n'
        f'[release]\nsigning_key = "{dev_keys / "release-signing.key"}"\npublic_key = "{dev_keys / "release-signing.pub"}"\n'
    )
    return cfg


def test_release_runs_stages_in_order_and_names_the_failing_one(cli, tmp_path, dev_keys, monkeypatch):
    calls = []

    class FakeModule:
        def __init__(self, name, fail=False):
            self.name, self.fail = name, fail

        def run(self, ctx, options=None):
            calls.append(self.name)
            if self.fail:
                raise UsageError(f"{self.name} went wrong")
            return StageResult(stage=self.name, summary=f"{self.name} done")

    modules = {"build": FakeModule("build"), "scan": FakeModule("scan", fail=True), "package": FakeModule("package")}
    monkeypatch.setattr(stages, "PIPELINE", ["build", "scan", "package"])
    monkeypatch.setattr(runner, "load", lambda name: modules[name])
    r = cli("--work-dir", tmp_path / "d", "--json", "release", "--version", "1.0.0")
    assert calls == ["build", "scan"]  # stopped at the first failure
    assert_user_error(r, 2, "release stopped at stage scan", "scan went wrong")
    doc = json.loads(r.stdout)
    assert doc["details"]["stage"] == "scan" and doc["details"]["completed"][0]["stage"] == "build"

    calls.clear()
    r = cli("--work-dir", tmp_path / "d", "--json", "release", "--version", "1.0.0", "--skip", "scan")
    assert r.exit_code == 0, r.output
    assert calls == ["build", "package"]
    assert [s["stage"] for s in r.json()["stages"]] == ["build", "package"]


def test_release_with_real_package_stage(cli, tmp_path, dev_keys, sample_input, monkeypatch):
    """release --from package with config only: the real package stage runs on --input-less state."""
    cfg = _release_config(tmp_path, dev_keys, sample_input)
    r = cli("--config", cfg, "--work-dir", tmp_path / "d", "release", "--version", "1.0.0", "--from", "package",
            "--to", "package")
    assert_user_error(r, 2, "release stopped at stage package", "nothing to package")


def test_release_rejects_bad_version(cli, tmp_path):
    assert_user_error(cli("release", "--version", "1.x"), 2, "invalid version")
