"""The pipeline stages as commands: build, test, compat, scan, sign, package, upload, purge (release: cli/release.py)."""

from pathlib import Path
from typing import List, Optional

import typer

from b2release.cli import options
from b2release.cli.app import app, invoke


@app.command()
def build(
    typer_ctx: typer.Context,
    project: Optional[Path] = typer.Argument(
        None, help="Solution or project file (default: [product] project, else the one .sln here)."
    ),
    version: Optional[str] = typer.Option(None, "--version", help="Release version X.Y.Z, stamped into every assembly."),
    version_from_tag: options.VersionFromTag = False,
    tool: Optional[str] = typer.Option(None, "--tool", help="auto, msbuild, dotnet or xbuild (default: [build] tool)."),
    configuration: Optional[str] = typer.Option(
        None, "--configuration", "-c", help="Build configuration (default: [build] configuration, Release)."
    ),
    prop: List[str] = typer.Option([], "--property", "-p", help="Extra MSBuild property NAME=VALUE (repeatable)."),
) -> None:
    """Build the connector (msbuild, dotnet or Mono's xbuild) into <work dir>/build/."""
    invoke(typer_ctx, "build", project=project, version=version, version_from_tag=version_from_tag, tool=tool,
           configuration=configuration, properties=list(prop))


@app.command()
def compat(
    typer_ctx: typer.Context,
    against: Optional[str] = typer.Option(
        None, "--against", help=("Compare with VERSION in the store, or PATH: a package zip, a release folder, or a "
                                 "folder of assemblies or .api.txt files (default: the version the channel serves).")),
    against_version: Optional[str] = typer.Option(
        None, "--against-version", help="Version of an --against folder (default: the assemblies' stamped version)."),
    channel: options.Channel = None,
    store: options.Store = None,
    public_key: options.PublicKey = None,
    allow_breaking: options.AllowBreaking = False,
    reason: options.Reason = None,
) -> None:
    """Check the public API of the build against the previous release (semver); write api/ and release notes."""
    invoke(typer_ctx, "compat", against=against, against_version=against_version, channel=channel, store=store,
           public_key=public_key, allow_breaking=allow_breaking, reason=reason)


@app.command()
def test(
    typer_ctx: typer.Context,
    project: Optional[Path] = typer.Argument(
        None, help="Solution or project file (default: [product] project, else the build's, else the one .sln here)."
    ),
    runner: Optional[str] = typer.Option(
        None, "--runner", help="auto, nunit-console, nunit3-console, xunit, vstest or dotnet (default: [test] runner)."
    ),
    tool: Optional[str] = typer.Option(
        None, "--tool", help="Build tool for the test projects (default: the build's, else [build] tool)."
    ),
    configuration: Optional[str] = typer.Option(
        None, "--configuration", "-c", help="Build configuration (default: the build's, else [build] configuration)."
    ),
    prop: List[str] = typer.Option([], "--property", "-p", help="Extra MSBuild property NAME=VALUE (repeatable)."),
) -> None:
    """Build the solution's test projects and run them; JUnit XML in <work dir>/test-results/."""
    invoke(typer_ctx, "test", project=project, runner=runner, tool=tool, configuration=configuration,
           properties=list(prop))


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
    invoke(typer_ctx, "scan", source=source, advisories=advisories, online=online, fail_on=fail_on,
           ignore_file=ignore_file)


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
    invoke(typer_ctx, "sign", cert=cert, key=key, pfx=pfx, timestamp_url=timestamp_url, description=description,
           url=url, skip_signed=skip_signed, input=input, files=list(files or []))


@app.command()
def package(
    typer_ctx: typer.Context,
    input: Optional[Path] = typer.Option(None, "--input", help="Folder of prebuilt binaries (default: the build output)."),
    name: Optional[str] = typer.Option(None, "--name", help="Product name (default: [product] name)."),
    version: Optional[str] = typer.Option(None, "--version", help="Release version X.Y.Z (default: the build's)."),
    signing_key: options.SigningKey = None,
    allow_unsigned: bool = typer.Option(
        False, "--allow-unsigned", help="Package unsigned PE files although sign.required (recorded in the manifest)."
    ),
) -> None:
    """Package the build output into a signed, deterministic zip with manifest and SHA256SUMS."""
    invoke(typer_ctx, "package", input=input, name=name, version=version, signing_key=signing_key,
           allow_unsigned=allow_unsigned)


@app.command()
def upload(
    typer_ctx: typer.Context,
    tenant: options.Tenants = None,
    channel: options.Channel = None,
    store: options.Store = None,
    signing_key: options.SigningKey = None,
    dry_run: options.DryRun = False,
) -> None:
    """Upload the package to the store for each tenant, then move the signed channel pointer."""
    invoke(typer_ctx, "upload", tenants=tenant or None, channel=channel, store=store, signing_key=signing_key,
           dry_run=dry_run)


@app.command()
def purge(
    typer_ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="List the URLs that would be purged; send nothing."),
    store: options.Store = None,
    signing_key: options.SigningKey = None,
) -> None:
    """Purge the CDN cache for the channel pointers changed by the last upload, rollback or promote."""
    invoke(typer_ctx, "purge", dry_run=dry_run, store=store, signing_key=signing_key)
