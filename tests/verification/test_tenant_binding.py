"""Pointers are bound to their container: one tenant's validly signed pointer served at another
tenant's URL is refused (client side), and every command that reads pointers refuses the copy.

Reproduces the attack: after a rollback of tenant globex alone, globex's pointer (valid
signature, older version) is copied over tenant acme's pointer. Before the binding, `verify
--remote` on acme's URL accepted it, rolled acme back and raised acme's recorded sequence.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import assert_user_error
from tests.fixtures.releases import PRODUCT, tenant_args

POINTER = f"{PRODUCT}/channels/stable.json"


@pytest.fixture
def swapped(backend, releaser, tmp_path):
    """acme serves 1.1.0 (sequence 2), globex was rolled back alone to 1.0.0 (sequence 3)."""
    first, second = releaser.package("1.0.0"), releaser.package("1.1.0")
    for work in (first, second):
        assert releaser.upload(work, *tenant_args(backend)).exit_code == 0
    acme, globex = backend.tenants
    rolled = releaser.cli("--work-dir", tmp_path / "rb", "rollback", "--signing-key", releaser.signing_key,
                          "--to", "1.0.0", "--reason", "INC-1", "--tenant", globex)
    assert rolled.exit_code == 0, rolled.output
    return backend, second


def pointer_url(backend, releaser, work: Path, tenant: str, http_server) -> tuple[str, list[str]]:
    """A URL a tenant's client reads its pointer from, and the flags it needs."""
    if backend.kind == "file":
        return f"{http_server(backend)}/tenant-{tenant}/{POINTER}", ["--allow-insecure-http"]
    grant = releaser.cli("--work-dir", work, "--json", "grant", "--tenant", tenant)
    assert grant.exit_code == 0, grant.output
    return grant.json()["pointer_url"], []


@pytest.fixture
def http_server():
    from tests.fixtures.http_store import HttpStore

    servers = []

    def start(backend) -> str:
        server = HttpStore(backend.open().root).start()
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop()


def copy_pointer(backend, source: str, target: str) -> None:
    with backend.open() as store:
        for path in (POINTER, POINTER + ".sig"):
            data, _ = store.read_bytes(source, path)
            store.write_bytes(target, path, data, "public, max-age=60")


def test_another_tenants_pointer_is_refused_and_last_seen_kept(swapped, releaser, tmp_path, http_server):
    backend, work = swapped
    acme, globex = backend.tenants
    url, flags = pointer_url(backend, releaser, work, acme, http_server)
    seen = tmp_path / "last-seen.json"

    def verify(*extra: str):
        return releaser.cli("--json", "verify", "--remote", url, "--public-key", releaser.public_key,
                            "--last-seen", seen, *flags, *extra)

    first = verify()
    assert first.exit_code == 0, first.output
    assert (first.json()["pointer"]["version"], first.json()["pointer"]["sequence"]) == ("1.1.0", 2)
    recorded = seen.read_bytes()

    copy_pointer(backend, f"tenant-{globex}", f"tenant-{acme}")
    swapped_result = verify()
    assert_user_error(swapped_result, 1, f"signed for container tenant-{globex}, not tenant-{acme}")
    assert seen.read_bytes() == recorded  # neither rolled back nor raised
    # Naming the tenant explicitly gives the same answer.
    assert_user_error(verify("--tenant", acme), 1, f"not tenant-{acme}")


def test_commands_that_read_pointers_refuse_the_copy(swapped, releaser, tmp_path):
    backend, work = swapped
    acme, globex = backend.tenants
    copy_pointer(backend, f"tenant-{globex}", f"tenant-{acme}")
    before = backend.snapshot()
    needle = f"tenant-{acme}/{POINTER} is validly signed but bound to tenant-{globex}"
    commands = [
        ["--work-dir", work, "upload", "--signing-key", releaser.signing_key, *tenant_args(backend)],
        ["--work-dir", tmp_path / "r2", "rollback", "--signing-key", releaser.signing_key, "--to", "1.0.0",
         "--reason", "x", "--tenant", acme],
        ["--work-dir", tmp_path / "r3", "refresh", "--signing-key", releaser.signing_key, "--tenant", acme,
         "--within", "30d"],
        ["--work-dir", tmp_path / "r4", "promote", "--signing-key", releaser.signing_key, "--from", "stable",
         "--to", "beta", "--tenant", acme],
    ]
    for args in commands:
        assert_user_error(releaser.cli(*args), 1, needle)
    assert backend.snapshot() == before  # nothing was written anywhere


def test_a_last_seen_entry_of_one_tenant_does_not_guard_another(swapped, releaser, tmp_path, http_server):
    """Entries are per container: acme's sequence 2 must not make globex's sequence 3 look fine
    elsewhere, nor globex's 3 make acme's 2 a rollback."""
    backend, work = swapped
    acme, globex = backend.tenants
    seen = tmp_path / "last-seen.json"
    for tenant, sequence in ((globex, 3), (acme, 2)):
        url, flags = pointer_url(backend, releaser, work, tenant, http_server)
        result = releaser.cli("--json", "verify", "--remote", url, "--public-key", releaser.public_key,
                              "--last-seen", seen, *flags)
        assert result.exit_code == 0, result.output
        assert result.json()["pointer"]["sequence"] == sequence
    entries = json.loads(seen.read_text())["pointers"]
    assert sorted(e["sequence"] for e in entries.values()) == [2, 3]
    assert sorted(key.split("/")[-3] for key in entries) == sorted([f"tenant-{acme}", f"tenant-{globex}"])
