"""Getting started: a config for a project, dev keys, and doctor's checks."""

from pathlib import Path
from typing import List, Optional

import typer

from b2release.cli.app import _session, app, invoke, run

keys_app = typer.Typer(help="Development keys: release signing key pair and code-signing certificate.",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@app.command()
def init(
    typer_ctx: typer.Context,
    folder: Path = typer.Argument(Path("."), help="The project's folder (searched for a .sln, then a project file)."),
    project: Optional[Path] = typer.Option(None, "--project", help="The solution or project file, when several."),
    name: Optional[str] = typer.Option(None, "--name", help="Product name (default: from the solution's name)."),
    tenant: List[str] = typer.Option([], "--tenant", help="A tenant id (repeatable; default: a local store's)."),
    store: Optional[str] = typer.Option(None, "--store", help="Store URL: file://PATH, azure or azure://ACCOUNT."),
    out: Optional[Path] = typer.Option(None, "--out", help="File to write (default: --config, else "
                                                           "FOLDER/b2release.toml)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing file."),
) -> None:
    """Write a commented b2release.toml for a .NET project (solution, build tool, tenants detected)."""
    target = out or _session(typer_ctx).config
    # A broken or missing config file must not stop init from writing a new one.
    run(typer_ctx, lambda runner, ctx: runner.run_named(ctx, "init", folder=folder, project=project, name=name,
                                                        tenants=list(tenant), store=store, out=target, force=force),
        lenient_config=True)


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
    # A bad config value is one of doctor's failed checks, not a refusal to run.
    run(typer_ctx, lambda runner, ctx: runner.run_named(ctx, "doctor"), lenient_config=True)
