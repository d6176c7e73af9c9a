"""The closing summary of `release`: what each stage took, what was made, where it went.

Read from what the run recorded (state.json's runs and artifacts, upload's result), so it
says what happened, not what was planned: stage durations, the release files with size
and sha256, and the package's URL for each tenant when upload ran.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from b2release.artifacts import RELEASE_KINDS

if TYPE_CHECKING:
    from b2release.context import Context
    from b2release.stages import StageResult


@dataclass(frozen=True)
class StageTime:
    stage: str
    status: str
    seconds: float | None


@dataclass(frozen=True)
class ReleaseFile:
    name: str
    kind: str
    size: int
    sha256: str


@dataclass
class ReleaseSummary:
    stages: list[StageTime] = field(default_factory=list)
    files: list[ReleaseFile] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)  # tenant (or the release container) -> package URL

    @property
    def seconds(self) -> float:
        return round(sum(s.seconds or 0 for s in self.stages), 3)

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "stages": [asdict(s) for s in self.stages],
                "files": [asdict(f) for f in self.files], "urls": dict(self.urls)}


def collect(ctx: Context, results: list[StageResult]) -> ReleaseSummary:
    state = ctx.state
    summary = ReleaseSummary()
    for result in results:
        run = state.runs.get(result.stage)
        summary.stages.append(StageTime(result.stage, result.status, run.duration_s if run is not None else None))
    if any(r.stage == "package" and r.status == "ok" for r in results):
        for kind in RELEASE_KINDS:
            for art in state.find(kind):
                summary.files.append(ReleaseFile(Path(art.path).name, str(kind), art.size, art.sha256))
    upload = next((r for r in results if r.stage == "upload" and r.status == "ok"), None)
    if upload is not None:
        summary.urls = dict(upload.data.get("package_urls") or {})
    return summary


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def render(console: Any, summary: ReleaseSummary) -> None:
    """The summary as tables on stderr (the console); every value escaped, never markup."""
    from rich.markup import escape
    from rich.table import Table

    stages = Table("stage", "status", "seconds", title=f"release: {summary.seconds:.1f} s", title_justify="left")
    for s in summary.stages:
        stages.add_row(s.stage, s.status, "" if s.seconds is None else f"{s.seconds:.1f}")
    console.print(stages)
    if summary.files:
        files = Table("file", "size", "sha256", title="release files", title_justify="left")
        for f in summary.files:
            files.add_row(escape(f.name), _size(f.size), f.sha256)
        console.print(files)
    for tenant, url in sorted(summary.urls.items()):
        console.print(f"{tenant}: {url}", markup=False, highlight=False)
