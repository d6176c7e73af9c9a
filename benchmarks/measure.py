"""Running one side of a benchmark row in a fresh process: wall time and peak RSS."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mb: float  # the largest resident set of the process and the children it waited for
    stdout: str = ""
    cpu_seconds: float = 0.0  # user + system time of the process (what neighbours' load disturbs least)


def run(args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        capture: bool = False) -> Run:
    """One process, timed from spawn to exit; its rusage from wait4 (what `/usr/bin/time -f %M` shows)."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE if capture else subprocess.DEVNULL, stderr=subprocess.PIPE)
    out = proc.stdout.read().decode() if capture and proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code != 0:
        sys.exit(f"benchmark step failed ({code}): {' '.join(map(str, args))}\n{err[-2000:]}")
    return Run(seconds, usage.ru_maxrss / 1024, out, usage.ru_utime + usage.ru_stime)  # ru_maxrss is KiB on Linux


def best_of(times: int, make: Callable[[], Run], before: Callable[[], None] | None = None) -> Run:
    """Fastest of `times` runs (neighbours on a shared machine are noisy); the highest peak RSS."""
    runs = []
    for _ in range(max(1, times)):
        if before is not None:
            before()
        runs.append(make())
    fastest = min(runs, key=lambda r: r.seconds)
    return Run(fastest.seconds, max(r.peak_rss_mb for r in runs), fastest.stdout)


def b2release_env(**extra: str) -> dict[str, str]:
    """This checkout's b2release, whatever is installed in the venv, with bytecode cached as
    for an installed package (PYTHONDONTWRITEBYTECODE would compile every module every run)."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": path, "SOURCE_DATE_EPOCH": "1700000000", **extra}


def b2release(*args: str) -> list[str]:
    """The `b2release` console script beside this Python (what a user runs), else `python -m b2release`."""
    script = Path(sys.executable).with_name("b2release")
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "b2release", *args]
