"""Options several commands share, declared once (Typer reads `Annotated` metadata)."""

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from b2release.cli import completion

Store = Annotated[Optional[str], typer.Option(
    "--store", help="Store URL: file://DIR, azure, azure://ACCOUNT (default: [store] url).")]
Tenants = Annotated[Optional[List[str]], typer.Option(
    "--tenant", help="Tenant id (repeatable; default: [store] tenants).", autocompletion=completion.tenants)]
Tenant = Annotated[str, typer.Option("--tenant", help="Tenant id.", autocompletion=completion.tenants)]
Channel = Annotated[Optional[str], typer.Option(
    "--channel", help="Channel (default: [store] channel).", autocompletion=completion.channels)]
SigningKey = Annotated[Optional[Path], typer.Option(
    "--signing-key", help="Release signing key (PEM; default: [release] signing_key).")]
PublicKey = Annotated[Optional[Path], typer.Option(
    "--public-key", "--key", help="Release public key (PEM; default: [release] public_key). --key: the same, as in cosign.")]
NoPurge = Annotated[bool, typer.Option(
    "--no-purge", help="Do not purge the CDN afterwards (run `purge` later).")]
Version = Annotated[Optional[str], typer.Option("--version", help="Release version X.Y.Z.")]
DryRun = Annotated[bool, typer.Option(
    "--dry-run", help="Resolve and read everything, change nothing: print the plan of what would change.")]
VersionFromTag = Annotated[bool, typer.Option(
    "--version-from-tag", help="The version from the git tag on HEAD (v1.4.0 -> 1.4.0); refuses an untagged "
                               "commit or changed tracked files.")]
AllowBreaking = Annotated[bool, typer.Option(
    "--allow-breaking",
    help="Let a version that is too small for the API changes through (needs --reason; recorded in the manifest).")]
Reason = Annotated[Optional[str], typer.Option(
    "--reason", help="Why, with --allow-breaking: one line, signed into the manifest.")]
