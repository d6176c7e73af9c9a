import json

import pytest

from b2release import stages
from b2release.errors import UsageError
from b2release.stages import Skip, StageResult
from tests.conftest import assert_user_error


def test_select_honours_from_to_skip(monkeypatch):
    monkeypatch.setattr(stages, "PIPELINE", ["build", "scan", "sign", "package", "upload", "purge"])
    assert stages.select(None, None, []) == ["build", "scan", "sign", "package", "upload", "purge"]
    assert stages.select("sign", "upload", ["package"]) == ["sign", "upload"]
    with pytest.raises(UsageError, match="unknown stage 'deploy'"):
        stages.select("deploy", None, [])
    with pytest.raises(UsageError, match="comes after"):
        stages.select("upload", "build", [])


def test_unavailable_stage(monkeypatch):
    monkeypatch.setattr(stages, "PIPELINE", ["package"])
    with pytest.raises(UsageError, match="not available"):
        stages.select("build", None, [])


def test_execute_records_ok_skip_and_failure(tmp_path):
    from b2release.config import Config
    from b2release.context import Context
    from b2release.errors import ToolError

    ctx = Context(config=Config(), work_dir=tmp_path)
    stages.execute(ctx, "scan", lambda: StageResult(stage="scan", state_data={"x": 1}))

    def skip():
        raise Skip("cdn.provider is none")

    result = stages.execute(ctx, "purge", skip)
    assert result.status == "skipped" and result.reason == "cdn.provider is none"

    def fail():
        raise ToolError("xbuild exited 1")

    with pytest.raises(ToolError):
        stages.execute(ctx, "build", fail)
    doc = json.loads((tmp_path / "state.json").read_text())
    assert doc["runs"]["scan"]["status"] == "ok" and doc["runs"]["scan"]["data"] == {"x": 1}
    assert doc["runs"]["purge"]["status"] == "skipped"
    assert doc["runs"]["build"] == {**doc["runs"]["build"], "status": "failed", "reason": "xbuild exited 1"}


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
    monkeypatch.setattr(stages, "load", lambda name: modules[name])
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
