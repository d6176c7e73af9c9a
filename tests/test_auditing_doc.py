"""docs/auditing.md is true: every `sh` block on it runs, in order, against a real signed
release and passes; and its standard-tool checks fail on each of the reproduced attacks."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.fixtures.pe import require_tool

DOC = REPO / "docs" / "auditing.md"
ZIP = "enventa-connector-1.4.0.zip"
PROVENANCE = "enventa-connector-1.4.0.intoto.jsonl"
# The release is packaged as a GitHub Actions job of this workflow would, from a checkout of this repository.
CI_ENV = {"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "b2connect/connector",
          "GITHUB_WORKFLOW_REF": "b2connect/connector/.github/workflows/release.yml@refs/tags/v1.4.0",
          "GITHUB_RUN_ID": "42", "GITHUB_ACTOR": "octocat"}
ORIGIN = "https://github.com/b2connect/connector.git"


def git_checkout(folder: Path, origin: str) -> None:
    """Make `folder` a committed git checkout whose `origin` is `origin`."""
    git = ["git", "-C", str(folder), "-c", "user.email=t@example.invalid", "-c", "user.name=t"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "release 1.4.0"], ["remote", "add", "origin", origin]):
        subprocess.run(git + args, check=True, capture_output=True)


def blocks() -> list[str]:
    """The `sh` blocks of the doc, dedented (several sit inside a numbered list)."""
    found = re.findall(r"^( *)```sh\n(.*?)^\1```", DOC.read_text(encoding="utf-8"), flags=re.S | re.M)
    return ["\n".join(line[len(indent):] for line in body.splitlines()) for indent, body in found]


@pytest.fixture
def release_folder(cli, tmp_path, dev_keys, pe_files) -> Path:
    """A signed release of enventa-connector 1.4.0 as an auditor receives it."""
    require_tool("osslsigncode")
    require_tool("zipinfo")
    source = tmp_path / "input"
    shutil.copytree(REPO / "examples" / "prebuilt", source)
    shutil.copy(pe_files.dll, source / "Enventa.Connector.dll")
    work = tmp_path / "dist"
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    signed = cli("--work-dir", work, "sign", "--input", source, "--cert", dev_keys / "codesign.crt",
                 "--key", dev_keys / "codesign.key", env=env)
    assert signed.exit_code == 0, signed.output
    # CI packages the signed output from its checkout: the provenance names the repository and commit.
    checkout = tmp_path / "checkout"
    shutil.copytree(work / "build", checkout / "bin")
    git_checkout(checkout, ORIGIN)
    packaged = cli("--work-dir", work, "package", "--input", checkout / "bin", "--name", "enventa-connector",
                   "--version", "1.4.0", "--signing-key", dev_keys / "release-signing.key", env={**env, **CI_ENV})
    assert packaged.exit_code == 0, packaged.output
    folder = tmp_path / "release"
    folder.mkdir()
    for name in (ZIP, "manifest.json", "manifest.json.sig", "SHA256SUMS", "sbom.cdx.json", PROVENANCE):
        if (work / name).exists():
            shutil.copy(work / name, folder / name)
    shutil.copy(dev_keys / "release-signing.pub", folder / "release-signing.pub")
    shutil.copy(dev_keys / "codesign.crt", folder / "codesign-ca.pem")
    return folder


def run_block(block: str, folder: Path) -> subprocess.CompletedProcess[str]:
    bin_dir = Path(sys.executable).parent  # b2release of this checkout's environment
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(REPO)}
    return subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=300)


def test_every_command_block_runs_and_passes(release_folder):
    found = blocks()
    assert len(found) >= 8, "the doc lost its command blocks"
    for block in found:
        result = run_block(block, release_folder)
        assert result.returncode == 0, f"block failed:\n{block}\n--- output ---\n{result.stdout}{result.stderr}"


def test_the_layout_checks_catch_a_prefixed_archive(release_folder):
    """A zip appended after a prefix (attack b) fails the documented layout check."""
    layout = next(b for b in blocks() if "504b0304" in b)
    zip_path = release_folder / ZIP
    zip_path.write_bytes(b"PK\x03\x04 a prefix that is another archive " + zip_path.read_bytes())
    assert run_block(layout, release_folder).returncode != 0


def test_the_payload_check_catches_a_replaced_file(release_folder):
    payload = next(b for b in blocks() if "audit.sums" in b)
    from b2release.formats import archive
    from b2release.formats.archive_reader import PackageArchive

    zip_path = release_folder / ZIP
    with PackageArchive.open(zip_path) as pkg:  # a careful attacker keeps the zip well formed
        entries = [archive.prepare_bytes(e.name, b"replaced" if e.name == "README.txt" else pkg.read(e, 1 << 26))
                   for e in pkg.entries]
    with open(zip_path, "wb") as out:
        archive.write(out, entries, 1700000000)
    assert run_block(payload, release_folder).returncode != 0


@pytest.mark.parametrize("attack", ["zip64", "prefix", "unicode_path"])
def test_the_layout_checks_catch_each_reproduced_attack(release_folder, attack):
    """The three archives that fooled the old verify also fail the documented tool checks."""
    from tests.formats import zipkit

    layout = next(b for b in blocks() if "504b0304" in b)
    zip_path = release_folder / ZIP
    signed, dll = zip_path.read_bytes(), b"Enventa.Connector.dll"
    attacked = {"zip64": lambda: zipkit.attack_zip64(signed, target=dll),
                # (b)'s shape: a copy of the archive in front of it (offsets then land in the copy)
                "prefix": lambda: signed[:-22] + signed,
                "unicode_path": lambda: zipkit.attack_unicode_path(signed, carrier=b"README.txt", target=dll)}[attack]
    zip_path.write_bytes(attacked())
    assert run_block(layout, release_folder).returncode != 0


def test_the_signature_check_fails_after_a_one_byte_change(release_folder):
    signature = blocks()[1]  # step 1: the manifest's signature
    assert "openssl" in signature and run_block(signature, release_folder).returncode == 0
    manifest = release_folder / "manifest.json"
    data = bytearray(manifest.read_bytes())
    data[10] ^= 0x01
    manifest.write_bytes(bytes(data))
    assert run_block(signature, release_folder).returncode != 0
    assert run_block("sha256sum -c SHA256SUMS", release_folder).returncode != 0


def test_the_signature_check_takes_an_ed25519_key(cli, tmp_path, sample_input):
    from b2release.stages import keys
    from tests.helpers import package_dir

    keys.generate(tmp_path / "k", "ed25519")
    work = package_dir(cli, tmp_path, tmp_path / "k", sample_input)
    shutil.copy(tmp_path / "k" / "release-signing.pub", work / "release-signing.pub")
    result = run_block(blocks()[1], work)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Signature Verified Successfully" in result.stdout


def test_the_provenance_checks_catch_another_zip(release_folder):
    """The statement is fine, the zip is not the one it describes: both documented checks fail."""
    recipe = next(b for b in blocks() if "statement.pae" in b)
    pinned = next(b for b in blocks() if "--builder-id" in b)
    assert run_block(recipe, release_folder).returncode == 0
    zip_path = release_folder / ZIP
    data = bytearray(zip_path.read_bytes())
    data[100] ^= 0x01
    zip_path.write_bytes(bytes(data))
    result = run_block(recipe, release_folder)
    assert result.returncode != 0 and f"{ZIP}: FAILED" in result.stdout
    assert run_block(pinned, release_folder).returncode == 1
