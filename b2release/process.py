"""The one way b2release runs an external tool: build tools, signers, git, pip-licenses.

- Environment: an allowlist, not the caller's whole environment. Build tools run the
  project's own targets (an `AfterBuild` step can print anything it sees), so a storage
  key or a CDN token in b2release's environment must never reach them. What a tool needs
  (PATH, locale, temp dirs, the Windows and Mono/.NET/MSBuild/NuGet variables) passes;
  everything else stays out, and so does any variable whose value is a registered secret.
  A command adds what it needs explicitly (`extra`) or names more variables to pass.
- No stdin: a tool must never wait for a prompt. A timeout for captured runs.
- Output decoded leniently (a tool printing a file name in a legacy code page must not
  crash a build), stdout and stderr merged when streamed (their order matters in a log).
- Errors: a missing tool is ToolMissingError (exit 3) with an install hint when known;
  every message is redacted.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from b2release.errors import ToolError, ToolMissingError
from b2release.redact import redact, registered

DEFAULT_TIMEOUT = 300.0  # seconds; a timestamp server may be slow, a local signature is instant

# Upper-cased names (Windows treats environment names case-insensitively).
_PASS_NAMES = frozenset({
    "PATH", "HOME", "USER", "USERNAME", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR", "TEMP",
    "TMP", "CI", "SOURCE_DATE_EPOCH", "SSL_CERT_FILE", "SSL_CERT_DIR", "VIRTUAL_ENV",
    # Windows: what msbuild, signtool and the .NET Framework tools expect to find.
    "SYSTEMROOT", "WINDIR", "COMSPEC", "PATHEXT", "SYSTEMDRIVE", "PROGRAMFILES", "PROGRAMFILES(X86)",
    "PROGRAMW6432", "PROGRAMDATA", "COMMONPROGRAMFILES", "COMMONPROGRAMFILES(X86)", "COMMONPROGRAMW6432",
    "ALLUSERSPROFILE", "APPDATA", "LOCALAPPDATA", "USERPROFILE", "HOMEDRIVE", "HOMEPATH", "PUBLIC",
    "NUMBER_OF_PROCESSORS", "PROCESSOR_ARCHITECTURE", "PROCESSOR_IDENTIFIER", "OS",
})
_PASS_PREFIXES = ("LC_", "XDG_", "MONO_", "DOTNET_", "MSBUILD", "NUGET_", "VS", "VISUALSTUDIO", "WINDOWSSDK",
                  "UCRT", "NETFX", "FRAMEWORK")


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str
    stopped_after_finishing: bool = False  # `finished` held, the tool did not exit in its grace time: stopped

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def _passes(name: str, patterns: Sequence[str]) -> bool:
    upper = name.upper()
    if upper in _PASS_NAMES or upper.startswith(_PASS_PREFIXES):
        return True
    return any(fnmatch.fnmatchcase(upper, p.upper()) for p in patterns)


def tool_env(extra: Mapping[str, str] | None = None, passthrough: Iterable[str] = ()) -> dict[str, str]:
    """The environment a tool runs with: the allowlist, `passthrough` names/globs, then `extra`."""
    patterns = list(passthrough)
    secrets = registered()
    env = {k: v for k, v in os.environ.items() if _passes(k, patterns) and v not in secrets}
    env.update(extra or {})
    return env


def _not_found(argv: Sequence[str], what: str, hint: str | None) -> ToolMissingError:
    return ToolMissingError(f"{Path(argv[0]).name} is not installed (cannot run it for {what})", hint=hint)


def run(argv: Sequence[str], *, what: str, cwd: Path | None = None, timeout: float = DEFAULT_TIMEOUT,
        env: Mapping[str, str] | None = None, hint: str | None = None,
        finished: Callable[[], bool] | None = None, grace: float = 0.0) -> Completed:
    """Run a tool to completion and capture its output; a non-zero exit is the caller's to judge.

    `finished`, asked about once a second, says whether the tool has done its work (a test
    runner wrote its whole result file): a tool still running `grace` seconds after that is
    stopped, and the result says so (some runners hang on exit; the work is there)."""
    try:
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=cwd, env=dict(env) if env is not None else tool_env())
    except FileNotFoundError:
        raise _not_found(argv, what, hint) from None
    except OSError as exc:
        raise ToolError(redact(f"cannot run {Path(argv[0]).name} for {what}: {exc.strerror}")) from None
    deadline = time.monotonic() + timeout
    done_at: float | None = None
    try:
        while True:
            now = time.monotonic()
            wait = deadline - now if finished is None else min(deadline - now, 1.0)
            try:
                out, err = proc.communicate(timeout=max(wait, 0.01))
                stopped = False
                break
            except subprocess.TimeoutExpired:
                now = time.monotonic()
                if done_at is None and finished is not None and finished():
                    done_at = now
                if done_at is not None and now - done_at >= grace:
                    proc.kill()
                    out, err = proc.communicate()
                    stopped = True
                    break
                if now >= deadline:
                    raise ToolError(f"{Path(argv[0]).name} did not finish {what} within {timeout:.0f}s") from None
    finally:
        if proc.returncode is None:  # the timeout, Ctrl-C: never leave the tool running behind us
            proc.kill()
            proc.communicate()
    return Completed(proc.returncode, out.decode("utf-8", errors="replace"), err.decode("utf-8", errors="replace"),
                     stopped_after_finishing=stopped)


def query(argv: Sequence[str], timeout: float = 60, env: Mapping[str, str] | None = None,
          cwd: Path | None = None) -> str | None:
    """A short read-only question (a version, a commit id): stdout+stderr, or None when the
    tool is missing, fails or does not answer in time."""
    try:
        done = run(argv, what="a query", timeout=timeout, env=env, cwd=cwd)
    except ToolError:
        return None
    return done.output if done.returncode == 0 else None


def stream(argv: Sequence[str], on_line: Callable[[str], None], *, what: str, cwd: Path | None = None,
           env: Mapping[str, str] | None = None) -> int:
    """Run a tool, calling on_line(line) for every output line as it arrives; its exit code."""
    try:
        proc = subprocess.Popen(
            list(argv), cwd=str(cwd) if cwd else None, env=dict(env) if env is not None else tool_env(),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
    except FileNotFoundError:
        raise ToolMissingError(f"cannot run {argv[0]}: not found") from None
    except OSError as exc:
        raise ToolError(redact(f"cannot run {argv[0]} for {what}: {exc.strerror}")) from None
    assert proc.stdout is not None
    try:
        # readline returns as soon as a whole line is in the pipe, so lines reach the callback live.
        for raw in iter(proc.stdout.readline, b""):
            on_line(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
        return proc.wait()
    except BaseException:
        # Ctrl-C or a failing callback: do not leave the tool running behind us.
        proc.kill()
        proc.wait()
        raise
    finally:
        proc.stdout.close()


def vswhere_find(*args: str) -> str | None:
    """The first file Visual Studio's vswhere finds for `args` (newest install), or None:
    on Windows only, and only when vswhere and the file exist (MSBuild, vstest.console)."""
    if sys.platform != "win32":
        return None
    base = os.environ.get("ProgramFiles(x86)") or r"C:\Program Files (x86)"
    vswhere = Path(base) / "Microsoft Visual Studio" / "Installer" / "vswhere.exe"
    if not vswhere.is_file():
        return None
    out = query([str(vswhere), "-latest", "-products", "*", *args])
    first = out.strip().splitlines()[0].strip() if out and out.strip() else ""
    return first if first and Path(first).is_file() else None
