"""Commands, one module each: the pipeline stages and the operations on what is published.

The contract (docs/architecture.md): every command module exposes `NAME`, an `Options`
dataclass (defaults come from config) and `run(ctx, options) -> StageResult`; it may set
`RECORDED = False` when it only reads (verify, doctor, keys), so it never writes the
work dir's state.json. A command may raise `Skip(reason)`: the runner records the skip,
which is not a failure. It never imports another command module and never saves
state.json: `b2release.stages.runner` does both (it runs commands, records them, chains
follow-ups such as rollback -> purge, and runs the pipeline for `release`).

This module stays light on purpose: the CLI imports it to list stage names, and loads a
command module only when that command runs, so `b2release --help` imports none of them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from b2release.artifacts import Record
from b2release.errors import UsageError

# The pipeline `release` runs, in this order (`--from`, `--to` and `--skip` select from it).
PIPELINE: list[str] = ["build", "test", "compat", "scan", "sign", "package", "upload", "purge"]
# Commands that are not pipeline stages: operations on a release or on what is published.
OPERATIONS: list[str] = ["verify", "rollback", "promote", "refresh", "grant", "revoke", "doctor", "keys", "config",
                         "init", "audit"]


class Skip(Exception):
    """Raised by a command that has nothing to do; the reason is shown as a warning, or as
    an info line when skipping is the expected outcome (`expected=True`: e.g. no CDN)."""

    def __init__(self, reason: str, *, expected: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.expected = expected


@dataclass
class StageResult:
    stage: str
    status: str = "ok"  # ok | skipped
    reason: str = ""
    summary: str = ""  # one human line
    data: dict[str, Any] = field(default_factory=dict)  # the --json document's body
    record: Record | None = None  # kept in state.json for later stages (b2release.artifacts)
    # Stages the runner runs next, as part of this command (rollback -> purge), and what
    # this command already did, for the message if one of them fails.
    then: list[str | tuple[str, dict[str, Any]]] = field(default_factory=list)  # name, or (name, option values)
    done: str = ""
    # The product of a command that is itself a secret the user asked for (grant's SAS
    # URLs): written to stdout as is (text: `secret_text`; --json: `secret_data` merged
    # into the document), never logged, never recorded in state.json.
    secret_text: str = ""
    secret_data: dict[str, Any] = field(default_factory=dict)
    # The product of a command that is a document, not a secret (config schema): written to
    # stdout (redacted) without --json, so it can be redirected to a file; `data` holds it for --json.
    output: str = ""

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"stage": self.stage, "status": self.status}
        if self.reason:
            doc["reason"] = self.reason
        doc.update(self.data)
        return doc

    def brief(self) -> dict[str, Any]:
        """What a chained stage contributes to the command that ran it."""
        doc: dict[str, Any] = {"status": self.status}
        if self.reason:
            doc["reason"] = self.reason
        for key in ("provider", "urls", "requests", "batches", "retries"):
            if key in self.data:
                doc[key] = self.data[key]
        return doc


def check_name(name: str) -> str:
    if name not in PIPELINE and name not in OPERATIONS:
        raise UsageError(f"unknown stage {name!r} (stages: {', '.join(PIPELINE)})")
    return name


def load(name: str) -> ModuleType:
    """The command module `b2release.stages.<name>`."""
    return importlib.import_module(f"{__name__}.{check_name(name)}")


def select(from_stage: str | None, to_stage: str | None, skip: list[str]) -> list[str]:
    """The stages `release` runs, honouring --from/--to/--skip, in pipeline order."""
    for name in [from_stage, to_stage, *skip]:
        if name is not None and name not in PIPELINE:
            raise UsageError(f"unknown stage {name!r} (stages: {', '.join(PIPELINE)})")
    start = PIPELINE.index(from_stage) if from_stage else 0
    end = PIPELINE.index(to_stage) + 1 if to_stage else len(PIPELINE)
    if start >= end:
        raise UsageError(f"--from {from_stage} comes after --to {to_stage}")
    return [name for name in PIPELINE[start:end] if name not in skip]
