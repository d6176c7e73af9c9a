"""verify: offline, or --remote against what a tenant downloads."""

from pathlib import Path
from typing import Optional

import typer

from b2release.cli import options
from b2release.cli.app import app, invoke


@app.command()
def verify(
    typer_ctx: typer.Context,
    path: Optional[Path] = typer.Argument(None, help="A package zip or a release folder (not with --remote)."),
    public_key: options.PublicKey = None,
    ca: Optional[Path] = typer.Option(None, "--ca", help="Code-signing CA or certificate (PEM) for Authenticode."),
    remote: Optional[str] = typer.Option(
        None, "--remote", help="Download and verify a channel pointer URL (.../channels/NAME.json) or a package URL."
    ),
    last_seen: Optional[Path] = typer.Option(
        None, "--last-seen", help="With --remote: JSON file of the pointers seen so far (rollback protection)."
    ),
    allow_insecure_http: bool = typer.Option(
        False, "--allow-insecure-http", help="With --remote: accept a plain http URL (local mirrors and tests only)."
    ),
    tenant: Optional[str] = typer.Option(
        None, "--tenant", help="With --remote: the tenant whose pointer this must be (default: the URL's container)."
    ),
    source_uri: Optional[str] = typer.Option(
        None, "--source-uri", help="The build provenance must name this source repository (e.g. git+https://host/org/repo)."
    ),
    builder_id: Optional[str] = typer.Option(
        None, "--builder-id", help="The build provenance must name this builder (e.g. the CI workflow's id)."
    ),
) -> None:
    """Verify a package or release folder offline, or a remote channel/package, with only the public key."""
    invoke(typer_ctx, "verify", path=path, public_key=public_key, ca=ca, remote=remote, last_seen=last_seen,
           allow_insecure_http=allow_insecure_http, tenant=tenant, source_uri=source_uri, builder_id=builder_id)
