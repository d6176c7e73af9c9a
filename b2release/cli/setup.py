"""Getting a machine ready: dev keys, and doctor's checks."""

from __future__ import annotations

from pathlib import Path

import typer

from b2release.cli.app import app, invoke

keys_app = typer.Typer(help="Development keys: release signing key pair and code-signing certificate.",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("generate")
def keys_generate(
    typer_ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="Folder for the key files (git-ignored, e.g. keys/)."),
    algorithm: str = typer.Option("ecdsa-p256", "--algorithm", help="Release key type: ecdsa-p256 or ed25519."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing key files."),
) -> None:
    """Generate a dev release key pair and a self-signed code-signing certificate."""
    invoke(typer_ctx, "keys", out=out, algorithm=algorithm, force=force)


@app.command()
def doctor(typer_ctx: typer.Context) -> None:
    """Check tools, keys, config, work dir and services; exit 1 if anything is broken."""
    invoke(typer_ctx, "doctor")
