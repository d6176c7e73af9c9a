"""`release --dry-run`: the plan of what this release would change outside the work dir.

The stages up to package only write the work dir, and a dry run does not write even that
(state.json included), so it cannot run them; and it cannot plan what a build that has not
run would produce. So a release dry run plans the stages that change the outside world
(upload, then purge) from the package this work dir already holds, and checks that every
earlier stage it selects is up to date (stages/uptodate.py): that is the package a real
`release` would upload. When one of them would run (a changed source file, another version,
`--force`), it refuses (exit 2) and says which and why: run `release --to package`, then
plan. Nothing is run, sent or recorded (docs/dry-run.md).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from b2release.artifacts import PackageRecord
from b2release.context import Context
from b2release.errors import B2ReleaseError, UsageError
from b2release.plan import Plan
from b2release.stages import StageResult, load, planned, uptodate

RunCommand = Callable[..., StageResult]  # runner.run_command (passed in: the runner imports this module)


def plan(ctx: Context, version: str, selected: list[str], prepared: dict[str, Any], *, force: bool,
         run: RunCommand) -> StageResult:
    to_package = ctx.follow_up("release", "--version", version, "--to", "package")
    stages: list[dict[str, Any]] = []
    for name in selected:
        module = load(name)
        if not uptodate.takes_part(module):
            continue
        if force:
            raise UsageError(f"release --dry-run --force: --force would run {name} and every stage after it, which "
                             f"a dry run cannot do (it plans upload and purge from this work dir); run "
                             f"`{to_package} --force` first, then plan with `release --dry-run --from upload`")
        verdict, _ = uptodate.check(ctx, name, module, prepared.get(name))
        if not verdict.fresh:
            raise UsageError(f"release --dry-run plans upload and purge from the package this work dir holds, but "
                             f"the {name} stage would run ({verdict.reason}); run `{to_package}` first, then plan "
                             "again")
        stages.append({"stage": name, "status": "up-to-date", "reason": verdict.reason})
    whole = Plan("release")
    queued: list[dict[str, str]] = []
    for name in selected:
        module = load(name)
        if uptodate.takes_part(module):
            continue
        if name == "upload":
            packaged = PackageRecord.read(ctx.state)
            if packaged is not None and packaged.version != version:
                raise UsageError(f"release --dry-run --version {version}: this work dir holds the package of "
                                 f"{packaged.version}; run `{to_package}` first")
        values: dict[str, Any] = {"dry_run": True}
        if name == "purge":
            values["queued"] = queued  # what upload would queue: the real release's purge sees it
        options = prepared.get(name) or module.Options()
        try:
            result = run(ctx, name, dataclasses.replace(options, **values))
        except B2ReleaseError as exc:
            exc.message = f"release --dry-run stopped at stage {name}: {exc.message}"
            exc.args = (exc.message,)
            raise
        if result.plan is not None:
            whole.extend(result.plan)
        if name == "upload":
            queued = list(result.data.get("purge_queue", []))
        stages.append({"stage": name, "status": "planned", "summary": result.summary})
    whole.notes = [f"{s['stage']}: up to date" for s in stages if s["status"] == "up-to-date"] + whole.notes
    return planned(whole, version=version, stages=stages)
