"""--dry-run of upload, refresh, purge and release (from upload): on Azurite (https) and on the
file store, a dry run leaves the store, its blob properties, access policies and state.json
byte-identical, and its plan names exactly what the real run then does."""

from __future__ import annotations

import json

from tests.conftest import assert_user_error
from tests.fixtures.cloudflare import CDN_BASE_URL, cdn_env
from tests.fixtures.dry_run import audit_lines, blobs, moves_of, pointer, world
from tests.fixtures.releases import PRODUCT, pending_purge, tenant_args

POINTER = f"{PRODUCT}/channels/stable.json"


def version_files(work) -> dict[str, int]:
    lines = (work / "SHA256SUMS").read_text().splitlines()
    names = [line.split("  ", 1)[1] for line in lines] + ["SHA256SUMS"]
    return {name: (work / name).stat().st_size for name in names}


def dry_upload(releaser, backend, work, *args):
    before = world(backend, work)
    result = releaser.upload(work, *tenant_args(backend), "--dry-run", *args)
    assert result.exit_code == 0, result.output
    assert world(backend, work) == before  # nothing changed: store, properties, policies, state.json
    doc = result.json()
    assert doc["command"] == "upload" and doc["status"] == "ok" and doc["exit_code"] == 0 and doc["correlation_id"]
    assert doc["dry_run"] is True
    return doc


def real_upload_matches(releaser, backend, work, doc, version):
    """Run the real upload and check it did exactly what the plan said."""
    plan = doc["plan"]
    release, tenants = backend.release_container, backend.containers[:-1]
    prefix = f"{PRODUCT}/{version}/"
    before = {c: blobs(backend, c, prefix) for c in backend.containers}
    log_before = audit_lines(backend)
    queued_before = pending_purge(work) if (work / "state.json").exists() else []
    untouched = world(backend, work)
    result = releaser.upload(work, *tenant_args(backend))
    assert result.exit_code == 0, result.output
    assert (world(backend, work) != untouched) == bool(plan["files"] or plan["copies"] or plan["pointer_moves"])
    real = result.json()
    assert real["containers_created"] == plan["containers_to_create"]
    after = {c: blobs(backend, c, prefix) for c in backend.containers}
    sent = {p.removeprefix(prefix): size for p, size in after[release].items() if p not in before[release]}
    assert sent == {f["name"]: f["size"] for f in plan["files"]} and real["files_uploaded"] == len(plan["files"])
    assert real["bytes_sent"] == plan["bytes_to_send"]
    copied = {(c, p.removeprefix(prefix)) for c in tenants for p in after[c] if p not in before[c]}
    assert copied == {(c["container"], c["name"]) for c in plan["copies"]} and real["copies_made"] == len(copied)
    assert all(c["source"] == release for c in plan["copies"])
    for container, (_, _, to_version, to_sequence) in moves_of(plan).items():
        assert pointer(backend, container, POINTER) == (to_version, to_sequence)
        assert real["pointer"]["sequences"][container] == to_sequence
    assert sorted(real["pointer"]["written_to"]) == sorted(moves_of(plan))
    assert audit_lines(backend)[len(log_before):] == plan["audit_lines"]
    queued = [q for q in pending_purge(work) if q not in queued_before]
    assert queued == doc["purge_queue"]
    return real


def test_upload_dry_run_changes_nothing_and_plans_what_upload_does(backend, releaser):
    work = releaser.package("1.0.0")
    files = version_files(work)
    doc = dry_upload(releaser, backend, work)
    plan = doc["plan"]
    assert not (work / "state.json").read_text().count('"upload"')  # no run recorded
    assert plan["containers_to_create"] == [backend.release_container, *backend.containers[:-1]]
    assert {f["name"]: f["size"] for f in plan["files"]} == files
    assert plan["files"][-1]["name"] == "SHA256SUMS" and plan["bytes_to_send"] == sum(files.values())
    assert len(plan["copies"]) == 2 * len(files) and plan["copies"][-1]["name"] == "SHA256SUMS"
    assert moves_of(plan) == {c: (None, None, "1.0.0", 1) for c in backend.containers}
    tenants = ",".join(backend.tenants)
    assert plan["audit_lines"] == [f"upload-version {tenants} 1.0.0", f"move-pointer {tenants} 1.0.0 #- -> #1"]
    real_upload_matches(releaser, backend, work, doc, "1.0.0")

    # The next version: files sent again, pointers move from #1 to #2; the release container
    # (no tenant) has its own audit line only when it moves differently.
    work2 = releaser.package("1.1.0")
    doc = dry_upload(releaser, backend, work2)
    plan = doc["plan"]
    assert plan["containers_to_create"] == []
    assert moves_of(plan) == {c: ("1.0.0", 1, "1.1.0", 2) for c in backend.containers}
    real_upload_matches(releaser, backend, work2, doc, "1.1.0")

    # Nothing left to do: the plan is empty and says so.
    doc = dry_upload(releaser, backend, work2)
    assert doc["plan"]["files"] == doc["plan"]["copies"] == doc["plan"]["pointer_moves"] == []
    assert doc["plan"]["audit_lines"] == []


