"""The one runner: every command runs through `run_command`, `release` through `run_pipeline`.

It records each run in state.json (ok / skipped / failed, the stage's record, the
duration, the correlation id) and is the only writer of that file. A failed run is
recorded too, so later stages do not pick up the outputs of an earlier successful run as
if they were current (see State.consume); its reason is redacted, because state.json
travels between CI jobs. A command rejected before it started (a usage or configuration
error, exit 2) leaves state.json untouched: nothing it made could be stale. Follow-up
stages a command asks for (`StageResult.then`, e.g. rollback -> purge) run here, the way
`release` chains the pipeline.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from b2release import config as config_mod
from b2release import log
from b2release import plan as plan_mod
from b2release.context import Context
from b2release.errors import EXIT_USAGE, B2ReleaseError, InternalError, UsageError
from b2release.formats.names import validate_version
from b2release.redact import redact, register_known_secrets, register_secret
from b2release.stages import Skip, StageResult, load, release_plan, release_summary, select, uptodate
from b2release.state import Reads, StageRecord
from b2release.toolchains import is_secret_property
from b2release.verification import sealed


def make_context(*, work_dir: Path, config_file: Path | None, json_output: bool, verbosity: int,
                 log_format: str, correlation_id: str, lenient_config: bool = False) -> Context:
    """The Context of one CLI invocation: logging set up, then config file + environment.

    A bad setting refuses the command (ConfigError, exit 2), except with `lenient_config`
    (`config show` and `config check`): then the problems are collected in `config.problems`.
    """
    log.setup(log_format, verbosity, correlation_id)
    # Every secret is known before any stage runs or any tool starts: whatever prints one
    # (a build's own targets, an SDK error) is masked.
    register_known_secrets()
    config = config_mod.load(config_file, collect=lenient_config)
    for prop in config.get("build.properties") or []:
        name, _, value = str(prop).partition("=")
        if is_secret_property(name):
            register_secret(value)
    return Context(config=config, work_dir=work_dir, json_output=json_output, verbosity=verbosity,
                   log_format=log_format, correlation_id=correlation_id)


def internal_error(exc: BaseException, name: str) -> InternalError:
    """An exception no check foresaw, as one masked line (the cause is kept for -v)."""
    detail = redact(" ".join(str(exc).split()))[:300]
    what = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return InternalError(f"{name} failed unexpectedly ({what}); this is a b2release bug or a problem of the "
                         "machine (disk, permissions): run again with -v for the cause")


def _record(ctx: Context, name: str, started: float, *, status: str, reason: str = "",
            data: dict[str, Any] | None = None) -> None:
    record = StageRecord(stage=name, status=status, reason=reason, correlation_id=ctx.correlation_id,
                         duration_s=round(time.monotonic() - started, 3), data=data or {})
    ctx.state.record_run(record)
    ctx.state.save()


class _Rejected(Exception):
    """A command refused its input with a usage or configuration error (exit 2): not recorded."""

    def __init__(self, error: B2ReleaseError):
        super().__init__(error.message)
        self.error = error


def _chain_failed(ctx: Context, exc: B2ReleaseError, name: str, follow: str, done: str,
                  values: dict[str, Any]) -> B2ReleaseError:
    before = f"{done}, but " if done else ""
    # The re-run carries the options the chained stage ran with (--store, --signing-key).
    flags = [arg for key, value in values.items() if value is not None
             for arg in ("--" + key.replace("_", "-"), str(value))]
    exc.message = f"{name}: {before}the {follow} stage failed: {exc.message}; re-run `{ctx.follow_up(follow, *flags)}`"
    exc.args = (exc.message,)
    return exc


def run_named(ctx: Context, command: str, /, **options: Any) -> StageResult:
    """`run_command` with the command's Options made from keyword values (the CLI's way in)."""
    result = run_command(ctx, command, load(command).Options(**options))
    show_plan(ctx, result)
    return result


def show_plan(ctx: Context, result: StageResult) -> None:
    """A dry run's plan as tables on stderr (with --json it is in the document instead)."""
    if result.plan is not None and not ctx.json_output and ctx.verbosity >= 0:
        plan_mod.render(ctx.console, result.plan)


