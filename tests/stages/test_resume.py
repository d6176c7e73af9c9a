"""Resumable `release` on the real sample connector (Mono xbuild, nunit-console, osslsigncode):
a release whose store cannot be written fails at upload (exit 3); once the store is back, the
re-run reports build..package `up-to-date`, runs none of them and completes, and the
`release --dry-run` in between plans exactly what that re-run then does. A changed source
file runs everything again from build; `--force` runs a stage whose fingerprint holds."""

from __future__ import annotations

import json
import shutil

from tests.conftest import REPO, assert_user_error
from tests.fixtures.build import require_tool
from tests.fixtures.configs import release_config
from tests.fixtures.dry_run import audit_lines, pointer
from tests.fixtures.releases import PRODUCT, Backend

LOCAL = ["build", "test", "compat", "scan", "sign", "package"]
POINTER = f"{PRODUCT}/channels/stable.json"


def statuses(doc) -> dict[str, str]:
    return {s["stage"]: s["status"] for s in doc["stages"]}


def test_release_resumes_where_it_failed_and_reruns_from_a_changed_source(cli, tmp_path, dev_keys):
    for tool in ("xbuild", "osslsigncode", "nunit-console"):
        require_tool(tool)
    from b2release.stores.local import LocalStore

    source = tmp_path / "connector"
    shutil.copytree(REPO / "examples" / "enventa-connector", source, ignore=shutil.ignore_patterns("bin", "obj"))
    store = tmp_path / "store"
    store.write_text("not a folder: the store cannot be written\n")
    cfg = release_config(tmp_path / "b2release.toml", dev_keys, source / "Enventa.Connector.sln", PRODUCT,
                         tail=f'[store]\nurl = "file://{store}"\ntenants = ["acme", "globex"]\n')
    work = tmp_path / "dist"
    env = {"SOURCE_DATE_EPOCH": "1700000000"}

    def release(*args: str):
        return cli("--config", cfg, "--work-dir", work, "--json", "release", "--version", "1.4.0", *args, env=env)

    failed = release()
    assert_user_error(failed, 3, "release stopped at stage upload", "cannot create")
    doc = failed.json()
    assert doc["details"]["stage"] == "upload"
    assert {s["stage"]: s["status"] for s in doc["details"]["completed"]} == dict.fromkeys(LOCAL, "ok")
    built = {p.name: p.stat().st_mtime_ns for p in (work / "build").iterdir()}
    zip_path = work / f"{PRODUCT}-1.4.0.zip"
    packaged = zip_path.read_bytes()

    store.unlink()  # the store is back (an empty folder store)
    backend = Backend("file", {"B2RELEASE_STORE_URL": f"file://{store}"}, ["acme", "globex"], "releases",
                      lambda: LocalStore(store))

    # Planned first: nothing runs or changes, the plan is what the re-run then does.
    state_before = (work / "state.json").read_bytes()
    dry = release("--dry-run")
    assert dry.exit_code == 0, dry.output
    assert not store.exists() and (work / "state.json").read_bytes() == state_before
    planned = dry.json()
    assert planned["status"] == "ok" and planned["dry_run"] is True
    assert statuses(planned) == {**dict.fromkeys(LOCAL, "up-to-date"), "upload": "planned", "purge": "planned"}
    plan = planned["plan"]
    assert plan["containers_to_create"] == ["releases", "tenant-acme", "tenant-globex"]
    assert f"{PRODUCT}-1.4.0.zip" in {f["name"] for f in plan["files"]}

    resumed = release()
    assert resumed.exit_code == 0, resumed.output
    doc = resumed.json()
    assert statuses(doc) == {**dict.fromkeys(LOCAL, "up-to-date"), "upload": "ok", "purge": "skipped"}
    assert all("unchanged" in s["reason"] for s in doc["stages"] if s["status"] == "up-to-date")
    assert {p.name: p.stat().st_mtime_ns for p in (work / "build").iterdir()} == built  # nothing was rebuilt
    assert zip_path.read_bytes() == packaged
    upload = next(s for s in doc["stages"] if s["stage"] == "upload")
    assert upload["files_uploaded"] == len(plan["files"]) and upload["files_present"] == 0
    assert upload["copies_made"] == len(plan["copies"]) and upload["bytes_sent"] == plan["bytes_to_send"]
    for move in plan["pointer_moves"]:
        assert pointer(backend, move["container"], POINTER) == (move["to_version"], move["to_sequence"])
    assert audit_lines(backend) == plan["audit_lines"]
    runs = json.loads((work / "state.json").read_text())["runs"]
    assert runs["upload"]["status"] == "ok" and runs["build"]["correlation_id"] != doc["correlation_id"]

    # Once more, now that the channel serves 1.4.0: still nothing to build, nothing to send.
    again = release()
    assert again.exit_code == 0, again.output
    assert statuses(again.json()) == statuses(doc)
    upload = next(s for s in again.json()["stages"] if s["stage"] == "upload")
    assert upload["files_uploaded"] == 0 and upload["files_present"] == len(plan["files"])

    # --force runs a stage whose fingerprint holds.
    forced = release("--from", "package", "--to", "package", "--force")
    assert forced.exit_code == 0, forced.output
    assert statuses(forced.json()) == {"package": "ok"}
    assert zip_path.read_bytes() == packaged  # deterministic: same inputs, same zip

    # A changed source file: everything runs again from build.
    code = source / "src" / "Enventa.Connector" / "SyncResult.cs"
    code.write_text(code.read_text() + "\n// changed\n")
    dry = cli("--config", cfg, "--work-dir", work, "release", "--version", "1.4.0", "--dry-run", env=env)
    assert_user_error(dry, 2, "the build stage would run (the source tree changed)", "--to package")
    rebuilt = release("--to", "package")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert statuses(rebuilt.json()) == dict.fromkeys(LOCAL, "ok")
