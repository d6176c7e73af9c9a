"""Pipeline stages, one module each, in the order DESIGN.md gives.

Every stage module exposes `NAME`, an `Options` dataclass (defaults come from config),
and `run(ctx, options=None) -> StageResult`. A stage may raise `Skip(reason)`; the
runner records the skip as a warning, not a failure. `release` runs PIPELINE in order.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable

from b2release import log
from b2release.context import Context
from b2release.errors import B2ReleaseError, UsageError
from b2release.redact import redact
from b2release.state import StageRecord

# The DESIGN order. A stage appears here once its module exists.
DESIGN_ORDER = ["build", "scan", "sign", "package", "upload", "purge"]
PIPELINE: list[str] = [
    name for name in DESIGN_ORDER if importlib.util.find_spec(f"b2release.stages.{name}") is not None
]


class Skip(Exception):
    """Raised by a stage that has nothing to do; the reason is shown as a warning."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class StageResult:
    stage: str
    status: str = "ok"  # ok | skipped
    reason: str = ""
    summary: str = ""  # one human line
    data: dict[str, Any] = field(default_factory=dict)  # the --json document's body
    state_data: dict[str, Any] = field(default_factory=dict)  # persisted in state.json for later stages

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"stage": self.stage, "status": self.status}
        if self.reason:
            doc["reason"] = self.reason
        doc.update(self.data)
        return doc


def load(name: str) -> ModuleType:
    if name not in DESIGN_ORDER:
        raise UsageError(f"unknown stage {name!r} (stages: {', '.join(DESIGN_ORDER)})")
    if name not in PIPELINE:
        raise UsageError(f"stage {name!r} is not available in this version of b2release")
    return importlib.import_module(f"b2release.stages.{name}")


def execute(ctx: Context, name: str, fn: Callable[[], StageResult]) -> StageResult:
    """Run one stage body; record ok / skipped / failed in state.json.

    A failed run is recorded too, so that later stages do not pick up the outputs of an
    earlier successful run as if they were current (see State.consume).
    """
    started = time.monotonic()
    record = StageRecord(stage=name, status="ok", correlation_id=ctx.correlation_id)
    try:
        result = fn()
    except Skip as skip:
        log.get(name).warning("%s skipped: %s", name, skip.reason)
        result = StageResult(stage=name, status="skipped", reason=skip.reason)
    except B2ReleaseError as exc:
        record.status = "failed"
        # state.json travels between CI jobs: a secret echoed in an error must not land there.
        record.reason = redact(exc.message)
        record.duration_s = round(time.monotonic() - started, 3)
        ctx.state.record_run(record)
        ctx.state.save()
        raise
    record.status = result.status
    record.reason = result.reason
    record.data = result.state_data
    record.duration_s = round(time.monotonic() - started, 3)
    ctx.state.record_run(record)
    ctx.state.save()
    return result


def run_stage(ctx: Context, name: str, options: Any = None) -> StageResult:
    module = load(name)
    return execute(ctx, name, lambda: module.run(ctx, options))


def select(from_stage: str | None, to_stage: str | None, skip: list[str]) -> list[str]:
    """The stages `release` runs, honouring --from/--to/--skip, in DESIGN order."""
    for name in [from_stage, to_stage, *skip]:
        if name is not None and name not in DESIGN_ORDER:
            raise UsageError(f"unknown stage {name!r} (stages: {', '.join(DESIGN_ORDER)})")
    order = list(PIPELINE)
    for bound in (from_stage, to_stage):
        if bound is not None and bound not in order:
            raise UsageError(f"stage {bound!r} is not available in this version of b2release")
    start = order.index(from_stage) if from_stage else 0
    end = order.index(to_stage) + 1 if to_stage else len(order)
    if start >= end:
        raise UsageError(f"--from {from_stage} comes after --to {to_stage}")
    return [name for name in order[start:end] if name not in skip]
