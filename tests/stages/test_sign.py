"""The sign stage end to end: real mcs-built PE files, real osslsigncode, the CLI in-process."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from b2release.state import State
from tests.conftest import assert_user_error
from tests.fixtures.pe import fake_build, make_codesign_cert, ossl_sign, ossl_verify, tree_digest

EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}
DLL = "Enventa.Connector.dll"
EXE = "tools/Enventa.Tool.exe"

pytestmark = [pytest.mark.usefixtures("osslsigncode"), pytest.mark.osslsigncode, pytest.mark.mono]


def key_args(keys: Path) -> list:
    return ["--cert", keys / "codesign.crt", "--key", keys / "codesign.key"]


@pytest.fixture
def prebuilt(tmp_path, pe_files) -> Path:
    root = tmp_path / "prebuilt"
    (root / "tools").mkdir(parents=True)
    shutil.copyfile(pe_files.dll, root / DLL)
    shutil.copyfile(pe_files.exe, root / EXE)
    (root / "Enventa.Connector.dll.config").write_text("<configuration />\n")
    (root / "README.txt").write_text("MZ is how it starts, but this is text\n")
    return root


@pytest.fixture
def built(tmp_path, pe_files) -> Path:
    """A work dir as the build stage leaves it (DLL, EXE, config recorded as binaries)."""
    work = tmp_path / "dist"
    config = tmp_path / "Enventa.Connector.dll.config"
    config.write_text("<configuration />\n")
    fake_build(work, {DLL: pe_files.dll, EXE: pe_files.exe, "Enventa.Connector.dll.config": config})
    return work


def binaries(work: Path) -> dict[str, tuple[str, str, dict]]:
    return {a.path: (a.sha256, a.stage, a.extra) for a in State(work).find("binary")}


def signature_count(path: Path, ca: Path) -> int:
    out = ossl_verify(path, ca).stdout
    return int(out.split("Number of verified signatures:")[1].split()[0])


def _epoch(iso: str) -> int:
    import datetime

    return int(datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp())


def _signing_time_in_file(path: Path, ca: Path) -> int:
    import datetime

    line = next(line for line in ossl_verify(path, ca).stdout.splitlines() if "Signing time:" in line)
    stamp = line.split("Signing time:")[1].strip()
    return int(datetime.datetime.strptime(stamp, "%b %d %H:%M:%S %Y GMT")
               .replace(tzinfo=datetime.timezone.utc).timestamp())


def test_signing_time_is_never_before_the_certificate(cli, tmp_path, prebuilt, dev_keys):
    # Source older than the certificate: the signature is dated at notBefore, not backdated.
    r = cli("--work-dir", tmp_path / "young", "--json", "sign", "--input", prebuilt, *key_args(dev_keys), env=EPOCH)
    assert r.exit_code == 0, r.output
    not_before = _epoch(r.json()["certificate"]["not_before"])
    assert _signing_time_in_file(tmp_path / "young" / "build" / DLL, dev_keys / "codesign.crt") == not_before
    # A certificate older than the source: the source time is kept (reproducible from the commit).
    old = make_codesign_cert(tmp_path / "old-cert", days_valid=(-4000, 365))
    r = cli("--work-dir", tmp_path / "old", "--json", "sign", "--input", prebuilt,
            "--cert", old["crt"], "--key", old["key"], env=EPOCH)
    assert r.exit_code == 0, r.output
    assert r.json()["signing_time"] == 1700000000 and r.json()["signing_time_source"] == "SOURCE_DATE_EPOCH"
    assert _signing_time_in_file(tmp_path / "old" / "build" / DLL, old["crt"]) == 1700000000


# --- the good paths ---------------------------------------------------------------------------
def test_sign_input_folder(cli, tmp_path, prebuilt, dev_keys):
    work = tmp_path / "dist"
    before = tree_digest(prebuilt)
    r = cli("--work-dir", work, "--json", "sign", "--input", prebuilt, *key_args(dev_keys), env=EPOCH)
    assert r.exit_code == 0, r.output
    doc = r.json()
    assert [s["name"] for s in doc["signed"]] == [DLL, EXE]
    assert doc["not_pe"] == ["Enventa.Connector.dll.config", "README.txt"]
    # The dev certificate is younger than SOURCE_DATE_EPOCH: the signing time is its notBefore.
    not_before = _epoch(doc["certificate"]["not_before"])
    assert doc["signing_time"] == not_before > 1700000000
    assert doc["signing_time_source"].startswith("certificate validity start")
    assert doc["certificate"]["subject"].startswith("CN=b2release development code signing")
    assert tree_digest(prebuilt) == before  # the user's folder is never modified

    build = work / "build"
    for name in (DLL, EXE):
        check = ossl_verify(build / name, dev_keys / "codesign.crt")
        assert check.returncode == 0, check.stdout + check.stderr
    assert (build / "README.txt").read_bytes() == (prebuilt / "README.txt").read_bytes()
    recorded = binaries(work)
    assert set(recorded) == {f"build/{n}" for n in tree_digest(prebuilt)}
    current = tree_digest(build)
    for path, (sha, stage, extra) in recorded.items():
        name = path[len("build/"):]
        assert sha == current[name] and stage == "sign" and extra == {"name": name}
    assert not [p for p in work.rglob(".sign*")]


def test_signing_twice_gives_identical_bytes(cli, tmp_path, prebuilt, dev_keys):
    digests = []
    for run in ("a", "b"):
        work = tmp_path / run
        r = cli("--work-dir", work, "sign", "--input", prebuilt, *key_args(dev_keys), env=EPOCH)
        assert r.exit_code == 0, r.output
        digests.append(tree_digest(work / "build"))
    assert digests[0] == digests[1]
    assert digests[0][DLL] != tree_digest(prebuilt)[DLL]
    # Re-signing the (now signed) build output replaces the signature: same bytes, one signature.
    r = cli("--work-dir", tmp_path / "a", "sign", *key_args(dev_keys), env=EPOCH)
    assert r.exit_code == 0, r.output
    assert tree_digest(tmp_path / "a" / "build") == digests[0]
    assert signature_count(tmp_path / "a" / "build" / DLL, dev_keys / "codesign.crt") == 1


def test_sign_build_output_then_package(cli, built, dev_keys):
    r = cli("--work-dir", built, "--json", "sign", *key_args(dev_keys), env=EPOCH)
    assert r.exit_code == 0, r.output
    assert r.json()["source"] == "build"
    recorded = binaries(built)
    assert recorded["build/Enventa.Connector.dll.config"][1] == "build"  # untouched, still the build's
    assert recorded[f"build/{DLL}"][1] == "sign"
    assert recorded[f"build/{DLL}"][0] == tree_digest(built / "build")[DLL]
    r = cli("--work-dir", built, "--json", "package", "--name", "enventa-connector", "--version", "1.0.0",
            "--signing-key", dev_keys / "release-signing.key", env=EPOCH)
    assert r.exit_code == 0, r.output
    manifest = json.loads((built / "manifest.json").read_text())
    assert manifest["signing"] == {"authenticode": "signed", "files": [DLL, EXE]}


def test_already_signed_files(cli, tmp_path, pe_files, dev_keys, other_keys):
    work = tmp_path / "dist"
    theirs = ossl_sign(pe_files.dll, tmp_path / "theirs.dll", other_keys)
    fake_build(work, {DLL: theirs, EXE: pe_files.exe})
    r = cli("--work-dir", work, "--json", "sign", "--skip-signed", *key_args(dev_keys), env=EPOCH)
    assert r.exit_code == 0, r.output
    assert r.json()["kept_signed"] == [DLL] and [s["name"] for s in r.json()["signed"]] == [EXE]
    assert (work / "build" / DLL).read_bytes() == theirs.read_bytes()

    r = cli("--work-dir", work, "sign", *key_args(dev_keys), env=EPOCH)  # default: re-sign
    assert r.exit_code == 0, r.output
    dll = work / "build" / DLL
    assert ossl_verify(dll, dev_keys / "codesign.crt").returncode == 0
    assert ossl_verify(dll, other_keys / "codesign.crt").returncode != 0  # replaced, not nested
    assert signature_count(dll, dev_keys / "codesign.crt") == 1


def test_explicit_files(cli, built, dev_keys):
    before = tree_digest(built / "build")
    r = cli("--work-dir", built, "--json", "sign", DLL, *key_args(dev_keys), env=EPOCH)
    assert r.exit_code == 0, r.output
    after = tree_digest(built / "build")
    assert after[DLL] != before[DLL] and after[EXE] == before[EXE]
    # by path works too
    r = cli("--work-dir", built, "sign", built / "build" / EXE, *key_args(dev_keys), env=EPOCH)
    assert r.exit_code == 0, r.output
    assert tree_digest(built / "build")[EXE] != before[EXE]


def test_pfx_with_password_from_environment_or_file(cli, tmp_path, prebuilt):
    secret = "pfx-Secret-7731"
    paths = make_codesign_cert(tmp_path / "k", pfx_password=secret)
    work = tmp_path / "dist"
    r = cli("--work-dir", work, "--json", "-v", "sign", "--input", prebuilt, "--pfx", paths["pfx"],
            env={**EPOCH, "B2RELEASE_PFX_PASSWORD": secret})
    assert r.exit_code == 0, r.output
    assert ossl_verify(work / "build" / DLL, paths["crt"]).returncode == 0
    assert secret not in r.output and secret not in (work / "state.json").read_text()
    pwfile = tmp_path / "pw"
    pwfile.write_text(secret + "\n")
    r = cli("--work-dir", tmp_path / "d2", "sign", "--input", prebuilt, "--pfx", paths["pfx"],
            env={**EPOCH, "B2RELEASE_PFX_PASSWORD_FILE": str(pwfile)})
    assert r.exit_code == 0, r.output
    assert tree_digest(tmp_path / "d2" / "build") == tree_digest(work / "build")


def test_encrypted_key_with_passphrase(cli, tmp_path, prebuilt):
    secret = "key-Passphrase-5512"
    paths = make_codesign_cert(tmp_path / "k", key_passphrase=secret)
    work = tmp_path / "dist"
    r = cli("--work-dir", work, "--json", "-v", "sign", "--input", prebuilt, "--cert", paths["crt"],
            "--key", paths["key"], env={**EPOCH, "B2RELEASE_KEY_PASSPHRASE": secret})
    assert r.exit_code == 0, r.output
    assert ossl_verify(work / "build" / EXE, paths["crt"]).returncode == 0
    assert secret not in r.output and secret not in (work / "state.json").read_text()


def test_config_section(cli, tmp_path, prebuilt, dev_keys):
    project = tmp_path / "project"
    (project / "keys").mkdir(parents=True)
    for name in ("codesign.crt", "codesign.key"):
        shutil.copyfile(dev_keys / name, project / "keys" / name)
    (project / "b2release.toml").write_text(
        '[sign]\ncert = "keys/codesign.crt"\nkey = "keys/codesign.key"\ndescription = "Enventa Connector"\n'
        'url = "https://b2connect.example"\n'
    )
    r = cli("sign", "--input", prebuilt, cwd=project, env=EPOCH)
    assert r.exit_code == 0, r.output
    check = ossl_verify(project / "dist" / "build" / DLL, dev_keys / "codesign.crt")
    assert check.returncode == 0 and "Enventa Connector" in check.stdout


def test_no_certificate(cli, built, tmp_path):
    before = tree_digest(built / "build")
    r = cli("--work-dir", built, "sign", cwd=tmp_path)
    assert_user_error(r, 2, "no code-signing certificate")
    r = cli("--work-dir", built, "--json", "sign", cwd=tmp_path, env={"B2RELEASE_SIGN_REQUIRED": "false"})
    assert r.exit_code == 0 and r.json()["status"] == "skipped"
    assert tree_digest(built / "build") == before


def test_no_pe_files_in_build_output_is_a_skip(cli, tmp_path, dev_keys):
    work = tmp_path / "dist"
    text = tmp_path / "a.txt"
    text.write_text("hello")
    fake_build(work, {"a.txt": text})
    r = cli("--work-dir", work, "--json", "sign", *key_args(dev_keys))
    assert r.exit_code == 0 and r.json()["status"] == "skipped"


def test_input_replaces_earlier_build_output(cli, tmp_path, built, prebuilt, dev_keys):
    (built / "build" / "stale.dll").write_bytes(b"old")
    r = cli("--work-dir", built, "sign", "--input", prebuilt, *key_args(dev_keys), env=EPOCH)
    assert r.exit_code == 0, r.output
    assert set(tree_digest(built / "build")) == set(tree_digest(prebuilt))
    assert {p[len("build/"):] for p in binaries(built)} == set(tree_digest(prebuilt))


# --- user errors: exit 2, one line, nothing in the work dir changed ---------------------------------
def _bad_material(kind: str, tmp_path: Path, dev_keys: Path, other_keys: Path) -> tuple[list, dict, str]:
    if kind == "key-mismatch":
        return ["--cert", dev_keys / "codesign.crt", "--key", other_keys / "codesign.key"], {}, "does not match"
    if kind == "pfx-wrong-password":
        paths = make_codesign_cert(tmp_path / kind, pfx_password="right-password")
        return ["--pfx", paths["pfx"]], {"B2RELEASE_PFX_PASSWORD": "wrong-password"}, "wrong password"
    if kind == "key-no-passphrase":
        paths = make_codesign_cert(tmp_path / kind, key_passphrase="set-but-not-given")
        return ["--cert", paths["crt"], "--key", paths["key"]], {}, "is encrypted"
    options = {
        "expired": ({"days_valid": (-10, -1)}, "expired on"),
        "not-yet-valid": ({"days_valid": (3, 30)}, "not valid yet"),
        "no-codesigning-eku": ({"eku": "serverAuth"}, "does not allow code signing"),
    }[kind]
    paths = make_codesign_cert(tmp_path / kind, **options[0])
    return ["--cert", paths["crt"], "--key", paths["key"]], {}, options[1]


@pytest.mark.parametrize(
    "kind", ["key-mismatch", "expired", "not-yet-valid", "no-codesigning-eku", "pfx-wrong-password",
             "key-no-passphrase"],
)
def test_bad_signing_material(cli, tmp_path, built, dev_keys, other_keys, kind):
    args, env, needle = _bad_material(kind, tmp_path, dev_keys, other_keys)
    before, recorded = tree_digest(built / "build"), binaries(built)
    r = cli("--work-dir", built, "sign", *args, env={**EPOCH, **env})
    assert_user_error(r, 2, needle)
    assert tree_digest(built / "build") == before
    assert binaries(built) == recorded
    for value in env.values():
        assert value not in r.output


@pytest.mark.parametrize("use_input", [False, True], ids=["build", "input"])
def test_non_pe_file_named_explicitly(cli, tmp_path, built, prebuilt, dev_keys, use_input):
    before, recorded = tree_digest(built / "build"), binaries(built)
    extra = ["--input", prebuilt] if use_input else []
    r = cli("--work-dir", built, "sign", *extra, "Enventa.Connector.dll.config", *key_args(dev_keys), env=EPOCH)
    assert_user_error(r, 2, "Enventa.Connector.dll.config", "not a PE file")
    r = cli("--work-dir", built, "sign", *extra, "missing.dll", *key_args(dev_keys), env=EPOCH)
    assert_user_error(r, 2, "missing.dll", "is not a file of")
    assert tree_digest(built / "build") == before and binaries(built) == recorded


def test_usage_errors(cli, tmp_path, built, dev_keys):
    r = cli("--work-dir", tmp_path / "empty", "sign", *key_args(dev_keys))
    assert_user_error(r, 2, "nothing to sign")
    r = cli("--work-dir", built, "sign", "--input", built / "build", *key_args(dev_keys))
    assert_user_error(r, 2, "overlaps")
    r = cli("--work-dir", built, "sign", "--pfx", dev_keys / "codesign.pfx", "--cert", dev_keys / "codesign.crt")
    assert_user_error(r, 2, "either --pfx or --cert")
    r = cli("--work-dir", built, "sign", "--input", tmp_path / "nope", *key_args(dev_keys))
    assert_user_error(r, 2, "does not exist")


# --- tools ----------------------------------------------------------------------------------
def test_osslsigncode_missing(cli, tmp_path, built, dev_keys):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    before = tree_digest(built / "build")
    r = cli("--work-dir", built, "sign", *key_args(dev_keys), env={**EPOCH, "PATH": str(empty)})
    assert_user_error(r, 3, "osslsigncode is not installed")
    assert "hint: install osslsigncode" in r.stderr
    assert tree_digest(built / "build") == before


def test_tool_failure_half_way_changes_nothing(cli, tmp_path, built, dev_keys):
    """The DLL is signed first, then the EXE fails: the DLL must not be replaced either."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "osslsigncode"
    wrapper.write_text(
        f"#!{sys.executable}\nimport os, sys\n"
        "if any(a.endswith('Enventa.Tool.exe') for a in sys.argv) and 'sign' in sys.argv:\n"
        "    print('Error: simulated failure'); sys.exit(1)\n"
        f"os.execv({shutil.which('osslsigncode')!r}, ['osslsigncode'] + sys.argv[1:])\n"
    )
    wrapper.chmod(0o755)
    before, recorded = tree_digest(built / "build"), binaries(built)
    r = cli("--work-dir", built, "sign", *key_args(dev_keys),
            env={**EPOCH, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"})
    assert_user_error(r, 3, "Enventa.Tool.exe", "simulated failure")
    assert tree_digest(built / "build") == before
    assert binaries(built) == recorded
    assert not list(built.rglob(".sign*"))


# --- package policy ----------------------------------------------------------------------------
def _package(cli, work: Path, dev_keys: Path, *extra):
    return cli("--work-dir", work, "--json", "package", "--name", "enventa-connector", "--version", "1.0.0",
               "--signing-key", dev_keys / "release-signing.key", *extra, env=EPOCH)


def test_package_refuses_unsigned_pe_when_required(cli, built, dev_keys):
    r = _package(cli, built, dev_keys)
    assert_user_error(r, 1, DLL, EXE, "unsigned PE files", "sign.required")
    assert not (built / "manifest.json").exists()


def test_package_allow_unsigned_is_recorded(cli, built, dev_keys):
    r = _package(cli, built, dev_keys, "--allow-unsigned")
    assert r.exit_code == 0, r.output
    manifest = json.loads((built / "manifest.json").read_text())
    assert manifest["signing"] == {"authenticode": "unsigned-allowed", "unsigned": [DLL, EXE]}


def test_package_not_required(cli, built, dev_keys):
    r = cli("--work-dir", built, "package", "--name", "enventa-connector", "--version", "1.0.0",
            "--signing-key", dev_keys / "release-signing.key", env={**EPOCH, "B2RELEASE_SIGN_REQUIRED": "false"})
    assert r.exit_code == 0, r.output
    assert json.loads((built / "manifest.json").read_text())["signing"]["authenticode"] == "unsigned"


def test_package_without_pe_files_has_no_signing_field(cli, tmp_path, dev_keys):
    work = tmp_path / "dist"
    text = tmp_path / "a.txt"
    text.write_text("hello")
    fake_build(work, {"a.txt": text})
    r = _package(cli, work, dev_keys)
    assert r.exit_code == 0, r.output
    assert "signing" not in json.loads((work / "manifest.json").read_text())


def test_sign_recovers_after_a_failed_sign_run(cli, tmp_path, prebuilt, dev_keys, other_keys):
    work = tmp_path / "dist"
    assert cli("--work-dir", work, "sign", "--input", prebuilt, *key_args(dev_keys), env=EPOCH).exit_code == 0
    good = tree_digest(work / "build")
    bad = cli("--work-dir", work, "sign", "--cert", dev_keys / "codesign.crt", "--key", other_keys / "codesign.key")
    assert_user_error(bad, 2, "does not match")
    assert tree_digest(work / "build") == good
    r = cli("--work-dir", work, "sign", *key_args(dev_keys), env=EPOCH)
    assert r.exit_code == 0, r.output
    assert tree_digest(work / "build") == good


def test_changed_build_output_is_refused(cli, built, dev_keys):
    (built / "build" / DLL).write_bytes(b"MZ changed behind our back")
    r = cli("--work-dir", built, "sign", *key_args(dev_keys), env=EPOCH)
    assert_user_error(r, 1, DLL, "changed on disk")


def test_chain_in_fresh_processes(cli_subprocess, tmp_path, prebuilt, dev_keys):
    """As CI runs it: sign, package, verify --ca, each in its own process."""
    work = tmp_path / "dist"
    env = {**EPOCH, "B2RELEASE_WORK_DIR": str(work)}
    r = cli_subprocess("sign", "--input", prebuilt, *key_args(dev_keys), env=env)
    assert r.exit_code == 0, r.output
    r = cli_subprocess("package", "--name", "enventa-connector", "--version", "1.0.0",
                       "--signing-key", dev_keys / "release-signing.key", env=env)
    assert r.exit_code == 0, r.output
    r = cli_subprocess("--json", "verify", work, "--public-key", dev_keys / "release-signing.pub",
                       "--ca", dev_keys / "codesign.crt", env=env)
    assert r.exit_code == 0, r.output
    assert sorted(e["file"] for e in r.json()["authenticode"] if e["valid"]) == [DLL, EXE]


def test_unreachable_timestamp_server(cli, built, dev_keys):
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    before = tree_digest(built / "build")
    r = cli("--work-dir", built, "sign", *key_args(dev_keys), "--timestamp-url", f"http://127.0.0.1:{port}/tsa")
    assert_user_error(r, 3, "could not sign", f"127.0.0.1:{port}")
    assert tree_digest(built / "build") == before
