"""audit downloads | show | verify: who downloaded what, and what changed in the store.

- `downloads` (downloads.py): downloads per tenant and version, bytes, error rate, 403s,
  requests made with expired or revoked grants, and first/last use of each grant, from
  StorageRead resource logs or classic `$logs` files (local, or read from the store); a
  table, `--json`, JSON lines for log shippers, and thresholds that exit 1 for alerting.
- `show` / `verify` (changes.py): the release audit log of store changes
  (`audit/<yyyy>/<mm>.jsonl`), listed, or checked as a signed hash chain.

Read-only: no state.json is written, so it runs anywhere (a scheduled CI job, an
auditor's laptop). docs/monitoring.md shows how to switch the logs on and run it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from b2release.context import Context
from b2release.errors import UsageError
from b2release.stages import StageResult

NAME = "audit"
RECORDED = False
ACTIONS = ("downloads", "show", "verify")


@dataclass
class Options:
    action: str = "downloads"
    # downloads
    paths: list[Path] = field(default_factory=list)  # local log files or folders; none: the store's log containers
    log_type: str = "auto"  # auto | resource | classic
    since: str | None = None  # 1d, 12h, an ISO time; from a store the default is 1d
    store: str | None = None  # the release store: live grants (default [store] url)
    logs_store: str | None = None  # where the log containers are (default [audit] logs_store, else the store)
    live_grants: list[str] = field(default_factory=list)  # live stored access policy ids, instead of asking the store
    fail_on_error_rate: str | None = None  # 5% or 0.05
    fail_on_unauthorized: str | None = None  # a count: 1 fails on any 403
    export: str | None = None  # JSON lines to this file, or "-" for stdout
    # show / verify (paths: local month files or folders; none: the store's release container)
    limit: int | None = None  # show: only the last N changes
    tenant: str | None = None  # show: only changes that name this tenant
    public_key: Path | None = None  # verify: default [release] public_key
    expect_head: str | None = None  # verify: the head a previous verify printed


def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    if opts.action == "downloads":
        from b2release.stages.audit import downloads

        return downloads.run(ctx, opts)
    if opts.action in ("show", "verify"):
        from b2release.stages.audit import changes

        return changes.show(ctx, opts) if opts.action == "show" else changes.verify(ctx, opts)
    raise UsageError(f"unknown audit action {opts.action!r} (actions: {', '.join(ACTIONS)})")
