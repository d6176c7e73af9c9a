"""Whether `release` may leave a stage out: its inputs, options and outputs are unchanged.

Re-running `release` after a failure starts where it failed: a stage whose recorded
fingerprint still holds reports `up-to-date` and is not run; the first stage whose
fingerprint does not hold runs, and so does every stage after it (its inputs are that
stage's outputs); `release --force` runs them all (docs/resumable-releases.md).

A stage takes part by declaring `FINGERPRINT_CONFIG`, the config sections (or dotted keys)
whose values decide its outputs, and optionally `fingerprint(ctx, options) -> dict`, the
other inputs it reads (build: the source tree). upload and purge declare nothing and always
run: the store and the CDN are their state, and they already do only what is missing.

A fingerprint (state.json `fingerprints.<stage>`, written by the runner for every recorded
run of the stage, alone or in a release) holds:
- `inputs`: digests of b2release's version, the release version asked for, the stage's
  Options, the declared config values (files they name by content), SOURCE_DATE_EPOCH, and
  what `fingerprint()` adds;
- `consumed`: each artifact the stage consumed (State.consume), path -> sha256 (for a file it
  had rewritten itself in an earlier run: the digest it first started from);
- `records`: the records of earlier pipeline stages it read, stage -> digest;
- `outputs`: each artifact it recorded, path -> sha256.

It holds when the last run was ok or skipped, the inputs are equal, every consumed file
still has its digest, every record read is the same, and every output is there with its
digest, or with the digest a later pipeline stage recorded when it rewrote the file in
place (sign rewrites build's binaries). A failed run leaves only what the stage consumed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from b2release import __version__
from b2release.config import SCHEMA, Config
from b2release.context import Context
from b2release.errors import B2ReleaseError
from b2release.fsutil import path_digest, sha256_file
from b2release.stages import PIPELINE
from b2release.state import Reads, State

ENV = ("SOURCE_DATE_EPOCH",)  # environment that changes outputs (package dates zip entries by it)
# The words of a reason, for the input that changed.
WHAT = {"b2release": "the b2release version", "version": "the release version", "options": "its options",
        "config": "its configuration", "env": "SOURCE_DATE_EPOCH", "source": "the source tree",
        "against": "the release compat compares with", "ignore_file": "the ignore file",
        "commit": "the git commit"}


@dataclass(frozen=True)
class Verdict:
    fresh: bool
    reason: str  # why it is up to date, or what changed


def takes_part(module: ModuleType) -> bool:
    return getattr(module, "FINGERPRINT_CONFIG", None) is not None


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _options_doc(options: Any) -> Any:
    """The options as given, each file or folder they name by content too."""
    doc = dataclasses.asdict(options)
    for name, value in list(doc.items()):
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, Path) for v in values):
            doc[name] = [(str(v), path_digest(v)) if isinstance(v, Path) else v for v in values]
    return doc


def _config_doc(config: Config, declared: tuple[str, ...]) -> dict[str, Any]:
    keys = [k for entry in declared for k in ([f"{entry}.{key}" for key in SCHEMA[entry]] if "." not in entry
                                               else [entry])]
    doc: dict[str, Any] = {}
    for dotted in keys:
        section, _, key = dotted.partition(".")
        doc[dotted] = config.get(dotted)
        if SCHEMA[section][key].type == "path":
            doc[dotted] = (doc[dotted], path_digest(config.path(dotted)))
    return doc


def inputs(ctx: Context, module: ModuleType, options: Any) -> dict[str, str]:
    """The digests of what the stage is given (before it runs: what it reads during the run
    is watched separately). May raise a B2ReleaseError (an input that cannot be read)."""
    options = options if options is not None else module.Options()
    parts = {"b2release": __version__, "version": ctx.requested_version or "",
             "options": _digest(_options_doc(options)),
             "config": _digest(_config_doc(ctx.config, tuple(module.FINGERPRINT_CONFIG))),
             "env": _digest({name: os.environ.get(name) for name in ENV})}
    extra = getattr(module, "fingerprint", None)
    if extra is not None:
        parts.update({key: str(value) for key, value in extra(ctx, options).items()})
    return parts


def _record_digest(state: State, stage: str) -> str:
    run = state.runs.get(stage)
    return _digest([run.status, run.data]) if run is not None else "none"


def _earlier(name: str) -> list[str]:
    return PIPELINE[:PIPELINE.index(name)] if name in PIPELINE else []


def remember(state: State, name: str, given: dict[str, str], reads: Reads) -> None:
    """Record the fingerprint of a run of `name` that just ended well (the runner saves it)."""
    earlier = _earlier(name)
    # A file the stage consumed that it had itself rewritten in an earlier run (sign re-signing
    # what it signed before) keeps the digest it first started from: what the producing stage
    # made, which is what `_rewritten_later` compares with.
    before = state.fingerprints.get(name, {}).get("consumed", {})
    consumed = {path: before.get(path, digest) if reads.producers.get(path) == name else digest
                for path, digest in reads.consumed.items()}
    state.fingerprints[name] = {
        "inputs": given,
        "consumed": dict(sorted(consumed.items())),
        "records": {stage: _record_digest(state, stage) for stage in sorted(reads.records) if stage in earlier},
        "outputs": {a.path: a.sha256 for a in state.artifacts if a.stage == name},
    }


def forget(state: State, name: str) -> None:
    """After a failed run (or one whose inputs could not be read): the stage must run again.
    Only what it consumed stays known, so that a file it rewrote before (sign) still traces
    back to the stage that made it, and a re-run of the failed stage alone is enough."""
    consumed = state.fingerprints.get(name, {}).get("consumed")
    if consumed:
        state.fingerprints[name] = {"consumed": consumed}
    else:
        state.fingerprints.pop(name, None)


def _file_digest(state: State, path: str) -> str | None:
    full = state.abs(path)
    return sha256_file(full)[0] if full.is_file() else None


def _rewritten_later(state: State, name: str, path: str, seen: str, actual: str | None) -> bool:
    """A file this stage saw with digest `seen` was rewritten in place by a later pipeline stage
    (sign signs build's binaries): the state records it from that stage, it has those bytes, and
    that stage's own fingerprint says it started from exactly `seen`."""
    current = next((a for a in state.artifacts if a.path == path), None)
    later = PIPELINE[PIPELINE.index(name) + 1:] if name in PIPELINE else []
    return bool(current is not None and current.stage in later and actual == current.sha256
                and state.fingerprints.get(current.stage, {}).get("consumed", {}).get(path) == seen)


def check(ctx: Context, name: str, module: ModuleType, options: Any) -> tuple[Verdict, dict[str, str] | None]:
    """Whether the stage's fingerprint holds now; with the inputs computed for it (None when
    they could not be read: the stage then runs and reports the problem itself)."""
    state = ctx.state
    run, recorded = state.runs.get(name), state.fingerprints.get(name)
    if run is None or recorded is None:
        return Verdict(False, "no fingerprint of an earlier run"), None
    if run.status not in ("ok", "skipped"):
        return Verdict(False, f"its last run {run.status}"), None
    try:
        given = inputs(ctx, module, options)
    except B2ReleaseError as exc:
        return Verdict(False, f"its inputs could not be read ({exc.message})"), None
    before = recorded.get("inputs", {})
    changed = [WHAT.get(key, key) for key in sorted(set(given) | set(before)) if given.get(key) != before.get(key)]
    if changed:
        return Verdict(False, f"{', '.join(changed)} changed"), given
    outputs = recorded.get("outputs", {})
    for path, digest in recorded.get("consumed", {}).items():
        if path in outputs:  # an input it rewrote in place (sign): checked as an output below
            continue
        actual = _file_digest(state, path)
        if actual != digest and not _rewritten_later(state, name, path, digest, actual):
            return Verdict(False, f"its input {path} changed"), given
    for stage, digest in recorded.get("records", {}).items():
        if _record_digest(state, stage) != digest:
            return Verdict(False, f"the {stage} stage ran again"), given
    recorded_now = {a.path for a in state.artifacts}
    for path, digest in outputs.items():
        actual = _file_digest(state, path)
        if actual is None:
            return Verdict(False, f"its output {path} is missing"), given
        if path not in recorded_now:
            return Verdict(False, f"its output {path} is no longer recorded"), given
        if actual != digest and not _rewritten_later(state, name, path, digest, actual):
            return Verdict(False, f"its output {path} changed"), given
    return Verdict(True, f"inputs, options and outputs unchanged since its run (correlation id "
                         f"{run.correlation_id})"), given
