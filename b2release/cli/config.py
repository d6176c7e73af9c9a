"""config show | check | schema: the configuration made visible (b2release.stages.config)."""

import typer

from b2release.cli.app import app, run

config_app = typer.Typer(help="Show, check and describe the configuration (b2release.toml and the environment).",
                         no_args_is_help=True)
app.add_typer(config_app, name="config")


def _config(typer_ctx: typer.Context, action: str, **values: object) -> None:
    # A broken config is what these commands are for: collect its problems, do not refuse.
    run(typer_ctx, lambda runner, ctx: runner.run_named(ctx, "config", action=action, **values), lenient_config=True)


@config_app.command("show")
def config_show(typer_ctx: typer.Context) -> None:
    """Print every key's effective value and where it came from (default, file, environment); secrets masked."""
    _config(typer_ctx, "show")


@config_app.command("check")
def config_check(typer_ctx: typer.Context) -> None:
    """Validate the configuration as the commands will use it, without running anything (exit 2 if invalid)."""
    _config(typer_ctx, "check")


@config_app.command("schema")
def config_schema(
    typer_ctx: typer.Context,
    markdown: bool = typer.Option(False, "--markdown", help="Print the key tables of docs/configuration.md instead."),
) -> None:
    """Print the JSON Schema (draft 2020-12) of b2release.toml, for editors and validators."""
    _config(typer_ctx, "schema", markdown=markdown)
