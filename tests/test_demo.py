"""`make demo` is one of the two commands the README promises: run its script for real.

The script runs in a copy of the repository's demo inputs (so the checkout stays clean),
with `.venv/bin/b2release` standing for this checkout's code and `.tools` for the Azurite
install the test suite uses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from tests.conftest import REPO
from tests.fixtures.build import require_tool


def test_demo_script_runs_the_whole_chain(tmp_path):
    require_tool("xbuild")
    require_tool("osslsigncode")
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("scripts", "examples"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("bin", "obj"))
    shutil.copy(REPO / "b2release.toml", root / "b2release.toml")
    if (REPO / ".tools").exists():
        (root / ".tools").symlink_to(REPO / ".tools")
    venv_bin = root / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    wrapper = venv_bin / "b2release"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{REPO}" exec "{sys.executable}" -m b2release "$@"\n')
    wrapper.chmod(0o755)
    # git metadata for the build's commit id and timestamps, as in a real checkout
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "-c", "user.email=t@example.invalid", "-c", "user.name=t", "add", "-A"],
                   check=True)
    subprocess.run(["git", "-C", str(root), "-c", "user.email=t@example.invalid", "-c", "user.name=t",
                    "commit", "-qm", "demo"], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("B2RELEASE_", "AZURE_", "CLOUDFLARE_"))}
    proc = subprocess.run(["bash", "scripts/demo.sh"], cwd=root, capture_output=True, text=True, env=env,
                          timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "release 1.0.0: ran build, test, scan, sign, package, upload" in out
    assert "Authenticode: 2 PE files trusted by keys/codesign.crt" in out
    assert (root / "releases" / "tenant-acme" / "enventa-connector" / "1.0.0" / "SHA256SUMS").is_file()
    assert "rolled back enventa-connector channel stable from 1.1.0 to 1.0.0 in 3 of 3 containers" in out
    pointer = json.loads((root / "releases" / "tenant-globex" / "enventa-connector" / "channels" / "stable.json").read_text())
    assert pointer["version"] == "1.0.0" and pointer["rollback"]["from"] == "1.1.0"
    if (REPO / ".tools" / "node_modules" / ".bin" / "azurite-blob").exists():
        assert "the same grant on tenant globex's container: HTTP 403" in out
        assert "after revoke: HTTP 403" in out
    assert "demo done:" in out
