"""`verify --remote` checks the build provenance: as one of the files SHA256SUMS lists (pointer
URL), or as the file published beside a package URL; with --source-uri / --builder-id."""

from __future__ import annotations

import base64
import hashlib
import json

from b2release.formats import canonical, dsse
from b2release.formats.signature import load_signing_key
from tests.verification.test_remote import (  # noqa: F401 - fixtures
    CONTAINER,
    PRODUCT,
    VERSION,
    package_url,
    pointer_url,
    release,
    served,
    verify_remote,
)

PROVENANCE = f"{PRODUCT}-{VERSION}.intoto.jsonl"


def _published(store) -> object:
    return store.root / CONTAINER / PRODUCT / VERSION / PROVENANCE


def _builder(store) -> str:
    envelope = json.loads(_published(store).read_bytes())
    return json.loads(base64.b64decode(envelope["payload"]))["predicate"]["runDetails"]["builder"]["id"]


def test_a_pointer_release_has_its_provenance_checked(cli, served, dev_keys):  # noqa: F811
    builder = _builder(served)
    ok = verify_remote(cli, dev_keys, pointer_url(served), "--builder-id", builder, json_out=True)
    assert ok.exit_code == 0, ok.output
    doc = ok.json()
    assert doc["provenance"]["builder_id"] == builder
    assert any(c.startswith(f"{PROVENANCE}: provenance signature valid") for c in doc["checks"])
    wrong = verify_remote(cli, dev_keys, pointer_url(served), "--builder-id", "https://ci.example/other")
    assert wrong.exit_code == 1 and "expected builder https://ci.example/other" in wrong.stderr
    # Messages name the remote file, never our temp copy.
    assert f"{served.url}/{CONTAINER}/{PRODUCT}/{VERSION}/{PROVENANCE}" in wrong.stderr and "/tmp" not in wrong.stderr


def test_a_re_signed_statement_on_the_server_is_refused(cli, served, dev_keys, other_keys):  # noqa: F811
    path = _published(served)
    statement = base64.b64decode(json.loads(path.read_bytes())["payload"])
    path.write_bytes(dsse.sign(statement, load_signing_key(other_keys / "release-signing.key")).to_line())
    # The unsigned SHA256SUMS is rewritten too, as an attacker would: only the signature tells.
    sums_path = path.with_name("SHA256SUMS")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    sums_path.write_text("".join(f"{digest}  {PROVENANCE}\n" if line.endswith(f"{PROVENANCE}\n") else line
                                 for line in sums_path.read_text().splitlines(keepends=True)))
    for url in (pointer_url(served), package_url(served)):
        result = verify_remote(cli, dev_keys, url)
        assert result.exit_code == 1, result.output
        assert "no signature by public key" in result.stderr and PROVENANCE in result.stderr


def test_a_package_url_without_published_provenance(cli, served, dev_keys):  # noqa: F811
    _published(served).unlink()
    plain = verify_remote(cli, dev_keys, package_url(served), json_out=True)
    assert plain.exit_code == 0, plain.output
    assert plain.json()["provenance"] is None and any("no build provenance" in n for n in plain.json()["notes"])
    required = verify_remote(cli, dev_keys, package_url(served), "--source-uri", "git+https://github.com/b2connect/x")
    assert required.exit_code == 1 and "--source-uri cannot be checked" in required.stderr
    assert "/tmp" not in required.stderr


def test_a_statement_changed_in_transit_is_refused(cli, served, dev_keys):  # noqa: F811
    path = _published(served)
    envelope = json.loads(path.read_bytes())
    statement = base64.b64decode(envelope["payload"]).replace(b'"package"', b'"pAckage"', 1)
    path.write_bytes(canonical.dumps({**envelope, "payload": base64.b64encode(statement).decode()}))
    result = verify_remote(cli, dev_keys, package_url(served))
    assert result.exit_code == 1 and "does not verify" in result.stderr
