"""git, read-only: commit id, dirty flag and commit time of a source tree (None without git)."""

from __future__ import annotations

from pathlib import Path

from b2release import process
from b2release.errors import UsageError
from b2release.formats.names import validate_version


def git(args: list[str], cwd: Path, timeout: float = 30) -> str | None:
    """stdout of `git -C cwd ARGS`, or None when git is missing, fails or is not in a repo."""
    return process.query(["git", "-C", str(cwd), *args], timeout=timeout)


def commit_time(path: Path | None) -> int | None:
    """The last commit's time (seconds since the epoch) of the tree at `path`."""
    if path is None:
        return None
    text = (git(["log", "-1", "--format=%ct"], path, timeout=10) or "").strip()
    return int(text) if text.isdigit() else None


def version_from_tag(tree: Path) -> str:
    """The release version from the git tag on HEAD of the checkout holding `tree`.

    `v1.4.0` and `1.4.0` both give 1.4.0. Refused (UsageError, exit 2, with what to do):
    no git checkout, no version tag on HEAD, two version tags on HEAD, or tracked files
    changed since the commit (a release must be the tagged source, as GoReleaser insists).
    """
    folder = tree if tree.is_dir() else tree.parent
    head = (git(["rev-parse", "--verify", "-q", "HEAD"], folder, timeout=10) or "").strip()
    if not head:
        raise UsageError(f"--version-from-tag: {folder} is not in a git checkout with a commit; pass --version X.Y.Z")
    tags = (git(["tag", "--points-at", "HEAD"], folder, timeout=10) or "").split()
    versions = {}
    for tag in tags:
        candidate = tag[1:] if tag[:1] in ("v", "V") else tag
        try:
            versions[tag] = validate_version(candidate)
        except UsageError:
            continue  # not a version tag (a deployment marker, a date)
    if not versions:
        shown = f" (its tags: {', '.join(sorted(tags))})" if tags else ""
        raise UsageError(f"--version-from-tag: commit {head[:12]} has no version tag{shown}; "
                         "tag it (git tag v1.2.3) or pass --version X.Y.Z")
    if len(set(versions.values())) > 1:
        raise UsageError(f"--version-from-tag: commit {head[:12]} has several version tags "
                         f"({', '.join(sorted(versions))}); pass --version X.Y.Z")
    changed = git(["status", "--porcelain", "--untracked-files=no"], folder, timeout=30)
    if changed is None or changed.strip():
        raise UsageError(f"--version-from-tag: tracked files in {folder} changed since the tagged commit "
                         f"{head[:12]}; commit or stash them (a release is the tagged source)")
    return next(iter(versions.values()))
