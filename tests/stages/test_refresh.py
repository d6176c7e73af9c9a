"""refresh: pointers re-signed before they expire, same release, sequence + 1; never laundering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from b2release.formats import pointer as pointer_fmt
from b2release.formats.signature import load_public_key
from tests.conftest import assert_user_error
from tests.fixtures.releases import PRODUCT, pending_purge, tenant_args

STABLE = f"{PRODUCT}/channels/stable.json"


@pytest.fixture(autouse=True)
def _product(monkeypatch):
    monkeypatch.setenv("B2RELEASE_PRODUCT_NAME", PRODUCT)


def read_pointer(backend, container: str, public) -> pointer_fmt.Pointer:
    raw = backend.read(container, STABLE)
    public.verify(raw, backend.read(container, STABLE + ".sig"), f"{container}/{STABLE}")
    return pointer_fmt.parse(raw)


def uploaded(backend, releaser) -> Path:
    work = releaser.package("1.0.0")
    result = releaser.upload(work, *tenant_args(backend))
    assert result.exit_code == 0, result.output
    return work


def refresh(releaser, work: Path, backend, *args: str):
    return releaser.cli("--work-dir", work, "--json", "refresh", "--signing-key", releaser.signing_key,
                        *tenant_args(backend), *args)


def test_refresh_resigns_expiring_pointers(backend, releaser, tmp_path):
    uploaded(backend, releaser)
    public = load_public_key(releaser.public_key)
    before = {c: read_pointer(backend, c, public) for c in backend.containers}
    versioned_before = {c: [b for b in blobs if "/channels/" not in b[0] and not b[0].startswith("audit/")]
                        for c, blobs in backend.snapshot().items()}
    # A fresh 7d pointer is not due under the default (half the TTL): nothing changes.
    result = refresh(releaser, tmp_path / "r0", backend)
    assert result.exit_code == 0, result.output
    assert all(not c["changed"] for c in result.json()["containers"])
    plain = releaser.cli("--work-dir", tmp_path / "r0", "refresh", "--signing-key", releaser.signing_key,
                         *tenant_args(backend))
    assert plain.exit_code == 0 and plain.stderr.count("nothing changed") == 1, plain.stderr  # said once
    # Within 30 days, every pointer is due.
    result = refresh(releaser, tmp_path / "r1", backend, "--within", "30d")
    assert result.exit_code == 0, result.output
    doc = result.json()
    assert [c["changed"] for c in doc["containers"]] == [True] * len(backend.containers)
    for container in backend.containers:
        after = read_pointer(backend, container, public)
        old = before[container]
        assert (after.version, after.manifest_sha256) == (old.version, old.manifest_sha256)
        assert after.sequence == old.sequence + 1
        assert pointer_fmt.parse_rfc3339(after.expires_at) >= pointer_fmt.parse_rfc3339(old.expires_at)
    versioned_after = {c: [b for b in blobs if "/channels/" not in b[0] and not b[0].startswith("audit/")]
                        for c, blobs in backend.snapshot().items()}
    assert versioned_after == versioned_before  # nothing but pointers was written
    queued = {(e["container"], e["path"]) for e in pending_purge(tmp_path / "r1")}
    assert queued == {(c, p) for c in backend.containers for p in (STABLE, STABLE + ".sig")}
    for secret in backend.secrets:
        assert secret not in result.output


def test_refresh_refuses_a_tampered_pointer_and_changes_nothing(file_backend, releaser, tmp_path):
    backend = file_backend
    uploaded(backend, releaser)
    root = tmp_path / "store"
    target = root / "tenant-globex" / STABLE
    doc = json.loads(target.read_bytes())
    doc["version"] = "9.9.9"  # an attacker's edit: the signature no longer matches
    target.write_bytes(pointer_fmt.parse(json.dumps(doc).encode()).to_bytes())
    before = backend.snapshot()
    result = refresh(releaser, tmp_path / "r", backend, "--within", "30d")
    assert_user_error(result, 1, "tenant-globex", "does not verify", "nothing was changed")
    assert backend.snapshot() == before


def test_refresh_refuses_an_incomplete_version(file_backend, releaser, tmp_path):
    backend = file_backend
    uploaded(backend, releaser)
    (tmp_path / "store" / "tenant-acme" / PRODUCT / "1.0.0" / "manifest.json.sig").unlink()
    before = backend.snapshot()
    result = refresh(releaser, tmp_path / "r", backend, "--within", "30d")
    assert_user_error(result, 1, "tenant-acme", "nothing was changed")
    assert backend.snapshot() == before


def test_refresh_user_errors(file_backend, releaser, tmp_path):
    backend = file_backend
    result = refresh(releaser, tmp_path / "r", backend)
    assert_user_error(result, 1, "does not exist", "nothing was changed")
    uploaded(backend, releaser)
    assert_user_error(refresh(releaser, tmp_path / "r", backend, "--within", "soon"), 2, "--within")
    assert_user_error(refresh(releaser, tmp_path / "r", backend, "--channel", "../x"), 2, "invalid channel")
