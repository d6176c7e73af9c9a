"""Commands that move channel pointers of what is already published: rollback, promote, refresh."""

from __future__ import annotations

from typing import Optional

import typer

from b2release.cli import completion, options
from b2release.cli.app import app, invoke


@app.command()
def rollback(
    typer_ctx: typer.Context,
    channel: options.Channel = None,
    to: Optional[str] = typer.Option(None, "--to", help="The older version X.Y.Z to serve (already in the store)."),
    tenant: options.Tenants = None,
    reason: Optional[str] = typer.Option(None, "--reason", help="Why (required; signed into the pointer)."),
    no_purge: options.NoPurge = False,
    store: options.Store = None,
    signing_key: options.SigningKey = None,
) -> None:
    """Point a channel back at an older, complete, verified version (sequence + 1, signed)."""
    invoke(typer_ctx, "rollback", channel=channel, to=to, tenants=tenant or None, reason=reason, purge=not no_purge,
           store=store, signing_key=signing_key)


@app.command()
def promote(
    typer_ctx: typer.Context,
    from_channel: Optional[str] = typer.Option(None, "--from", help="Channel whose release moves (e.g. canary).",
                                               autocompletion=completion.channels),
    to_channel: Optional[str] = typer.Option(None, "--to", help="Channel that gets it (e.g. stable).",
                                             autocompletion=completion.channels),
    tenant: Optional[list[str]] = typer.Option(
        None, "--tenant", help="Tenant id (repeatable; a pilot ring; default: [store] tenants).",
        autocompletion=completion.tenants),
    no_purge: options.NoPurge = False,
    store: options.Store = None,
    signing_key: options.SigningKey = None,
) -> None:
    """Give channel --to the release channel --from serves, without re-uploading (gradual rollout)."""
    invoke(typer_ctx, "promote", source=from_channel, destination=to_channel, tenants=tenant or None,
           purge=not no_purge, store=store, signing_key=signing_key)


@app.command()
def refresh(
    typer_ctx: typer.Context,
    channel: options.Channel = None,
    tenant: options.Tenants = None,
    within: Optional[str] = typer.Option(
        None, "--within", help="Re-sign pointers expiring within this time, e.g. 3d (default: half of pointer_ttl)."
    ),
    no_purge: options.NoPurge = False,
    store: options.Store = None,
    signing_key: options.SigningKey = None,
    dry_run: options.DryRun = False,
) -> None:
    """Re-sign channel pointers before they expire (same version, sequence + 1); for a scheduled job."""
    invoke(typer_ctx, "refresh", channel=channel, tenants=tenant or None, within=within, purge=not no_purge,
           store=store, signing_key=signing_key, dry_run=dry_run)
