"""git, read-only: commit id, dirty flag and commit time of a source tree (None without git)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(args: list[str], cwd: Path, timeout: float = 30) -> str | None:
    """stdout of `git -C cwd ARGS`, or None when git is missing, fails or is not in a repo."""
    try:
        out = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, timeout=timeout,
                             check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def commit_time(path: Path | None) -> int | None:
    """The last commit's time (seconds since the epoch) of the tree at `path`."""
    if path is None:
        return None
    text = (git(["log", "-1", "--format=%ct"], path, timeout=10) or "").strip()
    return int(text) if text.isdigit() else None
