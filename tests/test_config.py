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


# --- collecting load (config check / show) ------------------------------------------------
def test_collecting_load_reports_every_problem_and_keeps_the_rest(tmp_path):
    path = _write(tmp_path, '[product]\nname = "p"\n[store]\nurll = "x"\nchannel = 3\ntenants = ["a"]\n[stor]\nx = 1\n')
    environ = {"B2RELEASE_CDN_BATCH_SIZE": "many", "B2RELEASE_STORE_CHANNEL": "beta", "B2RELEASE_BUILD_NOPE": "1"}
    cfg = config.load(path, environ=environ, collect=True)
    messages = [p.message for p in cfg.problems]
    assert len(messages) == 5, messages
    assert any(m.startswith(f"{path}: unknown config key store.urll") for m in messages)
    assert any(m.startswith(f"{path}: unknown config section [stor]") for m in messages)
    assert any("B2RELEASE_CDN_BATCH_SIZE" in m and "cdn.batch_size must be an integer" in m for m in messages)
    assert any("B2RELEASE_BUILD_NOPE" in m for m in messages)
    # store.channel = 3 in the file is a problem of the file, though the environment's good value wins
    assert cfg.get("store.channel") == "beta" and cfg.source("store.channel") == "environment B2RELEASE_STORE_CHANNEL"
    assert any(m.startswith(f"{path}: store.channel must be a string") for m in messages)
    assert cfg.get("product.name") == "p" and cfg.get("store.tenants") == ["a"]
    assert cfg.get("cdn.batch_size") == 30  # the bad value is left out: the default shows through
    by_key = {p.key: p for p in cfg.problems}
    assert by_key["cdn.batch_size"].source == "environment variable B2RELEASE_CDN_BATCH_SIZE"
    assert by_key["store.urll"].source == str(path)


def test_collecting_load_survives_a_broken_or_missing_file(tmp_path):
    path = _write(tmp_path, "[product\n")
    cfg = config.load(path, environ={"B2RELEASE_STORE_CHANNEL": "beta"}, collect=True)
    assert len(cfg.problems) == 1 and "line 1" in cfg.problems[0].message
    assert cfg.get("store.channel") == "beta"
    cfg = config.load(tmp_path / "none.toml", environ={}, collect=True)
    assert [p.message for p in cfg.problems] == [f"config file {tmp_path / 'none.toml'} does not exist"]


def test_strict_load_still_raises_the_first_problem(tmp_path):
    path = _write(tmp_path, '[store]\nurll = "x"\n[stor]\nx = 1\n')
    with pytest.raises(ConfigError, match="unknown config key store.urll"):
        config.load(path, environ={})


def test_env_var_names():
    assert config.env_var("store.pointer_ttl") == "B2RELEASE_STORE_POINTER_TTL"
    assert config.env_var("cdn.zone_id") == "B2RELEASE_CDN_ZONE_ID"
    with pytest.raises(ConfigError, match="unknown config key"):
        config.env_var("store.nope")


def test_every_key_has_a_description_and_every_section_one():
    assert set(config.SECTIONS) == set(config.SCHEMA)
    assert [f"{s}.{k}" for s, keys in config.SCHEMA.items() for k, spec in keys.items() if not spec.help] == []
    assert {spec.format for keys in config.SCHEMA.values() for spec in keys.values()} <= {"", "duration", "url"}


# --- the JSON Schema and the generated docs ----------------------------------------------
jsonschema = pytest.importorskip("jsonschema")


@pytest.fixture(scope="module")
def validator():
    from b2release.stages.config.schema import json_schema

    doc = json_schema()
    jsonschema.Draft202012Validator.check_schema(doc)  # a valid draft 2020-12 schema
    return jsonschema.Draft202012Validator(doc)


def _toml(path: Path) -> dict:
    return config.tomllib.loads(path.read_text(encoding="utf-8"))


def test_the_json_schema_accepts_the_shipped_configs(validator):
    from tests.conftest import REPO

    for path in (REPO / "b2release.toml", REPO / "keys.example" / "b2release.toml.fragment"):
        errors = [e.message for e in validator.iter_errors(_toml(path))]
        assert errors == [], (path, errors)


