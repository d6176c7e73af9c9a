"""Shell completion: commands, stage names, tenants and channels, as the shell asks for them."""

import subprocess
import sys

import pytest

from b2release.stages import PIPELINE
from tests.conftest import REPO, run_subprocess


def complete(words: str, cwd, env: dict[str, str] | None = None) -> list[str]:
    """What bash completion offers for the last word of `words` (a trailing space: a new word)."""
    parts = words.split(" ")
    r = run_subprocess(cwd=cwd, env={"_B2RELEASE_COMPLETE": "complete_bash", "COMP_WORDS": words,
                                     "COMP_CWORD": str(len(parts) - 1), **(env or {})})
    assert r.exit_code == 0 and "Traceback" not in r.stderr, r.stderr
    return r.stdout.split()


@pytest.fixture
def project(tmp_path):
    (tmp_path / "b2release.toml").write_text('[store]\nurl = "file://releases"\ntenants = ["acme", "globex"]\n'
                                             'channel = "canary"\n')
    channels = tmp_path / "releases" / "tenant-acme" / "enventa-connector" / "channels"
    channels.mkdir(parents=True)
    (channels / "beta.json").write_text("{}")
    (channels / "beta.json.sig").write_text("")
    return tmp_path


def test_commands_and_stage_names(project):
    assert "config" in complete("b2release con", project)
    assert complete("b2release config ", project) == ["show", "check", "schema"]
    assert complete("b2release release --from ", project) == PIPELINE
    assert complete("b2release release --version 1.0.0 --to s", project) == [s for s in PIPELINE if s.startswith("s")]
    assert complete("b2release release --skip pu", project) == ["purge"]


def test_tenants_from_the_config_here(project, tmp_path_factory):
    assert complete("b2release upload --tenant ", project) == ["acme", "globex"]
    assert complete("b2release grant --tenant g", project) == ["globex"]
    assert complete("b2release promote --tenant ", project) == ["acme", "globex"]
    assert complete("b2release upload --tenant ", project, env={"B2RELEASE_STORE_TENANTS": "initech"}) == ["initech"]
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    assert complete("b2release upload --tenant ", elsewhere) == []
    # --config names another file: its tenants.
    assert complete(f"b2release --config {project / 'b2release.toml'} rollback --tenant a", elsewhere) == ["acme"]


def test_channels_configured_and_published(project):
    assert complete("b2release upload --channel ", project) == ["canary", "beta"]
    assert complete("b2release promote --from ", project) == ["canary", "beta"]
    assert complete("b2release refresh --channel b", project) == ["beta"]


def test_a_broken_config_completes_what_it_can(project):
    (project / "b2release.toml").write_text('[store]\ntenants = ["acme"]\nchannel = 3\n[stor]\n')
    assert complete("b2release upload --tenant ", project) == ["acme"]
    # The bad channel is left out: the default, and what the default store (file://releases) holds.
    assert complete("b2release upload --channel ", project) == ["stable", "beta"]
    (project / "b2release.toml").write_text("[store\n")
    assert complete("b2release upload --tenant ", project) == []


def test_show_completion_script_and_help(tmp_path):
    r = run_subprocess("--show-completion", "bash", cwd=tmp_path)
    assert r.exit_code == 0 and "_B2RELEASE_COMPLETE=complete_bash" in r.stdout
    r = run_subprocess("--help", cwd=tmp_path)
    assert "--install-completion" in r.stdout and "--show-completion" in r.stdout


def test_help_loads_neither_config_nor_stages():
    # Completers import what they need when the shell asks, never when --help or a command starts.
    code = ("import sys, io, contextlib; from b2release.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    main(['--help'])\n"
            "print('LOADED=' + ','.join(sorted(m for m in sys.modules if m in ('b2release.config', 'b2release.stages'))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert "LOADED=\n" in proc.stdout, proc.stdout + proc.stderr
