"""audit downloads | show | verify: who downloaded what (Azure Storage's request logs), and the
release audit log of store changes (b2release.stages.audit)."""

from pathlib import Path
from typing import List, Optional

import typer

from b2release.cli import completion, options
from b2release.cli.app import app, invoke

audit_app = typer.Typer(help="Download audit from Azure Storage's request logs; the release audit log of store changes.",
                        no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("downloads")
def audit_downloads(
    typer_ctx: typer.Context,
    paths: Optional[List[Path]] = typer.Argument(
        None, help="Log files or folders (StorageRead JSON lines or $logs files, plain or gzip); none: read the store."),
    log_type: str = typer.Option("auto", "--format", help="Log format: auto, resource (StorageRead JSON) or classic ($logs)."),
    since: Optional[str] = typer.Option(
        None, "--since", help="Only requests since: 1d, 12h, 30m, or an ISO 8601 UTC time (from the store: default 1d)."),
    store: options.Store = None,
    logs_store: Optional[str] = typer.Option(
        None, "--logs-store", help="Store holding the log containers (default: [audit] logs_store, else --store)."),
    live_grants: Optional[List[str]] = typer.Option(
        None, "--live-grant", help="A live stored access policy id (repeatable); default: ask the store."),
    fail_on_error_rate: Optional[str] = typer.Option(
        None, "--fail-on-error-rate", help="Exit 1 when the error rate reaches this (5% or 0.05)."),
    fail_on_unauthorized: Optional[str] = typer.Option(
        None, "--fail-on-unauthorized", help="Exit 1 at this many 403 responses (1: any)."),
    export: Optional[str] = typer.Option(
        None, "--export", help="Write one JSON line per request to this file (- for stdout), for ELK/Logstash."),
) -> None:
    """Downloads per tenant and version, errors, 403s, expired/revoked grants, grant use; thresholds exit 1."""
    invoke(typer_ctx, "audit", action="downloads", paths=list(paths or []), log_type=log_type, since=since,
           store=store, logs_store=logs_store, live_grants=list(live_grants or []),
           fail_on_error_rate=fail_on_error_rate, fail_on_unauthorized=fail_on_unauthorized, export=export)


LogPaths = Optional[List[Path]]


@audit_app.command("show")
def audit_show(
    typer_ctx: typer.Context,
    paths: LogPaths = typer.Argument(None, help="Local copies of the month files (audit/<yyyy>/<mm>.jsonl); none: the store."),
    store: options.Store = None,
    since: Optional[str] = typer.Option(None, "--since", help="Only changes since: 7d, 12h, or an ISO 8601 UTC time."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Only the last N changes."),
    tenant: Optional[str] = typer.Option(None, "--tenant", help="Only changes that name this tenant.",
                                         autocompletion=completion.tenants),
) -> None:
    """List the changes made to the store (uploads, pointer moves, grants, revocations, purges)."""
    invoke(typer_ctx, "audit", action="show", paths=list(paths or []), store=store, since=since, limit=limit,
           tenant=tenant)


@audit_app.command("verify")
def audit_verify(
    typer_ctx: typer.Context,
    paths: LogPaths = typer.Argument(None, help="Local copies of the month files (audit/<yyyy>/<mm>.jsonl); none: the store."),
    store: options.Store = None,
    public_key: options.PublicKey = None,
    expect_head: Optional[str] = typer.Option(
        None, "--expect-head", help="The head an earlier verify printed: also catches lines cut from the end."),
) -> None:
    """Check the release audit log: signatures, hash chain, order and month seals (exit 1 names the line)."""
    invoke(typer_ctx, "audit", action="verify", paths=list(paths or []), store=store, public_key=public_key,
           expect_head=expect_head)
