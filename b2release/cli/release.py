"""release: the pipeline stages in order, as one command (cli/pipeline.py has each stage's own).

A module of its own: it has the most flags, and `release --help` imports only these."""

from typing import List, Optional

import typer

from b2release.cli import completion, options
from b2release.cli.app import app, run


@app.command()
def release(
    typer_ctx: typer.Context,
    version: Optional[str] = typer.Option(None, "--version", help="Release version X.Y.Z."),
    version_from_tag: options.VersionFromTag = False,
    from_stage: Optional[str] = typer.Option(None, "--from", help="First stage to run.",
                                             autocompletion=completion.stages),
    to_stage: Optional[str] = typer.Option(None, "--to", help="Last stage to run.", autocompletion=completion.stages),
    skip: List[str] = typer.Option([], "--skip", help="Stage to leave out (repeatable).",
                                   autocompletion=completion.stages),
    channel: options.Channel = None,
    tenant: options.Tenants = None,
    store: options.Store = None,
    allow_breaking: options.AllowBreaking = False,
    reason: options.Reason = None,
    force: bool = typer.Option(
        False, "--force", help="Run every stage, also those whose inputs, options and outputs are unchanged."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Plan upload and purge from this work dir's package (its stages must be up to "
                                 "date); run and change nothing."),
) -> None:
    """Run the pipeline stages in order, stopping at the first failure; a summary at the end."""
    stage_options = {"compat": {"allow_breaking": allow_breaking, "reason": reason}} if allow_breaking or reason else {}
    shared = {"channel": channel, "tenants": list(tenant) if tenant else None, "store": store}

    def body(runner, ctx):
        from b2release.errors import UsageError

        if version_from_tag and version:
            raise UsageError("give --version or --version-from-tag, not both")
        if not version_from_tag and not version:
            raise UsageError("release needs --version X.Y.Z (or --version-from-tag)")
        chosen = ctx.tag_version() if version_from_tag else version
        return runner.run_pipeline(ctx, chosen, from_stage, to_stage, list(skip), options=stage_options, shared=shared,
                                   force=force, dry_run=dry_run)

    run(typer_ctx, body)
