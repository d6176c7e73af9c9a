"""The CI templates (examples/ci/, shown in docs/ci.md) hold what they promise.

Every `b2release` command line in them is parsed by the real CLI's parser (an unknown
command or flag, or a missing required option, fails here, not in someone's pipeline);
the stages they run, job after job, are the pipeline in order; dist/ goes from job to job
as an artifact; the correlation id is set once per run and shown in each job's log;
secrets reach only the steps that need them, as masked secrets, and are never echoed.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from b2release.stages import PIPELINE, select
from tests.conftest import REPO

yaml = pytest.importorskip("yaml")

GITHUB = REPO / "examples" / "ci" / "github-actions.yml"
AZURE = REPO / "examples" / "ci" / "azure-pipelines.yml"
# Secrets b2release reads, and the files the templates bring in as secrets.
SECRETS = {"AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_SAS_TOKEN", "CLOUDFLARE_API_TOKEN", "B2RELEASE_KEY_PASSPHRASE",
           "B2RELEASE_PFX_PASSWORD", "CODESIGN_PFX_BASE64", "RELEASE_SIGNING_KEY_PEM"}
GITHUB_ACTIONS = {"actions/checkout@v4", "actions/setup-python@v5", "actions/upload-artifact@v4",
                  "actions/download-artifact@v4"}
AZURE_TASKS = {"UsePythonVersion@0", "DownloadSecureFile@1", "PublishPipelineArtifact@1", "DownloadPipelineArtifact@2"}


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --- the command lines -------------------------------------------------------------------
def placeholders(script: str) -> str:
    """Pipeline and shell variables replaced by a value any option accepts ("1"), so that the
    parser sees the words a runner would pass."""
    script = re.sub(r"\$\{\{.*?\}\}", "1", script)  # ${{ github.x }}, ${{ parameters.x }}
    while "$(" in script:  # $(Build.BuildId), $(cmd "(x86)" ...): up to the matching parenthesis
        start = script.index("$(")
        depth, end = 0, start + 1
        for end in range(start + 1, len(script)):
            depth += {"(": 1, ")": -1}.get(script[end], 0)
            if depth == 0:
                break
        script = script[:start] + "1" + script[end + 1:]
    script = re.sub(r"\$\{[^}]*\}", "1", script)  # ${VAR#v}
    return re.sub(r"\$[A-Za-z_][A-Za-z0-9_]*", "1", script)


def b2release_commands(script: str) -> list[list[str]]:
    """The argv (after `b2release`) of every b2release command in a bash script."""
    found = []
    for line in placeholders(script).replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        command: list[str] = []
        for token in [*lexer, ";"]:
            if token in (";", "&&", "||", "|", "&", "(", ")"):
                words = [w for w in command if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", w)]  # VAR=x cmd
                if words[:1] == ["b2release"]:
                    found.append(words[1:])
                elif words[:3] == ["python", "-m", "b2release"]:
                    found.append(words[3:])
                command = []
            else:
                command.append(token)
    return found


def check_argv(argv: list[str]) -> str:
    """Parse argv with the real CLI, as `b2release` would: unknown commands and options, and
    missing required options, raise the parser's usage error. Returns the command's path."""
    from typer.main import get_command

    from b2release.cli import app, load_all

    load_all()  # every command, not only the ones this process ran
    command = get_command(app)
    ctx = command.make_context("b2release", list(argv), resilient_parsing=False)
    path = []
    while hasattr(command, "resolve_command"):  # a group: find the subcommand, parse its arguments
        args = [*ctx._protected_args, *ctx.args]
        assert args, f"b2release {' '.join(argv)}: no command"
        name, command, rest = command.resolve_command(ctx, args)
        path.append(name)
        ctx = command.make_context(name, rest, parent=ctx, resilient_parsing=False)
    return " ".join(path)


def github_steps(doc: dict) -> Iterator[tuple[str, dict]]:
    for job_name, job in doc["jobs"].items():
        for step in job["steps"]:
            yield job_name, step


def azure_jobs(doc: dict) -> Iterator[tuple[str, list[dict]]]:
    for stage in doc["stages"]:
        for job in stage["jobs"]:
            name = job.get("job") or job.get("deployment")
            steps = job["steps"] if "steps" in job else job["strategy"]["runOnce"]["deploy"]["steps"]
            yield name, steps


def azure_steps(doc: dict) -> Iterator[tuple[str, dict]]:
    for name, steps in azure_jobs(doc):
        for step in steps:
            yield name, step


def scripts(path: Path) -> Iterator[tuple[str, str, dict]]:
    """(job, script, step) of every shell step."""
    doc = load(path)
    if path == GITHUB:
        yield from ((job, step["run"], step) for job, step in github_steps(doc) if "run" in step)
    else:
        yield from ((job, step[kind], step) for job, step in azure_steps(doc)
                    for kind in ("bash", "script", "pwsh", "powershell") if kind in step)


def commands(path: Path) -> list[tuple[str, list[str]]]:
    return [(job, argv) for job, script, _ in scripts(path) for argv in b2release_commands(script)]


@pytest.mark.parametrize("path", [GITHUB, AZURE], ids=["github", "azure"])
def test_every_b2release_command_line_is_one_the_cli_accepts(path):
    found = commands(path)
    assert len(found) >= 8, found  # the test cannot pass by finding nothing
    for job, argv in found:
        try:
            check_argv(argv)
        except Exception as exc:  # the parser's usage error, named with the job and line
            pytest.fail(f"{path.name}, job {job}: b2release {' '.join(argv)}: {exc}")


@pytest.mark.parametrize("argv, error", [
    (["release", "--version", "1", "--too", "sign"], "No such option: --too"),
    (["deploy"], "No such command 'deploy'"),
    (["release", "--version"], "requires an argument"),
    (["config", "validate"], "No such command 'validate'"),
    (["upload", "--json"], "No such option: --json"),  # a global option after the command
])
def test_the_check_rejects_what_the_cli_rejects(argv, error):
    with pytest.raises(Exception, match=re.escape(error)):
        check_argv(argv)
    assert check_argv(["--json", "config", "check"]) == "config check"


def test_command_lines_are_found_in_scripts():
    script = ('echo "b2release correlation id $X"\npython -m pip install "$B2RELEASE_PIP_SPEC"\n'
              'version="${V:-$T}"\nb2release release --version "${version#v}" \\\n  --to sign && b2release purge\n'
              'B2RELEASE_STORE_CHANNEL=beta b2release upload  # comment\npython -m b2release verify dist\n')
    assert b2release_commands(script) == [["release", "--version", "1", "--to", "sign"], ["purge"],
                                          ["upload"], ["verify", "dist"]]


@pytest.mark.parametrize("path", [GITHUB, AZURE], ids=["github", "azure"])
def test_the_jobs_run_the_pipeline_in_order(path):
    """build ... sign in the first job (`release --to sign`: stages added before sign join in),
    then package, upload and purge in later jobs: together, every stage once, in order."""
    ran: list[tuple[str, str]] = []
    for job, argv in commands(path):
        if argv[:1] == ["release"]:
            opts = {flag: argv[i + 1] for i, flag in enumerate(argv[:-1]) if flag in ("--from", "--to")}
            ran += [(job, s) for s in select(opts.get("--from"), opts.get("--to"), [])]
        elif argv[:1] and argv[0] in PIPELINE:
            ran.append((job, argv[0]))
    assert [stage for _, stage in ran] == PIPELINE
    jobs = {stage: job for job, stage in ran}
    assert jobs["build"] == jobs["sign"] != jobs["package"] != jobs["upload"] == jobs["purge"]


def test_github_passes_dist_between_jobs():
    doc = load(GITHUB)
    jobs = doc["jobs"]
    assert jobs["package"]["needs"] == "build" and jobs["publish"]["needs"] == "package"
    assert jobs["publish"]["environment"] == "production"

    def uses(job: str, action: str) -> list[dict]:
        return [s.get("with", {}) for s in jobs[job]["steps"] if s.get("uses", "").startswith(action)]

    assert [u["path"] for u in uses("build", "actions/upload-artifact")] == ["dist/"]
    for producer, consumer in (("build", "package"), ("package", "publish")):
        uploaded = uses(producer, "actions/upload-artifact")[0]["name"]
        assert uses(consumer, "actions/download-artifact") == [{"name": uploaded, "path": "dist"}]
    actions = {s["uses"] for _, s in github_steps(doc) if "uses" in s}
    assert actions == GITHUB_ACTIONS


def test_azure_passes_dist_between_stages():
    doc = load(AZURE)
    stages = {s["stage"]: s for s in doc["stages"]}
    assert stages["package"]["dependsOn"] == "build" and stages["publish"]["dependsOn"] == "package"
    steps = dict(azure_jobs(doc))

    def tasks(job: str, task: str) -> list[dict]:
        return [s["inputs"] for s in steps[job] if s.get("task") == task]

    assert tasks("build", "PublishPipelineArtifact@1")[0]["targetPath"] == "dist"
    for producer, consumer in (("build", "package"), ("package", "publish")):
        published = tasks(producer, "PublishPipelineArtifact@1")[0]["artifact"]
        assert tasks(consumer, "DownloadPipelineArtifact@2") == [
            {"artifact": published, "path": "$(System.DefaultWorkingDirectory)/dist"}]
    assert {s["task"] for _, s in azure_steps(doc) if "task" in s} == AZURE_TASKS
    publish = next(j for j in stages["publish"]["jobs"])
    assert publish["environment"] == "production"


def _echoes_correlation_id_first(steps: list[dict], script_key) -> bool:
    for step in steps:
        script = script_key(step) or ""
        if "echo" in script and "$B2RELEASE_CORRELATION_ID" in script:
            return True
        if b2release_commands(script):
            return False  # a b2release command ran before the id was shown
    return False


def test_one_correlation_id_per_run_shown_in_every_job():
    gh = load(GITHUB)
    assert gh["env"]["B2RELEASE_CORRELATION_ID"] == "gh-${{ github.run_id }}-${{ github.run_attempt }}"
    for name, job in gh["jobs"].items():
        assert _echoes_correlation_id_first(job["steps"], lambda s: s.get("run")), name
    az = load(AZURE)
    variables = {v["name"]: v["value"] for v in az["variables"] if "name" in v}
    assert variables["B2RELEASE_CORRELATION_ID"] == "ado-$(Build.BuildId)"
    for name, steps in azure_jobs(az):
        assert _echoes_correlation_id_first(steps, lambda s: s.get("bash")), name
    # Set once: no job or step sets another one.
    for path in (GITHUB, AZURE):
        text = path.read_text(encoding="utf-8")
        assert text.count("B2RELEASE_CORRELATION_ID:") + text.count("name: B2RELEASE_CORRELATION_ID") == 1


def _never_echoed(script: str) -> None:
    assert "set -x" not in script and "printenv" not in script and not re.search(r"^\s*env\s*$", script, re.M)
    for line in script.splitlines():
        named = [s for s in SECRETS if re.search(rf"\$\{{?{s}\b", line)]
        if named:
            # A secret may only be written into a file or a pipe, never to the log.
            assert re.match(r"^\s*(printf|echo)\b", line) and ("|" in line or ">" in line), line


def test_github_secrets_are_masked_step_env_only_and_never_echoed():
    doc = load(GITHUB)
    assert "secrets." not in yaml.safe_dump(doc["env"]) and all("env" not in j for j in doc["jobs"].values())
    mapped: dict[str, set[str]] = {}
    for job, step in github_steps(doc):
        for name, value in step.get("env", {}).items():
            if "secrets." in str(value):
                assert value == f"${{{{ secrets.{name} }}}}", (name, value)  # the secret of that name, whole
                mapped.setdefault(name, set()).add(job)
        if "run" in step:
            _never_echoed(step["run"])
    assert set(mapped) == SECRETS
    # Each reaches only the jobs that use it: no Azure or Cloudflare secret where the build runs.
    assert mapped["AZURE_STORAGE_CONNECTION_STRING"] == {"publish"} and mapped["CODESIGN_PFX_BASE64"] == {"build"}
    assert mapped["AZURE_STORAGE_SAS_TOKEN"] == {"build"}  # read-only, for compat's previous release


def test_azure_secrets_are_mapped_per_step_and_secure_files_are_used():
    doc = load(AZURE)
    text = AZURE.read_text(encoding="utf-8")
    assert {"group": "b2release-secrets"} in doc["variables"]
    variables = {v.get("name") for v in doc["variables"]}
    mapped: set[str] = set()
    for _, step in azure_steps(doc):
        for name, value in step.get("env", {}).items():
            if name in SECRETS:
                assert value == f"$({name})", (name, value)
                mapped.add(name)
        if "bash" in step:
            _never_echoed(step["bash"])
    assert not (variables & SECRETS)  # secrets live in the (locked) variable group, not in the file
    assert mapped == SECRETS - {"CODESIGN_PFX_BASE64", "RELEASE_SIGNING_KEY_PEM"}
    secure_files = {s["inputs"]["secureFile"] for _, s in azure_steps(doc) if s.get("task") == "DownloadSecureFile@1"}
    assert secure_files == {"codesign.pfx", "release-signing.key"}
    assert "codesignPfx.secureFilePath" in text and "releaseKey.secureFilePath" in text


def test_docs_show_the_templates_as_they_are():
    doc = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", doc, re.S)
    for path in (GITHUB, AZURE):
        assert path.read_text(encoding="utf-8") in blocks, f"docs/ci.md does not show {path.name} as it is"
