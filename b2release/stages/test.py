"""test: build the solution's test projects and run them; JUnit XML for CI.

Test projects are found by what their project files say (toolchains.testprojects: a
reference to NUnit, xUnit.net or MSTest, or IsTestProject), never by name. In a private
copy of the source tree each is built with the build's toolchain into its own output
folder (not version-stamped: the tests test the code, the build stage ships it), then
every one is run with the runner that fits it (testrunners.runners). Outputs in the work
dir: `test-results/<Assembly>.<format>.xml|.trx` (the runner's native file, kind
"test-result"), `test-results/junit.xml` (kind "test-junit"), `test.log` (the builds'
and runners' output, kind "test-log"). Nothing goes to `build/`: test assemblies never
reach the package.

Exit codes: a failing test is a CheckFailed (1) naming it; a test project that does not
compile, or a runner that is missing or cannot run, a ToolError (3); no test project is
a skip, or a CheckFailed when `[test] required`.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from b2release import log, process, toolchains
from b2release.artifacts import BuildRecord, Kind, TestRecord
from b2release.config import parse_duration
from b2release.context import Context
from b2release.errors import CheckFailed, ToolError, UsageError
from b2release.fsutil import atomic_write_bytes
from b2release.redact import redact
from b2release.stages import Skip, StageResult
from b2release.testrunners import junit, parsers, runners
from b2release.testrunners.results import Case, count, events
from b2release.toolchains import BuildSpec, assemblies, discovery, is_secret_property, session, stamping, testprojects

NAME = "test"
# What decides whether `release` may leave test out (stages/uptodate.py): these config
# sections, and the source tree its test projects are built from (`fingerprint`).
FINGERPRINT_CONFIG = ("product", "build", "test")
RESULTS_DIR = "test-results"
JUNIT_NAME = "junit.xml"
TEST_LOG = "test.log"
MAX_LISTED = 5  # failed tests named in the one-line error
# A runner still running this long after its whole result file is written is stopped: NUnit
# 2.6's console sometimes never exits on Mono once its tests are done (nunit/nunit#573).
RESULT_GRACE_S = 20.0
_ERROR_LINE = re.compile(r"^\s*(?:Unhandled Exception:\s*)?[\w.]*(?:Exception|Error)\b[^:]*:\s*\S|^\s*error\b", re.I)


@dataclass
class Options:
    project: Path | None = None
    runner: str | None = None
    tool: str | None = None
    configuration: str | None = None
    properties: list[str] = field(default_factory=list)


@dataclass
class _Built:
    test: testprojects.TestProject
    assembly: Path
    runner: runners.Runner | None = None
    result_file: Path | None = None


def resolve_project(ctx: Context, opts: Options, built: BuildRecord | None) -> Path:
    """--project, else [product] project, else what the build built, else the one .sln here."""
    if opts.project is not None:
        return Path(opts.project)
    configured = ctx.config.path("product.project")
    if configured is not None:
        return configured
    if built is not None and built.source_dir and built.manifest_info.get("project"):
        candidate = Path(built.source_dir) / built.manifest_info["project"]
        if candidate.exists():
            return candidate
    return discovery.find_entry(Path.cwd())


def fingerprint(ctx: Context, opts: Options) -> dict[str, str]:
    build_input = discovery.inspect(resolve_project(ctx, opts, BuildRecord.read(ctx.state)))
    return {"source": stamping.source_digest(build_input, exclude=[ctx.work_dir])}


def _framework(info: assemblies.AssemblyInfo | None, test: testprojects.TestProject) -> tuple[str | None, int | None]:
    """(nunit | xunit | mstest, major version) from what the built assembly references."""
    if info is not None:
        for ref in info.references:
            framework = testprojects.FRAMEWORK_ASSEMBLIES.get(ref.name.lower())
            if framework:
                return framework, ref.major
    return (test.frameworks[0] if test.frameworks else None), None


def _assembly(out_dir: Path, name: str, project: Path) -> Path:
    for suffix in (".dll", ".exe"):
        if (out_dir / (name + suffix)).is_file():
            return out_dir / (name + suffix)
    raise ToolError(f"the test build of {project.name} succeeded but left no {name}.dll in its output folder")


def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    logger = log.get(NAME)
    cfg = ctx.config
    built = BuildRecord.read(ctx.state)
    configuration = session.check_configuration(
        opts.configuration or (built.manifest_info.get("configuration") if built else None)
        or cfg.get("build.configuration"))
    choice = opts.runner or cfg.get("test.runner")
    if choice not in ("auto", *runners.RUNNERS):
        raise UsageError(f"unknown test runner {choice!r} (choose auto, {', '.join(runners.RUNNERS)})")
    timeout = parse_duration(cfg.get("test.timeout"), f"{cfg.source('test.timeout')}: test.timeout")
    properties = session.properties(cfg.get("build.properties") or [],
                                    f"{cfg.source('build.properties')}: build.properties", opts.properties)
    secrets = [v for k, v in properties if is_secret_property(k)]

    build_input = discovery.inspect(resolve_project(ctx, opts, built))
    tests = testprojects.find(build_input.projects)
    if not tests:
        reason = (f"no test project in {build_input.entry.name}: none references NUnit, xUnit.net or MSTest "
                  "or sets IsTestProject")
        if cfg.get("test.required"):
            raise CheckFailed(f"{reason}, and [test] required is true")
        raise Skip(reason)
    # The tool must build the test projects and what they reference, not the rest of the solution.
    needed = testprojects.reachable([t.path for t in tests])
    tool_name, executable = discovery.choose(opts.tool or (built.tool if built else None) or cfg.get("build.tool"),
                                             discovery.BuildInput(build_input.entry,
                                                                  [p for p in build_input.projects if p.path in needed]))
    toolchain = toolchains.get(tool_name, executable)
    original_root = build_input.copy_root()
    work = ctx.work_dir.resolve()  # runners resolve relative paths against their own folder
    results_dir = work / RESULTS_DIR
    log_path = work / TEST_LOG
    ctx.state.forget_artifacts(stage=NAME)
    if results_dir.exists():
        shutil.rmtree(results_dir)  # the folder is ours: results of an earlier run must go
    results_dir.mkdir(parents=True)
    log_lines: list[str] = []
    started = time.monotonic()
    names = ", ".join(t.path.name for t in tests)
    logger.info("testing %s: %s, built with %s (%s)", build_input.entry.name, names, tool_name, configuration)

    with tempfile.TemporaryDirectory(prefix="b2release-test-", ignore_cleanup_errors=True) as tmp_name:
        tmp = Path(tmp_name).resolve()
        copy_root = tmp / "src"
        session.copy_tree(build_input, copy_root, exclude=[work])
        env = process.tool_env(toolchain.env(), cfg.get("build.pass_env"))
        todo: list[_Built] = []
        for index, test in enumerate(tests):  # build them all before running any
            out_dir = tmp / "out" / f"{index}-{test.path.stem}"
            spec = BuildSpec(project=copy_root / test.path.relative_to(original_root), configuration=configuration,
                             version_properties=[], out_dir=out_dir, path_map_root=copy_root, properties=properties,
                             sdk_style=test.sdk_style)
            with session.LiveOutput(ctx.console, f"building {test.path.name} with {tool_name}",
                                    verbose=ctx.verbosity > 0, interactive=ctx.verbosity >= 0 and ctx.interactive) as live:
                tool_run = session.run_tool(toolchain, spec, tmp=tmp, original_root=original_root,
                                            source_dir=original_root, secrets=secrets, env=env, live=live.line,
                                            what="the test build")
            log_lines += [f"# {tool_run.command_line}", *tool_run.log_lines]
            atomic_write_bytes(log_path, ("\n".join(redact(x) for x in log_lines) + "\n").encode("utf-8"))
            if tool_run.returncode != 0:
                raise session.failure(tool_run, tool=tool_name, log=log_path, console=ctx.console,
                                      show=ctx.verbosity >= 0, what=f"test build of {test.path.name}",
                                      details={"project": test.path.name})
            todo.append(_Built(test, _assembly(out_dir, test.assembly_name, test.path)))
        packages = [build_input.entry.parent / "packages", original_root / "packages"]
        for item in todo:  # every runner found before any runs
            framework, major = _framework(assemblies.read(item.assembly), item.test)
            name = choice if choice != "auto" else runners.choose(
                sdk_style=item.test.sdk_style, framework=framework, framework_major=major, project=item.test.path.name)
            item.runner = runners.find(name, packages)
            suffix = ".trx" if item.runner.format == "trx" else f".{item.runner.format}.xml"
            item.result_file = results_dir / f"{item.test.assembly_name}{suffix}"
        suites = [_run_one(ctx, item, timeout, log_lines, log_path) for item in todo]

    duration = round(time.monotonic() - started, 3)
    junit_path = results_dir / JUNIT_NAME
    atomic_write_bytes(junit_path, junit.render(suites))
    state = ctx.state
    for item in todo:
        assert item.result_file is not None
        state.record_artifact(Kind.TEST_RESULT, item.result_file, NAME, extra={"project": item.test.path.name})
    state.record_artifact(Kind.TEST_JUNIT, junit_path, NAME)
    state.record_artifact(Kind.TEST_LOG, log_path, NAME)
    return _outcome(ctx, todo, suites, duration, junit_path)


def _run_one(ctx: Context, item: _Built, timeout: int, log_lines: list[str], log_path: Path) -> junit.Suite:
    runner, result_file, test = item.runner, item.result_file, item.test
    assert runner is not None and result_file is not None
    argv = runner.command(item.assembly, result_file)
    log_lines.append(f"# {' '.join(argv)}")
    done = process.run(argv, what=f"the tests of {test.assembly_name}", cwd=item.assembly.parent, timeout=timeout,
                       env=process.tool_env(runner.env(), ctx.config.get("test.pass_env")), hint=runners.HINTS[runner.name],
                       finished=lambda: _complete(result_file), grace=RESULT_GRACE_S)
    lines = done.output.splitlines()
    if done.stopped_after_finishing:
        lines.append(f"# b2release: {runner.name} wrote {result_file.name} but had not exited {RESULT_GRACE_S:.0f}s "
                     "later; stopped it (the results are complete)")
        log.get(NAME).warning("%s wrote its results for %s but did not exit within %.0fs; stopped it and read them",
                              runner.name, test.path.name, RESULT_GRACE_S)
    log_lines.extend(lines)
    atomic_write_bytes(log_path, ("\n".join(redact(x) for x in log_lines) + "\n").encode("utf-8"))
    if ctx.verbosity > 0:
        for line in lines:
            ctx.console.print(redact(line), markup=False, highlight=False)
    last = _telling_line(lines)
    if not result_file.is_file():
        raise ToolError(f"{runner.name} did not run the tests of {test.path.name} (exit code {done.returncode}, "
                        f"no result file): {last}", hint=f"full output in {log_path}",
                        details={"runner": runner.name, "exit_code": done.returncode, "log": str(log_path)})
    results = parsers.parse(result_file)
    if done.returncode != 0 and not done.stopped_after_finishing and not any(c.failed for c in results.cases):
        raise ToolError(f"{runner.name} exited with code {done.returncode} on {test.path.name} although its "
                        f"result file shows no failed test: {last}", hint=f"full output in {log_path}",
                        details={"runner": runner.name, "exit_code": done.returncode, "log": str(log_path)})
    if not results.cases:
        log.get(NAME).warning("no tests ran in %s (%s)", test.path.name, runner.name)
    return junit.Suite(test.assembly_name, results.cases, {
        "project": test.path.name, "runner": runner.name, "result_file": ctx.state.rel(result_file)})


def _complete(result_file: Path) -> bool:
    """Whether the runner has written its whole result file (a well-formed document)."""
    if not result_file.is_file():
        return False
    try:
        for _ in events(result_file):
            pass
    except ToolError:
        return False
    return True


def _telling_line(lines: list[str]) -> str:
    """The line that best says why a runner failed: the first exception or error, else the last line."""
    for line in lines:
        if _ERROR_LINE.search(line):
            return redact(line.strip())
    return next((redact(x.strip()) for x in reversed(lines) if x.strip()), "no output")


def _outcome(ctx: Context, todo: list[_Built], suites: list[junit.Suite], duration: float,
             junit_path: Path) -> StageResult:
    every: list[Case] = [c for s in suites for c in s.cases]
    counts = count(every)
    projects: list[dict[str, Any]] = []
    for item, suite in zip(todo, suites, strict=True):
        assert item.runner is not None and item.result_file is not None
        projects.append({"project": item.test.path.name, "assembly": item.test.assembly_name,
                         "runner": item.runner.name, "counts": count(suite.cases),
                         "time_s": round(sum(c.time for c in suite.cases), 3),
                         "result_file": ctx.state.rel(item.result_file)})
    failed = [{"name": c.full_name, "message": c.first_line(), "project": s.properties["project"], "status": c.status}
              for s in suites for c in s.cases if c.failed]
    if ctx.verbosity >= 0:
        _render(ctx, projects, failed)
    junit_rel = ctx.state.rel(junit_path)
    if failed:
        listed = "; ".join(f"{f['name']}: {f['message']}" if f["message"] else f["name"] for f in failed[:MAX_LISTED])
        more = f"; and {len(failed) - MAX_LISTED} more" if len(failed) > MAX_LISTED else ""
        raise CheckFailed(f"{len(failed)} of {counts['total']} test(s) failed: {listed}{more} (results in {junit_path})",
                          details={"counts": counts, "failed": failed, "projects": projects, "junit": junit_rel})
    data = {"counts": counts, "time_s": duration, "projects": projects, "failed": [], "junit": junit_rel,
            "results_dir": ctx.state.rel(junit_path.parent)}
    summary = (f"tests passed: {counts['passed']} passed, {counts['skipped']} skipped in {len(projects)} test "
               f"project(s) ({duration:.1f}s); JUnit {junit_path}")
    return StageResult(stage=NAME, summary=summary, data=data,
                       record=TestRecord(counts=counts, projects=projects, junit=junit_rel))


def _render(ctx: Context, projects: list[dict[str, Any]], failed: list[dict[str, str]]) -> None:
    from rich.table import Table

    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("test project", "runner", "passed", "failed", "skipped", "time"):
        table.add_column(column, justify="right" if column in ("passed", "failed", "skipped", "time") else "left")
    for p in projects:
        c = p["counts"]
        table.add_row(p["project"], p["runner"], str(c["passed"]), str(c["failed"]), str(c["skipped"]),
                      f"{p['time_s']:.2f}s")
    ctx.console.print(table)
    for f in failed:
        ctx.console.print(redact(f"FAILED {f['name']}" + (f": {f['message']}" if f["message"] else "")),
                          markup=False, highlight=False)
