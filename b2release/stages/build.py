"""build: compile the connector with msbuild, dotnet or Mono's xbuild.

The build runs in a private copy of the source tree (the user's tree stays byte-for-byte
unchanged), with the release version stamped into every assembly. A solution is built
without its test projects (toolchains.testprojects; the test stage builds those).
Outputs, in the work dir: `build/` (the project's real output folder, minus what must
never ship: toolchains.outputs), `build-info.json` (tool, command line with secrets
masked, git commit, outputs with sha256, every dropped file with its reason) and
`build.log`. Every shipped file is recorded as kind "binary" for scan, sign and package.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from b2release import log, process, toolchains
from b2release.artifacts import BUILD_DIR, BuildRecord, Kind
from b2release.context import Context
from b2release.errors import ToolError, UsageError
from b2release.formats.names import validate_version
from b2release.fsutil import atomic_write_bytes
from b2release.redact import registered
from b2release.stages import StageResult
from b2release.toolchains import BuildSpec, discovery, is_secret_property, outputs, session, stamping, testprojects
from b2release.toolchains.diagnostics import render_table
from b2release.toolchains.xbuild import response_file_text
from b2release.vcs import git

NAME = "build"
BUILD_INFO = "build-info.json"
BUILD_LOG = "build.log"
BUILD_INFO_FORMAT = "b2release-build-info/1"


@dataclass
class Options:
    project: Path | None = None
    version: str | None = None
    version_from_tag: bool = False  # the version from the git tag on HEAD of the project's checkout
    tool: str | None = None
    configuration: str | None = None
    properties: list[str] = field(default_factory=list)


@dataclass
class GitInfo:
    top: Path | None = None
    commit: str | None = None
    dirty: bool | None = None


# --- inputs -----------------------------------------------------------------------------
def resolve_version(ctx: Context, opts: Options) -> str:
    if opts.version_from_tag:
        if opts.version:
            raise UsageError("give --version or --version-from-tag, not both")
        return _checked_version(ctx.tag_version(resolve_project(ctx, opts)))
    return _checked_version(opts.version or ctx.requested_version)


def _checked_version(raw: str | None) -> str:
    if not raw:
        raise UsageError("no version: pass --version X.Y.Z")
    version = validate_version(raw)
    problem = stamping.numeric_range_problem(version)
    if problem:
        raise UsageError(f"invalid version {version!r} for a .NET assembly: {problem}")
    return version


def resolve_project(ctx: Context, opts: Options) -> Path:
    if opts.project is not None:
        return Path(opts.project)
    configured = ctx.config.path("product.project")
    if configured is not None:
        return configured
    return discovery.find_entry(Path.cwd())


def git_info(root: Path) -> GitInfo:
    top = git(["rev-parse", "--show-toplevel"], root)
    if top is None:
        return GitInfo()
    commit = git(["rev-parse", "HEAD"], root)
    status = git(["status", "--porcelain", "--", "."], root)
    return GitInfo(
        top=Path(top.strip()).resolve(),
        commit=commit.strip() if commit else None,
        dirty=bool(status.strip()) if status is not None else None,
    )


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _test_projects_listed(build_input: discovery.BuildInput, tests: list[testprojects.TestProject]) -> set[Path]:
    """The test projects the entry names itself (a solution's); refuses an entry that is only tests."""
    entry = build_input.entry
    if entry.suffix.lower() != discovery.SOLUTION_SUFFIX:
        own = next((t for t in tests if t.path == entry), None)
        if own is not None:
            raise UsageError(f"{entry.name} is a test project ({own.evidence}): build the solution or the product's "
                             "project; `b2release test` builds and runs the tests")
        return set()
    listed = set(discovery.solution_projects(entry))
    remove = {t.path for t in tests if t.path in listed} - testprojects.referenced_by_product(build_input, tests)
    if remove and remove == listed:
        names = ", ".join(sorted(p.name for p in remove))
        raise UsageError(f"{entry.name} lists only test projects ({names}): nothing to ship")
    return remove


def _leave_out_tests(build_input: discovery.BuildInput, entry_copy: Path, remove: set[Path], logger: Any) -> list[str]:
    """Build the solution without its test projects (they are the test stage's); their names."""
    entry = build_input.entry
    if not remove:
        return []
    raw = entry_copy.read_bytes()
    bom = b"\xef\xbb\xbf" if raw.startswith(b"\xef\xbb\xbf") else b""
    text, removed = testprojects.solution_without(raw[len(bom):].decode("utf-8", errors="surrogateescape"),
                                                  entry.parent, remove)
    entry_copy.write_bytes(bom + text.encode("utf-8", errors="surrogateescape"))
    logger.info("building %s without its test project(s) %s (the test stage runs them)", entry.name,
                ", ".join(sorted(removed)))
    return sorted(removed)


# --- the stage --------------------------------------------------------------------------
def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    logger = log.get(NAME)
    version = resolve_version(ctx, opts)
    configuration = session.check_configuration(opts.configuration or ctx.config.get("build.configuration"))
    properties = session.properties(ctx.config.get("build.properties") or [],
                                    f"{ctx.config.source('build.properties')}: build.properties", opts.properties)
    secrets = [v for k, v in properties if is_secret_property(k)]
    symbols = bool(ctx.config.get("build.symbols"))
    warnings_as_errors = bool(ctx.config.get("build.warnings_as_errors"))

    build_input = discovery.inspect(resolve_project(ctx, opts))
    tests = testprojects.find(build_input.projects)
    remove = _test_projects_listed(build_input, tests)  # usage errors before any tool runs
    # What the tool builds decides which tool can: SDK-style test projects the build leaves out do not count.
    built = discovery.BuildInput(build_input.entry, [p for p in build_input.projects if p.path not in remove])
    tool_name, executable = discovery.choose(opts.tool or ctx.config.get("build.tool"), built)
    toolchain = toolchains.get(tool_name, executable)
    original_root = build_input.copy_root()
    git = git_info(original_root)
    source_dir = git.top if git.top is not None and _is_within(original_root, git.top) else original_root
    project_rel = build_input.entry.relative_to(source_dir).as_posix()
    tool_version = toolchain.tool_version()
    versions = stamping.Versions.from_semver(version)

    work = ctx.work_dir
    work.mkdir(parents=True, exist_ok=True)
    started_wall = time.time()
    started = time.monotonic()
    logger.info("building %s %s with %s %s (%s)", project_rel, version, tool_name, tool_version, configuration)

    # ignore_cleanup_errors: a tool that left a read-only file (or a Windows virus scanner
    # holding one) must not turn a good build into a failure.
    with tempfile.TemporaryDirectory(prefix="b2release-build-", ignore_cleanup_errors=True) as tmp_name:
        tmp = Path(tmp_name).resolve()
        copy_root = tmp / "src"
        out_dir = tmp / "out"
        entry_copy = session.copy_tree(build_input, copy_root, exclude=[work])
        left_out = _leave_out_tests(build_input, entry_copy, remove, logger)
        if build_input.classic:  # paths relative to the whole copy: stamp every classic project in it
            stamping.stamp_classic_projects(build_input, copy_root, versions)
        response_file = tmp / "b2release.rsp" if tool_name == "xbuild" else None
        spec = BuildSpec(
            project=entry_copy,
            configuration=configuration,
            version_properties=versions.properties(),
            out_dir=out_dir,
            path_map_root=copy_root,
            properties=properties,
            warnings_as_errors=warnings_as_errors,
            sdk_style=built.sdk_style,
            response_file=response_file,
        )
        if response_file is not None:
            response_file.write_text(response_file_text(spec), encoding="utf-8")
        env = process.tool_env(toolchain.env(), ctx.config.get("build.pass_env"))
        interactive = ctx.verbosity >= 0 and ctx.interactive
        with session.LiveOutput(ctx.console, f"building {build_input.entry.name} with {tool_name}",
                                verbose=ctx.verbosity > 0, interactive=interactive) as live:
            tool_run = session.run_tool(toolchain, spec, tmp=tmp, original_root=original_root, source_dir=source_dir,
                                        secrets=secrets, env=env, live=live.line)
        logger.debug("ran %s", tool_run.command_line)
        duration = round(time.monotonic() - started, 3)
        atomic_write_bytes(work / BUILD_LOG, tool_run.log_text().encode("utf-8"))

        diagnostics = tool_run.collector.items
        if session.failed(tool_run, warnings_as_errors):
            raise session.failure(tool_run, tool=tool_name, log=work / BUILD_LOG, console=ctx.console,
                                  show=ctx.verbosity >= 0)

        selection = outputs.select(
            out_dir, symbols=symbols, reference_dirs=toolchain.reference_dirs(),
            test_assemblies={t.assembly_name.lower(): t.path.name for t in tests},
            test_outputs=_only_tests_wrote(build_input, tests, copy_root, out_dir),
            include=ctx.config.get("build.include"), exclude=ctx.config.get("build.exclude"),
        )
        if not any(name.lower().endswith((".dll", ".exe")) for name, _ in selection.kept):
            raise ToolError(f"{tool_name} succeeded but produced no assemblies to ship in its output folder"
                            f"{_dropped_hint(selection)}", details={"log": str(work / BUILD_LOG),
                                                                     "dropped": _dropped(selection)})

        state = ctx.state
        dest = work / BUILD_DIR
        state.forget_artifacts(kinds=[Kind.BINARY, Kind.BUILD_INFO, Kind.BUILD_LOG])
        if dest.exists():
            shutil.rmtree(dest)  # the folder is ours: stale binaries of an earlier build must go
        recorded = []
        for name, src in selection.kept:
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
            os.chmod(target, 0o644)
            art = state.record_artifact(Kind.BINARY, target, NAME, extra={"name": name})
            recorded.append({"name": name, "sha256": art.sha256, "size": art.size})

    for drop in selection.dropped:
        logger.debug("not shipped: %s: %s", drop.name, drop.reason)
    if selection.dropped:
        logger.info("%d file(s) of the build output not shipped (%s); build-info.json lists them, -v shows them",
                    len(selection.dropped), ", ".join(sorted({d.rule for d in selection.dropped})))
    for note in selection.notes:
        logger.warning("%s", note)

    secret_values = set(registered())
    shown_props = {k: ("***" if is_secret_property(k) or v in secret_values else v) for k, v in properties}
    manifest_info = {
        "tool": tool_name,
        "tool_version": tool_version,
        "configuration": configuration,
        "git_commit": git.commit or "",
        "project": project_rel,
        # The shipped assemblies this build stamped with the release version: `package` and
        # `verify` hold them to the manifest's version (a package can't claim another one).
        "assemblies": _stamped_assemblies(built, tests, [name for name, _ in selection.kept]),
    }
    info: dict[str, Any] = {
        "format": BUILD_INFO_FORMAT,
        "version": version,
        "assembly_version": versions.numeric,
        "tool": tool_name,
        "tool_version": tool_version,
        "tool_path": executable,
        "command_line": tool_run.command_line,
        "configuration": configuration,
        "properties": shown_props,
        "project": project_rel,
        "source_dir": str(source_dir),
        "git": {"commit": git.commit, "dirty": git.dirty},
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started_wall)),
        "duration_s": duration,
        "outputs": recorded,
        "dropped": _dropped(selection),
        "test_projects_left_out": left_out,
        "warnings": [d.to_dict() for d in diagnostics if d.severity == "warning"],
    }
    info_path = work / BUILD_INFO
    atomic_write_bytes(info_path, (json.dumps(info, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    ctx.state.record_artifact(Kind.BUILD_INFO, info_path, NAME)
    ctx.state.record_artifact(Kind.BUILD_LOG, work / BUILD_LOG, NAME)

    warnings = [d for d in diagnostics if d.severity == "warning"]
    if warnings and ctx.verbosity >= 0:
        render_table(ctx.console, warnings)
    assemblies = [r["name"] for r in recorded if r["name"].lower().endswith((".dll", ".exe"))]
    data = {
        "version": version,
        "tool": tool_name,
        "tool_version": tool_version,
        "configuration": configuration,
        "project": project_rel,
        "command_line": tool_run.command_line,
        "git_commit": git.commit,
        "git_dirty": git.dirty,
        "duration_s": duration,
        "outputs": recorded,
        "dropped": _dropped(selection),
        "test_projects_left_out": left_out,
        "diagnostics": [d.to_dict() for d in diagnostics],
        "build_dir": str(work / BUILD_DIR),
        "build_info": str(info_path),
    }
    others = len(recorded) - len(assemblies)
    return StageResult(
        stage=NAME,
        summary=(f"built {project_rel} {version} with {tool_name} in {duration:.1f}s: "
                 f"{', '.join(assemblies)}{f' and {others} other file(s)' if others else ''} "
                 f"({len(warnings)} warnings, {len(selection.dropped)} file(s) not shipped) -> {work / BUILD_DIR}"),
        data=data,
        record=BuildRecord(version=version, source_dir=str(source_dir), manifest_info=manifest_info, tool=tool_name,
                           outputs=recorded),
    )


def _stamped_assemblies(built: discovery.BuildInput, tests: list[testprojects.TestProject],
                        shipped: list[str]) -> list[str]:
    """Names of the shipped assemblies whose projects the version stamping reaches (SDK-style
    projects through properties, classic C# projects through the generated file)."""
    test_paths = {t.path for t in tests}
    stamped = {testprojects.assembly_name(p.path).lower(): testprojects.assembly_name(p.path)
               for p in built.projects
               if p.path not in test_paths and (p.sdk_style or p.path.suffix.lower() == ".csproj")}
    files = {Path(n).name.rsplit(".", 1)[0].lower() for n in shipped if n.lower().endswith((".dll", ".exe"))}
    return sorted(name for key, name in stamped.items() if key in files)


def _only_tests_wrote(build_input: discovery.BuildInput, tests: list[testprojects.TestProject], copy_root: Path,
                      out_dir: Path) -> dict[str, str]:
    """Output files that test projects wrote and no product project did (their test data).

    A product project that references a test project also copies the test project's content,
    so its list does not count as the product's."""
    test_paths = {t.path for t in tests}
    original_root = build_input.copy_root()
    by_tests: dict[str, str] = {}
    by_product: set[str] = set()
    for project in build_input.projects:
        if project.path not in test_paths and testprojects.reachable([project.path]) & test_paths:
            continue
        written = outputs.files_written(copy_root / project.path.relative_to(original_root), out_dir)
        if project.path in test_paths:
            for rel in written:
                by_tests.setdefault(rel, project.path.name)
        else:
            by_product |= written
    return {rel: name for rel, name in by_tests.items() if rel not in by_product}


def _dropped(selection: outputs.Selection) -> list[dict[str, str]]:
    return [d.to_dict() for d in selection.dropped]


def _dropped_hint(selection: outputs.Selection) -> str:
    if not selection.dropped:
        return ""
    shown = "; ".join(f"{d.name}: {d.reason}" for d in selection.dropped[:3])
    return f" (not shipped: {shown}{'; ...' if len(selection.dropped) > 3 else ''})"