# A good value and bad values of each type: the JSON Schema and config.load must agree on all.
_SAMPLES = {
    str: ("text", [3, True]), bool: (True, ["yes", 1]), int: (7, [True, 7.5, "7"]),
    "list": (["a", "b"], ["a,b", [1]]), "path": ("keys/k.pem", [["k"], 1]),
}


@pytest.mark.parametrize("dotted", [f"{s}.{k}" for s, keys in config.SCHEMA.items() for k in keys])
def test_the_json_schema_and_the_loader_agree_on_types(tmp_path, validator, dotted):
    section, key = dotted.split(".")
    spec = config.SCHEMA[section][key]
    good, bad = _SAMPLES[spec.type]
    if spec.choices:
        good, bad = spec.choices[-1], ["not-a-choice", *bad]
    if spec.format == "duration":
        good = "24h"
    path = tmp_path / "b2release.toml"
    for value, ok in [(good, True), *((b, False) for b in bad)]:
        accepted_by_schema = validator.is_valid({section: {key: value}})
        try:
            config._apply_file(config.Config(), {section: {key: value}}, path)
            accepted_by_loader = True
        except ConfigError:
            accepted_by_loader = False
        assert (accepted_by_schema, accepted_by_loader) == (ok, ok), (dotted, value)


def test_the_json_schema_rejects_unknown_sections_and_keys(validator):
    assert not validator.is_valid({"stor": {}})
    assert not validator.is_valid({"store": {"urll": "x"}})
    assert validator.is_valid({"store": {"url": "azure"}})


@pytest.mark.parametrize("text", ["7d", "30m", " 24h ", "1w", "01d", "7 d", "0d", "00h", "7days", "d", "-1d",
                                  "1.5h", "", "7D"])
def test_the_duration_pattern_is_parse_duration(validator, text):
    try:
        config.parse_duration(text, "x")
        parses = True
    except ConfigError:
        parses = False
    assert validator.is_valid({"store": {"pointer_ttl": text}}) == parses


def test_the_json_schema_carries_defaults_enums_and_env(validator):
    doc = validator.schema
    store = doc["properties"]["store"]
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert all(s["additionalProperties"] is False for s in doc["properties"].values())
    assert store["properties"]["pointer_ttl"]["default"] == "7d"
    assert store["properties"]["tenants"] == {**store["properties"]["tenants"], "type": "array", "default": []}
    assert doc["properties"]["scan"]["properties"]["fail_on"]["enum"] == list(config.SCHEMA["scan"]["fail_on"].choices)
    assert store["properties"]["pointer_ttl"]["x-b2release"] == {"kind": "duration", "env": "B2RELEASE_STORE_POINTER_TTL"}
    assert "default" not in doc["properties"]["product"]["properties"]["name"]


def test_configuration_doc_is_generated_from_the_schema():
    from b2release.stages.config import schema
    from tests.conftest import REPO

    doc = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    wanted = schema.update_document(doc, schema.render_markdown(schema.json_schema()))
    assert doc == wanted, "docs/configuration.md is out of date: run python scripts/update-config-doc.py"


def test_a_schema_change_shows_in_the_generated_doc(monkeypatch):
    from b2release.stages.config import schema
    from tests.conftest import REPO

    doc = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    monkeypatch.setitem(config.SCHEMA["store"], "mirror", config.Key("path", None, help="a mirror folder"))
    monkeypatch.setitem(config.SCHEMA["cdn"], "api_token", config.Key(str, "", help="a token", secret=True))
    updated = schema.update_document(doc, schema.render_markdown(schema.json_schema()))
    assert updated != doc
    assert "| `store.mirror` | path |  | a mirror folder |" in updated
    assert "| `cdn.api_token` | string (secret) | `\"\"` | a token |" in updated
    # Only the generated block changes: the prose before and after it is kept.
    assert updated.split(schema.BEGIN)[0] == doc.split(schema.BEGIN)[0]
    assert updated.split(schema.END)[1] == doc.split(schema.END)[1]
    with pytest.raises(Exception, match="markers"):
        schema.update_document("# no markers\n", "x")
