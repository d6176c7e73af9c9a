"""The command line: parse options, build a Context, call a stage, render its result.

No business logic lives here. Errors are caught once, in `main`: a B2ReleaseError prints
its one-line message (or the JSON error document with --json) and exits with its code.
Heavy libraries (Azure SDK, requests, cryptography) are imported by the stages, lazily,
so `b2release --help` stays fast.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer

from b2release import __version__
from b2release.errors import EXIT_USAGE, B2ReleaseError

app = typer.Typer(
    name="b2release",
    help="Build, scan, sign, package, upload and verify releases of the enventa Trade ERP connector.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click-style help: rich help rendering imports markdown-it and costs ~60 ms.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
keys_app = typer.Typer(help="Development keys: release signing key pair and code-signing certificate.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@dataclass
class GlobalOptions:
    work_dir: Path
    config: Optional[Path]
    json_output: bool
    log_format: str
    verbosity: int


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
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only warnings and errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    if log_format not in ("text", "json"):
        raise typer.BadParameter("must be text or json", param_hint="--log-format")
    typer_ctx.obj = GlobalOptions(work_dir, config, json_output, log_format, -1 if quiet else verbose)


# --- plumbing shared by every command -----------------------------------------------------
_CURRENT: dict[str, Any] = {}


def make_context(typer_ctx: typer.Context):
    """Build the stage Context from the global options (config file + environment)."""
    from b2release import config as config_mod
    from b2release import log
    from b2release.context import Context

    opts: GlobalOptions = typer_ctx.find_root().obj
    ctx = Context(
        config=config_mod.load(opts.config),
        work_dir=opts.work_dir,
        json_output=opts.json_output,
        verbosity=opts.verbosity,
        log_format=opts.log_format,
    )
    log.setup(opts.log_format, opts.verbosity, ctx.correlation_id)
    _CURRENT["ctx"] = ctx
    return ctx


def emit(ctx, document: dict[str, Any], summary: str = "") -> None:
    """The command's result: JSON on stdout with --json, a human line on stderr otherwise."""
    from b2release.redact import redact, redact_obj

    if ctx.json_output:
        sys.stdout.write(json.dumps(redact_obj(document), indent=2, sort_keys=True) + "\n")
        sys.stdout.flush()
    if summary and ctx.verbosity >= 0:
        ctx.console.print(redact(summary), markup=False)


def emit_result(ctx, result) -> None:
    # A skip was already reported as a warning log line (stages.execute): no second line.
    emit(ctx, result.to_dict(), result.summary if result.status != "skipped" else "")


def run_stage_command(typer_ctx: typer.Context, name: str, options: Any, prepare: Callable[[Any], None] | None = None):
    """Common body of the single-stage commands (build, scan, sign, package, ...)."""
    from b2release import stages

    ctx = make_context(typer_ctx)
    if prepare is not None:
        prepare(ctx)
    result = stages.run_stage(ctx, name, options)
    emit_result(ctx, result)
    return result


# --- keys ---------------------------------------------------------------------------------
@keys_app.command("generate")
def keys_generate(
    typer_ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="Folder for the key files (git-ignored, e.g. keys/)."),
    algorithm: str = typer.Option("ecdsa-p256", "--algorithm", help="Release key type: ecdsa-p256 or ed25519."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing key files."),
) -> None:
    """Generate a dev release key pair and a self-signed code-signing certificate."""
    from b2release import keys

    ctx = make_context(typer_ctx)
    generated = keys.generate(out, algorithm, force)
    emit(
        ctx,
        generated.to_dict(),
        f"generated {generated.algorithm} release key {generated.key_id[:16]}... and a dev code-signing "
        f"certificate in {out}",
    )


# --- build --------------------------------------------------------------------------------
@app.command()
def build(
    typer_ctx: typer.Context,
    project: Optional[Path] = typer.Argument(
        None, help="Solution or project file (default: \\[product] project, else the one .sln here)."
    ),
    version: str = typer.Option(..., "--version", help="Release version X.Y.Z, stamped into every assembly."),
    tool: Optional[str] = typer.Option(
        None, "--tool", help="auto, msbuild, dotnet or xbuild (default: \\[build] tool)."
    ),
    configuration: Optional[str] = typer.Option(
        None, "--configuration", "-c", help="Build configuration (default: \\[build] configuration, Release)."
    ),
    prop: List[str] = typer.Option([], "--property", "-p", help="Extra MSBuild property NAME=VALUE (repeatable)."),
) -> None:
    """Build the connector (msbuild, dotnet or Mono's xbuild) into <work dir>/build/."""
    from b2release.stages.build import Options

    run_stage_command(typer_ctx, "build", Options(project, version, tool, configuration, list(prop)))


