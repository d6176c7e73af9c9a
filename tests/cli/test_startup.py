"""Start-up: what `--help` and an offline `verify` import (issue #16), and that the lazy
command table (cli/commands.py) and the direct option conversion (cli/coercion.py) change
nothing a user sees.

No timing here: each test checks which modules a fresh process imported, or compares
outputs. The heavy modules were found with `python -X importtime`: pydantic (Typer's own
option conversion, ~150 ms), the Azure SDK, requests, cryptography, rich (its progress bars,
and Typer's rich help, which also pulls in markdown-it and pygments), dnfile, and any
b2release module beyond the CLI itself (a command's module pulls in its stage, its stores
and the rest; even b2release.errors, which only the error exit needs). Beyond those, `--help`
may import nothing but b2release.cli and Typer's own help code: what `import typer` loads is
the reference (issue #16: `--help` within 1.1x of it), everything else is ours to avoid.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from b2release.cli import COMMANDS, app, load_all, main
from b2release.cli import coercion as coercion_mod
from b2release.cli.app import Session
from tests.conftest import REPO

HEAVY = ("pydantic", "azure", "requests", "urllib3", "cryptography", "rich", "markdown_it", "pygments", "dnfile",
         "semver", "cyclonedx", "yaml", "jsonschema", "typer.rich_utils")
# What `--help` may import beyond `import typer`: the package, its CLI, and the code Typer (or
# the click it wraps) itself loads to print help; `encodings.*` are codecs Python looks up
# for the streams.
ALLOWED = ("b2release", "b2release.cli", "typer", "click", "encodings",
           "gc")  # built into the interpreter: importing it loads nothing (--help freezes it at exit)

# Runs in a fresh interpreter: Typer first (the reference), then each command path's --help
# in turn; after each, the modules it added (modules only accumulate, so the first command that
# imports one is named; the first entry includes importing b2release.cli itself). The probe
# itself imports nothing Python's start-up has not (json only at the end): no blind spot.
PROBE = """
import contextlib, io, sys
import typer
before = set(sys.modules)
from b2release.cli import main
paths = [line.split() for line in sys.argv[1].split("\\n")]
runs = []
for path in paths:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([*path, "--help"])
    runs.append({"path": " ".join(path), "code": code, "output": out.getvalue(),
                 "added": sorted(set(sys.modules) - before)})
    before = set(sys.modules)
