"""No traceback, ever, and the right exit code: hostile or malformed input found by attack.

Every case: the documented exit code, one `error:` line naming the problem, no Python
traceback, and no secret in anything printed.
"""

from __future__ import annotations

import json

import pytest

from b2release.stages import runner
from tests.conftest import assert_user_error


def test_a_secret_file_with_a_second_line_is_refused_without_showing_it(cli, tmp_path):
    token = tmp_path / "token"
    token.write_text("tok-very-secret-4711\nsecond line\n")
    result = cli("--json", "doctor", env={"CLOUDFLARE_API_TOKEN_FILE": str(token)})
    assert_user_error(result, 2, "CLOUDFLARE_API_TOKEN_FILE holds more than one line")
    assert "tok-very-secret-4711" not in result.output and "second line" not in result.output
    assert json.loads(result.stdout)["exit_code"] == 2


@pytest.mark.parametrize("url", ["https://[::1/tenant-acme/app/channels/stable.json",
                                 "https://host:99999/tenant-acme/app/channels/stable.json"])
def test_a_malformed_remote_host_is_a_usage_error(cli, dev_keys, url):
    result = cli("verify", "--remote", url, "--public-key", dev_keys / "release-signing.pub")
    assert_user_error(result, 2, "--remote")


def test_a_password_in_a_remote_url_is_refused_and_never_shown(cli, dev_keys):
    url = "https://reader:hunter2-pass-77@downloads.example.com/tenant-acme/app/channels/stable.json"
    result = cli("--json", "verify", "--remote", url, "--public-key", dev_keys / "release-signing.pub")
    assert_user_error(result, 2, "user name or password in the URL")
    assert "hunter2-pass-77" not in result.output and "reader:" not in result.output


def test_a_malformed_blob_endpoint_is_a_config_error(releaser, tmp_path):
    work = releaser.package("1.0.0")
    conn = "BlobEndpoint=https://[::1:10000/dev;AccountName=dev;AccountKey=S2V5LWZvci10aGUtdGVzdHMtb25seQ=="
    result = releaser.upload(work, json_output=False, env={"B2RELEASE_STORE_URL": "azure",
                                                           "AZURE_STORAGE_CONNECTION_STRING": conn})
    assert_user_error(result, 2, "BlobEndpoint", "valid host")
    assert "S2V5LWZvci10aGUtdGVzdHMtb25seQ" not in result.output


@pytest.mark.parametrize("tenant", ["acme\n", " acme", "acme\r"])
def test_a_tenant_id_with_a_line_break_creates_nothing(releaser, file_backend, tenant):
    work = releaser.package("1.0.0")
    result = releaser.upload(work, "--tenant", tenant, json_output=False)
    assert_user_error(result, 2, "invalid tenant id")
    assert file_backend.snapshot() == {c: [] for c in file_backend.containers}
    assert not (file_backend.open().root).exists() or not any(file_backend.open().root.iterdir())


def test_an_unexpected_exception_is_one_masked_line_exit_3_and_a_failed_run(cli, tmp_path, dev_keys, sample_input,
                                                                            monkeypatch):
    from b2release.redact import register_secret
    from b2release.stages import package

    register_secret("bug-secret-ABCDEFGH")

    def broken(ctx, options=None):
        raise RuntimeError("disk said no; token bug-secret-ABCDEFGH")

    monkeypatch.setattr(package, "run", broken)
    work = tmp_path / "d"
    result = cli("--json", "--work-dir", work, "package", "--input", sample_input, "--name", "p", "--version",
                 "1.0.0", "--signing-key", dev_keys / "release-signing.key")
    assert_user_error(result, 3, "package failed unexpectedly", "RuntimeError")
    assert "bug-secret-ABCDEFGH" not in result.output
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == 3 and doc["error"] == "internal"
    run = json.loads((work / "state.json").read_text())["runs"]["package"]
    assert run["status"] == "failed" and "bug-secret" not in run["reason"]


def test_an_unexpected_exception_outside_a_command_is_still_one_line(cli, monkeypatch):
    def broken(**kwargs):
        raise KeyError("nobody expected this")

    monkeypatch.setattr(runner, "make_context", broken)
    result = cli("doctor")
    assert_user_error(result, 3, "failed unexpectedly", "KeyError")
