import json

from tests.conftest import assert_user_error


def _config(tmp_path, signing, public, extra=""):
    cfg = tmp_path / "b2release.toml"
    cfg.write_text(f'[product]\nname = "enventa-connector"\n[release]\nsigning_key = "{signing}"\npublic_key = "{public}"\n'
                   f'[store]\nurl = "file://{tmp_path / "store"}"\ntenants = ["acme"]\n' + extra)
    return cfg


def test_doctor_ok_with_matching_keys(cli, tmp_path, dev_keys):
    cfg = _config(tmp_path, dev_keys / "release-signing.key", dev_keys / "release-signing.pub",
                  f'[sign]\ncert = "{dev_keys / "codesign.crt"}"\nkey = "{dev_keys / "codesign.key"}"\n')
    r = cli("--config", cfg, "--work-dir", tmp_path / "d", "--json", "doctor")
    assert r.exit_code == 0, r.output
    doc = r.json()
    by_name = {c["name"]: c for c in doc["checks"]}
    assert doc["ok"] is True
    assert by_name["release.signing_key"]["status"] == "ok"
    assert by_name["product.name"]["detail"] == "enventa-connector"
    assert by_name["certificate"]["status"] == "ok" and "self-signed" in by_name["certificate"]["detail"]
    assert by_name["connect"]["status"] == "ok" and by_name["tenants"]["detail"] == "tenant-acme"
    assert by_name["provider"]["status"] == "skip"


def test_doctor_fails_on_codesign_key_mismatch_and_cdn_without_token(cli, tmp_path, dev_keys, other_keys):
    cfg = _config(tmp_path, dev_keys / "release-signing.key", dev_keys / "release-signing.pub",
                  f'[sign]\ncert = "{dev_keys / "codesign.crt"}"\nkey = "{other_keys / "codesign.key"}"\n'
                  '[cdn]\nprovider = "cloudflare"\nzone_id = "z1"\nbase_url = "https://downloads.example.com"\n')
    r = cli("--config", cfg, "--work-dir", tmp_path / "d", "--json", "doctor")
    assert_user_error(r, 1, "does not match certificate", "CLOUDFLARE_API_TOKEN")
    checks = json.loads(r.stdout)["details"]["checks"]
    assert any(c["area"] == "sign" and c["status"] == "fail" for c in checks)
    assert any(c["area"] == "cdn" and c["status"] == "fail" and "CLOUDFLARE_API_TOKEN" in c["detail"] for c in checks)


def test_doctor_fails_on_mismatched_pair_and_bad_key(cli, tmp_path, dev_keys, other_keys):
    cfg = _config(tmp_path, dev_keys / "release-signing.key", other_keys / "release-signing.pub")
    r = cli("--config", cfg, "--work-dir", tmp_path / "d", "--json", "doctor")
    assert_user_error(r, 1, "does not belong to release.signing_key")
    assert json.loads(r.stdout)["details"]["ok"] is False
    cfg = _config(tmp_path, tmp_path / "missing.key", dev_keys / "release-signing.pub")
    r = cli("--config", cfg, "--work-dir", tmp_path / "d", "doctor")
    assert_user_error(r, 1, "missing.key")


def test_doctor_reports_unwritable_work_dir(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = cli("--work-dir", blocker / "sub", "doctor", cwd=tmp_path)
    assert_user_error(r, 1, "work dir")


def test_doctor_reaches_azure_store_and_never_prints_the_key(cli, tmp_path, dev_keys, azurite):
    from tests.fixtures.azurite import ACCOUNT_KEY

    cfg = _config(tmp_path, dev_keys / "release-signing.key", dev_keys / "release-signing.pub")
    r = cli("--config", cfg, "--work-dir", tmp_path / "d", "--json", "doctor", env=azurite.env())
    checks = {(c["area"], c["name"]): c for c in json.loads(r.stdout).get("checks") or
              json.loads(r.stdout)["details"]["checks"]}
    assert checks[("store", "connect")]["status"] == "ok", checks[("store", "connect")]
    assert "127.0.0.1" in checks[("store", "connect")]["detail"]
    wrong = azurite.connection_string.replace(ACCOUNT_KEY, "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk=")
    env = {**azurite.env(), "AZURE_STORAGE_CONNECTION_STRING": wrong}
    r = cli("--config", cfg, "--work-dir", tmp_path / "d", "--json", "doctor", env=env)
    assert r.exit_code == 1
    failed = [c for c in json.loads(r.stdout)["details"]["checks"] if c["area"] == "store"]
    assert failed[0]["status"] == "fail"
    for secret in (ACCOUNT_KEY, "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="):
        assert secret not in r.output


def test_table_shows_bracketed_text_literally_and_hints_at_keys_generate(cli, tmp_path):
    # A detail quoting "[sign]" or a path like "[weird]" must not be eaten as rich markup.
    cfg = tmp_path / "b2release.toml"
    cfg.write_text(f'[product]\nname = "enventa-connector"\n[store]\nurl = "file://{tmp_path / "[weird]store"}"\n'
                   '[sign]\nrequired = false\n')
    r = cli("--config", cfg, "--work-dir", tmp_path / "d", "doctor", env={"COLUMNS": "400"})
    table = " ".join(r.stderr.split())  # rich wraps long cells
    assert "no [sign] cert/key or pfx configured" in table
    assert "keys generate --out keys" in table
    assert "[weird]store" in table


def test_a_missing_key_file_hints_at_keys_generate(cli, tmp_path):
    r = cli("verify", tmp_path, "--public-key", tmp_path / "nope.pub")
    assert r.exit_code == 2
    assert "nope.pub does not exist" in r.stderr and "b2release keys generate --out keys" in r.stderr


def test_every_config_value_is_checked_and_named_by_its_source(cli, tmp_path):
    cfg = tmp_path / "b2release.toml"
    cfg.write_text('[product]\nname = "x"\n[store]\npointer_ttl = "7days"\n')
    r = cli("--config", cfg, "--work-dir", tmp_path / "d", "--json", "doctor",
            env={"B2RELEASE_STORE_MAX_GRANT_EXPIRY": "3x"})
    assert r.exit_code == 1, r.output
    failed = {c["name"]: c["detail"] for c in json.loads(r.stdout)["details"]["checks"] if c["status"] == "fail"}
    assert failed["store.pointer_ttl"] == f"{cfg}: store.pointer_ttl: invalid duration '7days' (use e.g. 30m, 24h, 7d)"
    assert failed["store.max_grant_expiry"].startswith("environment variable B2RELEASE_STORE_MAX_GRANT_EXPIRY: ")
    # The command that would have tripped over it later refuses at once, naming the file (exit 2).
    assert_user_error(cli("--config", cfg, "--work-dir", tmp_path / "d", "refresh"), 2,
                      f"{cfg}: store.pointer_ttl: invalid duration '7days'")