# --- scan ---------------------------------------------------------------------------------
@app.command()
def scan(
    typer_ctx: typer.Context,
    source: Optional[Path] = typer.Option(
        None, "--source", help="Source tree (default: config scan.source, else the build's)."
    ),
    advisories: Optional[Path] = typer.Option(
        None, "--advisories", help="OSV advisories: a folder of JSON records or OSV's NuGet all.zip."
    ),
    online: Optional[bool] = typer.Option(None, "--online/--offline", help="Query the OSV API at config scan.osv_url."),
    fail_on: Optional[str] = typer.Option(
        None, "--fail-on", help="Fail at this vulnerability severity or above: critical|high|medium|low|none."
    ),
    ignore_file: Optional[Path] = typer.Option(
        None, "--ignore-file", help="Accepted risks (default: .b2release-ignore.toml in . or the source tree)."
    ),
) -> None:
    """Scan dependencies (OSV), licences and secrets; write the report, SARIF and SBOM."""
    from b2release.stages.scan import Options

    run_stage_command(typer_ctx, "scan", Options(source, advisories, online, fail_on, ignore_file))


# --- sign ---------------------------------------------------------------------------------
@app.command()
def sign(
    typer_ctx: typer.Context,
    files: Optional[List[Path]] = typer.Argument(
        None, help="Only these files (entry names or paths in the build output / --input folder); each must be PE."
    ),
    cert: Optional[Path] = typer.Option(None, "--cert", help="Code-signing certificate (PEM/DER, may hold the chain)."),
    key: Optional[Path] = typer.Option(
        None, "--key", help="Its private key (PEM/DER; passphrase: B2RELEASE_KEY_PASSPHRASE)."
    ),
    pfx: Optional[Path] = typer.Option(
        None, "--pfx", help="PKCS#12 file instead of --cert/--key (password: B2RELEASE_PFX_PASSWORD)."
    ),
    timestamp_url: Optional[str] = typer.Option(None, "--timestamp-url", help="RFC 3161 timestamp server."),
    description: Optional[str] = typer.Option(None, "--description", help="Program name shown by Windows."),
    url: Optional[str] = typer.Option(None, "--url", help="Publisher URL shown by Windows."),
    skip_signed: bool = typer.Option(False, "--skip-signed", help="Keep files that are signed already."),
    input: Optional[Path] = typer.Option(
        None, "--input", help="Folder of prebuilt binaries: copied into <work dir>/build/ and signed there."
    ),
) -> None:
    """Authenticode-sign every PE file (EXE, DLL) of the build output."""
    from b2release.stages.sign import Options

    run_stage_command(
        typer_ctx, "sign",
        Options(cert, key, pfx, timestamp_url, description, url, skip_signed, input, list(files or [])),
    )


# --- package ------------------------------------------------------------------------------
@app.command()
def package(
    typer_ctx: typer.Context,
    input: Optional[Path] = typer.Option(None, "--input", help="Folder of prebuilt binaries (default: the build output)."),
    name: Optional[str] = typer.Option(None, "--name", help="Product name (default: [product] name)."),
    version: Optional[str] = typer.Option(None, "--version", help="Release version X.Y.Z (default: the build's)."),
    signing_key: Optional[Path] = typer.Option(None, "--signing-key", help="Release signing key (PEM)."),
    allow_unsigned: bool = typer.Option(
        False, "--allow-unsigned", help="Package unsigned PE files although sign.required (recorded in the manifest)."
    ),
) -> None:
    """Package the build output into a signed, deterministic zip with manifest and SHA256SUMS."""
    from b2release.stages.package import Options

    run_stage_command(typer_ctx, "package", Options(input, name, version, signing_key, allow_unsigned))


