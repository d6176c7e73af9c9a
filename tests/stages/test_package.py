import hashlib
import json
import os
import shutil
import socket
import subprocess
import zipfile
from pathlib import Path

import pytest

from b2release.formats.manifest import ZIP_MANIFEST, ZIP_SIGNATURE
from tests.conftest import assert_user_error, run_subprocess
from tests.helpers import package_dir


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_package_outputs_and_manifest(cli, tmp_path, dev_keys, sample_input):
    work = package_dir(cli, tmp_path, dev_keys, sample_input)
    zip_path = work / "enventa-connector-1.2.3.zip"
    manifest = json.loads((work / "manifest.json").read_bytes())
    assert manifest["product"] == "enventa-connector" and manifest["version"] == "1.2.3"
    assert [f["path"] for f in manifest["files"]] == sorted(
        p.relative_to(sample_input).as_posix() for p in sample_input.rglob("*") if p.is_file()
    )
    pub_der_id = manifest["key_id"]
    assert len(pub_der_id) == 64
    assert manifest["timestamp"] == {"epoch": 1700000000, "source": "SOURCE_DATE_EPOCH"}
    # canonical bytes: sorted keys, compact separators, trailing newline
    raw = (work / "manifest.json").read_bytes()
    assert raw == (json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
    # the zip embeds exactly the manifest and signature written beside it
    with zipfile.ZipFile(zip_path) as zf:
        assert zf.read(ZIP_MANIFEST) == raw
        assert zf.read(ZIP_SIGNATURE) == (work / "manifest.json.sig").read_bytes()
    sums = (work / "SHA256SUMS").read_text().splitlines()
    assert [line.split("  ")[1] for line in sums] == sorted(
        ["enventa-connector-1.2.3.zip", "manifest.json", "manifest.json.sig", "enventa-connector-1.2.3.intoto.jsonl"]
    )
    state = json.loads((work / "state.json").read_text())
    kinds = {a["kind"]: a for a in state["artifacts"]}
    assert kinds["package"]["sha256"] == _sha(zip_path)
    assert state["runs"]["package"]["status"] == "ok"


def test_byte_identical_across_cwd_umask_and_mtimes(tmp_path, dev_keys, sample_input):
    """Same input, different working dir, umask and mtimes: same zip bytes (fresh processes)."""
    key = dev_keys / "release-signing.key"
    copy = tmp_path / "elsewhere" / "input"
    shutil.copytree(sample_input, copy)
    for path in copy.rglob("*"):
        os.utime(path, (1234567890, 1234567890))
        if path.is_file():
            path.chmod(0o600)
    cwd_a, cwd_b = tmp_path / "a", tmp_path / "b" / "deeper"
    cwd_a.mkdir()
    cwd_b.mkdir(parents=True)
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    r1 = run_subprocess("--work-dir", tmp_path / "w1", "package", "--input", sample_input, "--name", "p",
                        "--version", "1.0.0", "--signing-key", key, cwd=cwd_a, env=env)
    old = os.umask(0o077)
    try:
        r2 = run_subprocess("--work-dir", tmp_path / "w2", "package", "--input", copy, "--name", "p",
                            "--version", "1.0.0", "--signing-key", key, cwd=cwd_b, env=env)
    finally:
        os.umask(old)
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output + r2.output
    z1, z2 = tmp_path / "w1" / "p-1.0.0.zip", tmp_path / "w2" / "p-1.0.0.zip"
    assert _sha(z1) == _sha(z2)
    # Every line but the provenance's: a statement of one run (its times, invocation id) differs by design.
    sums = [[line for line in (tmp_path / w / "SHA256SUMS").read_text().splitlines() if not line.endswith(".intoto.jsonl")]
            for w in ("w1", "w2")]
    assert sums[0] == sums[1] and len(sums[0]) == 3


def test_timestamp_falls_back_to_git_commit_time_then_fixed(cli, tmp_path, dev_keys, sample_input):
    work = package_dir(cli, tmp_path, dev_keys, sample_input, env={"SOURCE_DATE_EPOCH": None})
    ts = json.loads((work / "manifest.json").read_bytes())["timestamp"]
    assert ts == {"epoch": 315532800, "source": "fixed"}  # tmp input is not in a git repo
    repo = tmp_path / "repo"
    shutil.copytree(sample_input, repo)
    git = ["git", "-C", str(repo), "-c", "user.email=t@example.invalid", "-c", "user.name=t"]
    subprocess.run(git[:3] + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "x", "--date=@1600000000"], check=True,
                   env={**os.environ, "GIT_COMMITTER_DATE": "@1600000000"})
    work2 = package_dir(cli, tmp_path, dev_keys, repo, work=tmp_path / "d2", env={"SOURCE_DATE_EPOCH": None})
    assert json.loads((work2 / "manifest.json").read_bytes())["timestamp"] == {"epoch": 1600000000, "source": "git"}


def test_package_needs_no_network(cli, tmp_path, dev_keys, sample_input, monkeypatch):
    def no_socket(*a, **k):
        raise AssertionError("package opened a socket")

    monkeypatch.setattr(socket, "socket", no_socket)
    package_dir(cli, tmp_path, dev_keys, sample_input)