def run_command(ctx: Context, name: str, options: Any = None, *, watch_sealed: bool = True,
                given: dict[str, str] | None = None, chained: bool = False) -> StageResult:
    """Run one command module, then the stages it chains; record the whole in state.json.

    `watch_sealed`: warn when the command rewrites a file the last `package` sealed in
    SHA256SUMS (`release` turns it off for stages a package run later in the chain reseals).
    `given`: the stage's input digests when `release` just computed them (stages/uptodate.py).
    `chained`: run after another command, whose result line says how it ended (an expected
    skip, such as purge without a CDN, is then not logged a second time).
    """
    module = load(name)
    # A dry run changes nothing, state.json included (b2release/plan.py).
    recorded = getattr(module, "RECORDED", True) and not getattr(options, "dry_run", False)
    started = time.monotonic()
    seal = sealed.snapshot(ctx.work_dir) if watch_sealed and recorded and name != "package" else None
    watched = recorded and uptodate.takes_part(module)
    if watched and given is None:
        try:  # taken before the run: an input changed during the run must not look seen
            given = uptodate.inputs(ctx, module, options)
        except B2ReleaseError:
            given = None  # unreadable: no fingerprint; the stage reports the problem itself
    outer_reads = ctx.state.reads
    if watched:
        ctx.state.reads = Reads()
    try:
        try:
            result = module.run(ctx, options)
        except B2ReleaseError as exc:
            if exc.exit_code == EXIT_USAGE:
                # Rejected before it started (a bad flag, a missing key, nothing to do): the
                # work dir is as it was, and the outputs of an earlier good run stay usable.
                raise _Rejected(exc) from exc
            raise
        except Skip as skip:
            logger = log.get(name)
            say = logger.warning if not skip.expected else logger.debug if chained else logger.info
            say("%s skipped: %s", name, skip.reason)
            result = StageResult(stage=name, status="skipped", reason=skip.reason)
        for entry in result.then:
            follow, values = entry if isinstance(entry, tuple) else (entry, {})
            try:
                chained = run_command(ctx, follow, load(follow).Options(**values) if values else None, chained=True)
            except B2ReleaseError as exc:
                raise _chain_failed(ctx, exc, name, follow, result.done, values) from exc.__cause__
            result.data[follow] = chained.brief()
            why = f" ({chained.reason})" if chained.status == "skipped" and chained.reason else ""
            result.summary += f"; {follow}: {chained.status}{why}"
    except _Rejected as rejected:
        raise rejected.error from rejected.error.__cause__
    except B2ReleaseError as exc:
        if recorded:
            uptodate.forget(ctx.state, name)
            _record(ctx, name, started, status="failed", reason=redact(exc.message))
        raise
    except Exception as exc:  # noqa: BLE001 - the one place a stray exception becomes a clean error
        error = internal_error(exc, name)
        if recorded:
            uptodate.forget(ctx.state, name)
            _record(ctx, name, started, status="failed", reason=error.message)
        raise error from exc
    finally:
        reads, ctx.state.reads = ctx.state.reads, outer_reads
    if watched:
        if given is not None and reads is not None:
            uptodate.remember(ctx.state, name, given, reads)
        else:
            uptodate.forget(ctx.state, name)
    if recorded:
        _record(ctx, name, started, status=result.status, reason=result.reason,
                data=result.record.to_dict() if result.record is not None else {})
    if seal is not None and (changed := sealed.rewritten(seal)):
        log.get(name).warning(
            "%s changed %s, which the last package sealed in %s: run `%s` again before upload "
            "(until then the zip holds the old bytes and `verify` of this work dir fails)",
            name, ", ".join(changed), sealed.CHECKSUMS_NAME, ctx.follow_up("package"))
        result.data["rewrote_sealed"] = changed
    return result