# --- upload, grant, revoke -------------------------------------------------------------
@app.command()
def upload(
    typer_ctx: typer.Context,
    tenant: List[str] = typer.Option([], "--tenant", help="Tenant id (repeatable; default: [store] tenants)."),
    channel: Optional[str] = typer.Option(None, "--channel", help="Channel to move (default: [store] channel)."),
    store: Optional[str] = typer.Option(None, "--store", help="Store URL: file://DIR, azure, azure://ACCOUNT."),
    signing_key: Optional[Path] = typer.Option(None, "--signing-key", help="Release signing key (PEM)."),
) -> None:
    """Upload the package to the store for each tenant, then move the signed channel pointer."""
    from b2release.stages.upload import Options

    run_stage_command(typer_ctx, "upload", Options(list(tenant) or None, channel, store, signing_key))


def _write_secret_document(ctx, document: dict[str, Any], plain: str, summary: str) -> None:
    """grant's output carries a SAS: printed as-is on stdout (never logged, never redacted here)."""
    if ctx.json_output:
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(plain + "\n")
    sys.stdout.flush()
    if ctx.verbosity >= 0:
        ctx.console.print(summary, markup=False)


@app.command()
def grant(
    typer_ctx: typer.Context,
    tenant: str = typer.Option(..., "--tenant", help="Tenant id."),
    expires: Optional[str] = typer.Option(
        None, "--expires", help="Lifetime, e.g. 24h (max: [store] max_grant_expiry)."
    ),
    version: Optional[str] = typer.Option(None, "--version", help="Version to link (default: the channel's)."),
    store: Optional[str] = typer.Option(None, "--store", help="Store URL (default: [store] url)."),
) -> None:
    """Print a read-only, https-only, expiring download URL for one tenant's container."""
    from b2release import access

    ctx = make_context(typer_ctx)
    result = access.grant(ctx, tenant, expires, version, store)
    _write_secret_document(
        ctx,
        {"command": "grant", **result.to_dict()},
        result.url,
        f"grant for tenant {result.tenant}: {result.product} {result.version}, read-only, https-only, expires "
        f"{result.expires_at} (policy {result.policy_id}); revoke with: b2release revoke --tenant {result.tenant}",
    )


@app.command()
def revoke(
    typer_ctx: typer.Context,
    tenant: str = typer.Option(..., "--tenant", help="Tenant id."),
    store: Optional[str] = typer.Option(None, "--store", help="Store URL (default: [store] url)."),
) -> None:
    """Invalidate every outstanding grant of a tenant (deletes its stored access policy)."""
    from b2release import access

    ctx = make_context(typer_ctx)
    result = access.revoke(ctx, tenant, store)
    if result.removed_policies:
        summary = (f"revoked every grant of tenant {tenant} (policy {', '.join(result.removed_policies)} "
                   "deleted; Azure applies this within 30 seconds)")
    else:
        summary = f"tenant {tenant} had no b2release grant policy; nothing to revoke"
    emit(ctx, {"command": "revoke", **result.to_dict()}, summary)


# --- purge --------------------------------------------------------------------------------
@app.command()
def purge(
    typer_ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="List the URLs that would be purged; send nothing."),
) -> None:
    """Purge the CDN cache for the channel pointers changed by the last upload, rollback or promote."""
    from b2release.stages.purge import Options

    run_stage_command(typer_ctx, "purge", Options(dry_run=dry_run))


# --- verify -------------------------------------------------------------------------------
@app.command()
def verify(
    typer_ctx: typer.Context,
    path: Optional[Path] = typer.Argument(None, help="A package zip or a release folder (not with --remote)."),
    public_key: Optional[Path] = typer.Option(None, "--public-key", help="Release public key (PEM)."),
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
) -> None:
    """Verify a package or release folder offline, or a remote channel/package, with only the public key."""
    from b2release.errors import UsageError
    from b2release.stages import verify as verify_stage

    ctx = make_context(typer_ctx)
    if remote is not None:
        from b2release import remote as remote_mod

        if path is not None:
            raise UsageError("give either PATH or --remote URL, not both")
        result = remote_mod.run(ctx, remote_mod.Options(remote, public_key, ca, last_seen, allow_insecure_http))
    else:
        if last_seen is not None or allow_insecure_http:
            raise UsageError("--last-seen and --allow-insecure-http need --remote URL")
        result = verify_stage.run(ctx, verify_stage.Options(path, public_key, ca))
    emit_result(ctx, result)


