"""build: compile the connector with msbuild, dotnet or Mono's xbuild.

The build runs in a private copy of the source tree (the user's tree stays byte-for-byte
unchanged), with the release version stamped into every assembly. Outputs, in the work
dir: `build/` (the binaries: dll, exe, their .config, symbols per `build.symbols`),
`build-info.json` (tool, command line with secrets masked, git commit, outputs with
sha256) and `build.log`. The binaries are recorded as kind "binary" for sign and package.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from b2release import log, process, toolchains
from b2release.artifacts import BUILD_DIR, BuildRecord, Kind
from b2release.context import Context
from b2release.errors import InputError, ToolError, UsageError
from b2release.formats.names import validate_version
from b2release.fsutil import atomic_write_bytes
from b2release.redact import redact, register_secret, registered
from b2release.stages import StageResult
from b2release.toolchains import BuildSpec, discovery, is_secret_property, parse_property, render_command, stamping
from b2release.toolchains.diagnostics import Collector, render_table
from b2release.toolchains.xbuild import response_file_text
from b2release.vcs import git

NAME = "build"
BUILD_INFO = "build-info.json"
BUILD_LOG = "build.log"
BUILD_INFO_FORMAT = "b2release-build-info/1"
_CONFIGURATION = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass
class Options:
    project: Path | None = None
    version: str | None = None
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
    raw = opts.version or ctx.requested_version
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


def resolve_properties(ctx: Context, opts: Options) -> list[tuple[str, str]]:
    props = [parse_property(p, f"{ctx.config.source('build.properties')}: build.properties")
             for p in ctx.config.get("build.properties") or []]
    props += [parse_property(p) for p in opts.properties]
    for name, value in props:
        if is_secret_property(name):
            # From here on the value is masked in every log line, error and JSON document.
            register_secret(value)
    return props


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


def _first_copy_error(exc: Exception) -> str:
    # shutil.Error carries a list of (src, dst, reason); show the first one, on one line.
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list) and exc.args[0]:
        src, _dst, reason = exc.args[0][0]
        return f"{src}: {reason}"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


# --- outputs ----------------------------------------------------------------------------
def _is_reference_copy(path: Path, reference_dirs: list[Path]) -> bool:
    """A framework reference / GAC assembly copied to the output (identical bytes)."""
    name = path.name
    for base in reference_dirs:
        for pattern in (name, f"*/{name}", f"*/*/{name}", f"*/*/*/{name}"):
            for candidate in base.glob(pattern):
                if candidate.is_file() and filecmp.cmp(candidate, path, shallow=False):
                    return True
    return False


def collect_outputs(out_dir: Path, symbols: bool, reference_dirs: list[Path]) -> list[tuple[str, Path]]:
    """(name relative to out_dir, file) of what ships: assemblies, their configs, symbols."""
    picked: list[tuple[str, Path]] = []
    dropped: set[str] = set()
    files = sorted(p for p in out_dir.rglob("*") if p.is_file()) if out_dir.is_dir() else []
    for path in files:
        rel = path.relative_to(out_dir).as_posix()
        lower = rel.lower()
        parts = lower.split("/")
        if parts[0] in ("ref", "refint") and len(parts) > 1:
            continue  # reference assemblies of the SDK (ProduceReferenceAssembly)
        if lower.endswith(".vshost.exe"):
            continue
        if lower.endswith((".dll", ".exe")):
            if _is_reference_copy(path, reference_dirs):
                dropped.add(lower)
                continue
            picked.append((rel, path))
        elif lower.endswith((".dll.config", ".exe.config")):
            picked.append((rel, path))
        elif lower.endswith((".pdb", ".dll.mdb", ".exe.mdb")) and symbols:
            stem = lower[: -len(".mdb")] if lower.endswith(".mdb") else lower
            if stem in dropped or any(stem == d.rsplit(".", 1)[0] + ".pdb" for d in dropped):
                continue
            picked.append((rel, path))
    return picked


def _display_path(path: str, copy_root: Path, original_root: Path, source_dir: Path) -> str:
    """A path in the build copy -> the same file in the user's tree, relative to the source dir."""
    p = path.replace("\\", "/")
    copy = copy_root.as_posix().rstrip("/") + "/"
    if p.startswith(copy):
        real = original_root / p[len(copy):]
        try:
            return real.relative_to(source_dir).as_posix()
        except ValueError:
            return real.as_posix()
    return path


# --- live output ------------------------------------------------------------------------
class LiveOutput:
    """A spinner with the tool's last line (interactive), every line with -v, else quiet."""

    def __init__(self, ctx: Context, title: str):
        self.ctx = ctx
        self.verbose = ctx.verbosity > 0
        self.status = None
        if not self.verbose and ctx.verbosity >= 0 and ctx.interactive:
            self.status = ctx.console.status(title)

    def __enter__(self) -> LiveOutput:
        if self.status is not None:
            self.status.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.status is not None:
            self.status.stop()

    def line(self, text: str) -> None:
        if self.verbose:
            self.ctx.console.print(redact(text), markup=False, highlight=False)
        elif self.status is not None and text.strip():
            from rich.text import Text

            self.status.update(Text(redact(text.strip())[:150], overflow="ellipsis", no_wrap=True))


