"""init: a commented b2release.toml from what is on disk, whose follow-up commands run as printed."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

from b2release import config as config_mod
from tests.conftest import assert_user_error
from tests.fixtures.build import SAMPLE, require_tool


def project_copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(SAMPLE, root / "src" / "connector", ignore=shutil.ignore_patterns("bin", "obj"))
    return root


def test_detects_the_solution_kind_framework_tests_and_writes_a_loadable_file(cli, tmp_path):
    root = project_copy(tmp_path)
    r = cli("--json", "init", root, "--tenant", "acme", "--tenant", "globex", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    doc = r.json()
    assert doc["project"] == str((root / "src/connector/Enventa.Connector.sln").resolve())
    assert (doc["product"], doc["kind"], doc["frameworks"]) == ("enventa-connector", "classic", ["net48"])
    assert doc["test_projects"] == ["Enventa.Connector.Tests.csproj"]
    cfg = config_mod.load(root / "b2release.toml")
    assert cfg.get("product.name") == "enventa-connector"
    assert cfg.path("product.project") == (root / "src/connector/Enventa.Connector.sln").resolve()
    assert cfg.get("store.tenants") == ["acme", "globex"]
    assert cfg.path("release.signing_key") == (root / "keys/release-signing.key").resolve()
    text = (root / "b2release.toml").read_text()
    assert "target framework(s): net48" in text and "Enventa.Connector.Tests.csproj" in text


@pytest.mark.mono
def test_every_follow_up_command_runs_as_printed(cli, tmp_path, osv_server):
    require_tool("xbuild")
    require_tool("osslsigncode")
    require_tool("nunit-console")
    root = project_copy(tmp_path)
    r = cli("--json", "init", cwd=root)
    assert r.exit_code == 0, r.output
    follow_up = r.json()["follow_up"]
    assert [c.split()[1] for c in follow_up] == ["keys", "config", "doctor", "release"]
    assert all(c in r.stderr for c in follow_up)  # the printed line names the same commands
    env = {"B2RELEASE_SCAN_OSV_URL": osv_server.url, "SOURCE_DATE_EPOCH": "1700000000"}
    for command in follow_up:
        argv = shlex.split(command)
        assert argv[0] == "b2release"
        done = cli(*argv[1:], env=env, cwd=root)
        assert done.exit_code == 0, f"{command}: {done.output}"
    assert (root / "dist" / "enventa-connector-1.0.0.zip").is_file()
    assert (root / "releases" / "releases" / "enventa-connector").is_dir()


def test_a_config_elsewhere_gets_follow_ups_that_name_it(cli, tmp_path):
    root = project_copy(tmp_path)
    r = cli("--json", "--config", tmp_path / "ci" / "release.toml", "init", root, cwd=tmp_path)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "ci" / "release.toml").is_file() and not (root / "b2release.toml").exists()
    follow = r.json()["follow_up"]
    assert all("--config" in c for c in follow[1:])
    assert cli(*shlex.split(follow[0])[1:], cwd=tmp_path).exit_code == 0  # keys where the config expects them
    assert (tmp_path / "ci" / "keys" / "release-signing.key").is_file()
    assert cli(*shlex.split(follow[1])[1:], cwd=tmp_path).exit_code == 0  # config check passes


def test_refuses_to_overwrite_and_replaces_a_broken_file_with_force(cli, tmp_path):
    root = project_copy(tmp_path)
    (root / "b2release.toml").write_text("[product\nname = broken")
    assert_user_error(cli("init", cwd=root), 2, "b2release.toml already exists", "--force")
    assert (root / "b2release.toml").read_text() == "[product\nname = broken"
    r = cli("init", "--force", cwd=root)
    assert r.exit_code == 0, r.output
    assert config_mod.load(root / "b2release.toml").get("product.name") == "enventa-connector"


def test_several_solutions_need_project(cli, tmp_path):
    root = project_copy(tmp_path)
    other = root / "tools" / "Other.sln"
    other.parent.mkdir()
    shutil.copy(root / "src/connector/Enventa.Connector.sln", other)
    # Breadth first: a solution nearer the top wins over deeper ones; two at one depth are ambiguous.
    shutil.copy(root / "src/connector/Enventa.Connector.sln", root / "src" / "Second.sln")
    shutil.copy(root / "src/connector/Enventa.Connector.sln", root / "src" / "Third.sln")
    shutil.rmtree(root / "tools")
    r = cli("init", cwd=root)
    assert_user_error(r, 2, "several candidates", "src/Second.sln", "src/Third.sln", "--project")
    assert not (root / "b2release.toml").exists()
    r = cli("--json", "init", "--project", root / "src/connector/Enventa.Connector.sln", "--name", "connector",
            cwd=root)
    assert r.exit_code == 0, r.output
    assert r.json()["product"] == "connector"


def test_tenants_from_an_existing_local_store(cli, tmp_path):
    root = project_copy(tmp_path)
    for name in ("tenant-acme", "tenant-globex", "releases", "tenant-NOT_VALID"):
        (root / "releases" / name).mkdir(parents=True)
    r = cli("--json", "init", cwd=root)
    assert r.exit_code == 0, r.output
    assert r.json()["tenants"] == ["acme", "globex"]
    assert "# tenants from the store file://releases" in (root / "b2release.toml").read_text()


@pytest.mark.parametrize("args, needle", [
    (["--tenant", "Acme"], "invalid tenant id 'Acme'"),
    (["--name", "Bad Name"], "invalid product name"),
    (["--store", "ftp://x"], "store"),
    (["--project", "nope.sln"], "nope.sln does not exist"),
])
def test_bad_values_are_refused_and_nothing_is_written(cli, tmp_path, args, needle):
    root = project_copy(tmp_path)
    assert_user_error(cli("init", *args, cwd=root), 2, needle)
    assert not (root / "b2release.toml").exists()
    assert not list(root.glob(".b2release.toml*"))


def test_an_sdk_style_project(cli, tmp_path):
    root = tmp_path / "sdk"
    root.mkdir()
    (root / "My.Lib.csproj").write_text(
        '<Project Sdk="Microsoft.NET.Sdk"><PropertyGroup><TargetFrameworks>net48;net8.0</TargetFrameworks>'
        "</PropertyGroup></Project>")
    r = cli("--json", "init", root, cwd=tmp_path)
    assert r.exit_code == 0, r.output
    doc = r.json()
    assert (doc["product"], doc["kind"], doc["frameworks"]) == ("my-lib", "SDK-style", ["net48", "net8.0"])
    assert doc["test_projects"] == []


def test_an_empty_folder(cli, tmp_path):
    assert_user_error(cli("init", tmp_path, cwd=tmp_path), 2, "no solution (.sln) or project file", "--project")
