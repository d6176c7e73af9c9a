"""The command line: a thin layer over b2release.stages.

app.py holds the Typer app, the global options and the one error exit; options.py the
flags several commands share; the other modules the commands, grouped by purpose.
commands.py names the module of each command and the order `--help` lists them in: a run
imports only the module of the command it runs, and `--help` none (start-up time).
`load_all()` registers every command, for code that walks the whole command tree.
"""

from b2release.cli.app import app, main
from b2release.cli.commands import COMMANDS, load_all

__all__ = ["COMMANDS", "app", "load_all", "main"]
