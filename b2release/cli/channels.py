"""Commands on the channel pointers of what is already published: rollback, promote, refresh, status."""

from typing import Annotated, Optional

import typer

from b2release.cli import completion, options
from b2release.cli.app import app, invoke

# Flags only promote and rollback take (another module may grow shared ones in options.py).
Ring = Annotated[Optional[str], typer.Option(
    "--ring", help="Only the tenants of this ring of [rollout] rings (instead of --tenant).",
    autocompletion=completion.rings)]
ReleaseContainer = Annotated[bool, typer.Option(
    "--release-container", help="With --tenant or a named ring: move the release container's pointer too "
    "(it moves by itself only for everyone).")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Check everything and print the plan; change nothing.")]


@app.command()
def rollback(
    typer_ctx: typer.Context,
    channel: options.Channel = None,
    to: Optional[str] = typer.Option(None, "--to", help="The older version X.Y.Z to serve (already in the store)."),
    tenant: options.Tenants = None,
    reason: Optional[str] = typer.Option(None, "--reason", help="Why (required; signed into the pointer)."),
    ring: Ring = None,
    release_container: ReleaseContainer = False,
    no_purge: options.NoPurge = False,
    store: options.Store = None,
    signing_key: options.SigningKey = None,
    dry_run: DryRun = False,
) -> None:
    """Point a channel back at an older, complete, verified version (sequence + 1, signed)."""
    invoke(typer_ctx, "rollback", channel=channel, to=to, tenants=tenant or None, reason=reason, purge=not no_purge,
           store=store, signing_key=signing_key, ring=ring, release_container=release_container, dry_run=dry_run)


@app.command()
def promote(
    typer_ctx: typer.Context,
    from_channel: Optional[str] = typer.Option(
        None, "--from", help="Channel whose release moves (e.g. canary; default: [promote] from).",
        autocompletion=completion.channels),
    to_channel: Optional[str] = typer.Option(
        None, "--to", help="Channel that gets it (e.g. stable; default: [promote] to).",
        autocompletion=completion.channels),
    tenant: Optional[list[str]] = typer.Option(
        None, "--tenant", help="Tenant id (repeatable; a pilot ring; default: [store] tenants).",
        autocompletion=completion.tenants),
    ring: Ring = None,
    release_container: ReleaseContainer = False,
    force: bool = typer.Option(False, "--force", help="Promote past a failed staging gate (needs --reason)."),
    reason: Optional[str] = typer.Option(
        None, "--reason", help="With --force: why (signed into the pointer, written on the audit line)."),
    no_purge: options.NoPurge = False,
    store: options.Store = None,
    signing_key: options.SigningKey = None,
    dry_run: DryRun = False,
) -> None:
    """Give channel --to the release channel --from serves, without re-uploading (gradual rollout)."""
    invoke(typer_ctx, "promote", source=from_channel, destination=to_channel, tenants=tenant or None,
           purge=not no_purge, store=store, signing_key=signing_key, ring=ring, release_container=release_container,
           force=force, reason=reason, dry_run=dry_run)


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


@app.command()
def status(
    typer_ctx: typer.Context,
    channel: Optional[list[str]] = typer.Option(
        None, "--channel", help="Channel (repeatable; default: every channel found).",
        autocompletion=completion.channels),
    tenant: options.Tenants = None,
    ring: Optional[str] = typer.Option(None, "--ring", help="Only the tenants of this ring.",
                                       autocompletion=completion.rings),
    store: options.Store = None,
    public_key: options.PublicKey = None,
) -> None:
    """Each tenant's channels as the store has them: version, sequence, expiry, ring (signatures checked)."""
    invoke(typer_ctx, "status", channels=channel or None, tenants=tenant or None, ring=ring, store=store,
           public_key=public_key)