def run_pipeline(ctx: Context, version: str, from_stage: str | None = None, to_stage: str | None = None,
                 skip: list[str] | None = None, options: dict[str, dict[str, Any]] | None = None,
                 shared: dict[str, Any] | None = None, *, force: bool = False, dry_run: bool = False) -> StageResult:
    """`release`: the selected pipeline stages in order, stopping at the first failure.

    `options`: option values for some stages (`{"compat": {"allow_breaking": True, ...}}`);
    `shared`: values for every selected stage that has an option of that name (`release
    --channel` reaches compat and upload). Both are made into each stage's Options before
    any stage runs, so a bad value fails first.

    A stage whose fingerprint holds (stages/uptodate.py) is `up-to-date` and not run, until
    the first that runs: every stage after it runs too. `force` runs every stage.
    `dry_run`: plan upload and purge from this work dir, run nothing (stages/release_plan.py).
    """
    version = ctx.requested_version = validate_version(version)
    selected = select(from_stage, to_stage, list(skip or []))
    prepared = _prepare_options(selected, options or {}, {k: v for k, v in (shared or {}).items() if v is not None})
    if dry_run:
        result = release_plan.plan(ctx, version, selected, prepared, force=force, run=run_command)
        show_plan(ctx, result)
        return result
    results: list[StageResult] = []
    # Once a stage runs, every stage after it runs: its inputs are that stage's outputs.
    because = "--force" if force else ""
    for index, name in enumerate(selected):
        module, given = load(name), None
        if uptodate.takes_part(module) and not because:
            verdict, given = uptodate.check(ctx, name, module, prepared.get(name))
            if verdict.fresh:
                results.append(StageResult(stage=name, status="up-to-date", reason=verdict.reason,
                                           summary=f"up-to-date: {verdict.reason}"))
                if not ctx.json_output and ctx.verbosity >= 0:
                    ctx.console.print(f"[{name}] up-to-date", markup=False)
                continue
            log.get(name).info("%s runs: %s", name, verdict.reason)
            because = f"{name}: {verdict.reason}"
        try:
            result = run_command(ctx, name, prepared.get(name),
                                 watch_sealed="package" not in selected[index + 1:], given=given)
        except B2ReleaseError as exc:
            exc.details.update({"stage": name, "completed": [r.to_dict() for r in results]})
            exc.message = f"release stopped at stage {name}: {exc.message}"
            exc.args = (exc.message,)
            raise
        if uptodate.takes_part(module):
            result.data["ran_because"] = because  # the first stage that did not hold, and why
        results.append(result)
        if not ctx.json_output and ctx.verbosity >= 0 and result.status == "ok":
            ctx.console.print(f"[{name}] {result.summary}", markup=False)
    ran = ", ".join(r.stage for r in results if r.status == "ok") or "nothing"
    fresh = [r.stage for r in results if r.status == "up-to-date"]
    closing = release_summary.collect(ctx, results)
    if not ctx.json_output and ctx.verbosity >= 0:
        release_summary.render(ctx.console, closing)
    return StageResult(stage="release",
                       summary=f"release {version}: ran {ran}" + (f"; up-to-date: {', '.join(fresh)}" if fresh else ""),
                       data={"command": "release", "version": version, "stages": [r.to_dict() for r in results],
                             "summary": closing.to_dict()})


def _prepare_options(selected: list[str], options: dict[str, dict[str, Any]],
                     shared: dict[str, Any]) -> dict[str, Any]:
    for name in options:
        if name not in selected:
            raise UsageError(f"options for the {name} stage were given, but this release does not run it "
                             "(--from/--to/--skip)")
    prepared: dict[str, Any] = {}
    used: set[str] = set()
    for name in selected:
        if name not in options and not shared:
            continue
        options_class = load(name).Options
        fields = {f.name for f in dataclasses.fields(options_class)}
        values = dict(options.get(name, {}))
        for key, value in shared.items():
            if key in fields:
                values.setdefault(key, value)
                used.add(key)
        if values:
            prepared[name] = options_class(**values)
    unused = sorted(set(shared) - used)
    if unused:
        flags = ", ".join("--" + key.rstrip("s") for key in unused)
        raise UsageError(f"{flags}: no stage this release runs takes it (--from/--to/--skip)")
    return prepared
