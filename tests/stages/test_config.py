"""config show | check | schema, through the CLI."""

import json

from b2release import config
from tests.conftest import assert_user_error

TOKEN = "cf-Token-0123456789abcdef"


def _write(folder, text):
    path = folder / "b2release.toml"
    path.write_text(text)
    return path


def _errors(result):
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


# --- show --------------------------------------------------------------------------------
def test_show_gives_every_key_with_its_source(cli, tmp_path):
    (tmp_path / "keys").mkdir()
    path = _write(tmp_path, '[product]\nname = "enventa-connector"\n[release]\nsigning_key = "keys/r.key"\n'
                            '[store]\ntenants = ["acme", "globex"]\n')
    r = cli("--json", "config", "show", cwd=tmp_path, env={"B2RELEASE_STORE_CHANNEL": "canary"})
    assert r.exit_code == 0, r.output
    doc = r.json()
    rows = {row["key"]: row for row in doc["keys"]}
    assert set(rows) == {f"{s}.{k}" for s, keys in config.SCHEMA.items() for k in keys}
    assert doc["file"] == str(path)
    assert rows["product.name"] == {**rows["product.name"], "value": "enventa-connector", "source": str(path)}
    assert rows["store.tenants"]["value"] == ["acme", "globex"]
    assert rows["store.channel"] == {**rows["store.channel"], "value": "canary",
                                     "source": "environment B2RELEASE_STORE_CHANNEL"}
    assert rows["build.configuration"] == {**rows["build.configuration"], "value": "Release", "source": "default"}
    # A path from the file resolves against the file's folder.
    assert rows["release.signing_key"]["resolved"] == str(tmp_path.resolve() / "keys" / "r.key")


def test_show_as_a_table(cli, tmp_path):
    path = _write(tmp_path, '[store]\nurl = "file://releases"\n')
    r = cli("config", "show", cwd=tmp_path, env={"B2RELEASE_STORE_POINTER_TTL": "3d"})
    assert r.exit_code == 0 and r.stdout == ""  # human output is on stderr
    lines = r.stderr.splitlines()
    assert lines[0].split() == ["key", "value", "source"]
    assert any(line.split() == ["store.url", "file://releases", str(path)] for line in lines)
    assert any(line.split() == ["store.pointer_ttl", "3d", "environment", "B2RELEASE_STORE_POINTER_TTL"] for line in lines)
    assert any(line.split() == ["cdn.provider", "none", "default"] for line in lines)
    assert f"from {path}" in lines[-1]


def test_show_never_prints_a_secret(cli, tmp_path, monkeypatch):
    secret_file = tmp_path / "pass.txt"
    secret_file.write_text("File-Held-Passphrase-42\n")
    # No key holds a secret today: make one that does, as a key added later might.
    monkeypatch.setitem(config.SCHEMA["cdn"], "api_token", config.Key(str, "", help="token", secret=True))
    _write(tmp_path, '[cdn]\napi_token = "Inline-Secret-Token-77"\n'
                     '[build]\nproperties = ["Flavor=full", "SigningPassword=Build-Secret-99"]\n')
    env = {"CLOUDFLARE_API_TOKEN": TOKEN, "B2RELEASE_KEY_PASSPHRASE_FILE": str(secret_file)}
    for args in (("config", "show"), ("--json", "config", "show")):
        r = cli(*args, cwd=tmp_path, env=env)
        assert r.exit_code == 0, r.output
        for leaked in (TOKEN, "File-Held-Passphrase-42", "Inline-Secret-Token-77", "Build-Secret-99"):
            assert leaked not in r.output
    doc = r.json()
    rows = {row["key"]: row for row in doc["keys"]}
    assert rows["cdn.api_token"]["value"] == "***" and rows["cdn.api_token"]["secret"] is True
    assert rows["build.properties"]["value"] == ["Flavor=full", "SigningPassword=***"]
    secrets = {s["name"]: s for s in doc["secrets"]}
    assert secrets["CLOUDFLARE_API_TOKEN"] == {"name": "CLOUDFLARE_API_TOKEN", "set": True,
                                               "source": "environment CLOUDFLARE_API_TOKEN"}
    assert secrets["B2RELEASE_KEY_PASSPHRASE"]["source"] == "file named by B2RELEASE_KEY_PASSPHRASE_FILE"
    assert secrets["AZURE_STORAGE_KEY"]["set"] is False