# --- the stage --------------------------------------------------------------------------
def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    logger = log.get(NAME)
    version = resolve_version(ctx, opts)
    configuration = opts.configuration or ctx.config.get("build.configuration")
    if not _CONFIGURATION.fullmatch(configuration or ""):
        raise UsageError(f"invalid configuration {configuration!r}: use letters, digits, '.', '_' or '-'")
    properties = resolve_properties(ctx, opts)
    secrets = [v for k, v in properties if is_secret_property(k)]
    symbols = bool(ctx.config.get("build.symbols"))
    warnings_as_errors = bool(ctx.config.get("build.warnings_as_errors"))

    build_input = discovery.inspect(resolve_project(ctx, opts))
    tool_name, executable = discovery.choose(opts.tool or ctx.config.get("build.tool"), build_input)
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
        try:
            entry_copy = stamping.make_copy(build_input, copy_root, exclude=[work])
        except (OSError, shutil.Error) as exc:
            raise InputError(f"cannot copy {original_root} to the build folder: {_first_copy_error(exc)}") from exc
        if build_input.classic:
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
            sdk_style=build_input.sdk_style,
            response_file=response_file,
        )
        if response_file is not None:
            response_file.write_text(response_file_text(spec), encoding="utf-8")
        argv = toolchain.command(spec)
        # The recorded command line: secrets masked, the throw-away build folder named as such.
        shown_argv = [a.replace(str(tmp), "$BUILD_TMP") for a in argv]
        command_line = render_command(shown_argv, secrets)
        logger.debug("running %s", command_line)

        collector = Collector(lambda p: _display_path(p, copy_root, original_root, source_dir))
        log_lines: list[str] = []

        tmp_text = str(tmp)

        def on_line(text: str, live: Callable[[str], None]) -> None:
            collector.feed(text)  # sees the real paths, to map them back to the user's tree
            text = text.replace(tmp_text, "$BUILD_TMP")
            log_lines.append(text)
            live(text)

        with LiveOutput(ctx, f"building {build_input.entry.name} with {tool_name}") as live:
            returncode = process.stream(argv, lambda t: on_line(t, live.line), what="the build", cwd=tmp,
                                        env=process.tool_env(toolchain.env(), ctx.config.get("build.pass_env")))
        duration = round(time.monotonic() - started, 3)
        log_text = "\n".join(redact(line) for line in log_lines) + "\n"
        atomic_write_bytes(work / BUILD_LOG, log_text.encode("utf-8"))

        diagnostics = collector.items
        if returncode != 0 or (warnings_as_errors and collector.warnings):
            _fail(ctx, tool_name, returncode, collector, log_lines)

        outputs = collect_outputs(out_dir, symbols, toolchain.reference_dirs())
        if not any(name.lower().endswith((".dll", ".exe")) for name, _ in outputs):
            raise ToolError(f"{tool_name} succeeded but produced no assemblies in its output folder",
                            details={"log": str(work / BUILD_LOG)})

        state = ctx.state
        dest = work / BUILD_DIR
        state.forget_artifacts(kinds=[Kind.BINARY, Kind.BUILD_INFO, Kind.BUILD_LOG])
        if dest.exists():
            shutil.rmtree(dest)  # the folder is ours: stale binaries of an earlier build must go
        recorded = []
        for name, src in outputs:
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
            os.chmod(target, 0o644)
            art = state.record_artifact(Kind.BINARY, target, NAME, extra={"name": name})
            recorded.append({"name": name, "sha256": art.sha256, "size": art.size})

    secret_values = set(registered())
    shown_props = {k: ("***" if is_secret_property(k) or v in secret_values else v) for k, v in properties}
    manifest_info = {
        "tool": tool_name,
        "tool_version": tool_version,
        "configuration": configuration,
        "git_commit": git.commit or "",
        "project": project_rel,
    }
    info: dict[str, Any] = {
        "format": BUILD_INFO_FORMAT,
        "version": version,
        "assembly_version": versions.numeric,
        "tool": tool_name,
        "tool_version": tool_version,
        "tool_path": executable,
        "command_line": command_line,
        "configuration": configuration,
        "properties": shown_props,
        "project": project_rel,
        "source_dir": str(source_dir),
        "git": {"commit": git.commit, "dirty": git.dirty},
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started_wall)),
        "duration_s": duration,
        "outputs": recorded,
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
        "command_line": command_line,
        "git_commit": git.commit,
        "git_dirty": git.dirty,
        "duration_s": duration,
        "outputs": recorded,
        "diagnostics": [d.to_dict() for d in diagnostics],
        "build_dir": str(work / BUILD_DIR),
        "build_info": str(info_path),
    }
    return StageResult(
        stage=NAME,
        summary=(f"built {project_rel} {version} with {tool_name} in {duration:.1f}s: "
                 f"{', '.join(assemblies)} ({len(warnings)} warnings) -> {work / BUILD_DIR}"),
        data=data,
        record=BuildRecord(version=version, source_dir=str(source_dir), manifest_info=manifest_info, tool=tool_name,
                           outputs=recorded),
    )


def _fail(ctx: Context, tool: str, returncode: int, collector: Collector, log_lines: list[str]) -> None:
    errors = collector.errors
    if returncode == 0:  # build.warnings_as_errors with warnings the compiler did not fail on
        shown = collector.warnings
        what = f"{len(shown)} warning(s) and build.warnings_as_errors is set"
    else:
        shown = errors or collector.warnings
        what = f"{len(errors)} error(s)" if errors else f"{tool} exited with code {returncode}"
    if ctx.verbosity >= 0:  # stderr, so --json's stdout stays one document
        if collector.items:
            render_table(ctx.console, collector.items)
        elif log_lines:
            ctx.console.print("last lines of the build output:", markup=False)
            for line in log_lines[-15:]:
                ctx.console.print("  " + line, markup=False, highlight=False)
    first = f"; first: {shown[0].canonical()}" if shown else ""
    raise ToolError(
        f"build failed ({tool} exit code {returncode}): {what}{first}",
        hint=f"full output in {ctx.work_dir / BUILD_LOG}",
        details={
            "tool": tool,
            "tool_exit_code": returncode,
            "diagnostics": [d.to_dict() for d in collector.items],
            "log": str(ctx.work_dir / BUILD_LOG),
        },
    )
