"""The Context every command runs on: config, work dir state, output settings, and the
answers several stages need, each with one documented fallback chain.

- `product_name(override)`: the command's `--name`, else `[product] name` (file or
  `B2RELEASE_PRODUCT_NAME`), else the product this work dir last packaged, else the one it
  last uploaded.
- `release_version(override)`: the command's `--version`, else `release --version`, else
  the version the build stage stamped into the assemblies.
- `signing_key(override)` / `public_key(override)`: `--signing-key` / `--public-key`,
  else `[release] signing_key` / `public_key`.
- `source_epoch(tree)`: `SOURCE_DATE_EPOCH`, else the last commit time of the tree the
  command was given (`--input`, `--source`), else of the source tree the build recorded,
  else 1980-01-01 (the earliest time a zip holds). Zip timestamps, Authenticode signing
  times and the SBOM all take their time from here, so a rebuild of one commit is
  byte-identical.

Stages read these; only the CLI sets `requested_version` (from `release --version`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from b2release import vcs
from b2release.artifacts import BuildRecord, PackageRecord, UploadRecord
from b2release.config import CONFIG_FILE_NAME, Config
from b2release.errors import KEYS_HINT, UsageError
from b2release.formats.names import validate_product_name, validate_version
from b2release.formats.signature import PublicKey, SigningKey, load_public_key, load_signing_key
from b2release.log import new_correlation_id
from b2release.state import State

if TYPE_CHECKING:
    from rich.console import Console

FIXED_EPOCH = 315532800  # 1980-01-01T00:00:00Z, used when nothing better is known


@dataclass
class Context:
    config: Config
    work_dir: Path
    correlation_id: str = field(default_factory=new_correlation_id)
    json_output: bool = False
    verbosity: int = 0
    log_format: str = "text"
    requested_version: str | None = None  # `release --version`, validated by the CLI
    _state: State | None = field(default=None, repr=False)
    _console: Console | None = field(default=None, repr=False)

    @property
    def state(self) -> State:
        if self._state is None:
            if self.work_dir.exists() and not self.work_dir.is_dir():
                raise UsageError(f"work dir {self.work_dir} exists and is not a directory")
            self._state = State(self.work_dir)
        return self._state

    @property
    def console(self) -> Console:
        """Human output: always stderr, so stdout carries only the --json document."""
        if self._console is None:
            from rich.console import Console

            # With --log-format json, stderr carries only JSON log lines (one object each):
            # tables, spinners and summary lines would break a log shipper's parser.
            quiet = self.verbosity < 0 or self.log_format == "json"
            self._console = Console(file=sys.stderr, quiet=quiet, highlight=False, soft_wrap=True)
        return self._console

    @property
    def interactive(self) -> bool:
        return sys.stderr.isatty() and self.log_format == "text" and not os.environ.get("CI")

    def follow_up(self, *args: str) -> str:
        """A command line to print as the next step, runnable as printed: `b2release`, the
        global options this run depended on (its work dir and config file), then `args`."""
        import shlex

        line = ["b2release"]
        if self.config.file is not None and Path(self.config.file).resolve() != \
                (Path.cwd() / CONFIG_FILE_NAME).resolve():
            line += ["--config", str(self.config.file)]
        if Path(self.work_dir) != Path("dist"):
            line += ["--work-dir", str(self.work_dir)]
        return shlex.join([*line, *[str(a) for a in args]])

    # --- the answers stages share ---------------------------------------------------------
    def product_name(self, override: str | None = None) -> str:
        packaged, uploaded = PackageRecord.read(self.state), UploadRecord.read(self.state)
        name = (override or self.config.get("product.name") or (packaged and packaged.product)
                or (uploaded and uploaded.product))
        if not name:
            raise UsageError("no product name: pass --name or set [product] name in b2release.toml "
                             "(or B2RELEASE_PRODUCT_NAME)")
        return validate_product_name(name)

    def release_version(self, override: str | None = None) -> str:
        built = BuildRecord.read(self.state)
        version = override or self.requested_version or (built and built.version)
        if not version:
            raise UsageError("no version: pass --version X.Y.Z (or run build with --version first)")
        return validate_version(version)

    def tag_version(self, tree: Path | None = None) -> str:
        """`--version-from-tag`: the version tag on HEAD of the project's checkout."""
        from b2release import vcs

        return vcs.version_from_tag(tree or self.config.path("product.project") or Path.cwd())

    def signing_key(self, override: Path | None = None) -> SigningKey:
        path = override or self.config.path("release.signing_key")
        if path is None:
            raise UsageError("no release signing key: pass --signing-key F or set [release] signing_key",
                             hint=KEYS_HINT)
        return load_signing_key(path)

    def public_key(self, override: Path | None = None) -> PublicKey:
        path = override or self.config.path("release.public_key")
        if path is None:
            raise UsageError("no public key: pass --public-key F or set [release] public_key", hint=KEYS_HINT)
        return load_public_key(path)

    def source_epoch(self, tree: Path | None = None) -> tuple[int, str]:
        """(seconds, where they came from: "SOURCE_DATE_EPOCH" | "git" | "fixed")."""
        raw = os.environ.get("SOURCE_DATE_EPOCH")
        if raw is not None and raw != "":
            if not raw.isdigit():
                raise UsageError(f"SOURCE_DATE_EPOCH must be a whole number of seconds, got {raw!r}")
            return int(raw), "SOURCE_DATE_EPOCH"
        built = BuildRecord.read(self.state)
        for candidate in (tree, Path(built.source_dir) if built and built.source_dir else None):
            commit_time = vcs.commit_time(candidate)
            if commit_time is not None:
                return commit_time, "git"
        return FIXED_EPOCH, "fixed"
