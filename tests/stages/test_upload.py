"""upload: real packages into a file:// store and into Azurite (https), two tenants each."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import zipfile

import pytest

from b2release.formats import pointer as pointer_fmt
from b2release.formats.signature import load_public_key
from b2release.stages.upload import TEST_PAUSE_ENV, TEST_PAUSE_MARKER
from b2release.stores.base import IMMUTABLE_CACHE_CONTROL
from tests.conftest import REPO, assert_user_error
from tests.fixtures.releases import PRODUCT, pending_purge, state_text, tenant_args

POINTER = f"{PRODUCT}/channels/stable.json"


def read_pointer(backend, container: str, public_key) -> pointer_fmt.Pointer:
    raw = backend.read(container, POINTER)
    sig = backend.read(container, POINTER + ".sig")
    public_key.verify(raw, sig, f"{container}/{POINTER}")  # raises if it does not verify
    return pointer_fmt.parse(raw)


def version_files(work) -> list[str]:
    lines = (work / "SHA256SUMS").read_text().splitlines()
    return sorted([line.split("  ", 1)[1] for line in lines] + ["SHA256SUMS"])


def test_upload_two_tenants_then_rerun_is_a_noop(backend, releaser, tmp_path):
    work = releaser.package("1.0.0")
    names = version_files(work)
    result = releaser.upload(work, *tenant_args(backend))
    assert result.exit_code == 0, result.output
    doc = result.json()
    assert doc["files_uploaded"] == len(names) and doc["files_present"] == 0
    assert doc["bytes_sent"] == sum((work / n).stat().st_size for n in names)
    assert doc["copies_made"] == 2 * len(names)  # server-side: bytes sent do not grow per tenant
    assert doc["tenants"] == backend.tenants
    assert doc["pointer"]["version"] == "1.0.0" and doc["pointer"]["sequence"] == 1
    # Where each tenant's package is: the real file (file store) or the blob's URL (Azure).
    zip_name = next(n for n in names if n.endswith(".zip"))
    assert sorted(doc["package_urls"]) == sorted(backend.tenants)
    for tenant, url in doc["package_urls"].items():
        if backend.kind == "file":
            assert open(url, "rb").read() == (work / zip_name).read_bytes()
        else:
            assert url == f"{backend.open().description}/tenant-{tenant}/{PRODUCT}/1.0.0/{zip_name}"

    public = load_public_key(releaser.public_key)
    with backend.open() as store:
        for container in backend.containers:
            blobs = {b.path: b for b in store.list(container, f"{PRODUCT}/1.0.0/")}
            assert sorted(p.rsplit("/", 1)[1] for p in blobs) == names
            for name in names:
                blob = blobs[f"{PRODUCT}/1.0.0/{name}"]
                assert blob.sha256 == __import__("hashlib").sha256((work / name).read_bytes()).hexdigest()
                if backend.kind == "azure":
                    assert blob.cache_control == IMMUTABLE_CACHE_CONTROL
                    assert blob.content_md5  # MD5 kept for clients, validated on upload
            pointer = read_pointer(backend, container, public)
            assert (pointer.version, pointer.sequence) == ("1.0.0", 1)
            assert pointer.manifest_sha256 == json.loads(state_text(work))["runs"]["package"]["data"][
                "manifest_sha256"]
            pointer_fmt.check_fresh(pointer, "pointer")
        if backend.kind == "azure":
            assert store.stat(backend.containers[0], POINTER).cache_control == "public, max-age=60"

    # The tenant's copy is a complete release folder: download it and verify it offline.
    folder = tmp_path / "downloaded"
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes(backend.read(backend.containers[0], f"{PRODUCT}/1.0.0/{name}"))
    verified = releaser.cli("--json", "verify", folder, "--public-key", releaser.public_key)
    assert verified.exit_code == 0, verified.output
    assert verified.json()["version"] == "1.0.0"

    # Purge queue: pointer + signature per container, once each.
    queued = pending_purge(work)
    assert sorted((q["container"], q["path"]) for q in queued) == sorted(
        (c, p) for c in backend.containers for p in (POINTER, POINTER + ".sig"))

    before = backend.snapshot()
    again = releaser.upload(work, *tenant_args(backend))
    assert again.exit_code == 0, again.output
    redo = again.json()
    assert redo["bytes_sent"] == 0 and redo["files_uploaded"] == 0 and redo["copies_made"] == 0
    assert "nothing sent" in again.stderr and "0 files" not in again.stderr
    assert redo["files_present"] == len(names) and redo["copies_present"] == 2 * len(names)
    assert redo["pointer"]["written_to"] == [] and redo["pointer"]["sequence"] == 1
    assert backend.snapshot() == before
    assert len(pending_purge(work)) == len(queued)  # nothing new queued, nothing duplicated


def test_changed_file_under_same_version_is_refused_and_store_unchanged(backend, releaser):
    first = releaser.package("1.0.0")
    assert releaser.upload(first, *tenant_args(backend)).exit_code == 0
    before = backend.snapshot()
    changed = releaser.package("1.0.0", name="work-changed", marker="other bytes")
    result = releaser.upload(changed, *tenant_args(backend), json_output=False)
    assert_user_error(result, 1, "already exists with different content", f"{PRODUCT}/1.0.0/")
    assert backend.snapshot() == before


def test_pointer_moves_up_never_down(backend, releaser):
    public = load_public_key(releaser.public_key)
    assert releaser.upload(releaser.package("1.0.0"), *tenant_args(backend)).exit_code == 0
    result = releaser.upload(releaser.package("1.1.0"), *tenant_args(backend))
    assert result.exit_code == 0, result.output
    assert result.json()["pointer"] == {**result.json()["pointer"], "version": "1.1.0", "sequence": 2}
    for container in backend.containers:
        assert read_pointer(backend, container, public).version == "1.1.0"

    before = backend.snapshot()
    lower = releaser.upload(releaser.package("1.0.1"), *tenant_args(backend), json_output=False)
    assert_user_error(lower, 1, "serves 1.1.0, newer than 1.0.1", "rollback")
    assert backend.snapshot() == before  # not even the 1.0.1 files went up
    for container in backend.containers:
        pointer = read_pointer(backend, container, public)
        assert (pointer.version, pointer.sequence) == ("1.1.0", 2)


def test_new_tenant_gets_the_release_by_copy_only(backend, releaser):
    work = releaser.package("1.0.0")
    assert releaser.upload(work, "--tenant", backend.tenants[0]).exit_code == 0
    result = releaser.upload(work, *tenant_args(backend))
    assert result.exit_code == 0, result.output
    doc = result.json()
    assert doc["bytes_sent"] == 0 and doc["copies_made"] == len(version_files(work))
    # Only the new tenant's pointer is written; its sequence continues the channel's.
    assert doc["pointer"]["written_to"] == [f"tenant-{backend.tenants[1]}"]
    assert doc["pointer"]["sequence"] == 2


def test_crash_mid_upload_then_rerun_completes(backend, releaser):
    public = load_public_key(releaser.public_key)
    assert releaser.upload(releaser.package("1.0.0"), *tenant_args(backend)).exit_code == 0
    work = releaser.package("1.1.0")

    env = dict(os.environ, PYTHONPATH=str(REPO), **{TEST_PAUSE_ENV: "1"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "b2release", "--work-dir", str(work), "upload", "--signing-key",
         str(releaser.signing_key), *tenant_args(backend)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        seen = []
        for line in proc.stderr:  # blocks until the marker: no timing involved
            seen.append(line)
            if line.startswith(TEST_PAUSE_MARKER):
                break
        assert any(line.startswith(TEST_PAUSE_MARKER) for line in seen), "".join(seen)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    with backend.open() as store:
        partial = store.list(backend.release_container, f"{PRODUCT}/1.1.0/")
        assert len(partial) == 1  # killed after the first file
        assert all(store.list(c, f"{PRODUCT}/1.1.0/") == [] for c in backend.containers[:-1])
    for container in backend.containers:
        assert read_pointer(backend, container, public).version == "1.0.0"

    result = releaser.upload(work, *tenant_args(backend))
    assert result.exit_code == 0, result.output
    doc = result.json()
    assert doc["files_present"] == 1 and doc["files_uploaded"] == len(version_files(work)) - 1
    for container in backend.containers:
        pointer = read_pointer(backend, container, public)
        assert (pointer.version, pointer.sequence) == ("1.1.0", 2)


def test_no_secret_in_any_output(azure_backend, releaser, tmp_path):
    backend = azure_backend
    work = releaser.package("1.0.0")
    outputs = []
    result = releaser.cli("--work-dir", work, "--json", "--log-format", "json", "-vv", "upload",
                          "--signing-key", releaser.signing_key, *tenant_args(backend))
    assert result.exit_code == 0, result.output
    outputs.append(result.output)
    # An error path: wrong account key -> exit 3 with a one-line message, no key in it.
    wrong = backend.env["AZURE_STORAGE_CONNECTION_STRING"].replace(
        "AccountKey=", "AccountKey=AAAA" + "B" * 20 + "x")
    bad = releaser.cli("--work-dir", work, "-v", "upload", "--signing-key", releaser.signing_key,
                       *tenant_args(backend), env={"AZURE_STORAGE_CONNECTION_STRING": wrong})
    assert_user_error(bad, 3, "Azure refused the credentials")
    outputs.append(bad.output)
    outputs.append(state_text(work))
    from b2release import redact

    made = redact.registered()  # every key, connection string and copy-source SAS seen or made
    assert any("sig=" in s for s in made)  # the copy-source SAS were registered as they were made
    for text in outputs:
        for secret in [*backend.secrets, *made, "AccountKey=Eby8", "AAAABBBB"]:
            assert secret not in text
        # Every SAS signature that shows up at all is masked (not just one of them).
        assert set(re.findall(r"sig=([^&\s\"'<>]*)", text)) <= {"***"}, text


def test_http_emulator_needs_the_named_switch(releaser, azurite, monkeypatch):
    work = releaser.package("1.0.0")
    env = azurite.env()
    env.pop("B2RELEASE_STORE_ALLOW_HTTP_EMULATOR")
    env["B2RELEASE_STORE_RELEASE_CONTAINER"] = azurite.unique("releases")
    refused = releaser.upload(work, "--tenant", "plain", env=env, json_output=False)
    assert_user_error(refused, 2, "plain http", "allow_http_emulator")
    allowed = releaser.upload(work, "--tenant", azurite.unique("plain"),
                              env={**env, "B2RELEASE_STORE_ALLOW_HTTP_EMULATOR": "true"})
    assert allowed.exit_code == 0, allowed.output
    assert allowed.json()["files_uploaded"] == len(version_files(work))


# --- user errors (file:// store: no emulator needed) -----------------------------------------
@pytest.fixture
def file_store(tmp_path, monkeypatch):
    monkeypatch.setenv("B2RELEASE_STORE_URL", f"file://{tmp_path / 'store'}")
    return tmp_path / "store"


@pytest.mark.parametrize("tenant, needle", [
    ("Acme", "use lowercase"),
    ("ac--me", "single '-'"),
    ("-acme", "single '-'"),
    ("acme_1", "single '-'"),
    ("a" * 57, "at most 56 characters"),
])
def test_invalid_tenant_ids(file_store, releaser, tenant, needle):
    work = releaser.package("1.0.0")
    assert_user_error(releaser.upload(work, "--tenant", tenant, json_output=False), 2, "invalid tenant id", needle)
    assert not file_store.exists()


def test_upload_without_package(file_store, releaser, tmp_path):
    result = releaser.cli("--work-dir", tmp_path / "empty", "upload", "--tenant", "acme")
    assert_user_error(result, 2, "nothing to upload", "package")


def test_tampered_work_dir_is_refused(file_store, releaser):
    work = releaser.package("1.0.0")
    with zipfile.ZipFile(work / f"{PRODUCT}-1.0.0.zip", "a") as zf:
        zf.writestr("extra.txt", "added after signing")
    assert_user_error(releaser.upload(work, "--tenant", "acme", json_output=False), 1, "changed on disk")
    assert not file_store.exists()


def test_signing_key_must_be_the_manifest_key(file_store, releaser, other_keys):
    work = releaser.package("1.0.0")
    result = releaser.cli("--work-dir", work, "upload", "--tenant", "acme",
                          "--signing-key", other_keys / "release-signing.key")
    assert_user_error(result, 2, "is not the key that signed the manifest")


@pytest.mark.parametrize("url, env, needle", [
    ("s3://bucket", {}, "is not supported"),
    ("file://", {}, "names no folder"),
    ("azure", {"AZURE_STORAGE_CONNECTION_STRING": None}, "no Azure storage account"),
    ("azure://Bad_Name", {}, "azure://<account>"),
    ("azure", {"AZURE_STORAGE_CONNECTION_STRING": "garbage"}, "malformed"),
])
def test_bad_store_settings(releaser, url, env, needle):
    work = releaser.package("1.0.0")
    result = releaser.upload(work, "--tenant", "acme", "--store", url, env=env, json_output=False)
    assert_user_error(result, 2, needle)


def test_bad_channel_and_ttl(file_store, releaser):
    work = releaser.package("1.0.0")
    assert_user_error(releaser.upload(work, "--channel", "Stable!", json_output=False), 2, "invalid channel name")
    bad_ttl = releaser.upload(work, env={"B2RELEASE_STORE_POINTER_TTL": "soon"}, json_output=False)
    assert_user_error(bad_ttl, 2, "store.pointer_ttl")


def test_channel_option_and_config_tenants(file_store, releaser):
    work = releaser.package("2.0.0")
    result = releaser.upload(work, "--channel", "beta", env={"B2RELEASE_STORE_TENANTS": "acme,globex"})
    assert result.exit_code == 0, result.output
    assert result.json()["tenants"] == ["acme", "globex"]
    assert (file_store / "tenant-globex" / PRODUCT / "channels" / "beta.json").is_file()
    assert not (file_store / "tenant-globex" / PRODUCT / "channels" / "stable.json").exists()


def test_release_folder_in_file_store_verifies(file_store, releaser):
    work = releaser.package("1.0.0")
    assert releaser.upload(work, "--tenant", "acme").exit_code == 0
    verified = releaser.cli("verify", file_store / "tenant-acme" / PRODUCT / "1.0.0",
                            "--public-key", releaser.public_key)
    assert verified.exit_code == 0, verified.output


def test_progress_bar_on_a_terminal_plain_lines_otherwise(file_store, releaser, monkeypatch):
    from b2release.context import Context

    work = releaser.package("1.0.0")
    plain = releaser.upload(work, "--tenant", "acme", json_output=False)
    assert plain.exit_code == 0 and "uploading 5 files" not in plain.stderr
    # Every "uploaded" line names the real file, as it is on disk, with its size (issue #18).
    uploaded = re.findall(r"^uploaded (\S+) \((\d+) bytes\)$", plain.stderr, re.M)
    assert len(uploaded) == 5
    for path, size in uploaded:
        assert os.path.isabs(path) and os.path.getsize(path) == int(size)
        assert path.startswith(str(file_store / "releases" / PRODUCT / "1.0.0")), path
    monkeypatch.setattr(Context, "interactive", property(lambda self: True))
    work2 = releaser.package("1.1.0")
    bar = releaser.upload(work2, "--tenant", "acme", json_output=False)
    assert bar.exit_code == 0, bar.output
    assert "uploading 5 files" in bar.stderr and f"uploaded {file_store}/releases/" in bar.stderr
    assert bar.stdout == ""  # human output never goes to stdout


def test_many_tenants_at_once_the_release_container_pointer_last(file_store, releaser, monkeypatch):
    """Six tenants, three at a time: every tenant's pointer is written (after its version is
    complete there) before the release container's, and the bytes sent are one package's."""
    from b2release.stores.local import LocalStore

    order: list[str] = []
    real_write = LocalStore.write_bytes

    def recording(self, container, path, data, cache_control, **kwargs):
        if path.endswith("/channels/stable.json"):
            assert (self.root / container / PRODUCT / "1.0.0" / "SHA256SUMS").is_file(), container
            order.append(container)
        return real_write(self, container, path, data, cache_control, **kwargs)

    monkeypatch.setattr(LocalStore, "write_bytes", recording)
    work = releaser.package("1.0.0")
    tenants = [f"t{i}" for i in range(6)]
    result = releaser.upload(work, *[a for t in tenants for a in ("--tenant", t)],
                             env={"B2RELEASE_STORE_FANOUT": "3"})
    assert result.exit_code == 0, result.output
    assert sorted(order[:-1]) == [f"tenant-{t}" for t in tenants] and order[-1] == "releases"
    assert result.json()["bytes_sent"] == sum((work / n).stat().st_size for n in version_files(work))


def _listings(proxy) -> tuple[list[str], list[str]]:
    """The container-name listings (their queries) and the containers listed one by one."""
    from urllib.parse import urlsplit

    lists = [urlsplit(path) for method, path in proxy.requests if method == "GET" and "comp=list" in path]
    return ([u.query for u in lists if "restype=container" not in u.query],
            [u.path.split("/")[2] for u in lists if "restype=container" in u.query])


def test_new_tenants_are_found_missing_by_one_listing_of_their_names(flaky, azurite, releaser):
    """Five tenants, one of them holding the version already: one listing of the tenants'
    container names, then only the containers that exist are listed (and the existing
    tenant's copies are found present, not made again)."""
    from tests.fixtures.azure_proxy import proxy_env

    env = proxy_env(flaky, azurite, 0)
    work = releaser.package("1.0.0")
    stem = azurite.unique("names")
    tenants = [f"{stem}-{i}" for i in range(5)]
    assert releaser.upload(work, "--tenant", tenants[0], env=env).exit_code == 0
    flaky.requests.clear()
    result = releaser.upload(work, *[a for t in tenants for a in ("--tenant", t)], env=env)
    assert result.exit_code == 0, result.output
    names, one_by_one = _listings(flaky)
    assert len(names) == 1 and f"prefix=tenant-{stem}-" in names[0]
    assert set(one_by_one) == {f"tenant-{tenants[0]}", env["B2RELEASE_STORE_RELEASE_CONTAINER"]}
    assert one_by_one.count(f"tenant-{tenants[0]}") == 1
    doc = result.json()
    assert doc["containers_created"] == [f"tenant-{t}" for t in tenants[1:]]
    assert doc["copies_present"] == len(version_files(work)) and doc["copies_made"] == 4 * len(version_files(work))


def test_too_many_names_under_the_tenants_prefix_then_each_tenant_is_listed(flaky, azurite, releaser):
    """More than 20 container names per tenant under the tenants' common prefix: the one
    page is not enough to tell, so each tenant's container is listed by itself."""
    from tests.fixtures.azure_proxy import proxy_env

    env = proxy_env(flaky, azurite, 0)
    stem = azurite.unique("crowd")
    service = azurite.service()
    for i in range(41):
        service.create_container(f"tenant-{stem}-x{i}")
    work = releaser.package("1.0.0")
    result = releaser.upload(work, "--tenant", f"{stem}-a", "--tenant", f"{stem}-b", env=env)
    assert result.exit_code == 0, result.output
    names, one_by_one = _listings(flaky)
    assert len(names) == 1  # tried once: 41 names > 2 x 20
    assert sorted(c for c in one_by_one if c.startswith("tenant-")) == [f"tenant-{stem}-a", f"tenant-{stem}-b"]
    assert result.json()["containers_created"][-2:] == [f"tenant-{stem}-a", f"tenant-{stem}-b"]


def test_a_conflict_in_one_tenant_creates_no_container_for_the_new_ones(backend, releaser):
    work = releaser.package("1.0.0")
    assert releaser.upload(work, "--tenant", backend.tenants[0]).exit_code == 0
    changed = releaser.package("1.0.0", name="work-changed", marker="other bytes")
    with backend.open() as store:  # the second tenant is new
        assert store.list_existing(f"tenant-{backend.tenants[1]}") is None
    result = releaser.upload(changed, "--tenant", backend.tenants[1], "--tenant", backend.tenants[0],
                             json_output=False)
    assert_user_error(result, 1, "already exists with different content", "nothing was changed")
    with backend.open() as store:
        assert store.list_existing(f"tenant-{backend.tenants[1]}") is None


def test_a_sas_that_cannot_list_the_account_still_uploads_to_many_tenants(azurite, releaser):
    """An account SAS for containers and blobs only (no service-level listing): the listing
    of the tenants' names is refused (403), so each tenant's container is asked by itself."""
    from datetime import datetime, timedelta, timezone

    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    from tests.fixtures.azurite import ACCOUNT, ACCOUNT_KEY

    sas = generate_account_sas(ACCOUNT, ACCOUNT_KEY, ResourceTypes(container=True, object=True),
                               AccountSasPermissions(read=True, write=True, list=True, create=True, add=True),
                               datetime.now(timezone.utc) + timedelta(hours=1))
    env = {"B2RELEASE_STORE_URL": "azure", "B2RELEASE_STORE_ACCOUNT_URL": azurite.endpoint,
           "AZURE_STORAGE_SAS_TOKEN": sas, "B2RELEASE_STORE_ALLOW_HTTP_EMULATOR": "true",
           "B2RELEASE_STORE_RELEASE_CONTAINER": azurite.unique("sasrel")}
    stem = azurite.unique("sas")
    work = releaser.package("1.0.0")
    result = releaser.upload(work, "--tenant", f"{stem}-a", "--tenant", f"{stem}-b", env=env)
    assert result.exit_code == 0, result.output
    doc = result.json()
    assert doc["containers_created"][-2:] == [f"tenant-{stem}-a", f"tenant-{stem}-b"]
    assert doc["copies_made"] == 2 * len(version_files(work)) and sas not in result.output