def test_upload_dry_run_for_a_new_tenant_plans_copies_only(file_backend, releaser):
    backend = file_backend
    work = releaser.package("1.0.0")
    assert releaser.upload(work, "--tenant", backend.tenants[0]).exit_code == 0
    doc = dry_upload(releaser, backend, work)
    plan = doc["plan"]
    newcomer = f"tenant-{backend.tenants[1]}"
    assert plan["containers_to_create"] == [newcomer] and plan["files"] == []
    assert {c["container"] for c in plan["copies"]} == {newcomer}
    assert moves_of(plan) == {newcomer: (None, None, "1.0.0", 2)}  # continues the channel's sequence
    assert plan["audit_lines"] == [f"upload-version {','.join(backend.tenants)} 1.0.0",
                                   f"move-pointer {backend.tenants[1]} 1.0.0 #- -> #2"]
    real_upload_matches(releaser, backend, work, doc, "1.0.0")


def test_upload_dry_run_refuses_what_upload_refuses(file_backend, releaser):
    backend = file_backend
    assert releaser.upload(releaser.package("1.1.0"), *tenant_args(backend)).exit_code == 0
    work = releaser.package("1.0.1")
    before = world(backend, work)
    result = releaser.upload(work, *tenant_args(backend), "--dry-run", json_output=False)
    assert_user_error(result, 1, "serves 1.1.0, newer than 1.0.1", "nothing was changed")
    assert world(backend, work) == before


def test_upload_dry_run_prints_the_plan_as_tables(file_backend, releaser):
    work = releaser.package("1.0.0")
    result = releaser.upload(work, *tenant_args(file_backend), "--dry-run", json_output=False)
    assert result.exit_code == 0, result.output
    for title in ("containers to create", "files to send", "server-side copies", "pointer moves", "audit log lines"):
        assert title in result.stderr
    assert "dry run: upload would create 3 container(s), send" in result.stderr
    assert "nothing was changed" in result.stderr
    assert result.stdout == ""
    assert json.loads((work / "state.json").read_text())["runs"].keys() == {"package"}


def with_cdn(monkeypatch, fake_cloudflare) -> None:
    for key, value in cdn_env(fake_cloudflare).items():
        monkeypatch.setenv(key, value)


