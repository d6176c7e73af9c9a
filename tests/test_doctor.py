import json

from tests.conftest import assert_user_error


def _config(tmp_path, signing, public):
    cfg = tmp_path / "b2release.toml"
    cfg.write_text(f'[product]\nname = "enventa-connector"\n[release]\nsigning_key = "{signing}"\npublic_key = "{public}"\n')
    return cfg


def test_doctor_ok_with_matching_keys(cli, tmp_path, dev_keys):
    cfg = _config(tmp_path, dev_keys / "release-signing.key", dev_keys / "release-signing.pub")
    r = cli("--config", cfg, "--work-dir", tmp_path / "d", "--json", "doctor")
    assert r.exit_code == 0, r.output
    doc = r.json()
    by_name = {c["name"]: c for c in doc["checks"]}
    assert doc["ok"] is True
    assert by_name["release.signing_key"]["status"] == "ok"
    assert by_name["product.name"]["detail"] == "enventa-connector"


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
