"""`<work dir>/release-notes.md`: the API changes and the commits since the previous release.

Ready to paste into a GitHub or Azure DevOps release: a title, the API changes grouped by
kind with the semver verdict (`apicompat.render_markdown`), the reason when breaking
changes were allowed without a major version, then the commits since the previous
release's commit (`git log --oneline PREV..HEAD` in the build's source tree). The commits
are listed only when both commits are known and git can see them; otherwise the section
says why not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from b2release import vcs

if TYPE_CHECKING:
    from b2release.apicompat import ApiSurface, CompatReport

MAX_COMMITS = 500
# Commit ids come from the previous (signed) manifest: only a hex id may reach git's argv.
_COMMIT = re.compile(r"[0-9a-f]{7,64}")


@dataclass
class Commits:
    lines: list[str] | None  # `<short id> <subject>` lines, newest first; None when not available
    why: str = ""  # why not, when lines is None


def commits_between(source_dir: str, previous: str, current: str) -> Commits:
    """The commits after `previous` up to `current` in the git tree at `source_dir`."""
    if not previous:
        return Commits(None, "the previous release does not name its commit")
    if not current:
        return Commits(None, "this build does not know its commit (not built from a git checkout)")
    if not _COMMIT.fullmatch(previous) or not _COMMIT.fullmatch(current):
        return Commits(None, "a commit id is not a git hash")
    root = Path(source_dir) if source_dir else None
    if root is None or not root.is_dir():
        return Commits(None, "the build's source tree is not here")
    if vcs.git(["cat-file", "-e", f"{previous}^{{commit}}"], root, timeout=10) is None:
        return Commits(None, f"commit {previous[:12]} is not in this repository (a shallow clone?)")
    out = vcs.git(["log", "--oneline", "--no-decorate", "--no-color", f"--max-count={MAX_COMMITS}",
                   f"{previous}..{current}"], root)
    if out is None:
        return Commits(None, "git log failed")
    return Commits([line for line in out.splitlines() if line.strip()])


def render(title: str, version: str, report: CompatReport | None, previous_version: str,
           surfaces: dict[str, ApiSurface], commits: Commits, *, allowed_reason: str = "",
           baseline_why: str = "") -> str:
    from b2release.apicompat import render_markdown

    out = [f"# {title} {version}\n"]
    if report is None:
        types = sum(len(s.types) for s in surfaces.values())
        members = sum(len(s.members) for s in surfaces.values())
        out.append("## Public API\n")
        out.append(f"API baseline recorded: {_count(len(surfaces), 'assembly', 'assemblies')}, "
                   f"{_count(types, 'type', 'types')}, {_count(members, 'member', 'members')} "
                   f"({baseline_why or 'no previous release'}).\n")
    else:
        verdict = None
        if allowed_reason:
            verdict = (f"Released without the required {report.required_bump} version bump (`--allow-breaking`): "
                       f"{allowed_reason}. The check said: {report.message}.")
        out.append(render_markdown(report, verdict=verdict).rstrip("\n") + "\n")
    if previous_version:
        out.append(f"## Commits since {previous_version}\n")
        if commits.lines is None:
            out.append(f"Not available: {commits.why}.\n")
        elif not commits.lines:
            out.append("No commits.\n")
        else:
            out.append("\n".join(f"- {line}" for line in commits.lines) + "\n")
            if len(commits.lines) >= MAX_COMMITS:
                out.append(f"(the first {MAX_COMMITS} shown)\n")
    return "\n".join(out)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
