"""The application: global options, the way every command runs, and the one error exit.

A command function (cli/pipeline.py, ...) only turns its flags into keyword values and
calls `invoke`; everything else is below: `b2release.stages.runner` builds the Context,
runs and records the command. Errors are caught once, in `main`: a B2ReleaseError prints
its one-line message (or the JSON error document with --json) and exits with its code.

Import cost matters here: `b2release --help` and every command's `--help` import this
package and Typer only (tests/cli/test_startup.py checks it). The rest of b2release (the
runner, and through it every stage, store and SDK; even b2release.errors) is imported inside
`run` and the error exit, when a command really runs or fails; option values are converted
without pydantic (cli/coercion.py). The cli modules leave out `from __future__ import
annotations`: Typer evaluates every string annotation of a command each time it builds it.
"""

import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import typer

from b2release import __version__
from b2release.cli import coercion, commands

if TYPE_CHECKING:  # imported where an error is handled: `--help` never needs it
    from b2release.errors import B2ReleaseError

coercion.install()  # option values without importing pydantic (cli/coercion.py says why)

app = typer.Typer(
    name="b2release",
    help="Build, test, scan, sign, package, upload and verify releases of the enventa Trade ERP connector.",
    no_args_is_help=True,
    # --install-completion / --show-completion; value completers are in cli/completion.py.
    add_completion=True,
    pretty_exceptions_enable=False,
    # Plain click-style help: rich help rendering imports markdown-it and costs ~60 ms.
    rich_markup_mode=None,
    context_settings={"help_option_names": list(commands.HELP_OPTIONS)},
    cls=commands.RootGroup,  # lists every command, also those whose module a run does not import
)


