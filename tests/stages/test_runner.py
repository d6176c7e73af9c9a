"""b2release.stages.runner beyond tests/stages/test_framework.py: read-only commands, chaining,
what a run records, and run_pipeline's own checks."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import pytest

from b2release import log
from b2release import redact as redact_mod
from b2release.artifacts import BuildRecord, PurgeRecord
from b2release.config import Config
from b2release.context import Context
from b2release.errors import ConfigError, ToolError, UsageError, VerificationError
from b2release.redact import register_secret
from b2release.stages import OPERATIONS, PIPELINE, Skip, StageResult, runner


def fake(run: Callable[..., StageResult], **attrs: Any) -> SimpleNamespace:
    return SimpleNamespace(run=run, **attrs)


def install(monkeypatch, **modules: SimpleNamespace) -> None:
    monkeypatch.setattr(runner, "load", lambda name: modules[name])


def ctx_for(tmp_path: Path, **kw: Any) -> Context:
    return Context(config=Config(), work_dir=tmp_path / "dist", **kw)


def runs(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "dist" / "state.json").read_text())["runs"]


# --- RECORDED = False -------------------------------------------------------------------------
def test_the_real_read_only_commands_are_not_recorded():
    from b2release.stages import load

    read_only = ("verify", "doctor", "keys", "config", "init", "audit", "status")
    for name in read_only:
        assert load(name).RECORDED is False, name
    for name in PIPELINE + [n for n in OPERATIONS if n not in read_only]:
        assert getattr(load(name), "RECORDED", True) is True, name


@pytest.mark.parametrize("outcome", ["ok", "skip", "fail"])
def test_an_unrecorded_command_never_creates_state_json(tmp_path, monkeypatch, outcome):
    def run(ctx, options=None):
        if outcome == "skip":
            raise Skip("nothing to verify")
        if outcome == "fail":
            raise VerificationError("signature does not verify")
        return StageResult(stage="verify", summary="verified", record=BuildRecord(version="1.0.0"))

    install(monkeypatch, verify=fake(run, RECORDED=False))
    ctx = ctx_for(tmp_path)
    if outcome == "fail":
        with pytest.raises(VerificationError):
            runner.run_command(ctx, "verify")
    else:
        assert runner.run_command(ctx, "verify").status == ("skipped" if outcome == "skip" else "ok")
    assert not (tmp_path / "dist").exists()


def test_an_unrecorded_command_leaves_an_existing_state_json_alone(tmp_path, monkeypatch):
    install(monkeypatch, build=fake(lambda ctx, options=None: StageResult(stage="build", record=BuildRecord("1.0.0"))),
            verify=fake(lambda ctx, options=None: StageResult(stage="verify"), RECORDED=False))
    runner.run_command(ctx_for(tmp_path), "build")
    before = (tmp_path / "dist" / "state.json").read_bytes()
    runner.run_command(ctx_for(tmp_path), "verify")
    assert (tmp_path / "dist" / "state.json").read_bytes() == before


# --- what a run records -----------------------------------------------------------------------
def test_a_run_records_its_record_correlation_id_and_duration(tmp_path, monkeypatch):
    record = BuildRecord(version="1.2.3", tool="xbuild", outputs=[{"name": "A.dll", "sha256": "0" * 64, "size": 1}])
    install(monkeypatch, build=fake(lambda ctx, options=None: StageResult(stage="build", record=record)))
    runner.run_command(ctx_for(tmp_path, correlation_id="corr-1"), "build")
    run = runs(tmp_path)["build"]
    assert run["status"] == "ok" and run["reason"] == ""
    assert run["data"] == record.to_dict()
    assert run["correlation_id"] == "corr-1"
    assert run["duration_s"] >= 0 and run["finished_at"] > 0
    assert BuildRecord.read(ctx_for(tmp_path).state) == record


def test_a_run_without_a_record_stores_no_data(tmp_path, monkeypatch):
    install(monkeypatch, scan=fake(lambda ctx, options=None: StageResult(stage="scan", data={"shown": "only in --json"})))
    runner.run_command(ctx_for(tmp_path), "scan")
    assert runs(tmp_path)["scan"]["data"] == {}  # the --json body is not the record


def test_the_reason_of_a_failure_is_redacted_in_state_json(tmp_path, monkeypatch):
    """state.json travels between CI jobs: a secret in an error message must not travel with it."""
    monkeypatch.setattr(redact_mod, "_secrets", set())
    register_secret("storage-key-value-1")

    def fail(ctx, options=None):
        raise ToolError("upload to https://acct/c?sv=1&sig=SIGSECRET with storage-key-value-1 failed")

    install(monkeypatch, upload=fake(fail))
    with pytest.raises(ToolError) as info:
        runner.run_command(ctx_for(tmp_path), "upload")
    text = (tmp_path / "dist" / "state.json").read_text()
    assert "SIGSECRET" not in text and "storage-key-value-1" not in text
    assert runs(tmp_path)["upload"]["reason"] == "upload to https://acct/c?sv=1&sig=*** with *** failed"
    assert "SIGSECRET" in info.value.message  # the exception itself is redacted where it is printed (the CLI)


def test_a_failure_replaces_the_record_of_an_earlier_success(tmp_path, monkeypatch):
    outcomes = iter([StageResult(stage="build", record=BuildRecord("1.0.0")), ToolError("compile error")])

    def run(ctx, options=None):
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    install(monkeypatch, build=fake(run))
    runner.run_command(ctx_for(tmp_path), "build")
    with pytest.raises(ToolError):
        runner.run_command(ctx_for(tmp_path), "build")
    assert runs(tmp_path)["build"]["status"] == "failed"
    assert BuildRecord.read(ctx_for(tmp_path).state) is None


# --- chaining ---------------------------------------------------------------------------------
def test_a_chained_stage_brief_lands_in_the_command_data(tmp_path, monkeypatch):
    purge_data = {"provider": "cloudflare", "urls": ["https://cdn/a"], "requests": 1, "batches": 1, "retries": 0,
                  "not-in-the-brief": "x"}
    install(monkeypatch,
            rollback=fake(lambda ctx, options=None: StageResult(stage="rollback", summary="rolled back", then=["purge"],
                                                                data={"command": "rollback"})),
            purge=fake(lambda ctx, options=None: StageResult(stage="purge", data=purge_data,
                                                             record=PurgeRecord(provider="cloudflare", purged=1))))
    result = runner.run_command(ctx_for(tmp_path), "rollback")
    assert result.data == {"command": "rollback",
                           "purge": {"status": "ok", "provider": "cloudflare", "urls": ["https://cdn/a"], "requests": 1,
                                     "batches": 1, "retries": 0}}
    assert result.summary == "rolled back; purge: ok"
    recorded = runs(tmp_path)
    assert recorded["rollback"]["status"] == "ok" and recorded["purge"]["status"] == "ok"
    assert recorded["purge"]["data"] == PurgeRecord(provider="cloudflare", purged=1).to_dict()


def test_a_skipped_chained_stage_does_not_fail_the_command(tmp_path, monkeypatch):
    def purge(ctx, options=None):
        raise Skip("cdn.provider is none", expected=True)

    install(monkeypatch,
            promote=fake(lambda ctx, options=None: StageResult(stage="promote", summary="promoted", then=["purge"])),
            purge=fake(purge))
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    purge_log = log.get("purge")
    purge_log.addHandler(handler)
    level = purge_log.level
    purge_log.setLevel(logging.DEBUG)
    try:
        result = runner.run_command(ctx_for(tmp_path), "promote")
    finally:
        purge_log.removeHandler(handler)
        purge_log.setLevel(level)
    assert result.status == "ok"
    assert result.data["purge"] == {"status": "skipped", "reason": "cdn.provider is none"}
    assert result.summary == "promoted; purge: skipped (cdn.provider is none)"  # why, in the one line
    assert runs(tmp_path)["purge"] == {**runs(tmp_path)["purge"], "status": "skipped", "reason": "cdn.provider is none"}
    # an expected skip of a chained stage is said once, in the parent's result line (debug only)
    said = [r.levelno for r in records if "purge skipped" in r.getMessage()]
    assert said == [logging.DEBUG], said


# --- run_named --------------------------------------------------------------------------------
def test_run_named_builds_the_options_from_keywords(tmp_path, monkeypatch):
    @dataclass
    class Options:
        name: str | None = None
        force: bool = False

    seen: list[Any] = []

    def run(ctx, options):
        seen.append(options)
        return StageResult(stage="grant")

    install(monkeypatch, grant=fake(run, Options=Options))
    runner.run_named(ctx_for(tmp_path), "grant", name="tenant-a", force=True)
    assert seen == [Options(name="tenant-a", force=True)]
    with pytest.raises(TypeError):
        runner.run_named(ctx_for(tmp_path), "grant", colour="blue")


# --- run_pipeline -----------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["1.x", "v1.0.0", "", "1.0"])
def test_run_pipeline_validates_the_version_before_any_stage_runs(tmp_path, monkeypatch, version):
    called: list[str] = []
    install(monkeypatch, **{name: fake(lambda ctx, options=None, n=name: called.append(n)) for name in PIPELINE})
    ctx = ctx_for(tmp_path, json_output=True)
    with pytest.raises(UsageError, match="invalid version"):
        runner.run_pipeline(ctx, version)
    assert called == [] and ctx.requested_version is None
    assert not (tmp_path / "dist").exists()


def test_run_pipeline_hands_the_version_to_the_stages_and_reports_what_ran(tmp_path, monkeypatch):
    def build(ctx, options=None):
        return StageResult(stage="build", record=BuildRecord(version=ctx.release_version()))

    def purge(ctx, options=None):
        raise Skip("cdn.provider is none")

    install(monkeypatch, build=fake(build), package=fake(lambda ctx, options=None: StageResult(stage="package")),
            purge=fake(purge))
    ctx = ctx_for(tmp_path, json_output=True)
    result = runner.run_pipeline(ctx, "2.0.0-rc.1", from_stage="package", skip=["upload"])
    assert ctx.requested_version == "2.0.0-rc.1"
    assert result.summary == "release 2.0.0-rc.1: ran package"  # a skipped stage did not "run"
    assert result.data["version"] == "2.0.0-rc.1" and result.data["command"] == "release"
    assert [(s["stage"], s["status"]) for s in result.data["stages"]] == [("package", "ok"), ("purge", "skipped")]

    result = runner.run_pipeline(ctx, "2.0.0", to_stage="build")
    assert result.summary == "release 2.0.0: ran build"
    assert BuildRecord.read(ctx.state).version == "2.0.0"


def test_run_pipeline_with_nothing_selected_runs_nothing(tmp_path, monkeypatch):
    def purge(ctx, options=None):
        raise Skip("nothing queued")

    install(monkeypatch, purge=fake(purge))
    result = runner.run_pipeline(ctx_for(tmp_path, json_output=True), "1.0.0", from_stage="purge")
    assert result.summary == "release 1.0.0: ran nothing"


def test_a_stage_that_rewrites_a_sealed_file_is_reported_unless_package_follows(tmp_path, monkeypatch):
    from b2release.formats import checksums

    work = tmp_path / "dist"
    work.mkdir()
    (work / "sbom.cdx.json").write_bytes(b"sealed")
    (work / "big.zip").write_bytes(b"zip")
    checksums.write_path(work / "SHA256SUMS", {"sbom.cdx.json": hashlib.sha256(b"sealed").hexdigest(),
                                               "big.zip": hashlib.sha256(b"zip").hexdigest()})

    def scan(ctx, options=None):
        (ctx.work_dir / "sbom.cdx.json").write_bytes(b"rewritten")
        return StageResult(stage="scan")

    install(monkeypatch, scan=fake(scan), sign=fake(lambda ctx, options=None: StageResult(stage="sign")),
            package=fake(lambda ctx, options=None: StageResult(stage="package")))
    assert runner.run_command(ctx_for(tmp_path), "scan").data["rewrote_sealed"] == ["sbom.cdx.json"]
    assert "rewrote_sealed" not in runner.run_command(ctx_for(tmp_path), "sign").data  # touched nothing
    # In `release`, the package stage later in the chain seals again: no warning there.
    result = runner.run_pipeline(ctx_for(tmp_path, json_output=True), "1.0.0", from_stage="scan", to_stage="package",
                                 skip=["sign"])
    assert all("rewrote_sealed" not in s for s in result.data["stages"])
    result = runner.run_pipeline(ctx_for(tmp_path, json_output=True), "1.0.0", from_stage="scan", to_stage="scan")
    assert "rewrote_sealed" in str(result.data["stages"])


def test_shared_release_options_reach_every_selected_stage_that_takes_them(tmp_path, monkeypatch):
    @dataclass
    class ChannelOptions:
        channel: str | None = None
        store: str | None = None

    @dataclass
    class NoOptions:
        pass

    seen: dict[str, Any] = {}

    def stage(name: str):
        return lambda ctx, options=None: (seen.__setitem__(name, options), StageResult(stage=name))[1]

    install(monkeypatch, build=fake(stage("build"), Options=NoOptions),
            compat=fake(stage("compat"), Options=ChannelOptions), upload=fake(stage("upload"), Options=ChannelOptions))
    ctx = ctx_for(tmp_path, json_output=True)
    runner.run_pipeline(ctx, "1.0.0", to_stage="upload", skip=["test", "scan", "sign", "package"],
                        shared={"channel": "beta", "store": None})
    assert seen["build"] is None
    assert seen["compat"] == seen["upload"] == ChannelOptions(channel="beta")
    with pytest.raises(UsageError, match="--channel: no stage this release runs takes it"):
        runner.run_pipeline(ctx, "1.0.0", to_stage="build", shared={"channel": "beta"})


# --- make_context -----------------------------------------------------------------------------
def test_make_context_loads_the_config_file_and_settings(tmp_path, monkeypatch):
    for name in ("b2release", "azure", "urllib3"):  # make_context sets up process-wide logging
        logger = logging.getLogger(name)
        for attr in ("handlers", "level", "propagate"):
            monkeypatch.setattr(logger, attr, getattr(logger, attr))
    cfg = tmp_path / "b2release.toml"
    cfg.write_text('[product]\nname = "from-file"\n')
    ctx = runner.make_context(work_dir=tmp_path / "dist", config_file=cfg, json_output=True, verbosity=-1,
                              log_format="json", correlation_id="corr-9")
    assert ctx.product_name() == "from-file"
    assert (ctx.json_output, ctx.verbosity, ctx.log_format, ctx.correlation_id) == (True, -1, "json", "corr-9")
    assert logging.getLogger("b2release").level == log.RESULT  # -q: errors and result lines only
    bad = tmp_path / "bad.toml"
    bad.write_text("[nope]\n")
    with pytest.raises(ConfigError, match="unknown config section"):
        runner.make_context(work_dir=tmp_path / "dist", config_file=bad, json_output=False, verbosity=0,
                            log_format="text", correlation_id="c")


def test_a_rejected_command_leaves_state_json_untouched(tmp_path, monkeypatch):
    """`build --version v1.2.4` after a good build must not mark the build failed: sign and
    package still use the good outputs."""
    outcomes = iter([StageResult(stage="build", record=BuildRecord(version="1.2.3")),
                     UsageError("invalid version 'v1.2.4': write it without the leading 'v'")])

    def run(ctx, options=None):
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    install(monkeypatch, build=fake(run))
    runner.run_command(ctx_for(tmp_path), "build")
    before = (tmp_path / "dist" / "state.json").read_bytes()
    with pytest.raises(UsageError, match="leading 'v'"):
        runner.run_command(ctx_for(tmp_path), "build")
    assert (tmp_path / "dist" / "state.json").read_bytes() == before
    assert BuildRecord.read(ctx_for(tmp_path).state).version == "1.2.3"


def test_a_dry_run_is_not_recorded(tmp_path, monkeypatch):
    @dataclass
    class DryOptions:
        dry_run: bool = False

    install(monkeypatch, upload=fake(lambda ctx, options=None: StageResult(stage="upload"), Options=DryOptions))
    runner.run_command(ctx_for(tmp_path), "upload", DryOptions(dry_run=True))
    assert not (tmp_path / "dist" / "state.json").exists()
    runner.run_command(ctx_for(tmp_path), "upload", DryOptions())
    assert runs(tmp_path)["upload"]["status"] == "ok"
