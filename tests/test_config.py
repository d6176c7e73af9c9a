from pathlib import Path

import pytest

from b2release import config
from b2release.errors import ConfigError
from tests.conftest import assert_user_error


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "b2release.toml"
    path.write_text(text)
    return path


def test_defaults_file_env_and_precedence(tmp_path):
    path = _write(tmp_path, '[product]\nname = "from-file"\n[store]\nchannel = "beta"\ntenants = ["acme"]\n')
    cfg = config.load(path, environ={"B2RELEASE_STORE_CHANNEL": "canary", "B2RELEASE_STORE_TENANTS": "a, b",
                                     "B2RELEASE_CDN_BATCH_SIZE": "12", "B2RELEASE_SIGN_REQUIRED": "false"})
    assert cfg.get("product.name") == "from-file"
    assert cfg.get("store.channel") == "canary"  # env beats file
    assert cfg.get("store.tenants") == ["a", "b"]
    assert cfg.get("cdn.batch_size") == 12
    assert cfg.get("sign.required") is False
    assert cfg.get("build.configuration") == "Release"  # default
    assert cfg.source("store.channel") == "environment B2RELEASE_STORE_CHANNEL"
    cfg.set("store.channel", "stable")  # CLI beats env
    assert cfg.get("store.channel") == "stable"


def test_paths_resolve_against_the_file_folder(tmp_path, monkeypatch):
    sub = tmp_path / "conf"
    sub.mkdir()
    path = _write(sub, '[release]\nsigning_key = "keys/r.key"\n')
    monkeypatch.chdir(tmp_path)
    cfg = config.load(path, environ={})
    assert cfg.path("release.signing_key") == sub.resolve() / "keys" / "r.key"
    cfg = config.load(path, environ={"B2RELEASE_RELEASE_SIGNING_KEY": "other.key"})
    assert cfg.path("release.signing_key") == tmp_path / "other.key"


@pytest.mark.parametrize(
    "text,needle",
    [
        ('[store]\nurll = "x"\n', "unknown config key store.urll"),
        ('[stor]\nurl = "x"\n', "unknown config section [stor]"),
        ("[cdn]\nbatch_size = \"thirty\"\n", "cdn.batch_size must be an integer"),
        ('[scan]\nfail_on = "severe"\n', "scan.fail_on must be one of"),
        ('[store]\ntenants = "acme"\n', "store.tenants must be a list of strings"),
        ("[sign]\nrequired = 1\n", "sign.required must be a boolean"),
    ],
)
def test_validation_names_the_key(tmp_path, text, needle):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        config.load(path, environ={})
    assert needle in exc.value.message and str(path) in exc.value.message


def test_malformed_toml_names_file_and_line(tmp_path):
    path = _write(tmp_path, '[product]\nname = "ok"\nbroken = = 3\n')
    with pytest.raises(ConfigError) as exc:
        config.load(path, environ={})
    assert str(path) in exc.value.message and "line 3" in exc.value.message


def test_env_errors(tmp_path):
    with pytest.raises(ConfigError, match="B2RELEASE_STORE_NOPE.*unknown config key store.nope"):
        config.load(None, environ={"B2RELEASE_STORE_NOPE": "1"})
    with pytest.raises(ConfigError, match="B2RELEASE_CDN_BATCH_SIZE"):
        config.load(None, environ={"B2RELEASE_CDN_BATCH_SIZE": "many"})
    # Secrets and other settings share the prefix but are not config keys.
    config.load(None, environ={"B2RELEASE_KEY_PASSPHRASE": "x", "B2RELEASE_WORK_DIR": "d"})


def test_cli_reports_config_errors_with_exit_2(cli, tmp_path):
    path = _write(tmp_path, '[store]\nurll = "x"\n')
    r = cli("--config", path, "package")
    assert_user_error(r, 2, "unknown config key store.urll")
    r = cli("package", cwd=tmp_path)  # ./b2release.toml picked up by default
    assert_user_error(r, 2, "store.urll")
    r = cli("--config", tmp_path / "none.toml", "package")
    assert_user_error(r, 2, "none.toml", "does not exist")


def test_durations():
    assert config.parse_duration("24h", "x") == 86400
    assert config.parse_duration("7d", "x") == 604800
    with pytest.raises(ConfigError, match="--expires"):
        config.parse_duration("soon", "--expires")


def test_every_key_is_documented():
    from tests.conftest import REPO

    doc = (REPO / "docs" / "configuration.md").read_text()
    missing = [f"{s}.{k}" for s, keys in config.SCHEMA.items() for k in keys if f"`{s}.{k}`" not in doc]
    assert not missing, f"document these keys in docs/configuration.md: {missing}"
