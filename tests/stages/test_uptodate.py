"""stages/uptodate.py through the real runner and state.json, with three small stages that
read a source file, rewrite a file in place (as sign does) and package: which change makes
which stage run again, and why (tests/stages/test_resume.py runs the real pipeline)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from b2release.artifacts import BuildRecord, Kind
from b2release.config import Config
from b2release.context import Context
from b2release.errors import ToolError
from b2release.fsutil import sha256_file
from b2release.stages import StageResult, runner


@dataclass
class Options:
    flavour: str | None = None


@dataclass
class Pipeline:
    root: Path
    calls: list[str]
    fail: set[str]
    config: Config

    @property
    def work(self) -> Path:
        return self.root / "dist"

    @property
    def source(self) -> Path:
        return self.root / "src.txt"

    def release(self, **kw) -> dict[str, str]:
        self.calls.clear()
        ctx = Context(config=self.config, work_dir=self.work)
        result = runner.run_pipeline(ctx, "1.0.0", to_stage="package", skip=["test", "compat", "scan"], **kw)
        return {s["stage"]: s.get("reason", "") if s["status"] == "up-to-date" else s["status"]
                for s in result.data["stages"]}


@pytest.fixture
def pipeline(tmp_path, monkeypatch) -> Pipeline:
    p = Pipeline(tmp_path, [], set(), Config())
    p.source.write_text("v1")

    def build(ctx, options=None):
        p.calls.append("build")
        out = ctx.work_dir / "build" / "a.dll"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(f"built from {p.source.read_text()} {(options or Options()).flavour}")
        ctx.state.record_artifact(Kind.BINARY, out, "build")
        return StageResult(stage="build", record=BuildRecord(version="1.0.0"))

    def sign(ctx, options=None):
        p.calls.append("sign")
        if "sign" in p.fail:
            raise ToolError("the signing service is down")
        BuildRecord.read(ctx.state)
        for art in ctx.state.consume(Kind.BINARY, consumer="sign"):
            path = ctx.state.abs(art.path)
            path.write_text("signed " + path.read_text())  # in place, as sign does
            ctx.state.record_artifact(Kind.BINARY, path, "sign")
        return StageResult(stage="sign")

    def package(ctx, options=None):
        p.calls.append("package")
        zipped = ctx.work_dir / "pkg.zip"
        zipped.write_text("|".join(ctx.state.abs(a.path).read_text() for a in ctx.state.consume(Kind.BINARY)))
        ctx.state.record_artifact(Kind.PACKAGE, zipped, "package")
        return StageResult(stage="package")

    def source_fingerprint(ctx, options):
        return {"source": sha256_file(p.source)[0]}

    modules = {
        "build": SimpleNamespace(run=build, Options=Options, FINGERPRINT_CONFIG=("build",),
                                 fingerprint=source_fingerprint),
        "sign": SimpleNamespace(run=sign, Options=Options, FINGERPRINT_CONFIG=("sign",)),
        "package": SimpleNamespace(run=package, Options=Options, FINGERPRINT_CONFIG=("product", "release")),
    }
    monkeypatch.setattr(runner, "load", lambda name: modules[name])
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    return p


UNCHANGED = "inputs, options and outputs unchanged"


def test_unchanged_stages_are_up_to_date_and_the_first_change_runs_everything_after_it(pipeline, monkeypatch):
    assert pipeline.release() == dict.fromkeys(["build", "sign", "package"], "ok")
    assert pipeline.calls == ["build", "sign", "package"]
    fingerprints = json.loads((pipeline.work / "state.json").read_text())["fingerprints"]
    assert fingerprints["sign"]["consumed"] == {"build/a.dll": pipeline_digest_before_sign(pipeline)}
    assert fingerprints["package"]["outputs"].keys() == {"pkg.zip"}

    again = pipeline.release()  # sign rewrote build's output in place: build still holds
    assert pipeline.calls == [] and all(reason.startswith(UNCHANGED) for reason in again.values())

    pipeline.config.set("sign.description", "another name")
    assert pipeline.release() == {"build": again["build"], "sign": "ok", "package": "ok"}
    assert pipeline.calls == ["sign", "package"]

    (pipeline.work / "pkg.zip").unlink()
    pipeline.release()
    assert pipeline.calls == ["package"]

    pipeline.source.write_text("v2")
    pipeline.release()
    assert pipeline.calls == ["build", "sign", "package"]

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    pipeline.release()
    assert pipeline.calls == ["build", "sign", "package"]

    pipeline.release(force=True)
    assert pipeline.calls == ["build", "sign", "package"]
    pipeline.release()
    assert pipeline.calls == []


def pipeline_digest_before_sign(pipeline: Pipeline) -> str:
    return hashlib.sha256(f"built from {pipeline.source.read_text()} None".encode()).hexdigest()


@pytest.mark.parametrize("change", ["edit a file", "run a stage alone", "fail a stage"])
def test_what_happened_outside_a_release_is_seen(pipeline, change):
    pipeline.release()
    ctx = Context(config=pipeline.config, work_dir=pipeline.work)
    if change == "edit a file":
        (pipeline.work / "build" / "a.dll").write_text("patched by hand")
        expected, first = ["build", "sign", "package"], "its output build/a.dll changed"
    elif change == "run a stage alone":
        runner.run_command(ctx, "build", Options(flavour="debug"))  # other options: other outputs
        expected, first = ["build", "sign", "package"], "its options, the release version changed"
    else:
        pipeline.fail.add("sign")
        with pytest.raises(ToolError):
            runner.run_command(ctx, "sign")
        left = json.loads((pipeline.work / "state.json").read_text())["fingerprints"]["sign"]
        assert left.keys() == {"consumed"}  # no inputs: it runs again; its lineage stays
        pipeline.fail.clear()
        expected, first = ["sign", "package"], None
    pipeline.calls.clear()
    ctx = Context(config=pipeline.config, work_dir=pipeline.work)
    result = runner.run_pipeline(ctx, "1.0.0", to_stage="package", skip=["test", "compat", "scan"])
    ran = [s for s in result.data["stages"] if s["status"] == "ok"]
    assert [s["stage"] for s in ran] == pipeline.calls == expected
    if first is not None:
        assert all(s["ran_because"].startswith("build: ") and first in s["ran_because"] for s in ran)
    else:
        assert all(s["ran_because"] == "sign: its last run failed" for s in ran)


def test_a_dry_run_of_a_stage_leaves_its_fingerprint_alone(pipeline):
    pipeline.release()
    before = (pipeline.work / "state.json").read_bytes()

    @dataclass
    class DryOptions:
        dry_run: bool = True

    ctx = Context(config=pipeline.config, work_dir=pipeline.work)
    runner.run_command(ctx, "package", DryOptions())
    assert (pipeline.work / "state.json").read_bytes() == before