# --- release ------------------------------------------------------------------------------
@app.command()
def release(
    typer_ctx: typer.Context,
    version: str = typer.Option(..., "--version", help="Release version X.Y.Z."),
    from_stage: Optional[str] = typer.Option(None, "--from", help="First stage to run."),
    to_stage: Optional[str] = typer.Option(None, "--to", help="Last stage to run."),
    skip: List[str] = typer.Option([], "--skip", help="Stage to leave out (repeatable)."),
) -> None:
    """Run the pipeline stages in order, stopping at the first failure."""
    from b2release import stages
    from b2release.formats.names import validate_version

    ctx = make_context(typer_ctx)
    ctx.version = validate_version(version)
    selected = stages.select(from_stage, to_stage, skip)
    results = []
    for name in selected:
        try:
            result = stages.run_stage(ctx, name)
        except B2ReleaseError as exc:
            exc.details.update({"stage": name, "completed": [r.to_dict() for r in results]})
            exc.message = f"release stopped at stage {name}: {exc.message}"
            raise
        results.append(result)
        if not ctx.json_output and ctx.verbosity >= 0 and result.status == "ok":
            ctx.console.print(f"[{name}] {result.summary}", markup=False)
    emit(
        ctx,
        {"command": "release", "version": ctx.version, "stages": [r.to_dict() for r in results]},
        f"release {ctx.version}: ran {', '.join(r.stage for r in results if r.status == 'ok') or 'nothing'}",
    )


