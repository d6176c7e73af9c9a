"""The command line: a thin layer over b2release.stages.

app.py holds the Typer app, the global options and the one error exit; options.py the
flags several commands share; the other modules the commands, grouped by purpose. They
are imported here in the order `--help` lists them.
"""

from b2release.cli import pipeline, verify, channels, access, audit, setup, config  # noqa: F401,I001 - registration order
from b2release.cli.app import app, main

__all__ = ["app", "main"]
