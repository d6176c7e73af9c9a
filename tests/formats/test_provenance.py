"""SLSA provenance: statement content, stable bytes, builder detection, check_provenance, the doc's openssl recipe."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from b2release.errors import InputError, VerificationError
from b2release.formats import dsse, provenance
from b2release.formats.provenance import ArtifactRef, Builder, ProvenanceInputs, SourceInfo, StageRun
from b2release.formats.signature import load_public_key, load_signing_key

REPO = Path(__file__).resolve().parents[2]
ZIP = "enventa-connector-1.4.0.zip"
ENVELOPE = "enventa-connector-1.4.0.intoto.jsonl"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _keypair(tmp_path: Path, name: str, algorithm: str = "ecdsa-p256"):
    private = ec.generate_private_key(ec.SECP256R1()) if algorithm == "ecdsa-p256" else ed25519.Ed25519PrivateKey.generate()
    (tmp_path / f"{name}.key").write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / f"{name}.pub").write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return load_signing_key(tmp_path / f"{name}.key"), load_public_key(tmp_path / f"{name}.pub")


@pytest.fixture
def keys(tmp_path):
    return _keypair(tmp_path, "release")


def _inputs(zip_bytes: bytes = b"zip bytes", zip_name: str = ZIP, **overrides) -> ProvenanceInputs:
    base = ProvenanceInputs(
        zip_name=zip_name,
        zip_sha256=hashlib.sha256(zip_bytes).hexdigest(),
        product="enventa-connector",
        version="1.4.0",
        stages=(
            StageRun("build", {"configuration": "Release", "properties": {"SigningPassword": "***"},
                               "project": Path("src/Connector.sln")}),
            StageRun("scan", {"fail_on": "high"}),
            StageRun("package", {}),
        ),
        builder=Builder("https://github.com/b2connect/connector/.github/workflows/release.yml@refs/heads/main",
                        "github-actions", "octocat@github-actions/b2connect/connector/runs/42",
                        "https://github.com/b2connect/connector/actions/runs/42/attempts/1",
                        {"runnerEnvironment": "github-hosted"}),
        invocation_id="c0ffee",
        started_on="2024-05-01T10:00:00Z",
        finished_on="2024-05-01T10:07:30Z",
        source=SourceInfo("git+https://github.com/b2connect/connector", COMMIT, False, "refs/heads/main"),
        toolchain="dotnet",
        toolchain_version="8.0.100",
        source_date_epoch=1700000000,
        scan_report=ArtifactRef("scan-report.json", "a" * 64, "application/json"),
        sbom=ArtifactRef("sbom.cdx.json", "b" * 64, "application/vnd.cyclonedx+json"),
    )
    return replace(base, **overrides)


def test_statement_shape():
    doc = provenance.statement(_inputs())
    assert doc["_type"] == "https://in-toto.io/Statement/v1"
    assert doc["predicateType"] == "https://slsa.dev/provenance/v1"
    assert doc["subject"] == [{"name": ZIP, "digest": {"sha256": hashlib.sha256(b"zip bytes").hexdigest()}}]
    bd = doc["predicate"]["buildDefinition"]
    assert bd["buildType"] == provenance.BUILD_TYPE
    assert bd["externalParameters"]["version"] == "1.4.0"
    assert [s["name"] for s in bd["externalParameters"]["stages"]] == ["build", "scan", "package"]
    assert bd["externalParameters"]["stages"][0]["options"]["project"] == "src/Connector.sln"
    assert bd["internalParameters"]["toolchain"] == {"name": "dotnet", "version": "8.0.100"}
    assert bd["internalParameters"]["SOURCE_DATE_EPOCH"] == 1700000000
    assert bd["internalParameters"]["ci"]["runUrl"].endswith("/runs/42/attempts/1")
    assert bd["resolvedDependencies"] == [{"uri": "git+https://github.com/b2connect/connector",
                                           "digest": {"gitCommit": COMMIT},
                                           "annotations": {"dirty": False, "ref": "refs/heads/main"}}]
    rd = doc["predicate"]["runDetails"]
    assert rd["builder"]["id"].endswith("release.yml@refs/heads/main")
    assert rd["metadata"] == {"invocationId": "c0ffee", "startedOn": "2024-05-01T10:00:00Z",
                              "finishedOn": "2024-05-01T10:07:30Z"}
    assert [b["annotations"]["b2release.kind"] for b in rd["byproducts"]] == ["scan-report", "sbom"]
    assert rd["byproducts"][0]["digest"] == {"sha256": "a" * 64}


def test_statement_bytes_are_stable_and_canonical():
    first = provenance.statement_bytes(_inputs())
    assert first == provenance.statement_bytes(_inputs())
    assert first.endswith(b"}\n") and b"\n" not in first[:-1] and b": " not in first
    assert json.loads(first) == provenance.statement(_inputs())


def test_secrets_in_stage_options_are_masked():
    inputs = _inputs(stages=(StageRun("build", {"args": "/p:Password=hunter22", "url": "https://x/?sv=1&sig=zyxwvu"}),))
    text = provenance.statement_bytes(inputs).decode()
    assert "hunter22" not in text and "zyxwvu" not in text


@pytest.mark.parametrize("override, message", [
    ({"zip_sha256": "ABC"}, "not a lowercase sha256"),
    ({"zip_name": "dir/x.zip"}, "plain file name"),
    ({"started_on": "2024-05-01 10:00"}, "startedOn"),
    ({"source": SourceInfo("git+https://h/r", "abc", False)}, "full hex git commit"),
    ({"scan_report": ArtifactRef("s.json", "nothex")}, "scan-report digest"),
])
def test_bad_inputs_are_refused(override, message):
    with pytest.raises(InputError, match=message):
        provenance.statement(_inputs(**override))


def test_check_provenance_accepts_the_zip(keys):
    key, pub = keys
    line = provenance.sign_provenance(_inputs(), key)
    summary = provenance.check_provenance(line, ZIP, hashlib.sha256(b"zip bytes").hexdigest(), pub,
                                          expect_source_uri="git+https://github.com/b2connect/connector",
                                          expect_builder_id=_inputs().builder.id)
    assert summary.source_commit == COMMIT and summary.source_dirty is False
    assert summary.version == "1.4.0" and summary.invocation_id == "c0ffee"
    assert summary.key_id == key.key_id and summary.build_type == provenance.BUILD_TYPE


def test_check_provenance_failures(tmp_path, keys):
    key, pub = keys
    digest = hashlib.sha256(b"zip bytes").hexdigest()
    line = provenance.sign_provenance(_inputs(), key)
    with pytest.raises(VerificationError, match=r"^p: subject enventa-connector-1.4.0.zip has sha256"):
        provenance.check_provenance(line, ZIP, hashlib.sha256(b"other").hexdigest(), pub, what="p")
    with pytest.raises(VerificationError, match="statement is for enventa-connector-1.4.0.zip, not other.zip"):
        provenance.check_provenance(line, "other.zip", digest, pub, what="p")
    with pytest.raises(VerificationError, match="built from git\\+https://github.com/b2connect/connector, expected"):
        provenance.check_provenance(line, ZIP, digest, pub, expect_source_uri="git+https://evil/fork", what="p")
    with pytest.raises(VerificationError, match="built by https://github.com/.*, expected builder local://"):
        provenance.check_provenance(line, ZIP, digest, pub, expect_builder_id="local://me@laptop", what="p")
    _, other_pub = _keypair(tmp_path, "other")
    with pytest.raises(VerificationError, match="no signature by public key"):
        provenance.check_provenance(line, ZIP, digest, other_pub, what="p")
    # A validly signed envelope that is not a SLSA statement.
    wrong = dsse.sign(b'{"_type":"https://in-toto.io/Statement/v1","predicateType":"x"}', key).to_line()
    with pytest.raises(VerificationError, match="predicateType is 'x'"):
        provenance.check_provenance(wrong, ZIP, digest, pub, what="p")


def test_detect_builder_github():
    env = {"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "b2connect/connector",
           "GITHUB_WORKFLOW_REF": "b2connect/connector/.github/workflows/release.yml@refs/tags/v1.4.0",
           "GITHUB_RUN_ID": "987", "GITHUB_RUN_ATTEMPT": "2", "GITHUB_ACTOR": "octocat",
           "RUNNER_ENVIRONMENT": "github-hosted"}
    builder = provenance.detect_builder(env)
    assert builder.kind == "github-actions"
    assert builder.id == "https://github.com/b2connect/connector/.github/workflows/release.yml@refs/tags/v1.4.0"
    assert builder.run_url == "https://github.com/b2connect/connector/actions/runs/987/attempts/2"
    assert builder.actor == "octocat@github-actions/b2connect/connector/runs/987"
    assert builder.details == {"runnerEnvironment": "github-hosted"}


def test_detect_builder_azure():
    env = {"TF_BUILD": "True", "SYSTEM_COLLECTIONURI": "https://dev.azure.com/b2connect/",
           "SYSTEM_TEAMPROJECT": "ERP Connector", "SYSTEM_DEFINITIONID": "17", "BUILD_DEFINITIONNAME": "release",
           "BUILD_BUILDID": "555", "BUILD_REQUESTEDFOR": "Jane Doe"}
    builder = provenance.detect_builder(env)
    assert builder.kind == "azure-pipelines"
    assert builder.id == "https://dev.azure.com/b2connect/ERP%20Connector/_build?definitionId=17"
    assert builder.run_url == "https://dev.azure.com/b2connect/ERP%20Connector/_build/results?buildId=555"
    assert builder.actor == "Jane Doe@azure-pipelines/ERP Connector/builds/555"


def test_detect_builder_local(monkeypatch):
    monkeypatch.setattr("b2release.formats.origin._local_identity", lambda: ("dev", "laptop"))
    builder = provenance.detect_builder({})
    assert (builder.id, builder.kind, builder.actor, builder.run_url) == ("local://dev@laptop", "local", "dev@laptop", None)


@pytest.mark.parametrize("remote, expected", [
    ("https://github.com/b2connect/connector.git", "git+https://github.com/b2connect/connector.git"),
    ("https://x-access-token:ghs_secret@github.com/b2connect/connector", "git+https://github.com/b2connect/connector"),
    ("git@github.com:b2connect/connector.git", "git+ssh://git@github.com/b2connect/connector.git"),
    ("ssh://git@ssh.dev.azure.com:22/v3/org/p/r", "git+ssh://git@ssh.dev.azure.com:22/v3/org/p/r"),
    ("git+https://host/r", "git+https://host/r"),
])
def test_source_uri(remote, expected):
    assert provenance.source_uri(remote) == expected


def test_source_uri_refuses_local_paths():
    with pytest.raises(InputError, match="not a remote URL"):
        provenance.source_uri("/home/me/src/connector")


# --- the auditor's recipe in docs/auditing.md, run as written ---------------------------------
def _recipe(name: str = "provenance") -> str:
    text = (REPO / "docs" / "auditing.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- recipe: {name} -->\n```sh\n(.*?)```", text, re.S)
    assert match, f"recipe {name} not found in docs/auditing.md"
    return match.group(1)


needs_tools = pytest.mark.skipif(not all(shutil.which(t) for t in ("bash", "openssl", "sha256sum", "base64", "sed")),
                                 reason="needs bash, openssl, sha256sum, base64, sed")


def _release_folder(tmp_path: Path, algorithm: str = "ecdsa-p256") -> tuple[Path, object]:
    folder = tmp_path / "release"
    folder.mkdir()
    key, _ = _keypair(tmp_path, "release", algorithm)
    shutil.copy(tmp_path / "release.pub", folder / "release-signing.pub")
    (folder / ZIP).write_bytes(b"PK\x03\x04 the release zip")
    (folder / ENVELOPE).write_bytes(provenance.sign_provenance(_inputs(b"PK\x03\x04 the release zip"), key))
    return folder, key


def _run(recipe: str, folder: Path) -> subprocess.CompletedProcess:
    # As the doc says: a script that stops at the first failing check.
    return subprocess.run(["bash", "-e", "-c", recipe], cwd=folder, capture_output=True, text=True, timeout=60)


@needs_tools
def test_recipe_verifies_a_real_envelope(tmp_path):
    folder, _ = _release_folder(tmp_path)
    result = _run(_recipe(), folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verified OK" in result.stdout and f"{ZIP}: OK" in result.stdout


@needs_tools
def test_recipe_ed25519(tmp_path):
    folder, _ = _release_folder(tmp_path, "ed25519")
    result = _run(_recipe(), folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Signature Verified Successfully" in result.stdout


@needs_tools
def test_recipe_fails_on_a_changed_byte_in_the_statement(tmp_path):
    folder, _ = _release_folder(tmp_path)
    doc = json.loads((folder / ENVELOPE).read_bytes())
    statement = bytearray(base64.b64decode(doc["payload"]))
    at = statement.index(b"Release")
    statement[at] = ord("r")  # one byte of a stage option
    doc["payload"] = base64.b64encode(bytes(statement)).decode()
    (folder / ENVELOPE).write_bytes((json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n").encode())
    result = _run(_recipe(), folder)
    assert result.returncode != 0
    assert "Verification failure" in result.stdout + result.stderr


@needs_tools
def test_recipe_fails_for_a_statement_about_another_zip(tmp_path):
    folder, key = _release_folder(tmp_path)
    # Properly signed, but for other bytes under the same name: sha256sum -c fails.
    (folder / ENVELOPE).write_bytes(provenance.sign_provenance(_inputs(b"another build"), key))
    result = _run(_recipe(), folder)
    assert result.returncode != 0 and "Verified OK" in result.stdout
    assert f"{ZIP}: FAILED" in result.stdout
    # Properly signed for a zip with another name: the subject check stops it.
    (folder / ENVELOPE).write_bytes(provenance.sign_provenance(
        _inputs(b"PK\x03\x04 the release zip", zip_name="enventa-connector-1.3.0.zip"), key))
    result = _run(_recipe(), folder)
    assert result.returncode != 0 and "Verified OK" in result.stdout and ": OK" not in result.stdout


@needs_tools
def test_recipe_fails_for_another_key(tmp_path):
    folder, _ = _release_folder(tmp_path)
    other, _ = _keypair(tmp_path, "other")
    (folder / ENVELOPE).write_bytes(provenance.sign_provenance(_inputs(b"PK\x03\x04 the release zip"), other))
    result = _run(_recipe(), folder)
    assert result.returncode != 0
    assert "Verification failure" in result.stdout + result.stderr


def test_a_source_without_remote_and_a_missing_source_are_stated(keys):
    key, pub = keys
    digest = hashlib.sha256(b"zip bytes").hexdigest()
    no_remote = _inputs(source=SourceInfo(None, COMMIT, None), source_note="no repository URL: no origin")
    doc = provenance.statement(no_remote)
    assert doc["predicate"]["buildDefinition"]["resolvedDependencies"] == [{"digest": {"gitCommit": COMMIT},
                                                                            "annotations": {}}]
    assert doc["predicate"]["buildDefinition"]["internalParameters"]["sourceNote"] == "no repository URL: no origin"
    summary = provenance.check_provenance(provenance.sign_provenance(no_remote, key), ZIP, digest, pub)
    assert (summary.source_uri, summary.source_commit, summary.source_dirty) == (None, COMMIT, None)
    with pytest.raises(VerificationError, match="built from no recorded source, expected git\\+https://h/r"):
        provenance.check_provenance(provenance.sign_provenance(no_remote, key), ZIP, digest, pub,
                                    expect_source_uri="git+https://h/r")
    none = provenance.statement(_inputs(source=None, source_note="no source recorded: not a git checkout"))
    assert none["predicate"]["buildDefinition"]["resolvedDependencies"] == []
    assert "sourceNote" not in provenance.statement(_inputs())["predicate"]["buildDefinition"]["internalParameters"]
