"""One run of a build tool on a build copy, shared by the build and the test stage.

The stage prepares the copy and the `BuildSpec`; `run_tool` runs the toolchain's command
through `b2release.process` (allowlisted environment, no stdin), streams every line to
the caller, keeps the log (the temporary folder shown as `$BUILD_TMP`), and collects the
diagnostics with their paths mapped back to the user's tree. `failure` turns a failed run
into the one-line ToolError (exit 3) naming the first error.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from b2release import process
from b2release.errors import InputError, ToolError, UsageError
from b2release.redact import redact, register_secret
from b2release.toolchains import stamping
from b2release.toolchains.base import BuildSpec, Toolchain, is_secret_property, parse_property, render_command
from b2release.toolchains.diagnostics import Collector, render_table
from b2release.toolchains.discovery import BuildInput

TMP_LABEL = "$BUILD_TMP"


@dataclass
class ToolRun:
    returncode: int
    log_lines: list[str]  # secrets not yet masked; the temporary folder shown as $BUILD_TMP
    collector: Collector
    command_line: str  # secrets masked

    def log_text(self) -> str:
        return "\n".join(redact(line) for line in self.log_lines) + "\n"


def properties(configured: list[str], where: str, given: list[str]) -> list[tuple[str, str]]:
    """`[build] properties` then the command line's, parsed; secret values registered for masking."""
    props = [parse_property(p, where) for p in configured] + [parse_property(p) for p in given]
    for name, value in props:
        if is_secret_property(name):
            # From here on the value is masked in every log line, error and JSON document.
            register_secret(value)
    return props


def display_path(path: str, copy_root: Path, original_root: Path, source_dir: Path) -> str:
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


class LiveOutput:
    """A spinner with the tool's last line (interactive), every line when verbose, else quiet."""

    def __init__(self, console: Any, title: str, *, verbose: bool, interactive: bool):
        self.console = console
        self.verbose = verbose
        self.status = console.status(title) if not verbose and interactive else None

    def __enter__(self) -> LiveOutput:
        if self.status is not None:
            self.status.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.status is not None:
            self.status.stop()

    def line(self, text: str) -> None:
        if self.verbose:
            self.console.print(redact(text), markup=False, highlight=False)
        elif self.status is not None and text.strip():
            from rich.text import Text

            self.status.update(Text(redact(text.strip())[:150], overflow="ellipsis", no_wrap=True))


def run_tool(toolchain: Toolchain, spec: BuildSpec, *, tmp: Path, original_root: Path, source_dir: Path,
             secrets: list[str], env: Mapping[str, str], live: Callable[[str], None],
             what: str = "the build") -> ToolRun:
    """Run the toolchain on `spec` (whose project lies in tmp's copy), streaming lines to `live`."""
    argv = toolchain.command(spec)
    tmp_text = str(tmp)
    # The recorded command line: secrets masked, the throw-away build folder named as such.
    command_line = render_command([a.replace(tmp_text, TMP_LABEL) for a in argv], secrets)
    collector = Collector(lambda p: display_path(p, spec.path_map_root, original_root, source_dir))
    log_lines: list[str] = []

    def on_line(text: str) -> None:
        collector.feed(text)  # sees the real paths, to map them back to the user's tree
        text = text.replace(tmp_text, TMP_LABEL)
        log_lines.append(text)
        live(text)

    returncode = process.stream(argv, on_line, what=what, cwd=tmp, env=env)
    return ToolRun(returncode, log_lines, collector, command_line)


def failed(run: ToolRun, warnings_as_errors: bool) -> bool:
    return run.returncode != 0 or (warnings_as_errors and bool(run.collector.warnings))


def failure(run: ToolRun, *, tool: str, log: Path, console: Any, show: bool, what: str = "build",
            details: dict[str, Any] | None = None) -> ToolError:
    """The ToolError for a failed run; with `show`, the diagnostics table (or the last lines) on the console."""
    collector = run.collector
    errors = collector.errors
    if run.returncode == 0:  # build.warnings_as_errors with warnings the compiler did not fail on
        shown = collector.warnings
        summary = f"{len(shown)} warning(s) and build.warnings_as_errors is set"
    else:
        shown = errors or collector.warnings
        summary = f"{len(errors)} error(s)" if errors else f"{tool} exited with code {run.returncode}"
    if show:  # stderr, so --json's stdout stays one document
        if collector.items:
            render_table(console, collector.items)
        elif run.log_lines:
            console.print(f"last lines of the {what} output:", markup=False)
            for line in run.log_lines[-15:]:
                console.print("  " + redact(line), markup=False, highlight=False)
    first = f"; first: {shown[0].canonical()}" if shown else ""
    return ToolError(
        f"{what} failed ({tool} exit code {run.returncode}): {summary}{first}",
        hint=f"full output in {log}",
        details={
            "tool": tool,
            "tool_exit_code": run.returncode,
            "diagnostics": [d.to_dict() for d in collector.items],
            "log": str(log),
            **(details or {}),
        },
    )


def copy_tree(build_input: BuildInput, dest: Path, exclude: list[Path]) -> Path:
    """The build copy (stamping.make_copy); a failure is an InputError naming the first file."""
    try:
        return stamping.make_copy(build_input, dest, exclude=exclude)
    except (OSError, shutil.Error) as exc:
        # shutil.Error carries a list of (src, dst, reason); show the first one, on one line.
        if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list) and exc.args[0]:
            src, _dst, reason = exc.args[0][0]
            why = f"{src}: {reason}"
        elif isinstance(exc, OSError) and exc.filename:
            why = f"{exc.filename}: {exc.strerror}"
        else:
            why = str(exc)
        raise InputError(f"cannot copy {build_input.copy_root()} to the build folder: {why}") from exc


_CONFIGURATION = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def check_configuration(configuration: str | None) -> str:
    if not _CONFIGURATION.fullmatch(configuration or ""):
        raise UsageError(f"invalid configuration {configuration!r}: use letters, digits, '.', '_' or '-'")
    return configuration  # type: ignore[return-value]
