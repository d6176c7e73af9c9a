"""`<work dir>/state.json`: what ran, and the artifacts it produced, with their digests.

State lives on disk so that each stage can run in a fresh process or on another machine
(CI passes the work dir along as an artifact). Artifact paths inside the work dir are
stored relative to it, so the folder can move. Before a stage consumes an artifact it
re-hashes it: a file that changed since it was recorded is refused, naming the file.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from b2release.artifacts import Kind
from b2release.errors import InputError, StaleInputError
from b2release.fsutil import atomic_write_bytes, sha256_file

STATE_FILE = "state.json"
STATE_FORMAT = "b2release-state/1"


@dataclass
class Artifact:
    kind: str  # a b2release.artifacts.Kind value
    path: str  # relative to the work dir when inside it, else absolute
    size: int
    sha256: str
    stage: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageRecord:
    stage: str
    status: str  # "ok" | "skipped" | "failed"
    reason: str = ""
    correlation_id: str = ""
    finished_at: float = 0.0
    duration_s: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Reads:
    """What one stage run read from the state: the artifacts it consumed (path -> recorded
    sha256) and the stages whose records it read. The runner watches a run with it, for the
    stage's fingerprint (stages/uptodate.py)."""

    consumed: dict[str, str] = field(default_factory=dict)
    producers: dict[str, str] = field(default_factory=dict)  # path -> the stage that recorded it
    records: set[str] = field(default_factory=set)


class State:
    def __init__(self, work_dir: Path):
        self.work_dir = work_dir
        self.path = work_dir / STATE_FILE
        self.runs: dict[str, StageRecord] = {}
        self.artifacts: list[Artifact] = []
        self.pending_purge: list[dict[str, str]] = []
        # stage -> what its last recorded run read, was given and made (stages/uptodate.py);
        # a top-level key older b2release versions ignore, so the format stays b2release-state/1.
        self.fingerprints: dict[str, dict[str, Any]] = {}
        self.reads: Reads | None = None  # set by the runner while a stage runs; never saved
        self._load()

    # --- persistence -------------------------------------------------------------------
    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            if doc.get("format") != STATE_FORMAT:
                raise ValueError(f"unexpected format {doc.get('format')!r}")
            self.runs = {name: StageRecord(**rec) for name, rec in doc.get("runs", {}).items()}
            self.artifacts = [Artifact(**a) for a in doc.get("artifacts", [])]
            self.pending_purge = list(doc.get("pending_purge", []))
            self.fingerprints = dict(doc.get("fingerprints", {}))
        except (ValueError, TypeError, KeyError) as exc:
            raise InputError(f"{self.path} is not a valid b2release state file: {exc}") from exc

    def save(self) -> None:
        """Only the runner (b2release.stages.runner) calls this, once per recorded run."""
        doc = {
            "format": STATE_FORMAT,
            "runs": {name: asdict(rec) for name, rec in sorted(self.runs.items())},
            "artifacts": [asdict(a) for a in self.artifacts],
            "pending_purge": self.pending_purge,
        }
        if self.fingerprints:
            doc["fingerprints"] = dict(sorted(self.fingerprints.items()))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8"))

    # --- paths -------------------------------------------------------------------------
    def rel(self, path: Path) -> str:
        path = Path(path).resolve()
        try:
            return path.relative_to(self.work_dir.resolve()).as_posix()
        except ValueError:
            return str(path)

    def abs(self, stored: str) -> Path:
        p = Path(stored)
        return p if p.is_absolute() else self.work_dir / p

    # --- artifacts ---------------------------------------------------------------------
    def record_artifact(self, kind: Kind, path: Path, stage: str, extra: dict[str, Any] | None = None) -> Artifact:
        """Hash `path` and record it; replaces an earlier record of the same path."""
        digest, size = sha256_file(path)
        art = Artifact(kind=Kind(kind).value, path=self.rel(path), size=size, sha256=digest, stage=stage, extra=extra or {})
        self.artifacts = [a for a in self.artifacts if a.path != art.path]
        self.artifacts.append(art)
        return art

    def forget_artifacts(self, kinds: Iterable[Kind] | None = None, stage: str | None = None) -> None:
        kinds = {Kind(k).value for k in kinds} if kinds is not None else None
        self.artifacts = [
            a
            for a in self.artifacts
            if not ((kinds is None or a.kind in kinds) and (stage is None or a.stage == stage))
        ]

    def find(self, kind: Kind) -> list[Artifact]:
        return sorted((a for a in self.artifacts if a.kind == kind), key=lambda a: a.path)

    def consume(self, kind: Kind, rehash: bool = True, consumer: str | None = None) -> list[Artifact]:
        """Artifacts of a kind, each re-hashed: refuse any that changed since recorded.

        `rehash=False` only checks that each file is there: for a caller that reads every
        byte anyway and then compares with `check_digest`, so large files are read once.
        `consumer`: the stage asking. Outputs of a failed run are stale, except to the very
        stage that failed when it rewrites its outputs all-or-nothing (sign): its failed
        run left the files as recorded, and running it again is how the user recovers.
        """
        arts = self.find(kind)
        if self.reads is not None:
            self.reads.consumed.update((art.path, art.sha256) for art in arts)
            self.reads.producers.update((art.path, art.stage) for art in arts)
        for art in arts:
            run = self.runs.get(art.stage)
            if run is not None and run.status == "failed" and art.stage != consumer:
                raise StaleInputError(
                    f"{art.path} comes from the last {art.stage} run, which failed ({run.reason}); re-run {art.stage}"
                )
            if rehash:
                check_unchanged(self.abs(art.path), art.sha256, art.size, recorded_by=art.stage)
            else:
                check_present(self.abs(art.path), recorded_by=art.stage)
        return arts

    # --- the CDN purge queue -------------------------------------------------------------
    def queue_purge(self, written: Iterable[tuple[str, str]]) -> None:
        """Queue (container, path) of mutable blobs for the purge stage, deduplicated."""
        queued = {(p.get("container"), p.get("path")) for p in self.pending_purge}
        for container, path in written:
            if (container, path) not in queued:
                self.pending_purge.append({"container": container, "path": path})
                queued.add((container, path))

    # --- runs --------------------------------------------------------------------------
    def record_run(self, record: StageRecord) -> None:
        record.finished_at = record.finished_at or time.time()
        self.runs[record.stage] = record

    def data(self, stage: str) -> dict[str, Any]:
        if self.reads is not None:
            self.reads.records.add(stage)
        rec = self.runs.get(stage)
        return rec.data if rec and rec.status == "ok" else {}


def check_present(path: Path, recorded_by: str = "") -> None:
    if not path.is_file():
        who = f" by the {recorded_by} stage" if recorded_by else ""
        raise StaleInputError(f"{path} was recorded{who} but is missing; re-run {recorded_by or 'the stage'}")


def check_digest(path: Path, sha256: str, size: int | None, digest: str, actual_size: int,
                 recorded_by: str = "") -> None:
    """Refuse a file whose digest (computed by the caller) differs from the recorded one."""
    if digest != sha256 or (size is not None and size != actual_size):
        who = f" by the {recorded_by} stage" if recorded_by else ""
        raise StaleInputError(
            f"{path} changed on disk since it was recorded{who} (sha256 {digest[:12]}..., "
            f"recorded {sha256[:12]}...); re-run {recorded_by or 'the stage'} or restore the file"
        )


def check_unchanged(path: Path, sha256: str, size: int | None = None, recorded_by: str = "") -> None:
    check_present(path, recorded_by)
    digest, actual_size = sha256_file(path)
    check_digest(path, sha256, size, digest, actual_size, recorded_by)
