import json
import subprocess
import sys

from b2release import __version__
from tests.conftest import REPO, assert_user_error, run_subprocess
from tests.helpers import package_dir


def test_version_and_help():
    r = run_subprocess("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"b2release {__version__}"
    r = run_subprocess("--help")
    assert r.exit_code == 0 and "package" in r.stdout and "verify" in r.stdout


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from b2release.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('azure', 'requests', 'cryptography', 'semver', 'cyclonedx') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert "HEAVY=\n" in proc.stdout, proc.stdout


def test_json_output_is_one_document_on_stdout(cli, tmp_path, dev_keys, sample_input):
    r = cli("--json", "--work-dir", tmp_path / "d", "package", "--input", sample_input, "--name", "p",
            "--version", "2.0.0-rc.1", "--signing-key", dev_keys / "release-signing.key")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)  # the whole stdout is one JSON document
    assert doc["version"] == "2.0.0-rc.1" and doc["package"] == "p-2.0.0-rc.1.zip"
    assert "packaged p 2.0.0-rc.1" in r.stderr


def test_log_format_json_carries_correlation_id(cli, tmp_path, dev_keys, sample_input):
    r = cli("--log-format", "json", "--work-dir", tmp_path / "d", "package", "--input", sample_input,
            "--name", "p", "--version", "1.0.0", "--signing-key", dev_keys / "release-signing.key",
            env={"B2RELEASE_CORRELATION_ID": "corr-1234"})
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in r.stderr.splitlines() if line.strip()]  # every line is JSON
    assert lines and all(line["correlation_id"] == "corr-1234" for line in lines)
    state = json.loads((tmp_path / "d" / "state.json").read_text())
    assert state["runs"]["package"]["correlation_id"] == "corr-1234"


def test_quiet_prints_only_the_result_line(cli, tmp_path, dev_keys, sample_input):
    r = cli("-q", "--work-dir", tmp_path / "d", "package", "--input", sample_input, "--name", "p",
            "--version", "1.0.0", "--signing-key", dev_keys / "release-signing.key")
    assert r.exit_code == 0 and r.stdout == ""
    assert r.stderr.splitlines() == [line for line in r.stderr.splitlines() if line.startswith("packaged p 1.0.0")]
    assert len(r.stderr.splitlines()) == 1


def test_usage_errors_exit_2_without_traceback(cli):
    r = cli("package", "--no-such-flag")
    assert r.exit_code == 2 and "Traceback" not in r.output and "--no-such-flag" in r.stderr
    r = cli("--log-format", "xml", "package")
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_secrets_are_redacted_in_errors_and_logs(cli, tmp_path, dev_keys, sample_input):
    secret = "Sup3r-Secret-Passphrase"
    r = cli("--json", "--work-dir", tmp_path / "d", "package", "--input", sample_input, "--name", "p",
            "--version", "1.0.0", "--signing-key", dev_keys / "release-signing.key",
            env={"B2RELEASE_KEY_PASSPHRASE": secret})
    assert_user_error(r, 2, "not encrypted")
    assert secret not in r.output


def test_package_and_verify_in_fresh_processes(tmp_path, dev_keys, sample_input, cli):
    work = package_dir(cli, tmp_path, dev_keys, sample_input)
    r = run_subprocess("verify", work, "--public-key", dev_keys / "release-signing.pub")
    assert r.exit_code == 0, r.output


def test_log_format_json_keeps_stderr_json_on_errors(cli, tmp_path):
    r = cli("--log-format", "json", "--work-dir", tmp_path / "d", "package", "--input", tmp_path / "nope",
            "--name", "p", "--version", "1.0.0", env={"B2RELEASE_CORRELATION_ID": "corr-err"})
    assert r.exit_code == 2 and "Traceback" not in r.output
    lines = [json.loads(line) for line in r.stderr.splitlines() if line.strip()]
    assert lines[-1]["level"] == "error" and lines[-1]["exit_code"] == 2
    assert lines[-1]["correlation_id"] == "corr-err"
