"""The Context every stage runs on: config, work dir state, output settings."""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from b2release.config import Config
from b2release.errors import UsageError
from b2release.state import State

if TYPE_CHECKING:
    from rich.console import Console


def new_correlation_id() -> str:
    # CI chains that run stages as separate jobs may pass one id through all of them.
    return os.environ.get("B2RELEASE_CORRELATION_ID") or uuid.uuid4().hex


@dataclass
class Context:
    config: Config
    work_dir: Path
    correlation_id: str = field(default_factory=new_correlation_id)
    json_output: bool = False
    verbosity: int = 0
    log_format: str = "text"
    version: str | None = None  # the release version being worked on, when known
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

    def product_name(self, override: str | None = None) -> str:
        from b2release.formats.names import validate_product_name

        name = override or self.config.get("product.name")
        if not name:
            raise UsageError("no product name: pass --name or set [product] name in b2release.toml")
        return validate_product_name(name)

    def release_version(self, override: str | None = None) -> str:
        """--version, else the version the build recorded, else a usage error."""
        from b2release.formats.names import validate_version

        version = override or self.version or self.state.data("build").get("version")
        if not version:
            raise UsageError("no version: pass --version X.Y.Z (or run build with --version first)")
        self.version = validate_version(version)
        return self.version