# --- user errors: exit code, one line naming the thing, no traceback -----------------------
def test_bad_semver(cli, tmp_path, dev_keys, sample_input):
    r = cli("--work-dir", tmp_path / "d", "package", "--input", sample_input, "--name", "p", "--version", "1.0",
            "--signing-key", dev_keys / "release-signing.key")
    assert_user_error(r, 2, "invalid version '1.0'")
    assert not (tmp_path / "d" / "p-1.0.zip").exists()


def test_missing_input(cli, tmp_path, dev_keys):
    r = cli("--work-dir", tmp_path / "d", "package", "--input", tmp_path / "nope", "--name", "p", "--version", "1.0.0",
            "--signing-key", dev_keys / "release-signing.key")
    assert_user_error(r, 2, str(tmp_path / "nope"), "does not exist")


def test_unreadable_key(cli, tmp_path, sample_input):
    bad = tmp_path / "bad.key"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    r = cli("--work-dir", tmp_path / "d", "package", "--input", sample_input, "--name", "p", "--version", "1.0.0",
            "--signing-key", bad)
    assert_user_error(r, 2, str(bad))
    r = cli("--work-dir", tmp_path / "d", "package", "--input", sample_input, "--name", "p", "--version", "1.0.0",
            "--signing-key", tmp_path)
    assert_user_error(r, 2, "is a directory")


def test_no_signing_key_configured(cli, tmp_path, sample_input):
    r = cli("--work-dir", tmp_path / "d", "package", "--input", sample_input, "--name", "p", "--version", "1.0.0",
            cwd=tmp_path)
    assert_user_error(r, 2, "--signing-key")


def test_symlink_in_input_refused(cli, tmp_path, dev_keys, sample_input):
    (sample_input / "link.txt").symlink_to(sample_input / "README.txt")
    r = cli("--work-dir", tmp_path / "d", "package", "--input", sample_input, "--name", "p", "--version", "1.0.0",
            "--signing-key", dev_keys / "release-signing.key")
    assert_user_error(r, 2, "link.txt", "symbolic link")
    assert not (tmp_path / "d" / "p-1.0.0.zip").exists()


def test_fifo_in_input_refused(cli, tmp_path, dev_keys, sample_input):
    os.mkfifo(sample_input / "pipe")
    r = cli("--work-dir", tmp_path / "d", "package", "--input", sample_input, "--name", "p", "--version", "1.0.0",
            "--signing-key", dev_keys / "release-signing.key")
    assert_user_error(r, 2, "pipe", "not a regular file")


@pytest.mark.parametrize("bad_name", ["aux.dll", "what?.txt", "trailing.", "back\\slash.txt"])
def test_unsafe_names_refused(cli, tmp_path, dev_keys, sample_input, bad_name):
    (sample_input / bad_name).write_text("x")
    r = cli("--work-dir", tmp_path / "d", "package", "--input", sample_input, "--name", "p", "--version", "1.0.0",
            "--signing-key", dev_keys / "release-signing.key")
    assert_user_error(r, 2, repr(bad_name))


def test_case_collision_and_reserved_folder_refused(cli, tmp_path, dev_keys, sample_input):
    (sample_input / "readme.TXT").write_text("x")
    r = cli("--work-dir", tmp_path / "d", "package", "--input", sample_input, "--name", "p", "--version", "1.0.0",
            "--signing-key", dev_keys / "release-signing.key")
    assert_user_error(r, 2, "one name on Windows")
    (sample_input / "readme.TXT").unlink()
    (sample_input / ".b2release").mkdir()
    (sample_input / ".b2release" / "manifest.json").write_text("{}")
    r = cli("--work-dir", tmp_path / "d", "package", "--input", sample_input, "--name", "p", "--version", "1.0.0",
            "--signing-key", dev_keys / "release-signing.key")
    assert_user_error(r, 2, "reserved")


def test_nothing_to_package_without_build_or_input(cli, tmp_path, dev_keys):
    r = cli("--work-dir", tmp_path / "d", "package", "--name", "p", "--version", "1.0.0",
            "--signing-key", dev_keys / "release-signing.key")
    assert_user_error(r, 2, "nothing to package")


def test_bad_source_date_epoch(cli, tmp_path, dev_keys, sample_input):
    r = cli("--work-dir", tmp_path / "d", "package", "--input", sample_input, "--name", "p", "--version", "1.0.0",
            "--signing-key", dev_keys / "release-signing.key", env={"SOURCE_DATE_EPOCH": "yesterday"})
    assert_user_error(r, 2, "SOURCE_DATE_EPOCH")


def test_a_version_other_than_the_builds_is_refused(cli, tmp_path, dev_keys, sample_input):
    from tests.fixtures.pe import fake_build

    work = tmp_path / "dist"
    fake_build(work, {p.name: p for p in sample_input.iterdir() if p.is_file()}, version="1.4.0")
    before = (work / "state.json").read_bytes()
    r = cli("--work-dir", work, "package", "--version", "1.0.0", "--name", "enventa-connector",
            "--signing-key", dev_keys / "release-signing.key", "--allow-unsigned",
            env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert_user_error(r, 2, "version 1.0.0 differs from the version build stamped into the binaries (1.4.0)")
    assert (work / "state.json").read_bytes() == before and not list(work.glob("*.zip"))
