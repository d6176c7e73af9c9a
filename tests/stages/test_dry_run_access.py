"""grant --dry-run and revoke --dry-run on Azurite (https) with token auth at the fake Cloudflare:
no policy, SAS, token, generation, rule, purge, audit line or state.json change; the plan
names exactly the policies, rule and URLs the real grant and revoke then change. On the file
store both refuse as the real commands do (no grants there) and leave everything alone."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from b2release.formats import pointer as pointer_fmt
from tests.conftest import assert_user_error
from tests.fixtures.cloudflare import CDN_BASE_URL, cdn_env
from tests.fixtures.dry_run import audit_lines, world
from tests.fixtures.releases import tenant_args

MASTER = "cdn-master-key-for-tests-7Qm2vX9pL4sR8tW1yZ3b"
EXPIRED = "b2r-20200101T000000Z-0badc0de"


def policies(backend, container: str) -> dict[str, datetime]:
    acl = backend.server.service().get_container_client(container).get_container_access_policy()
    return {i.id: i.access_policy.expiry for i in acl["signed_identifiers"]}


def add_expired_grant(backend, container: str) -> None:
    from azure.storage.blob import AccessPolicy, ContainerSasPermissions

    long_ago = datetime(2020, 1, 1, tzinfo=timezone.utc)
    backend.server.service().get_container_client(container).set_container_access_policy(
        signed_identifiers={EXPIRED: AccessPolicy(permission=ContainerSasPermissions(read=True), start=long_ago,
                                                  expiry=long_ago + timedelta(hours=1))})


def changes_at_the_edge(fake) -> list:
    return [(r.method, r.path) for r in fake.requests if r.method != "GET"]


def test_grant_and_revoke_dry_runs_plan_what_they_then_do(azure_backend, releaser, fake_cloudflare, monkeypatch,
                                                         no_sleep):
    backend = azure_backend
    work = releaser.package("1.0.0")
    assert releaser.upload(work, *tenant_args(backend)).exit_code == 0
    for key, value in {**cdn_env(fake_cloudflare), "B2RELEASE_CDN_TOKEN_AUTH": "true",
                       "B2RELEASE_CDN_TOKEN_KEY": MASTER}.items():
        monkeypatch.setenv(key, value)
    tenant = backend.tenants[0]
    container = f"tenant-{tenant}"
    add_expired_grant(backend, container)

    # grant: drop the expired policy, add one, install the tenant's rule (first generation).
    before = world(backend, work)
    dry = releaser.cli("--work-dir", work, "--json", "grant", "--tenant", tenant, "--expires", "2h", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert world(backend, work) == before and changes_at_the_edge(fake_cloudflare) == []
    assert "sig=" not in dry.output and "b2t=" not in dry.output  # no SAS, no token was made
    doc = dry.json()
    assert doc["command"] == "grant" and doc["status"] == "ok" and doc["dry_run"] is True and doc["correlation_id"]
    plan = doc["plan"]
    create = plan["grants"][-1]
    assert plan["grants"][:-1] == [{"tenant": tenant, "container": container, "action": "remove",
                                    "policy_id": EXPIRED, "expires_at": ""}]
    assert (create["action"], create["policy_id"], create["tenant"]) == ("create", "", tenant)
    assert abs(pointer_fmt.parse_rfc3339(create["expires_at"]) - (time.time() + 7200)) < 60
    assert plan["cdn_rules"] == [f"b2release-{container}: create"]
    assert plan["audit_lines"] == [f"grant {tenant} 1.0.0"]

    log_before = audit_lines(backend)
    real = releaser.cli("--work-dir", work, "--json", "grant", "--tenant", tenant, "--expires", "2h")
    assert real.exit_code == 0, real.output
    granted = real.json()
    assert granted["cdn"]["rule_change"] == "created"
    now_policies = policies(backend, container)
    assert EXPIRED not in now_policies and list(now_policies) == [granted["policy_id"]]
    assert abs(pointer_fmt.parse_rfc3339(granted["expires_at"]) -
               pointer_fmt.parse_rfc3339(create["expires_at"])) < 60
    assert audit_lines(backend)[len(log_before):] == plan["audit_lines"]

    # A second grant's plan: the rule is in place now, nothing to drop.
    dry = releaser.cli("--work-dir", work, "--json", "grant", "--tenant", tenant, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.json()["plan"]["cdn_rules"] == [] and [g["action"] for g in dry.json()["plan"]["grants"]] == ["create"]

    # revoke: every b2release policy, a new secret in a rewritten rule, every URL of the container.
    before = world(backend, work)
    edge_before = len(fake_cloudflare.requests)
    dry = releaser.cli("--work-dir", work, "--json", "revoke", "--tenant", tenant, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert world(backend, work) == before
    assert [(r.method) for r in fake_cloudflare.requests[edge_before:] if r.method != "GET"] == []
    plan = dry.json()["plan"]
    assert plan["grants"] == [{"tenant": tenant, "container": container, "action": "remove",
                               "policy_id": granted["policy_id"], "expires_at": ""}]
    assert plan["cdn_rules"] == [f"b2release-{container}: rewrite"]
    with backend.open() as store:
        everything = [b.path for b in store.list(container)]
    assert plan["purge_urls"] == [f"{CDN_BASE_URL}/{container}/{path}" for path in everything]
    assert plan["audit_lines"] == [f"revoke {tenant}"]

    log_before = audit_lines(backend)
    real = releaser.cli("--work-dir", work, "--json", "revoke", "--tenant", tenant)
    assert real.exit_code == 0, real.output
    revoked = real.json()
    assert revoked["removed_policies"] == [g["policy_id"] for g in plan["grants"]]
    assert policies(backend, container) == {}
    assert revoked["cdn"]["rule_change"] == "updated"
    assert [url for batch in fake_cloudflare.purged for url in batch] == plan["purge_urls"]
    assert audit_lines(backend)[len(log_before):] == plan["audit_lines"]


def test_grant_and_revoke_dry_runs_refuse_on_the_file_store_as_the_commands_do(file_backend, releaser):
    work = releaser.package("1.0.0")
    assert releaser.upload(work, *tenant_args(file_backend)).exit_code == 0
    before = world(file_backend, work)
    for command in ("grant", "revoke"):
        result = releaser.cli("--work-dir", work, command, "--tenant", file_backend.tenants[0], "--dry-run")
        assert_user_error(result, 2, f"{command} needs an Azure store")
    assert world(file_backend, work) == before