def test_show_still_shows_a_config_with_problems(cli, tmp_path):
    _write(tmp_path, '[product]\nname = "p"\n[cdn]\nbatch_size = "thirty"\n')
    r = cli("config", "show", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    assert "warning:" in r.stderr and "cdn.batch_size must be an integer" in r.stderr
    assert any(line.split()[:2] == ["product.name", "p"] for line in r.stderr.splitlines())
    assert "config check" in r.stderr.splitlines()[-1]
    # Every other command refuses that config.
    assert_user_error(cli("package", cwd=tmp_path), 2, "cdn.batch_size must be an integer")


# --- check -------------------------------------------------------------------------------
def test_check_passes_a_good_config(cli, tmp_path, dev_keys):
    _write(tmp_path, f'[product]\nname = "enventa-connector"\n[release]\nsigning_key = "{dev_keys / "release-signing.key"}"\n'
                     f'[sign]\ncert = "{dev_keys / "codesign.crt"}"\nkey = "{dev_keys / "codesign.key"}"\n'
                     '[store]\ntenants = ["acme", "globex"]\nchannel = "canary"\npointer_ttl = "3d"\n'
                     '[cdn]\nprovider = "cloudflare"\nzone_id = "abc123"\nbase_url = "https://downloads.example.com"\n')
    r = cli("config", "check", cwd=tmp_path, env={"CLOUDFLARE_API_TOKEN": TOKEN})
    assert r.exit_code == 0, r.output
    assert "config check: ok" in r.stderr and TOKEN not in r.output
    r = cli("--json", "config", "check", cwd=tmp_path, env={"CLOUDFLARE_API_TOKEN": TOKEN})
    assert r.exit_code == 0 and r.json()["ok"] is True and r.json()["problems"] == []


def test_check_passes_no_config_at_all(cli, tmp_path):
    r = cli("config", "check", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    assert "no config file" in r.stderr


def test_check_lists_every_problem_with_its_source(cli, tmp_path):
    path = _write(tmp_path, '[product]\nname = "Enventa"\nproject = "missing.sln"\n'
                            '[build]\nproperties = ["Flavor=full", "broken"]\n'
                            '[sign]\ncert = "c.pem"\ntimestamp_url = "timestamp.example.com"\n'
                            '[store]\nurl = "s3://bucket"\ntenants = ["acme", "Globex", "a--b"]\nchannel = "Stable"\n'
                            'pointer_ttl = "7days"\nmax_concurrency = 0\n[stor]\nx = 1\n')
    env = {"B2RELEASE_STORE_MAX_GRANT_EXPIRY": "0d", "B2RELEASE_CDN_BATCH_SIZE": "many"}
    r = cli("config", "check", cwd=tmp_path, env=env)
    assert r.exit_code == 2 and "Traceback" not in r.output
    errors = _errors(r)
    expected = [
        (str(path), "unknown config section [stor]"),
        ("environment variable B2RELEASE_CDN_BATCH_SIZE", "cdn.batch_size must be an integer"),
        (str(path), "product.name: invalid product name 'Enventa'"),
        (str(path), f"product.project: {tmp_path.resolve() / 'missing.sln'} does not exist"),
        (str(path), "build.properties: expected NAME=VALUE"),
        (str(path), f"sign.cert: {tmp_path.resolve() / 'c.pem'} does not exist"),
        (str(path), "sign.timestamp_url: expected an http(s) URL"),
        (str(path), "store.url: 's3://bucket' is not supported"),
        (str(path), "store.tenants: invalid tenant id 'Globex': use lowercase"),
        (str(path), "store.tenants: invalid tenant id 'a--b'"),
        (str(path), "store.channel: invalid channel name 'Stable'"),
        (str(path), "store.pointer_ttl: invalid duration '7days'"),
        ("environment variable B2RELEASE_STORE_MAX_GRANT_EXPIRY", "store.max_grant_expiry: invalid duration '0d'"),
        (str(path), "store.max_concurrency: must be at least 1, got 0"),
        (str(path), "sign.cert is set without sign.key"),
    ]
    for source, needle in expected:
        assert any(line.startswith(f"error: {source}: ") and needle in line for line in errors), (needle, errors)
    # One line per problem, and the summary line.
    assert len(errors) == len(expected) + 1, errors
    assert errors[-1].startswith(f"error: config check: {len(expected)} problem(s) in {path}")

    r = cli("--json", "config", "check", cwd=tmp_path, env=env)
    doc = r.json()
    assert r.exit_code == 2 and doc["exit_code"] == 2 and doc["error"] == "config"
    problems = doc["details"]["problems"]
    assert len(problems) == len(expected)
    assert {"source": "environment variable B2RELEASE_CDN_BATCH_SIZE", "key": "cdn.batch_size"}.items() <= \
        next(p for p in problems if p["key"] == "cdn.batch_size").items()


def test_check_validates_cloudflare_settings_and_token_without_printing_it(cli, tmp_path):
    path = _write(tmp_path, '[cdn]\nprovider = "cloudflare"\nbase_url = "ftp://downloads.example.com"\n'
                            'api_base = "http://api.example.com"\n')
    r = cli("config", "check", cwd=tmp_path)
    assert r.exit_code == 2
    errors = _errors(r)
    assert any(f"error: {path}: cdn.base_url must be an http(s) URL" in line for line in errors), errors
    assert any(f"error: {path}: cdn.api_base must use https" in line for line in errors), errors
    # The zone id is not set: its default is wrong because the file chose cloudflare.
    assert any(line.startswith(f"error: {path}: cdn.zone_id is not set") for line in errors), errors

    _write(tmp_path, '[cdn]\nprovider = "cloudflare"\nbase_url = "https://downloads.example.com"\nzone_id = "z1"\n')
    r = cli("config", "check", cwd=tmp_path)
    assert r.exit_code == 2 and any("CLOUDFLARE_API_TOKEN is not set" in line for line in _errors(r))
    r = cli("config", "check", cwd=tmp_path, env={"CLOUDFLARE_API_TOKEN": TOKEN, "B2RELEASE_CDN_RETRIES": "99"})
    assert r.exit_code == 2 and TOKEN not in r.output
    assert any(line.startswith("error: environment variable B2RELEASE_CDN_RETRIES: cdn.retries must be between")
               for line in _errors(r)), r.stderr
    r = cli("config", "check", cwd=tmp_path, env={"CLOUDFLARE_API_TOKEN": TOKEN})
    assert r.exit_code == 0, r.output


def test_check_azure_settings(cli, tmp_path):
    _write(tmp_path, '[store]\nurl = "azure"\naccount_url = "http://127.0.0.1:10000/devstoreaccount1"\n')
    r = cli("config", "check", cwd=tmp_path)
    assert r.exit_code == 2 and any("store.account_url" in line and "plain http" in line for line in _errors(r))
    r = cli("config", "check", cwd=tmp_path, env={"B2RELEASE_STORE_ALLOW_HTTP_EMULATOR": "true"})
    assert r.exit_code == 0, r.output
    _write(tmp_path, '[store]\nurl = "azure://My-Account"\nrelease_container = "Releases"\n')
    errors = _errors(cli("config", "check", cwd=tmp_path))
    assert any("store.url: expected azure://<account>" in line for line in errors), errors
    assert any("store.release_container" in line and "lowercase" in line for line in errors), errors


def test_check_names_a_missing_config_file(cli, tmp_path):
    r = cli("--config", tmp_path / "none.toml", "config", "check")
    assert r.exit_code == 2 and any("none.toml does not exist" in line for line in _errors(r))


def test_check_problems_as_json_log_lines(cli, tmp_path):
    path = _write(tmp_path, '[store]\npointer_ttl = "soon"\n')
    r = cli("--log-format", "json", "config", "check", cwd=tmp_path)
    assert r.exit_code == 2
    lines = [json.loads(line) for line in r.stderr.splitlines() if line.strip()]  # every line is JSON
    problem = next(line for line in lines if line.get("key") == "store.pointer_ttl")
    assert problem["level"] == "error" and problem["source"] == str(path) and "invalid duration" in problem["msg"]
    assert lines[-1]["exit_code"] == 2


# --- schema ------------------------------------------------------------------------------
def test_schema_on_stdout_even_with_a_broken_config(cli, tmp_path):
    from b2release.stages.config.schema import json_schema

    _write(tmp_path, "[store\n")  # does not parse: the schema does not depend on it
    r = cli("config", "schema", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == json_schema()
    assert "JSON Schema" in r.stderr
    r = cli("--json", "config", "schema", cwd=tmp_path)
    assert r.exit_code == 0 and r.json()["schema"] == json_schema()


def test_schema_markdown_is_the_docs_block(cli, tmp_path):
    from b2release.stages.config import schema
    from tests.conftest import REPO

    r = cli("config", "schema", "--markdown", cwd=tmp_path)
    assert r.exit_code == 0
    assert r.stdout.startswith(schema.BEGIN) and r.stdout.rstrip().endswith(schema.END)
    assert r.stdout in (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")


def test_config_usage(cli):
    r = cli("config")
    assert "Traceback" not in r.output and all(a in r.output for a in ("show", "check", "schema"))
    r = cli("config", "nope")
    assert r.exit_code == 2 and "No such command 'nope'" in r.stderr and "Traceback" not in r.output