class Session:
    """One invocation: the global options once parsed, and its correlation id.

    Made by `main` and handed to Typer as the click context's `obj`, so the error path
    knows --json and --log-format without reading argv again. A plain class: dataclasses
    would cost `--help` a few milliseconds.
    """

    def __init__(self) -> None:
        self.work_dir = Path("dist")
        self.config: Path | None = None
        self.json_output = False
        self.log_format = "text"
        self.verbosity = 0
        self.correlation_id = ""  # set when a command starts
        self.command = ""  # e.g. "keys generate", for the JSON document


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"b2release {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global(
    typer_ctx: typer.Context,
    work_dir: Path = typer.Option(
        Path("dist"), "--work-dir", envvar="B2RELEASE_WORK_DIR", help="Work dir holding state.json and artifacts."
    ),
    config: Optional[Path] = typer.Option(None, "--config", help="Config file (default: ./b2release.toml if present)."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON document with the result on stdout."),
    log_format: str = typer.Option("text", "--log-format", help="Log lines on stderr: text or json."),
    verbose: int = typer.Option(0, "-v", "--verbose", count=True, help="More detail (repeatable)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only errors and the result line."),
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    if log_format not in ("text", "json"):
        raise typer.BadParameter("must be text or json", param_hint="--log-format")
    session = _session(typer_ctx)
    session.work_dir, session.config, session.json_output = work_dir, config, json_output
    session.log_format, session.verbosity = log_format, -1 if quiet else verbose


def _session(typer_ctx: typer.Context) -> Session:
    return typer_ctx.find_root().obj


# --- the output flags, also after the command name ------------------------------------------
# `b2release doctor --json` as well as `b2release --json doctor`: the output flags are global
# options, and click takes a group's options only before the command name. So before click
# parses anything, output flags found after the command name are moved in front of it. Only
# these flags move, and only their position changes: click still does all the parsing.
_OUTPUT_FLAGS = {"--json", "-q", "--quiet", "-v", "--verbose"}


def _is_output_flag(arg: str) -> bool:
    return arg in _OUTPUT_FLAGS or (arg.startswith("-v") and set(arg[1:]) == {"v"}) or \
        arg.startswith("--log-format=")


def hoist_output_flags(args: list[str]) -> list[str]:
    """`args` with the output flags that follow the command name moved in front of it."""
    index = commands.command_index(args)
    head, tail, moved = args[:index], [], []
    rest = iter(args[index:])
    for arg in rest:
        if arg == "--":  # everything after it is data
            tail += [arg, *rest]
            break
        if _is_output_flag(arg):
            moved.append(arg)
        elif arg == "--log-format":
            moved += [arg, next(rest, "")]
        else:
            tail.append(arg)
    return head + moved + tail


def run(typer_ctx: typer.Context, body: Callable[[Any, Any], Any], *, lenient_config: bool = False) -> None:
    """Build the Context from the global options, run `body(runner, ctx)`, print its result.

    `lenient_config`: collect config problems instead of refusing to run (the `config` commands)."""
    from b2release import log
    from b2release.stages import runner  # the rest of b2release, only when a command runs

    session = _session(typer_ctx)
    session.correlation_id = log.new_correlation_id()
    session.command = typer_ctx.command_path.partition(" ")[2]
    ctx = runner.make_context(work_dir=session.work_dir, config_file=session.config,
                              json_output=session.json_output, verbosity=session.verbosity,
                              log_format=session.log_format, correlation_id=session.correlation_id,
                              lenient_config=lenient_config)
    _emit(ctx, session, body(runner, ctx))


def invoke(typer_ctx: typer.Context, command: str, /, **options: Any) -> None:
    """Run the command module `command` with these option values (see b2release.stages)."""
    run(typer_ctx, lambda runner, ctx: runner.run_named(ctx, command, **options))


def document(session: Session, status: str, exit_code: int, body: dict[str, Any]) -> dict[str, Any]:
    """Every --json document, success or failure, has this shape: command, status,
    exit_code and correlation_id at the top, then the command's result (or the error)."""
    return {**body, "command": session.command, "status": status, "exit_code": exit_code,
            "correlation_id": session.correlation_id}


def _emit(ctx: Any, session: Session, result: Any) -> None:
    """The command's result: JSON on stdout with --json, a human line on stderr otherwise."""
    import json

    from b2release.redact import redact, redact_obj

    if result.secret_text or result.secret_data:
        # The secret the user asked for (a grant's SAS URL): stdout only, as is.
        if ctx.json_output:
            doc = document(session, result.status, 0, {**redact_obj(result.to_dict()), **result.secret_data})
            sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        else:
            sys.stdout.write(result.secret_text + "\n")
        sys.stdout.flush()
    elif ctx.json_output:
        doc = document(session, result.status, 0, redact_obj(result.to_dict()))
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        sys.stdout.flush()
    elif result.output:
        # A document the user asked for (config schema): stdout, so `> file` captures it alone.
        sys.stdout.write(redact(result.output))
        sys.stdout.flush()
    # The result line, also with -q (which keeps only errors and this line). A skip was
    # already reported as a log line by the runner: no second line. With --log-format json
    # it is a JSON log line of level "result", so a log shipper learns how every command ended.
    if not result.summary or result.status == "skipped":
        return
    if ctx.log_format == "json":
        from b2release import log

        log.get(session.command.replace(" ", ".")).log(
            log.RESULT, "%s", redact(result.summary),
            extra={"fields": {"command": session.command, "status": result.status, "exit_code": 0}})
    else:
        sys.stderr.write(redact(result.summary) + "\n")


def report_error(exc: "B2ReleaseError", session: Session) -> int:
    """The one error exit: a redacted one-line message (and hint), the JSON document with
    --json, a JSON log line with --log-format json; the exit code the error owns."""
    import json

    from b2release import log
    from b2release.redact import redact, redact_obj

    message = redact(exc.message)
    if session.json_output:
        doc = document(session, "failed", exc.exit_code, redact_obj(exc.to_dict()))
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    cause = redact(repr(exc.__cause__)) if session.verbosity > 0 and exc.__cause__ is not None else None
    if session.log_format == "json":
        # Keep stderr machine-readable: the error is one more JSON log line, in log.py's shape.
        log.setup("json", session.verbosity, session.correlation_id or log.new_correlation_id())
        fields: dict[str, Any] = {"exit_code": exc.exit_code, "error": exc.kind}
        if exc.hint:
            fields["hint"] = redact(exc.hint)
        if cause:
            fields["cause"] = cause
        log.get().error("%s", message, extra={"fields": fields})
        return exc.exit_code
    sys.stderr.write(f"error: {message}\n")
    if exc.hint:
        sys.stderr.write(f"hint: {redact(exc.hint)}\n")
    if cause:
        sys.stderr.write(f"cause: {cause}\n")
    return exc.exit_code


def main(argv: list[str] | None = None) -> int:
    from_command_line = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    session = Session()
    try:
        args = hoist_output_flags(argv)
        # The named command's module only, and Typer builds that command alone (cli/commands.py).
        name = commands.load_for(args)
        run_app = commands.narrowed(app, name, args)
        # A help or version printout writes nothing and holds no resource; when this is the
        # program (no argv given), the process ends right after it, and the objects Typer built
        # can stay as they are instead of being collected one by one at exit (a quarter of what
        # --help cost beyond importing Typer).
        if from_command_line and (name is None or {"--help", "-h", "--version"} & set(args)):
            gc.freeze()
        rv = run_app(args=args, prog_name="b2release", standalone_mode=False, obj=session)
        return rv if isinstance(rv, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        sys.stderr.write("aborted\n")
        return 130
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except typer.TyperException as exc:  # click usage errors: bad option, missing argument
        from b2release.errors import EXIT_USAGE

        code = getattr(exc, "exit_code", EXIT_USAGE) or EXIT_USAGE
        # The parse failed, so the parsed --json may not have been reached: a flag seen
        # anywhere on the line counts, so a JSON consumer still gets one JSON document.
        if session.json_output or "--json" in argv:
            import json

            format_message = getattr(exc, "format_message", None)
            text = " ".join((format_message() if format_message else str(exc)).split())
            doc = document(session, "failed", code, {"error": "usage", "message": text})
            sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            sys.stderr.write(f"error: {exc}\n")
        return code
    except Exception as exc:  # noqa: BLE001 - a B2ReleaseError, or anything else: still one line
        return _failed(exc, session)


def _failed(exc: Exception, session: Session) -> int:
    """The exit of a B2ReleaseError; anything else raised outside a command (the runner handles
    those) becomes an internal error. b2release.errors is imported here, not at the top: no
    `--help` needs it. (A B2ReleaseError is no click exception, so catching it after them, as
    `Exception`, changes nothing.)"""
    from b2release.errors import B2ReleaseError

    if isinstance(exc, B2ReleaseError):
        return report_error(exc, session)
    from b2release.stages.runner import internal_error

    error = internal_error(exc, "b2release")
    error.__cause__ = exc
    return report_error(error, session)
