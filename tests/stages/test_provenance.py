"""Build provenance of a real release of the sample connector (build with Mono's xbuild, scan,
sign, package): what the statement says, and that b2release and the documented openssl recipe
both accept it and both refuse a changed byte, a statement for another zip, and another key."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from b2release.formats import canonical, dsse
from b2release.formats.signature import load_signing_key
from tests.conftest import REPO, run_subprocess
from tests.fixtures.build import require_tool
from tests.fixtures.configs import release_config

PRODUCT, VERSION = "enventa-connector", "1.4.0"
ZIP = f"{PRODUCT}-{VERSION}.zip"
PROVENANCE = f"{PRODUCT}-{VERSION}.intoto.jsonl"
TOKEN = "ghs_0123456789abcdefPROVENANCEtoken"  # in the remote URL: must never reach the statement
ORIGIN = f"https://x-access-token:{TOKEN}@github.com/b2connect/connector.git"
SOURCE_URI = "git+https://github.com/b2connect/connector.git"
BUILDER_ID = "https://github.com/b2connect/connector/.github/workflows/release.yml@refs/tags/v1.4.0"
CI_ENV = {"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "b2connect/connector",
          "GITHUB_WORKFLOW_REF": "b2connect/connector/.github/workflows/release.yml@refs/tags/v1.4.0",
          "GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "1", "GITHUB_ACTOR": "octocat",
          "B2RELEASE_CORRELATION_ID": "prov-test-0001", "SOURCE_DATE_EPOCH": "1700000000"}


def _git(folder: Path, *args: str) -> str:
    cmd = ["git", "-C", str(folder), "-c", "user.email=t@example.invalid", "-c", "user.name=t", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def sample_release(tmp_path_factory, dev_keys) -> tuple[Path, str]:
    """The sample connector released up to package from a git checkout, as a GitHub Actions job would."""
    require_tool("xbuild")
    require_tool("osslsigncode")
    root = tmp_path_factory.mktemp("provenance")
    checkout = root / "connector"
    shutil.copytree(REPO / "examples" / "enventa-connector", checkout, ignore=shutil.ignore_patterns("bin", "obj"))
    _git(checkout, "init", "-q", "-b", "main")
    _git(checkout, "add", "-A")
    _git(checkout, "commit", "-qm", "connector 1.4.0")
    _git(checkout, "remote", "add", "origin", ORIGIN)
    cfg = release_config(root / "b2release.toml", dev_keys, checkout / "Enventa.Connector.sln", PRODUCT)
    work = root / "dist"
    result = run_subprocess("--config", cfg, "--work-dir", work, "release", "--version", VERSION, "--to", "package",
                            cwd=root, env=CI_ENV)
    assert result.exit_code == 0, result.output
    return work, _git(checkout, "rev-parse", "HEAD")


def _statement(envelope: bytes) -> dict:
    return json.loads(base64.b64decode(json.loads(envelope)["payload"]))


def _release_folder(work: Path, dest: Path, dev_keys: Path) -> Path:
    dest.mkdir()
    for name in (ZIP, "manifest.json", "manifest.json.sig", "SHA256SUMS", "sbom.cdx.json", PROVENANCE):
        shutil.copy(work / name, dest / name)
    shutil.copy(dev_keys / "release-signing.pub", dest / "release-signing.pub")
    return dest


def test_the_statement_describes_the_release(sample_release):
    work, commit = sample_release
    raw = (work / PROVENANCE).read_bytes()
    assert TOKEN not in raw.decode() and TOKEN not in base64.b64decode(json.loads(raw)["payload"]).decode()
    doc = _statement(raw)
    assert doc["subject"] == [{"name": ZIP, "digest": {"sha256": hashlib.sha256((work / ZIP).read_bytes()).hexdigest()}}]
    build = doc["predicate"]["buildDefinition"]
    stages = build["externalParameters"]["stages"]
    assert [s["name"] for s in stages] == ["build", "test", "compat", "scan", "sign", "package"]
    options = {s["name"]: s["options"] for s in stages}
    assert options["build"]["tool"] == "xbuild" and options["build"]["configuration"] == "Release"
    assert options["test"]["projects"] >= 1 and options["test"]["counts"]["failed"] == 0
    assert options["scan"] == {"fail_on": "high", "result": "pass"}
    assert options["compat"]["baseline"] is True  # the first release of this store: nothing to compare with
    assert options["sign"]["signed"] >= 2 and len(options["sign"]["certificate_sha256"]) == 64
    assert options["package"]["input"] is None and options["package"]["version"] == VERSION
    internal = build["internalParameters"]
    assert internal["toolchain"]["name"] == "xbuild" and internal["toolchain"]["version"]
    assert internal["SOURCE_DATE_EPOCH"] == 1700000000 and "sourceNote" not in internal
    assert internal["ci"]["kind"] == "github-actions"
    assert build["resolvedDependencies"] == [{"uri": SOURCE_URI, "digest": {"gitCommit": commit},
                                              "annotations": {"dirty": False, "ref": "refs/heads/main"}}]
    run = doc["predicate"]["runDetails"]
    assert run["builder"]["id"] == BUILDER_ID
    assert run["metadata"]["invocationId"] == "prov-test-0001"
    state = json.loads((work / "state.json").read_text())
    build_start = state["runs"]["build"]["finished_at"] - state["runs"]["build"]["duration_s"]
    started, finished = run["metadata"]["startedOn"], run["metadata"]["finishedOn"]
    assert started == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(build_start)))  # the build's start
    assert started <= finished
    scan = json.loads((work / "manifest.json").read_text())["scan"]
    assert {b["annotations"]["b2release.kind"]: b["digest"]["sha256"] for b in run["byproducts"]} == {
        "scan-report": scan["report_sha256"], "sbom": scan["sbom_sha256"]}
    # Recorded, and listed in SHA256SUMS, like every file of the release.
    assert any(a["kind"] == "provenance" and a["path"] == PROVENANCE for a in state["artifacts"])
    assert PROVENANCE in (work / "SHA256SUMS").read_text()


def _doc_recipe() -> str:
    import re

    text = (REPO / "docs" / "auditing.md").read_text(encoding="utf-8")
    return re.search(r"<!-- recipe: provenance -->\n```sh\n(.*?)```", text, re.S).group(1)


def _recipe(folder: Path) -> subprocess.CompletedProcess:
    for tool in ("openssl", "sha256sum", "base64"):
        require_tool(tool)
    return subprocess.run(["bash", "-e", "-c", _doc_recipe()], cwd=folder, capture_output=True, text=True, timeout=60)


def _verify(folder: Path, dev_keys: Path, *extra: str):
    return run_subprocess("--json", "verify", folder, "--public-key", dev_keys / "release-signing.pub", *extra)


def test_b2release_and_the_openssl_recipe_accept_it(sample_release, dev_keys, tmp_path):
    folder = _release_folder(sample_release[0], tmp_path / "release", dev_keys)
    result = _verify(folder, dev_keys, "--source-uri", SOURCE_URI, "--builder-id", BUILDER_ID)
    assert result.exit_code == 0, result.output
    doc = result.json()
    assert doc["provenance"]["builder_id"] == BUILDER_ID and doc["provenance"]["source_commit"] == sample_release[1]
    assert any(c.startswith(f"{PROVENANCE}: provenance signature valid") for c in doc["checks"])
    zip_alone = run_subprocess("verify", folder / ZIP, "--public-key", dev_keys / "release-signing.pub",
                               "--builder-id", BUILDER_ID)
    assert zip_alone.exit_code == 0 and "provenance: built by " + BUILDER_ID in zip_alone.stderr, zip_alone.output
    recipe = _recipe(folder)
    assert recipe.returncode == 0, recipe.stdout + recipe.stderr
    assert "Verified OK" in recipe.stdout and f"{ZIP}: OK" in recipe.stdout


def _changed_byte(envelope: dict, statement: bytes, keys: dict) -> bytes:
    at = statement.index(b'"configuration":"Release"') + len('"configuration":"')
    changed = statement[:at] + b"r" + statement[at + 1:]  # one byte: Release -> release
    return canonical.dumps({**envelope, "payload": base64.b64encode(changed).decode()})


def _another_zip(envelope: dict, statement: bytes, keys: dict) -> bytes:
    doc = json.loads(statement)
    doc["subject"][0]["digest"]["sha256"] = hashlib.sha256(b"another build of 1.4.0").hexdigest()
    return dsse.sign(canonical.dumps(doc), keys["release"]).to_line()  # genuinely signed, about another zip


def _another_key(envelope: dict, statement: bytes, keys: dict) -> bytes:
    return dsse.sign(statement, keys["other"]).to_line()


@pytest.mark.parametrize("attack, message", [
    (_changed_byte, "DSSE signature by key"),
    (_another_zip, f"subject {ZIP} has sha256"),
    (_another_key, "no signature by public key"),
], ids=["changed-byte", "another-zip", "another-key"])
def test_each_attack_is_exit_1_for_b2release_and_fails_the_recipe(sample_release, dev_keys, other_keys, tmp_path,
                                                                  attack, message):
    folder = _release_folder(sample_release[0], tmp_path / "release", dev_keys)
    envelope = json.loads((folder / PROVENANCE).read_bytes())
    statement = base64.b64decode(envelope["payload"])
    keys = {"release": load_signing_key(dev_keys / "release-signing.key"),
            "other": load_signing_key(other_keys / "release-signing.key")}
    (folder / PROVENANCE).write_bytes(attack(envelope, statement, keys))
    # SHA256SUMS is not signed: an attacker rewrites its line too, so only the signature can tell.
    sums = (folder / "SHA256SUMS").read_text().splitlines()
    digest = hashlib.sha256((folder / PROVENANCE).read_bytes()).hexdigest()
    (folder / "SHA256SUMS").write_text("\n".join(f"{digest}  {PROVENANCE}" if line.endswith(PROVENANCE) else line
                                                 for line in sums) + "\n")
    for target in (folder, folder / ZIP):
        result = run_subprocess("verify", target, "--public-key", dev_keys / "release-signing.pub")
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and PROVENANCE in errors[0] and message in errors[0], result.stderr
    assert _recipe(folder).returncode != 0


def test_expectations_and_a_missing_provenance(sample_release, dev_keys, tmp_path):
    folder = _release_folder(sample_release[0], tmp_path / "release", dev_keys)
    wrong_source = _verify(folder, dev_keys, "--source-uri", "git+https://github.com/evil/fork.git")
    assert wrong_source.exit_code == 1 and f"built from {SOURCE_URI}, expected" in wrong_source.stderr
    wrong_builder = _verify(folder, dev_keys, "--builder-id", "local://dev@laptop")
    assert wrong_builder.exit_code == 1 and "expected builder local://dev@laptop" in wrong_builder.stderr
    empty = _verify(folder, dev_keys, "--builder-id", " ")
    assert empty.exit_code == 2 and "--builder-id must not be empty" in empty.stderr
    # A copy of the zip without its provenance: a note, unless something was expected of it.
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(folder / ZIP, alone / ZIP)
    plain = _verify(alone / ZIP, dev_keys)
    assert plain.exit_code == 0 and any("no build provenance" in n for n in plain.json()["notes"])
    assert plain.json()["provenance"] is None
    required = _verify(alone / ZIP, dev_keys, "--builder-id", BUILDER_ID)
    assert required.exit_code == 1 and "no build provenance, so --builder-id cannot be checked" in required.stderr
    # Listed in SHA256SUMS but removed: the folder check refuses it like any listed file.
    (folder / PROVENANCE).unlink()
    missing = _verify(folder, dev_keys)
    assert missing.exit_code == 1 and f"{PROVENANCE} is listed in SHA256SUMS but missing" in missing.stderr


# --- prebuilt input (no build stage), fast: no Mono -----------------------------------------------
def _package_input(cli, tmp_path: Path, dev_keys: Path, source: Path, env: dict | None = None) -> dict:
    work = tmp_path / "dist"
    result = cli("--work-dir", work, "--json", "package", "--input", source, "--name", PRODUCT, "--version", VERSION,
                 "--signing-key", dev_keys / "release-signing.key", "--allow-unsigned",
                 env={"SOURCE_DATE_EPOCH": "1700000000", **(env or {})})
    assert result.exit_code == 0, result.output
    assert result.json()["provenance"] == PROVENANCE
    return _statement((work / PROVENANCE).read_bytes())


def test_prebuilt_input_outside_git_says_there_is_no_source(cli, tmp_path, dev_keys, sample_input):
    doc = _package_input(cli, tmp_path, dev_keys, sample_input)
    build = doc["predicate"]["buildDefinition"]
    assert build["internalParameters"]["toolchain"] == {"name": "prebuilt", "version": None}
    assert build["resolvedDependencies"] == []
    assert build["internalParameters"]["sourceNote"].startswith("no source recorded:")
    assert [s["name"] for s in build["externalParameters"]["stages"]] == ["package"]
    assert build["externalParameters"]["stages"][0]["options"]["input"] == str(sample_input)
    assert doc["predicate"]["runDetails"]["builder"]["id"].startswith("local://")


@pytest.mark.parametrize("remote, uri, note", [
    (None, None, "no repository URL: the checkout has no remote named origin"),
    ("/srv/git/connector.git", None, "no repository URL: the origin remote is a local path"),
    (ORIGIN, SOURCE_URI, None),
], ids=["no-remote", "local-remote", "https-remote-with-token"])
def test_prebuilt_input_in_a_checkout_names_its_commit(cli, tmp_path, dev_keys, sample_input, remote, uri, note):
    checkout = tmp_path / "checkout"
    shutil.copytree(sample_input, checkout / "bin")
    _git(checkout, "init", "-q", "-b", "release")
    _git(checkout, "add", "-A")
    _git(checkout, "commit", "-qm", "prebuilt")
    if remote:
        _git(checkout, "remote", "add", "origin", remote)
    (checkout / "uncommitted.txt").write_text("a local change\n")
    doc = _package_input(cli, tmp_path, dev_keys, checkout / "bin")
    build = doc["predicate"]["buildDefinition"]
    expected = {"digest": {"gitCommit": _git(checkout, "rev-parse", "HEAD")},
                "annotations": {"dirty": True, "ref": "refs/heads/release"}}
    if uri:
        expected["uri"] = uri
    assert build["resolvedDependencies"] == [expected]
    assert build["internalParameters"].get("sourceNote") == note
    assert TOKEN not in json.dumps(doc)
