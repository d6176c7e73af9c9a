"""Transient errors: retried with bounded backoff. A small proxy in front of Azurite
(tests/fixtures/azure_proxy.py) answers 503 to chosen requests, the rest is forwarded."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import assert_user_error
from tests.fixtures.azure_proxy import proxy_env
from tests.fixtures.azurite import ACCOUNT, ACCOUNT_KEY


def test_transient_503s_are_retried(flaky, azurite, releaser):
    work = releaser.package("1.0.0")
    flaky.fail_puts = 2
    result = releaser.upload(work, "--tenant", azurite.unique("flaky"), env=proxy_env(flaky, azurite, 3))
    assert result.exit_code == 0, result.output
    assert flaky.failed == 2
    assert result.json()["files_uploaded"] == 5  # zip, manifest, .sig, provenance, SHA256SUMS


def test_retries_are_bounded(flaky, azurite, releaser):
    work = releaser.package("1.0.0")
    flaky.fail_puts = -1
    result = releaser.upload(work, "--tenant", azurite.unique("down"), env=proxy_env(flaky, azurite, 2),
                             json_output=False)
    assert_user_error(result, 3, "HTTP 503")
    assert flaky.puts == 3  # the first PUT, tried 1 + 2 times, then the stage gave up
    assert ACCOUNT_KEY not in result.output


def test_a_failed_copy_fails_the_stage_and_the_pointer_stays(flaky, azurite, releaser):
    work = releaser.package("1.0.0")
    flaky.fail_copies = True
    env = proxy_env(flaky, azurite, 1)
    tenant = azurite.unique("copyfail")
    result = releaser.upload(work, "--tenant", tenant, env=env, json_output=False)
    assert_user_error(result, 3, "copying", f"to tenant-{tenant}")
    # Files reached the release container, but no pointer was written anywhere.
    service = azurite.service()
    release = env["B2RELEASE_STORE_RELEASE_CONTAINER"]
    names = [b.name for b in service.get_container_client(release).list_blobs()]
    assert names and not any("/channels/" in n for n in names)
    assert not any("/channels/" in b.name for b in service.get_container_client(f"tenant-{tenant}").list_blobs())
    # Every copy was tried (1 + 1 retry each), none of SHA256SUMS: it goes only after the others.
    assert len(flaky.copies) == 2 * (len(names) - 1)
    flaky.fail_copies = False
    flaky.copies.clear()
    again = releaser.upload(work, "--tenant", tenant, env=env)
    assert again.exit_code == 0, again.output
    # A release's files are far below 256 MiB: each copy is synchronous (Copy Blob From URL).
    assert flaky.copies == ["true"] * len(names)
    assert again.json()["bytes_sent"] == 0 and again.json()["pointer"]["version"] == "1.0.0"


def test_an_asynchronous_copy_whose_source_cannot_be_read_fails(flaky, azurite, tmp_path):
    """A source of unknown size (or over 256 MiB) is copied asynchronously: the service
    fetches it with its SAS; a failed fetch is a RemoteError naming the copy."""
    from b2release.errors import RemoteError
    from b2release.stores.azure import AzureAuth, AzureStore

    endpoint = f"http://127.0.0.1:{flaky.server_address[1]}/{ACCOUNT}"
    auth = AzureAuth(account_url=endpoint, account_name=ACCOUNT, account_key=ACCOUNT_KEY, source="test")
    src, dst = azurite.unique("asrc"), azurite.unique("adst")
    source = tmp_path / "f.bin"
    source.write_bytes(b"x" * 1000)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    with AzureStore(auth, correlation_id="c", retries=0, allow_http=True) as store:
        store.ensure_container(src)
        store.ensure_container(dst)
        store.create_from_file(src, "p/f.bin", source, digest, "no-cache")
        flaky.fail_sas_gets = True
        with pytest.raises(RemoteError, match=f"copying p/f.bin from {src} to {dst}"):
            store.copy_within(src, "p/f.bin", dst, digest)
        assert flaky.copies == [""]  # asynchronous: no x-ms-requires-sync
        flaky.fail_sas_gets = False
        store.copy_within(src, "p/f.bin", dst, digest, 1000)
        assert store.read_bytes(dst, "p/f.bin")[0] == b"x" * 1000


def test_a_refused_synchronous_copy_falls_back_to_the_asynchronous_one(flaky, azurite, releaser):
    """Behind a network rule Azure refuses Copy Blob From URL (CannotVerifyCopySource) but
    serves the asynchronous Copy Blob: the upload completes, said once, asynchronously on."""
    work = releaser.package("1.0.0")
    flaky.refuse_sync_copies = True
    env = proxy_env(flaky, azurite, 0)
    tenants = [azurite.unique("fw"), azurite.unique("fw")]
    result = releaser.upload(work, *[a for t in tenants for a in ("--tenant", t)], env=env, json_output=False)
    assert result.exit_code == 0, result.output
    assert result.stderr.count("refused a synchronous copy (CannotVerifyCopySource)") == 1
    refused = flaky.copies.count("true")
    files = len((work / "SHA256SUMS").read_text().splitlines()) + 1
    assert 1 <= refused <= 8 and flaky.copies.count("") == 2 * files  # then every copy asynchronous
    service = azurite.service()
    for tenant in tenants:
        names = [b.name for b in service.get_container_client(f"tenant-{tenant}").list_blobs()]
        assert sum(1 for n in names if "/1.0.0/" in n) == files
