"""Run a build tool and hand each output line to a callback as it arrives.

stdout and stderr are merged (build tools interleave progress and diagnostics and the
order matters for reading a log). Lines are decoded leniently: a tool printing a file
name in a legacy code page must not crash the build with a UnicodeDecodeError.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from b2release.errors import ToolError, ToolMissingError


@dataclass
class ProcessResult:
    returncode: int
    lines: list[str] = field(default_factory=list)


def run_streaming(
    argv: Sequence[str],
    on_line: Callable[[str], None],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    keep_lines: bool = True,
) -> ProcessResult:
    """Run argv; call on_line(line) for every line (without its newline) as it arrives."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=str(cwd) if cwd else None,
            env=full_env,
            stdin=subprocess.DEVNULL,  # a build must never wait for a prompt
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    except FileNotFoundError as exc:
        raise ToolMissingError(f"cannot run {argv[0]}: not found") from exc
    except OSError as exc:
        raise ToolError(f"cannot run {argv[0]}: {exc.strerror}") from exc
    lines: list[str] = []
    assert proc.stdout is not None
    try:
        # readline returns as soon as a whole line is in the pipe (the buffered reader does not
        # wait for a full buffer), so lines reach the callback live.
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if keep_lines:
                lines.append(line)
            on_line(line)
        returncode = proc.wait()
    except BaseException:
        # Ctrl-C or a failing callback: do not leave the build running behind us.
        proc.kill()
        proc.wait()
        raise
    finally:
        proc.stdout.close()
    return ProcessResult(returncode, lines)


def capture(argv: Sequence[str], timeout: float = 60) -> str | None:
    """Short query (tool version): stdout+stderr text, or None if the tool cannot run."""
    try:
        out = subprocess.run(
            list(argv), stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False,
            env={**os.environ, "DOTNET_CLI_TELEMETRY_OPTOUT": "1", "DOTNET_NOLOGO": "1"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return (out.stdout + out.stderr).decode("utf-8", errors="replace")
