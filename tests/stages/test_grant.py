"""grant / revoke against Azurite over https: real SAS, real stored access policies."""

from __future__ import annotations

import re
import time

import pytest
import requests

from b2release import config as config_mod
from b2release.context import Context
from b2release.stages import grant as grant_stage
from b2release.stores.azure_grants import MAX_POLICIES, POLICY_PREFIX
from tests.conftest import assert_user_error
from tests.fixtures.releases import PRODUCT, state_text, tenant_args


@pytest.fixture
def released(azure_backend, releaser):
    """1.0.0 uploaded for two tenants; returns (backend, work dir)."""
    work = releaser.package("1.0.0")
    result = releaser.upload(work, *tenant_args(azure_backend))
    assert result.exit_code == 0, result.output
    return azure_backend, work


def grant(releaser, work, *args, env=None):
    result = releaser.cli("--work-dir", work, "--json", "grant", *args, env=env)
    assert result.exit_code == 0, result.output
    return result


def get(url, backend):
    return requests.get(url, verify=str(backend.server.ca_file), timeout=30)


def test_grant_downloads_own_package_and_nothing_else(released, releaser):
    backend, work = released
    a, b = backend.tenants
    result = grant(releaser, work, "--tenant", a, "--expires", "2h")
    doc = result.json()
    url = doc["url"]
    assert url.startswith("https://") and f"/tenant-{a}/{PRODUCT}/1.0.0/{PRODUCT}-1.0.0.zip?" in url
    query = url.split("?", 1)[1]
    assert "spr=https" in query and f"si={doc['policy_id']}" in query and "sp=" not in query
    assert doc["policy_id"].startswith(POLICY_PREFIX) and doc["version"] == "1.0.0"

    response = get(url, backend)
    assert response.status_code == 200
    assert response.content == (work / f"{PRODUCT}-1.0.0.zip").read_bytes()
    assert get(doc["pointer_url"], backend).status_code == 200

    # The same SAS on tenant B's container: refused.
    other = url.replace(f"/tenant-{a}/", f"/tenant-{b}/")
    assert get(other, backend).status_code == 403
    # Read-only: neither writing nor listing.
    base, sas = doc["container_url"].split("?", 1)
    put = requests.put(f"{base}/{PRODUCT}/evil.txt?{sas}", data=b"x", headers={"x-ms-blob-type": "BlockBlob"},
                       verify=str(backend.server.ca_file), timeout=30)
    assert put.status_code == 403
    assert get(f"{doc['container_url']}&restype=container&comp=list", backend).status_code == 403

    # The SAS lives only in grant's own stdout.
    signature = query.split("sig=", 1)[1].split("&")[0]
    assert signature in result.stdout
    assert signature not in result.stderr and "sig=" not in result.stderr
    assert "sig=" not in state_text(work)
    for secret in backend.secrets:
        assert secret not in result.output


def test_plain_output_is_the_url_and_logs_stay_clean(released, releaser):
    backend, work = released
    result = releaser.cli("--work-dir", work, "--log-format", "json", "-v", "grant", "--tenant", backend.tenants[0])
    assert result.exit_code == 0, result.output
    url = result.stdout.strip()
    assert get(url, backend).status_code == 200
    assert "sig=" not in result.stderr and url.split("?", 1)[1] not in result.stderr


def test_grant_and_revoke_say_each_thing_once(released, releaser):
    backend, work = released
    tenant = backend.tenants[0]
    granted = releaser.cli("--work-dir", work, "grant", "--tenant", tenant)
    assert granted.exit_code == 0, granted.output
    policy = re.search(r"\(policy (\S+?)[;)]", granted.stderr).group(1)
    assert granted.stderr.count(policy) == 1, granted.stderr  # the result line, no log line repeating it
    revoked = releaser.cli("--work-dir", work, "revoke", "--tenant", tenant)
    assert revoked.exit_code == 0, revoked.output
    assert revoked.stderr.count(policy) == 1 and revoked.stderr.count("revoked every grant") == 1, revoked.stderr


