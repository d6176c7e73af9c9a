"""Which module defines each command, so that a run imports only the one it needs.

Start-up is most of what `--help` costs (issue #16: within 1.1x of importing Typer alone).
Importing every command module and letting Typer build all ~20 commands costs ~25 ms more
than Typer's own import, so:

- `COMMANDS` names every command, in the order `--help` lists them, with its module and its
  one-line help (the first line of its docstring);
- `b2release --help` lists them from this table (`RootGroup`) and imports no command module;
- any other run imports only the module of the command it names (`load_for`), and Typer
  builds that command alone (`narrowed`): of a group (`audit`, `keys`, `config`), the one
  subcommand named, or for the group's own help its commands' names and help only; shell
  completion, which may need any command's options, imports all of them.

tests/cli/test_startup.py checks that this table, the modules and the help they print agree.
"""

from __future__ import annotations

import copy
import importlib
import os
from typing import Any

from typer.core import TyperCommand, TyperGroup

COMMANDS: dict[str, tuple[str, str]] = {
    "build": ("pipeline", "Build the connector (msbuild, dotnet or Mono's xbuild) into <work dir>/build/."),
    "compat": ("pipeline", "Check the public API of the build against the previous release (semver); "
                           "write api/ and release notes."),
    "test": ("pipeline", "Build the solution's test projects and run them; JUnit XML in <work dir>/test-results/."),
    "scan": ("pipeline", "Scan dependencies (OSV), licences and secrets; write the report, SARIF and SBOM."),
    "sign": ("pipeline", "Authenticode-sign every PE file (EXE, DLL) of the build output."),
    "package": ("pipeline", "Package the build output into a signed, deterministic zip with manifest and SHA256SUMS."),
    "upload": ("pipeline", "Upload the package to the store for each tenant, then move the signed channel pointer."),
    "purge": ("pipeline", "Purge the CDN cache for the channel pointers changed by the last upload, rollback or "
                          "promote."),
    "release": ("release", "Run the pipeline stages in order, stopping at the first failure; a summary at the end."),
    "verify": ("verify", "Verify a package or release folder offline, or a remote channel/package, with only the "
                         "public key."),
    "rollback": ("channels", "Point a channel back at an older, complete, verified version (sequence + 1, signed)."),
    "promote": ("channels", "Give channel --to the release channel --from serves, without re-uploading "
                            "(gradual rollout)."),
    "refresh": ("channels", "Re-sign channel pointers before they expire (same version, sequence + 1); for a "
                            "scheduled job."),
    "status": ("channels", "Each tenant's channels as the store has them: version, sequence, expiry, ring "
                           "(signatures checked)."),
    "grant": ("access", "Print a read-only, https-only, expiring download URL for one tenant's container."),
    "revoke": ("access", "Invalidate every outstanding grant of a tenant (deletes its stored access policies)."),
    "init": ("setup", "Write a commented b2release.toml for a .NET project (solution, build tool, tenants detected)."),
    "doctor": ("setup", "Check tools, keys, config, work dir and services; exit 1 if anything is broken."),
    "audit": ("audit", "Download audit from Azure Storage's request logs; the release audit log of store changes."),
    "keys": ("setup", "Development keys: release signing key pair and code-signing certificate."),
    "config": ("config", "Show, check and describe the configuration (b2release.toml and the environment)."),
}
# Global options that take a value as the next argument (the command name comes after them).
GLOBAL_WITH_VALUE = frozenset({"--work-dir", "--config", "--log-format"})
COMPLETION_ENV = "_B2RELEASE_COMPLETE"  # set by the shell completion scripts
HELP_OPTIONS = ("-h", "--help")  # the app's help_option_names


def load(name: str) -> None:
    """Import the module that defines command `name` (it registers itself on the app)."""
    importlib.import_module(f"b2release.cli.{COMMANDS[name][0]}")


def load_all() -> None:
    for name in COMMANDS:
        load(name)


def command_index(args: list[str]) -> int:
    """Where the command name is in `args`: after the global options (and their values)."""
    index = 0
    while index < len(args) and args[index].startswith("-"):
        index += 2 if args[index] in GLOBAL_WITH_VALUE else 1
    return index


def load_for(args: list[str]) -> str | None:
    """Import what a run with these arguments needs: the named command's module (its name is
    returned), or every module for shell completion (None)."""
    if os.environ.get(COMPLETION_ENV):
        load_all()
        return None
    index = command_index(args)
    if index < len(args) and args[index] in COMMANDS:
        load(args[index])
        return args[index]
    return None  # no command (`--help`, `--version`), or an unknown name the parser will report


def narrowed(app: Any, name: str | None, args: list[str] | None = None) -> Any:
    """`app` as Typer should build it for a run of command `name`: that command alone.

    Typer builds every command registered on the app it runs, and a module registers
    several. This is a shallow copy with the one command (or group) registered, so the app
    itself is never changed: a command that runs another in the same process (tests do)
    still finds every command, and modules imported meanwhile register on the app as usual.
    A group (`audit`, `keys`, `config`) is narrowed by what follows its name in `args`: see
    `_narrowed_group`.
    """
    if name is None:
        return app
    view = copy.copy(app)
    view.registered_commands = [c for c in app.registered_commands if _command_name(c) == name]
    index = command_index(args or [])
    rest = (args or [])[index + 1:] if args and index < len(args) and args[index] == name else None
    view.registered_groups = [_narrowed_group(g, rest) for g in app.registered_groups if g.name == name]
    return view


def _narrowed_group(info: Any, rest: list[str] | None) -> Any:
    """Group `info` as a run with `rest` (the words after the group's name) needs it built.

    - `audit show ...`: the group with `show` alone;
    - `audit`, `audit --help`: the group's own help, where its commands are only listed: each
      is built from its name and docstring, without its parameters (which cost the most);
    - anything else (a misspelt name, `--`, an unknown option): the whole group, so what
      click says stays what it was.
    """
    group = info.typer_instance
    if rest is None or group.registered_groups:
        return info
    if not rest or rest[0] in HELP_OPTIONS:
        chosen = [_listed_only(c) for c in group.registered_commands]
    else:
        chosen = [c for c in group.registered_commands if _command_name(c) == rest[0]]
        if not chosen:
            return info
    group_view = copy.copy(group)
    group_view.registered_commands = chosen
    info_view = copy.copy(info)
    info_view.typer_instance = group_view
    return info_view


def _listed_only(info: Any) -> Any:
    """Command `info` as a group's listing shows it (name, short help, hidden), without parameters."""
    def listed() -> None:  # never runs: only a group's help is printed from it
        raise AssertionError("a listed-only command ran")

    listed.__doc__ = info.callback.__doc__
    view = copy.copy(info)
    view.name, view.callback = _command_name(info), listed
    return view


def _command_name(info: Any) -> str:
    return info.name or info.callback.__name__.lower().replace("_", "-")  # as Typer names a command


class RootGroup(TyperGroup):
    """The top-level group: lists every command from COMMANDS, loaded or not."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # As click's Group.format_commands, with a stand-in for each command not loaded:
        # its short help is made from the same text by the same code.
        rows = []
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        for name in self.list_commands(ctx):
            command = self.commands.get(name) or TyperCommand(name=name, help=COMMANDS[name][1])
            if not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
