"""Shared fixtures: the CLI runner, dev keys, sample inputs.

Area fixtures live in tests/fixtures/ (Azurite, the sample connector build, PE files,
the fake Cloudflare API, a static HTTP store, a local OSV server) and are loaded here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytest_plugins = [
    "tests.fixtures.cloudflare",
    "tests.fixtures.http_store",
    "tests.fixtures.pe",
    "tests.fixtures.scan",
    "tests.fixtures.build",
    "tests.fixtures.projects",
    "tests.fixtures.azurite",
    "tests.fixtures.azure_proxy",
    "tests.fixtures.releases",
    "tests.fixtures.faults",
]


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self):
        import json

        return json.loads(self.stdout)


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run b2release in-process: cli(*args, env={...}, cwd=...) -> CliResult."""
    from b2release.cli import main

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> CliResult:
        with monkeypatch.context() as m:
            for key, value in (env or {}).items():
                if value is None:
                    m.delenv(key, raising=False)
                else:
                    m.setenv(key, value)
            if cwd is not None:
                m.chdir(cwd)
            capsys.readouterr()
            code = main([str(a) for a in args])
            out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


def run_subprocess(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
                   timeout: float = 600) -> CliResult:
    """Run b2release in a fresh process (as a CI job would), using this checkout's code."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "b2release", *map(str, args)],
        capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli_subprocess():
    return run_subprocess


def assert_user_error(result: CliResult, code: int, *needles: str) -> None:
    """A user error: the documented exit code, one 'error:' line naming the thing, no traceback."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output, result.output
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, result.stderr
    for needle in needles:
        assert needle in error_lines[0], error_lines[0]


@pytest.fixture(scope="session")
def dev_keys(tmp_path_factory) -> Path:
    """A dev key set (ECDSA release key + code-signing cert) generated once per session."""
    from b2release.stages import keys

    out = tmp_path_factory.mktemp("keys")
    keys.generate(out, "ecdsa-p256")
    return out


@pytest.fixture(scope="session")
def other_keys(tmp_path_factory) -> Path:
    """A second, unrelated key set: signatures by it must be refused."""
    from b2release.stages import keys

    out = tmp_path_factory.mktemp("other-keys")
    keys.generate(out, "ecdsa-p256")
    return out


@pytest.fixture
def sample_input(tmp_path) -> Path:
    """A small prebuilt payload (copied from examples/prebuilt) in a temp folder."""
    dest = tmp_path / "input"
    shutil.copytree(REPO / "examples" / "prebuilt", dest)
    return dest


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path_factory):
    # Tests must not inherit a developer's release settings: not from the environment, and
    # not from the checkout's own b2release.toml and keys/ (a fresh clone has no keys).
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    for key in list(os.environ):
        if key.startswith("B2RELEASE_") or key in ("SOURCE_DATE_EPOCH", "AZURE_STORAGE_CONNECTION_STRING",
                                                   "CLOUDFLARE_API_TOKEN"):
            monkeypatch.delenv(key, raising=False)


# Files b2release writes into work dirs and stores: none may hold a secret registered during
# the run (a storage key, a SAS, a token, a passphrase), whichever test put it into play.
OUTPUT_NAMES = {"state.json", "build.log", "build-info.json", "scan-report.json", "scan.sarif", "sbom.cdx.json",
                "manifest.json", "SHA256SUMS", "junit.xml", "last-seen.json"}


@pytest.fixture(scope="session", autouse=True)
def _no_registered_secret_in_any_output(tmp_path_factory):
    yield
    from b2release.redact import registered

    secrets = [s for s in registered() if len(s) >= 12]
    base = tmp_path_factory.getbasetemp()
    leaks = []
    for path in base.rglob("*"):
        if path.is_file() and (path.name in OUTPUT_NAMES or path.suffix == ".jsonl"):
            text = path.read_text(encoding="utf-8", errors="replace")
            leaks += [f"{path.relative_to(base)}: {secret[:4]}..." for secret in secrets if secret in text]
    assert not leaks, f"registered secrets found in b2release outputs: {leaks[:10]}"