def test_revoke_invalidates_every_outstanding_grant(released, releaser):
    backend, work = released
    tenant = backend.tenants[0]
    first = grant(releaser, work, "--tenant", tenant).json()
    second = grant(releaser, work, "--tenant", tenant, "--expires", "1h").json()
    assert first["policy_id"] != second["policy_id"]  # one stored policy per grant
    assert get(first["url"], backend).status_code == 200 and get(second["url"], backend).status_code == 200

    revoked = releaser.cli("--work-dir", work, "--json", "revoke", "--tenant", tenant)
    assert revoked.exit_code == 0, revoked.output
    assert revoked.json()["removed_policies"] == sorted([first["policy_id"], second["policy_id"]])
    assert get(first["url"], backend).status_code == 403
    assert get(second["url"], backend).status_code == 403

    fresh = grant(releaser, work, "--tenant", tenant).json()
    assert fresh["policy_id"] not in (first["policy_id"], second["policy_id"])  # never reused
    assert get(fresh["url"], backend).status_code == 200
    assert get(first["url"], backend).status_code == 403
    # The other tenant's grants are untouched by this revoke.
    assert get(grant(releaser, work, "--tenant", backend.tenants[1]).json()["url"], backend).status_code == 200
    nothing = releaser.cli("--work-dir", work, "--json", "revoke", "--tenant", "never-granted")
    assert_user_error(nothing, 2, "container tenant-never-granted does not exist")


def _ctx(work):
    from b2release import log

    log.setup("text", 0, "test")
    return Context(config=config_mod.load(None), work_dir=work)


def test_expired_grant_is_refused_and_its_slot_rotates(released, releaser):
    backend, work = released
    tenant = backend.tenants[0]
    old = grant_stage.run(_ctx(work), grant_stage.Options(tenant, expires="1h", now=time.time() - 3 * 3600))
    assert get(old.secret_data["url"], backend).status_code == 403
    live = [grant(releaser, work, "--tenant", tenant).json() for _ in range(MAX_POLICIES)]
    with backend.open() as store:
        ids = set(store.get_policies(f"tenant-{tenant}"))
    assert old.data["policy_id"] not in ids  # the expired policy made room
    assert ids == {g["policy_id"] for g in live}
    full = releaser.cli("--work-dir", work, "grant", "--tenant", tenant)
    assert_user_error(full, 2, "already has 5 live stored access policies", "next expires at", "revoke")
    assert all(get(g["url"], backend).status_code == 200 for g in live)  # nobody was evicted


def test_grant_for_a_named_version(released, releaser):
    backend, work = released
    doc = grant(releaser, work, "--tenant", backend.tenants[0], "--version", "1.0.0").json()
    assert get(doc["url"], backend).status_code == 200
    missing = releaser.cli("--work-dir", work, "grant", "--tenant", backend.tenants[0], "--version", "9.9.9")
    assert_user_error(missing, 2, f"has no {PRODUCT}/9.9.9/")


def test_foreign_policies_are_kept_and_counted(released, releaser):
    from azure.storage.blob import AccessPolicy, ContainerSasPermissions

    backend, work = released
    tenant = backend.tenants[1]
    container = f"tenant-{tenant}"
    with backend.open() as store:
        store.set_policies(container, {f"ops-{i}": AccessPolicy(permission=ContainerSasPermissions(read=True))
                                       for i in range(5)})
    full = releaser.cli("--work-dir", work, "grant", "--tenant", tenant)
    assert_user_error(full, 2, "already has 5 live stored access policies")
    with backend.open() as store:
        store.set_policies(container, {"ops-0": AccessPolicy(permission=ContainerSasPermissions(read=True))})
    grant(releaser, work, "--tenant", tenant)
    revoked = releaser.cli("--work-dir", work, "--json", "revoke", "--tenant", tenant)
    assert revoked.json()["kept_policies"] == ["ops-0"]
    with backend.open() as store:
        assert list(store.get_policies(container)) == ["ops-0"]


def test_grant_user_errors(released, releaser):
    backend, work = released
    tenant = backend.tenants[0]
    too_long = releaser.cli("--work-dir", work, "grant", "--tenant", tenant, "--expires", "30d")
    assert_user_error(too_long, 2, "longer than store.max_grant_expiry 7d")
    bad = releaser.cli("--work-dir", work, "grant", "--tenant", tenant, "--expires", "forever")
    assert_user_error(bad, 2, "--expires", "invalid duration")
    raised = releaser.cli("--work-dir", work, "grant", "--tenant", tenant, "--expires", "30d",
                          env={"B2RELEASE_STORE_MAX_GRANT_EXPIRY": "31d"})
    assert raised.exit_code == 0, raised.output
    unknown = releaser.cli("--work-dir", work, "grant", "--tenant", "nobody-here")
    assert_user_error(unknown, 2, "container tenant-nobody-here does not exist")
    assert_user_error(releaser.cli("grant", "--tenant", "Bad"), 2, "invalid tenant id")


