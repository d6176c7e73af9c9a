"""Every command's --json output is one document of the same shape, success or failure.

The cases are chosen to be quick (a success that needs nothing, or a user error); the
list of cases must cover every command the CLI registers, so a new command without a
case fails here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import typer.main

from b2release.cli import app, load_all

# command path -> arguments after it (run in an empty folder, work dir tmp/dist)
CASES: dict[str, list[str]] = {
    "build": ["--version", "1.0.0", "missing.sln"],
    "test": ["missing.sln"],
    "compat": [],
    "scan": [],
    "sign": [],
    "package": [],
    "upload": [],
    "purge": [],
    "release": ["--version", "1.0.0", "--to", "build"],
    "verify": ["missing.zip", "--public-key", "missing.pub"],
    "rollback": ["--to", "1.0.0"],
    "promote": ["--from", "beta", "--to", "stable"],
    "refresh": [],
    "grant": ["--tenant", "acme"],
    "revoke": ["--tenant", "acme"],
    "doctor": [],
    "keys generate": ["--out", "keys"],
    "config show": [],
    "config check": [],
    "config schema": [],
    "init": [],
    "audit downloads": ["missing-logs"],
    "audit show": [],
    "audit verify": [],
    "status": [],
}


def registered() -> set[str]:
    load_all()  # every command module, not only those this process ran
    root = typer.main.get_command(app)

    def walk(command: Any, prefix: tuple[str, ...]) -> list[str]:
        if hasattr(command, "list_commands"):  # a group (Typer carries its own click)
            return [path for name in command.list_commands(None)
                    for path in walk(command.get_command(None, name), (*prefix, name))]
        return [" ".join(prefix)]

    return set(walk(root, ()))


def test_every_registered_command_has_a_case():
    assert registered() - set(CASES) == set()


@pytest.mark.parametrize("command", sorted(CASES))
def test_one_document_with_command_status_exit_code_and_correlation_id(cli, tmp_path, command):
    if command not in registered():
        pytest.skip(f"{command} is not a command yet")
    r = cli("--work-dir", tmp_path / "dist", "--json", *command.split(), *CASES[command], cwd=tmp_path,
            env={"B2RELEASE_CORRELATION_ID": "corr-shape", "B2RELEASE_STORE_URL": f"file://{tmp_path / 'store'}"})
    doc = json.loads(r.stdout)  # exactly one JSON document, nothing else on stdout
    assert doc["command"] == command
    assert doc["exit_code"] == r.exit_code
    assert doc["correlation_id"] == "corr-shape"
    if r.exit_code == 0:
        assert doc["status"] in ("ok", "skipped")
    else:
        assert doc["status"] == "failed" and doc["message"] and doc["error"]
    assert "Traceback" not in r.stderr
