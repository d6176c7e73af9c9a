"""git, read-only: commit id, dirty flag and commit time of a source tree (None without git)."""

from __future__ import annotations

from pathlib import Path

from b2release import process


def git(args: list[str], cwd: Path, timeout: float = 30) -> str | None:
    """stdout of `git -C cwd ARGS`, or None when git is missing, fails or is not in a repo."""
    return process.query(["git", "-C", str(cwd), *args], timeout=timeout)


def commit_time(path: Path | None) -> int | None:
    """The last commit's time (seconds since the epoch) of the tree at `path`."""
    if path is None:
        return None
    text = (git(["log", "-1", "--format=%ct"], path, timeout=10) or "").strip()
    return int(text) if text.isdigit() else None