def test_grant_needs_the_account_key(releaser, azurite_https, tmp_path):
    env = {"AZURE_STORAGE_CONNECTION_STRING": None, "B2RELEASE_STORE_URL": "azure",
           "B2RELEASE_STORE_ACCOUNT_URL": azurite_https.endpoint, "AZURE_STORAGE_SAS_TOKEN": "sv=2024&sig=abcdefgh",
           "B2RELEASE_PRODUCT_NAME": PRODUCT}
    result = releaser.cli("grant", "--tenant", "acme", env=env)
    assert_user_error(result, 2, "needs the storage account key")
    assert "abcdefgh" not in result.output


def test_grant_refuses_file_store_and_http(releaser, azurite, tmp_path):
    env = {"B2RELEASE_STORE_URL": f"file://{tmp_path}", "B2RELEASE_PRODUCT_NAME": PRODUCT}
    assert_user_error(releaser.cli("grant", "--tenant", "acme", env=env), 2, "needs an Azure store", "file://")
    assert_user_error(releaser.cli("revoke", "--tenant", "acme", env=env), 2, "needs an Azure store")
    http = {**azurite.env(), "B2RELEASE_PRODUCT_NAME": PRODUCT}
    assert_user_error(releaser.cli("grant", "--tenant", "acme", env=http), 2, "https-only", "plain http")


def test_a_grant_racing_a_revoke_never_brings_revoked_grants_back(released, releaser, monkeypatch):
    """A grant that read the policies before a revoke wrote them must not write the revoked
    ones back: grant and revoke serialize on a container lease, and revoke then sees the
    grant's policy too. Without that, the earlier grant answered 200 after the revoke."""
    import threading

    from b2release.stores.azure_grants import AzureGrants

    backend, work = released
    tenant = backend.tenants[0]
    earlier = grant(releaser, work, "--tenant", tenant).json()
    assert get(earlier["url"], backend).status_code == 200

    read_once, go_on = threading.Event(), threading.Event()
    real_get = AzureGrants.get_policies

    def slow_get(self, container):
        policies = real_get(self, container)
        if threading.current_thread().name == "granting" and not read_once.is_set():
            read_once.set()  # the grant has read the policies ...
            go_on.wait(20)  # ... and waits while the revoke starts
        return policies

    monkeypatch.setattr(AzureGrants, "get_policies", slow_get)
    outcome = {}

    def granting():
        outcome["grant"] = releaser.cli("--work-dir", work, "--json", "grant", "--tenant", tenant)

    worker = threading.Thread(target=granting, name="granting")
    worker.start()
    assert read_once.wait(30)
    revoker = threading.Thread(target=lambda: outcome.update(
        revoke=releaser.cli("--work-dir", work, "--json", "revoke", "--tenant", tenant)))
    revoker.start()
    time.sleep(1.0)  # the revoke is now waiting for the grant's lease
    go_on.set()
    worker.join(60)
    revoker.join(60)
    assert outcome["grant"].exit_code == 0, outcome["grant"].output
    assert outcome["revoke"].exit_code == 0, outcome["revoke"].output
    racing = outcome["grant"].json()
    assert racing["policy_id"] in outcome["revoke"].json()["removed_policies"]  # revoke saw the grant
    assert get(earlier["url"], backend).status_code == 403
    assert get(racing["url"], backend).status_code == 403


def test_without_token_auth_a_grant_has_no_cdn_urls(released, releaser, fake_cloudflare):
    from tests.fixtures.cloudflare import cdn_env

    backend, work = released
    doc = grant(releaser, work, "--tenant", backend.tenants[0], env=cdn_env(fake_cloudflare)).json()
    assert not any(key.startswith("cdn") for key in doc)
    assert fake_cloudflare.requests == []  # a CDN without token auth: grant does not talk to it


def test_the_printed_revoke_command_runs_as_printed(released, releaser):
    import re
    import shlex

    backend, work = released
    tenant = backend.tenants[0]
    store = backend.env["B2RELEASE_STORE_URL"]
    result = releaser.cli("--work-dir", work, "grant", "--tenant", tenant, "--store", store)
    assert result.exit_code == 0, result.output
    printed = re.search(r"revoke with: (.*)$", result.stderr, re.M).group(1)
    argv = shlex.split(printed)
    assert argv[:3] == ["b2release", "--work-dir", str(work)] and argv[-2:] == ["--store", store]
    revoked = releaser.cli(*argv[1:], "--json")
    assert revoked.exit_code == 0, revoked.output
    assert len(revoked.json()["removed_policies"]) == 1
