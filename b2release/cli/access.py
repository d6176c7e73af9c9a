"""Tenant access to what is published: grant and revoke download URLs."""

from typing import Optional

import typer

from b2release.cli import options
from b2release.cli.app import app, invoke


@app.command()
def grant(
    typer_ctx: typer.Context,
    tenant: options.Tenant,
    expires: Optional[str] = typer.Option(None, "--expires", help="Lifetime, e.g. 24h (max: [store] max_grant_expiry)."),
    version: Optional[str] = typer.Option(None, "--version", help="Version to link (default: the channel's)."),
    store: options.Store = None,
    signing_key: options.SigningKey = None,
    dry_run: options.DryRun = False,
) -> None:
    """Print a read-only, https-only, expiring download URL for one tenant's container."""
    invoke(typer_ctx, "grant", tenant=tenant, expires=expires, version=version, store=store, signing_key=signing_key,
           dry_run=dry_run)


@app.command()
def revoke(typer_ctx: typer.Context, tenant: options.Tenant, store: options.Store = None,
           signing_key: options.SigningKey = None, dry_run: options.DryRun = False) -> None:
    """Invalidate every outstanding grant of a tenant (deletes its stored access policies)."""
    invoke(typer_ctx, "revoke", tenant=tenant, store=store, signing_key=signing_key, dry_run=dry_run)
