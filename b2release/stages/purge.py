"""purge: ask the CDN to drop its cached copies of the channel pointers that just changed.

The URLs come from `state.pending_purge`, the {container, path} records that upload,
rollback and promote append when they write a pointer. Only mutable paths
(`<product>/channels/<channel>.json` and its `.sig`) are purged; anything else is ignored
with a warning, because versioned files are immutable and cached for a year on purpose.
The list is cleared only after every batch succeeded, so a failed purge is simply re-run
(purging is idempotent). `--dry-run` lists the URLs, sends nothing and keeps the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from b2release import cdn, log
from b2release.artifacts import PurgeRecord
from b2release.audit_trail import AuditTrail, tenant_of
from b2release.context import Context
from b2release.stages import Skip, StageResult
from b2release.stores import open_store

NAME = "purge"


@dataclass
class Options:
    dry_run: bool = False
    store: str | None = None  # where the audit line goes (the store whose pointers moved)
    signing_key: Path | None = None  # signs the audit line


def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    logger = log.get(NAME)
    provider_name = cdn.provider_name(ctx.config)
    if provider_name == "none":
        raise Skip("cdn.provider is none", expected=True)
    pending = list(ctx.state.pending_purge)
    if not pending:
        raise Skip("nothing to purge: no channel pointer changed since the last purge")

    targets = cdn.purge_targets(ctx.config.get("cdn.base_url"), pending)
    for entry in targets.ignored:
        logger.warning("not purging %s/%s: %s", entry.get("container", "?"), entry.get("path", "?"), entry["reason"])
    data: dict[str, Any] = {
        "provider": provider_name,
        "dry_run": opts.dry_run,
        "urls": targets.urls,
        "ignored": targets.ignored,
    }

    if opts.dry_run:
        if not ctx.json_output:
            for url in targets.urls:
                ctx.console.print(f"would purge {url}", markup=False, soft_wrap=True)
        return StageResult(
            stage=NAME,
            summary=f"dry run: would purge {len(targets.urls)} URLs through {provider_name}; nothing sent",
            data={**data, "requests": 0},
        )

    if not targets.urls:
        # Only refused entries were pending: drop them, they can never become purgeable.
        ctx.state.pending_purge = []  # saved by the runner with the skip
        raise Skip(f"nothing to purge: {len(targets.ignored)} pending entries are not channel pointers")

    provider = cdn.make_provider(ctx.config)
    key = ctx.signing_key(opts.signing_key)  # the audit line is signed: fail before purging
    logger.info("purging %d URLs through %s", len(targets.urls), provider.name)

    def progress(number: int, total: int, size: int) -> None:
        logger.info("purged batch %d of %d (%d URLs)", number, total, size)

    report = provider.purge(targets.urls, on_batch=progress)
    # Everything went through: the pointers are fresh at the edge now (the runner saves).
    ctx.state.pending_purge = []
    containers = sorted({str(entry.get("container", "")) for entry in pending})
    products = sorted({str(entry.get("path", "")).split("/", 1)[0] for entry in pending})
    with open_store(ctx.config, opts.store, ctx.correlation_id) as store:
        AuditTrail(ctx, store, key, NAME, products[0] if len(products) == 1 else None).record(
            "purge", tenants=[t for t in map(tenant_of, containers) if t])
    data.update(report.to_dict())
    return StageResult(
        stage=NAME,
        summary=(
            f"purged {len(report.urls)} URLs through {provider.name} in {report.batches} batches"
            + (f" ({report.retries} retries)" if report.retries else "")
        ),
        data=data,
        record=PurgeRecord(provider=provider.name, purged=len(report.urls), urls=report.urls),
    )