import json
print(json.dumps(runs))
"""


def command_paths() -> list[list[str]]:
    load_all()
    paths: list[list[str]] = []

    def walk(command, prefix: list[str]) -> None:
        for name in command.list_commands(None):
            sub = command.get_command(None, name)
            paths.append([*prefix, name])
            if hasattr(sub, "list_commands"):
                walk(sub, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return paths


def probe(paths: list[list[str]]) -> list[dict]:
    lines = "\n".join(" ".join(path) for path in paths)
    proc = subprocess.run([sys.executable, "-c", PROBE, lines], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def eager_help(path: list[str]) -> str:
    """The help Typer prints with every command loaded and built, as before the lazy table."""
    load_all()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        typer.main.get_command(app).main([*path, "--help"], prog_name="b2release", standalone_mode=False,
                                         obj=Session())
    return out.getvalue()


@pytest.fixture(scope="module")
def probed() -> tuple[list[list[str]], list[dict]]:
    # The top level first (nothing loaded yet), then every command, then the top level again.
    paths = [[], *command_paths(), []]
    return paths, probe(paths)


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def heavy_in(modules: list[str]) -> list[str]:
    def heavy(name: str) -> bool:
        if _within(name, HEAVY):
            return True
        return _within(name, ("b2release",)) and name != "b2release" and not _within(name, ("b2release.cli",))

    return [m for m in modules if heavy(m)]


def _added(runs: list[dict], which) -> dict[str, list[str]]:
    """Per run (the top level is run twice: first and last), the modules `which` picks from what it added."""
    found = {}
    for index, run in enumerate(runs):
        label = run["path"] or ("(top level)" if index == 0 else "(top level, after every command)")
        if which(run["added"]):
            found[label] = which(run["added"])
    return found


def test_help_of_every_command_imports_nothing_heavy(probed):
    paths, runs = probed
    assert len(paths) > len(COMMANDS)  # the subcommands of keys, config and audit too
    assert "b2release.cli.app" in runs[0]["added"]  # the first entry counts importing the CLI itself
    assert _added(runs, heavy_in) == {}


def test_help_of_every_command_imports_only_the_cli_and_typers_own_help(probed):
    _, runs = probed
    beyond = _added(runs, lambda modules: [m for m in modules if not _within(m, ALLOWED)])
    assert beyond == {}, "--help imports these beyond Typer: import them where a command runs"


def test_typer_finds_no_string_annotation_to_evaluate():
    """Typer evaluates a string annotation (`from __future__ import annotations`) each time it
    builds a command: the functions it reads hold the types themselves."""
    from b2release.cli import completion
    from b2release.cli.app import _version_callback

    load_all()
    functions = [app.registered_callback.callback, _version_callback]
    functions += [c.callback for c in app.registered_commands]
    functions += [c.callback for g in app.registered_groups for c in g.typer_instance.registered_commands]
    functions += [completion.stages, completion.tenants, completion.channels, completion.rings]
    strings = {f.__qualname__: [name for name, a in f.__annotations__.items() if isinstance(a, str)] for f in functions}
    assert len(functions) > len(COMMANDS) and {name: found for name, found in strings.items() if found} == {}


def test_heavy_modules_are_recognised():
    assert heavy_in(["rich.progress", "azure.storage.blob", "typer.rich_utils", "b2release.stages.verify",
                     "b2release.stores.azure", "b2release.errors", "b2release.cli.app", "b2release", "typer.core",
                     "richer"]) == ["rich.progress", "azure.storage.blob", "typer.rich_utils", "b2release.stages.verify",
                                    "b2release.stores.azure", "b2release.errors"]


def test_help_prints_what_the_fully_built_command_tree_prints(probed):
    paths, runs = probed
    assert [run["path"] for run in runs] == [" ".join(path) for path in paths]
    assert runs[0]["code"] == 0
    for run, path in zip(runs[1:-1], paths[1:-1], strict=True):
        assert run["code"] == 0 and run["output"] == eager_help(path), path
    # The listing from the table, before any command module was imported, and after all were.
    assert runs[0]["output"] == runs[-1]["output"] == eager_help([])


def test_the_table_names_every_command_its_module_and_its_help():
    load_all()
    found = {}
    for info in app.registered_commands:
        name = info.name or info.callback.__name__.replace("_", "-")
        found[name] = (info.callback.__module__, (info.callback.__doc__ or "").strip().splitlines()[0])
    for info in app.registered_groups:
        module = info.typer_instance.registered_commands[0].callback.__module__
        found[info.name] = (module, info.typer_instance.info.help.strip().splitlines()[0])
    assert {name: (f"b2release.cli.{module}", text) for name, (module, text) in COMMANDS.items()} == found
    assert list(COMMANDS) == list(typer.main.get_command(app).list_commands(None))


def test_a_command_imports_only_its_own_cli_module(tmp_path):
    code = ("import sys; from b2release.cli import main\n"
            "main(['--work-dir', sys.argv[1], 'keys', 'generate', '--out', sys.argv[1]])\n"
            "print(sorted(m for m in sys.modules if m.startswith('b2release.cli.')))")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "keys")], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    loaded = {m.rsplit(".", 1)[1] for m in json.loads(proc.stdout.strip().splitlines()[-1].replace("'", '"'))}
    assert loaded == {"app", "coercion", "commands", "setup"}


# --- option values: the direct conversion agrees with Typer's own ---------------------------
SAMPLES = {str: ["", "acme", "naïve value", "--looks-like-a-flag"], int: ["0", "7", "-3", "+4", "x", "1.5", " 2"],
           bool: [True, False], Path: ["", ".", "dist", "missing/file.zip", "/"]}


def _convert(runtime, value, param, ctx):
    try:
        return ("ok", runtime.coerce(value, param=param, ctx=ctx))
    except typer.BadParameter as exc:
        return ("error", exc.format_message())


def test_direct_conversion_gives_what_typer_gives(tmp_path, monkeypatch):
    typer_core = pytest.importorskip("typer.core")
    if not hasattr(typer_core, "_TyperParameter"):
        pytest.skip("this Typer converts with click types: nothing is replaced")
    from typer._coercion import build_runtime_param as typer_builder

    monkeypatch.chdir(tmp_path)
    (tmp_path / "dist").mkdir()
    checked = 0
    load_all()
    root = typer.main.get_command(app)
    commands = [root] + [root.get_command(None, name) for name in COMMANDS]
    commands += [sub.get_command(None, n) for sub in commands[1:] if hasattr(sub, "list_commands")
                 for n in sub.list_commands(None)]
    for command in commands:
        ctx = typer.Context(command)
        for param in command.params:
            descriptor = getattr(param, "type_descriptor", None)
            plain = coercion_mod._plain(descriptor) if descriptor is not None else None
            if plain is None:
                continue
            kind, many = plain
            direct = coercion_mod._Direct(kind, many, descriptor, typer_builder)
            theirs = typer_builder(descriptor)
            for sample in SAMPLES[kind]:
                value = (sample, sample) if many else sample
                assert _convert(direct, value, param, ctx) == _convert(theirs, value, param, ctx), (param.name, value)
                checked += 1
    assert checked > 100


# --- offline verify ---------------------------------------------------------------------
def test_offline_verify_imports_neither_azure_nor_requests(cli, tmp_path, dev_keys, sample_input):
    work = tmp_path / "dist"
    r = cli("--work-dir", work, "package", "--input", sample_input, "--name", "p", "--version", "1.0.0",
            "--signing-key", dev_keys / "release-signing.key")
    assert r.exit_code == 0, r.output
    code = ("import sys; from b2release.cli import main\n"
            "code = main(['-q', 'verify', sys.argv[1], '--public-key', sys.argv[2]])\n"
            "print('EXIT', code, sorted({m.split('.')[0] for m in sys.modules} & {'azure', 'requests', 'urllib3', "
            "'pydantic'}))")
    for target in (work, work / "p-1.0.0.zip"):
        proc = subprocess.run([sys.executable, "-c", code, str(target), str(dev_keys / "release-signing.pub")],
                              capture_output=True, text=True, cwd=REPO, timeout=120)
        assert proc.stdout.strip().splitlines()[-1] == "EXIT 0 []", proc.stdout + proc.stderr


def test_a_run_builds_its_command_alone_and_leaves_the_app_whole():
    from b2release.cli.commands import narrowed

    load_all()
    before = list(app.registered_commands), list(app.registered_groups)
    view = narrowed(app, "verify")
    assert [c.callback.__name__ for c in view.registered_commands] == ["verify"] and view.registered_groups == []
    assert [g.name for g in narrowed(app, "keys").registered_groups] == ["keys"]

    def group_commands(args: list[str]) -> list[tuple[str, list[str]]]:
        [group] = narrowed(app, args[args.index("audit")], args).registered_groups
        return [(c.name, list(typer.main.get_params_from_function(c.callback)))
                for c in group.typer_instance.registered_commands]

    audit_group = next(g for g in app.registered_groups if g.name == "audit")
    # A subcommand of a group: built alone, with its parameters.
    assert group_commands(["-q", "audit", "show", "--help"]) == [
        ("show", ["typer_ctx", "paths", "store", "since", "limit", "tenant"])]
    # The group's own help lists its commands: names and help only, no parameters to build.
    for args in (["audit"], ["audit", "--help"], ["--json", "audit", "-h", "show"]):
        assert group_commands(args) == [("downloads", []), ("show", []), ("verify", [])], args
    # Anything else (a misspelt name, `--`, an option) gets the whole group, as before.
    for args in (["audit", "downlods"], ["audit", "--", "show"], ["audit", "--bogus", "show"]):
        [group] = narrowed(app, "audit", args).registered_groups
        assert group is audit_group, args
    # The app itself keeps every command: another run in the same process (a test, a
    # command started from a command) still finds its own.
    assert (app.registered_commands, app.registered_groups) == before
    assert [c.name for c in audit_group.typer_instance.registered_commands] == ["downloads", "show", "verify"]
    assert narrowed(app, None) is app


def test_a_group_keeps_clicks_answers_to_a_wrong_subcommand(capsys):
    """`audit downlods` (misspelt) and `audit --bogus` say what the whole tree says."""
    load_all()
    for args in (["audit", "downlods"], ["audit", "--bogus"], ["keys", "nope"]):
        assert main(args) == 2
        ours = capsys.readouterr().err
        with pytest.raises(typer.TyperException) as raised:
            typer.main.get_command(app).main(args, prog_name="b2release", standalone_mode=False, obj=Session())
        raised.value.show()
        assert ours == capsys.readouterr().err and ours, args