def dry_run_changes_nothing(releaser, backend, work, fake_cloudflare, command: str, args) -> dict:
    """`args` with --dry-run: exit 0, nothing changed in the store, the work dir or the CDN;
    its --json document."""
    before = world(backend, work)
    dry = releaser.cli(*args, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert world(backend, work) == before and fake_cloudflare.requests == []
    doc = dry.json()
    assert doc["command"] == command and doc["status"] == "ok" and doc["dry_run"] is True
    return doc


def urls_of(containers: list[str]) -> list[str]:
    return [f"{CDN_BASE_URL}/{c}/{p}" for c in containers for p in (POINTER, POINTER + ".sig")]


def test_refresh_dry_run_plans_the_resigning_and_the_purge_after_it(backend, releaser, fake_cloudflare, monkeypatch,
                                                                   no_sleep):
    work = releaser.package("1.0.0")
    assert releaser.upload(work, *tenant_args(backend)).exit_code == 0
    with_cdn(monkeypatch, fake_cloudflare)  # the upload's pointers are still queued: the purge takes them too
    args = ("--work-dir", work, "--json", "refresh", "--signing-key", releaser.signing_key, *tenant_args(backend),
            "--within", "30d")
    doc = dry_run_changes_nothing(releaser, backend, work, fake_cloudflare, "refresh", args)
    plan = doc["plan"]
    tenants = ",".join(backend.tenants)
    assert moves_of(plan) == {c: ("1.0.0", 1, "1.0.0", 2) for c in backend.containers}
    assert plan["audit_lines"] == [f"move-pointer {tenants} 1.0.0 #1 -> #2", f"purge {tenants}"]
    assert plan["purge_urls"] == urls_of(backend.containers)

    log_before = audit_lines(backend)
    real = releaser.cli(*args)
    assert real.exit_code == 0, real.output
    assert real.json()["purge"]["status"] == "ok"
    for container, (_, _, version, sequence) in moves_of(plan).items():
        assert pointer(backend, container, POINTER) == (version, sequence)
    assert audit_lines(backend)[len(log_before):] == plan["audit_lines"]
    assert [url for batch in fake_cloudflare.purged for url in batch] == plan["purge_urls"]

    # Nothing due now: an empty plan, and no purge planned.
    dry = releaser.cli(*args[:-2], "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.json()["plan"]["pointer_moves"] == dry.json()["plan"]["purge_urls"] == []
    assert "dry run: refresh would change nothing" in dry.stderr


def test_refresh_dry_run_with_no_purge_plans_no_purge(file_backend, releaser, fake_cloudflare, monkeypatch):
    work = releaser.package("1.0.0")
    assert releaser.upload(work, *tenant_args(file_backend)).exit_code == 0
    with_cdn(monkeypatch, fake_cloudflare)
    dry = releaser.cli("--work-dir", work, "--json", "refresh", "--signing-key", releaser.signing_key,
                       *tenant_args(file_backend), "--within", "30d", "--no-purge", "--dry-run")
    assert dry.exit_code == 0, dry.output
    plan = dry.json()["plan"]
    assert plan["purge_urls"] == [] and len(plan["pointer_moves"]) == 3
    assert any(note.startswith("--no-purge: 6 queued pointer paths") for note in plan["notes"])


def test_purge_dry_run_plans_urls_and_audit_line_then_purge_does_exactly_that(backend, releaser, fake_cloudflare,
                                                                             monkeypatch, no_sleep):
    work = releaser.package("1.0.0")
    assert releaser.upload(work, *tenant_args(backend)).exit_code == 0
    with_cdn(monkeypatch, fake_cloudflare)
    before = world(backend, work)
    # No token and no release key: a preview still works, and says what a real purge lacks.
    dry = releaser.cli("--work-dir", work, "--json", "purge", "--dry-run", env={"CLOUDFLARE_API_TOKEN": None})
    assert dry.exit_code == 0, dry.output
    assert world(backend, work) == before and fake_cloudflare.requests == []
    doc = dry.json()
    plan = doc["plan"]
    assert doc["urls"] == plan["purge_urls"] == urls_of(backend.containers) and doc["requests"] == 0
    assert plan["audit_lines"] == [f"purge {','.join(backend.tenants)}"]
    assert any("a real purge would stop here" in n and "CLOUDFLARE_API_TOKEN" in n for n in plan["notes"])

    log_before = audit_lines(backend)
    real = releaser.cli("--work-dir", work, "--json", "purge")
    assert real.exit_code == 0, real.output
    assert [url for batch in fake_cloudflare.purged for url in batch] == plan["purge_urls"]
    assert audit_lines(backend)[len(log_before):] == plan["audit_lines"]
    # Nothing queued any more: the plan says so, and a dry run is never recorded.
    before = world(backend, work)
    dry = releaser.cli("--work-dir", work, "--json", "purge", "--dry-run")
    assert dry.exit_code == 0 and dry.json()["plan"]["purge_urls"] == []
    assert "nothing would be sent: nothing queued" in dry.json()["plan"]["notes"][0]
    assert world(backend, work) == before


def test_release_dry_run_plans_upload_and_purge_then_release_does_exactly_that(backend, releaser, fake_cloudflare,
                                                                              monkeypatch, no_sleep):
    work = releaser.package("1.0.0")
    with_cdn(monkeypatch, fake_cloudflare)
    args = ("--work-dir", work, "--json", "release", "--version", "1.0.0", "--from", "upload", *tenant_args(backend))
    doc = dry_run_changes_nothing(releaser, backend, work, fake_cloudflare, "release", args)
    assert [(s["stage"], s["status"]) for s in doc["stages"]] == [("upload", "planned"), ("purge", "planned")]
    plan = doc["plan"]
    tenants = ",".join(backend.tenants)
    assert plan["audit_lines"] == [f"upload-version {tenants} 1.0.0", f"move-pointer {tenants} 1.0.0 #- -> #1",
                                   f"purge {tenants}"]
    assert plan["purge_urls"] == urls_of(backend.containers)  # the pointers the upload would queue

    real = releaser.cli(*args)
    assert real.exit_code == 0, real.output
    stages = {s["stage"]: s for s in real.json()["stages"]}
    assert stages["upload"]["files_uploaded"] == len(plan["files"]) and stages["purge"]["status"] == "ok"
    assert stages["upload"]["copies_made"] == len(plan["copies"])
    assert stages["upload"]["containers_created"] == plan["containers_to_create"]
    for container, (_, _, version, sequence) in moves_of(plan).items():
        assert pointer(backend, container, POINTER) == (version, sequence)
    assert audit_lines(backend) == plan["audit_lines"]
    assert [url for batch in fake_cloudflare.purged for url in batch] == plan["purge_urls"]


def test_release_dry_run_refuses_what_it_cannot_plan(file_backend, releaser):
    work = releaser.package("1.0.0")
    before = world(file_backend, work)
    # package ran alone with other options: a release would package again, so it cannot plan.
    result = releaser.cli("--work-dir", work, "release", "--version", "1.0.0", "--from", "package", "--dry-run")
    assert_user_error(result, 2, "the package stage would run (", "its options", "--to package")
    result = releaser.cli("--work-dir", work, "release", "--version", "1.0.1", "--from", "upload", "--dry-run")
    assert_user_error(result, 2, "this work dir holds the package of 1.0.0")
    result = releaser.cli("--work-dir", work, "release", "--version", "1.0.0", "--from", "package", "--dry-run",
                          "--force")
    assert_user_error(result, 2, "--force would run package")
    assert world(file_backend, work) == before