# --- rollback, promote ----------------------------------------------------------------------
@app.command()
def rollback(
    typer_ctx: typer.Context,
    channel: Optional[str] = typer.Option(None, "--channel", help="Channel to move back (default: [store] channel)."),
    to: Optional[str] = typer.Option(None, "--to", help="The older version X.Y.Z to serve (already in the store)."),
    tenant: List[str] = typer.Option([], "--tenant", help="Tenant id (repeatable; default: [store] tenants)."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Why (required; signed into the pointer)."),
    no_purge: bool = typer.Option(False, "--no-purge", help="Do not purge the CDN afterwards (run `purge` later)."),
    store: Optional[str] = typer.Option(None, "--store", help="Store URL: file://DIR, azure, azure://ACCOUNT."),
    signing_key: Optional[Path] = typer.Option(None, "--signing-key", help="Release signing key (PEM)."),
) -> None:
    """Point a channel back at an older, complete, verified version (sequence + 1, signed)."""
    from b2release import stages
    from b2release.stages import rollback as command

    ctx = make_context(typer_ctx)
    options = command.Options(channel, to, list(tenant) or None, reason, not no_purge, store, signing_key)
    emit_result(ctx, stages.execute(ctx, command.NAME, lambda: command.run(ctx, options)))


@app.command()
def promote(
    typer_ctx: typer.Context,
    from_channel: Optional[str] = typer.Option(None, "--from", help="Channel whose release moves (e.g. canary)."),
    to_channel: Optional[str] = typer.Option(None, "--to", help="Channel that gets it (e.g. stable)."),
    tenant: List[str] = typer.Option([], "--tenant", help="Tenant id (repeatable; a pilot ring; default: all)."),
    no_purge: bool = typer.Option(False, "--no-purge", help="Do not purge the CDN afterwards (run `purge` later)."),
    store: Optional[str] = typer.Option(None, "--store", help="Store URL: file://DIR, azure, azure://ACCOUNT."),
    signing_key: Optional[Path] = typer.Option(None, "--signing-key", help="Release signing key (PEM)."),
) -> None:
    """Give channel --to the release channel --from serves, without re-uploading (gradual rollout)."""
    from b2release import stages
    from b2release.stages import promote as command

    ctx = make_context(typer_ctx)
    options = command.Options(from_channel, to_channel, list(tenant) or None, not no_purge, store, signing_key)
    emit_result(ctx, stages.execute(ctx, command.NAME, lambda: command.run(ctx, options)))


@app.command()
def refresh(
    typer_ctx: typer.Context,
    channel: Optional[str] = typer.Option(None, "--channel", help="Channel to re-sign (default: [store] channel)."),
    tenant: List[str] = typer.Option([], "--tenant", help="Tenant id (repeatable; default: [store] tenants)."),
    within: Optional[str] = typer.Option(
        None, "--within", help="Re-sign pointers expiring within this time, e.g. 3d (default: half of pointer_ttl)."
    ),
    no_purge: bool = typer.Option(False, "--no-purge", help="Do not purge the CDN afterwards (run `purge` later)."),
    store: Optional[str] = typer.Option(None, "--store", help="Store URL: file://DIR, azure, azure://ACCOUNT."),
    signing_key: Optional[Path] = typer.Option(None, "--signing-key", help="Release signing key (PEM)."),
) -> None:
    """Re-sign channel pointers before they expire (same version, sequence + 1); for a scheduled job."""
    from b2release import stages
    from b2release.stages import refresh as command

    ctx = make_context(typer_ctx)
    options = command.Options(channel, list(tenant) or None, within, not no_purge, store, signing_key)
    emit_result(ctx, stages.execute(ctx, command.NAME, lambda: command.run(ctx, options)))


# --- doctor -------------------------------------------------------------------------------
@app.command()
def doctor(typer_ctx: typer.Context) -> None:
    """Check tools, keys, config, work dir and services; exit 1 if anything is broken."""
    from b2release import doctor as doctor_mod
    from b2release.errors import CheckFailed

    ctx = make_context(typer_ctx)
    results = doctor_mod.run(ctx)
    if not ctx.json_output and ctx.verbosity >= 0:
        from rich.table import Table

        table = Table("area", "check", "status", "detail", show_lines=False)
        colours = {"ok": "green", "warn": "yellow", "fail": "red", "skip": "dim"}
        for c in results:
            table.add_row(c.area, c.name, f"[{colours[c.status]}]{c.status}[/]", c.detail)
        ctx.console.print(table)
    failed = [c for c in results if c.status == "fail"]
    if failed:
        raise CheckFailed(
            f"doctor: {len(failed)} check(s) failed: " + "; ".join(f"{c.area} {c.name}: {c.detail}" for c in failed),
            details=doctor_mod.to_dict(results),
        )
    emit(ctx, doctor_mod.to_dict(results), f"doctor: {len(results)} checks, none failed")


# --- entry point --------------------------------------------------------------------------
def _report_error(exc: B2ReleaseError, argv: list[str]) -> int:
    from b2release.redact import redact, redact_obj

    message = redact(exc.message)
    if "--json" in argv:
        sys.stdout.write(json.dumps(redact_obj(exc.to_dict()), indent=2, sort_keys=True) + "\n")
    verbose = any(a in ("-v", "--verbose") or (a.startswith("-v") and set(a[1:]) == {"v"}) for a in argv)
    cause = redact(repr(exc.__cause__)) if verbose and exc.__cause__ is not None else None
    if _log_format(argv) == "json":
        # Keep stderr machine-readable: the error is one more JSON log line.
        ctx = _CURRENT.get("ctx")
        import time

        doc = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "level": "error", "logger": "b2release",
               "msg": message, "exit_code": exc.exit_code, "error": exc.kind,
               "correlation_id": ctx.correlation_id if ctx is not None else None}
        if exc.hint:
            doc["hint"] = redact(exc.hint)
        if cause:
            doc["cause"] = cause
        sys.stderr.write(json.dumps(doc, sort_keys=True) + "\n")
        return exc.exit_code
    sys.stderr.write(f"error: {message}\n")
    if exc.hint:
        sys.stderr.write(f"hint: {redact(exc.hint)}\n")
    if cause:
        sys.stderr.write(f"cause: {cause}\n")
    return exc.exit_code


def _log_format(argv: list[str]) -> str:
    for index, arg in enumerate(argv):
        if arg == "--log-format" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--log-format="):
            return arg.split("=", 1)[1]
    return "text"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        rv = app(args=argv, prog_name="b2release", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except B2ReleaseError as exc:
        return _report_error(exc, argv)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        sys.stderr.write("aborted\n")
        return 130
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except typer.TyperException as exc:  # click usage errors: bad option, missing argument
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            sys.stderr.write(f"error: {exc}\n")
        return getattr(exc, "exit_code", EXIT_USAGE) or EXIT_USAGE
    finally:
        _CURRENT.clear()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
