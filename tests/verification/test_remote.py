"""`b2release verify --remote` against a local static server laid out like the store."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from b2release.formats import checksums
from b2release.formats import pointer as pointer_fmt
from tests.conftest import REPO, assert_user_error

PRODUCT = "enventa-connector"
VERSION = "1.2.0"
CONTAINER = "tenant-acme"
SAS_SIG = "c2lnLXNlY3JldC1mb3ItdGVzdHM9PQ"


@pytest.fixture(scope="module")
def release(tmp_path_factory, dev_keys) -> Path:
    """A real release made by the package stage (zip, manifest, signature, SHA256SUMS)."""
    from b2release.config import Config
    from b2release.context import Context
    from b2release.stages import package

    root = tmp_path_factory.mktemp("release")
    source = root / "input"
    shutil.copytree(REPO / "examples" / "prebuilt", source)
    ctx = Context(config=Config(), work_dir=root / "dist")
    package.run(ctx, package.Options(input=source, name=PRODUCT, version=VERSION,
                                     signing_key=dev_keys / "release-signing.key"))
    return root / "dist"


def manifest_sha(release: Path) -> str:
    return hashlib.sha256((release / "manifest.json").read_bytes()).hexdigest()


def package_sha(release: Path) -> str:
    return hashlib.sha256((release / f"{PRODUCT}-{VERSION}.zip").read_bytes()).hexdigest()


def make_pointer(release: Path, sequence: int = 5, ttl: int = 3600, now: float | None = None, channel: str = "stable",
                 **kw) -> pointer_fmt.Pointer:
    return pointer_fmt.new(product=PRODUCT, channel=channel, container=kw.pop("container", CONTAINER), version=VERSION,
                           manifest_sha256=kw.pop("manifest_sha256", manifest_sha(release)),
                           package_sha256=kw.pop("package_sha256", package_sha(release)), sequence=sequence,
                           ttl_s=ttl, now=now, **kw)


@pytest.fixture
def served(http_store, release, dev_keys):
    """The release published for one tenant, with a fresh signed `stable` pointer (sequence 5)."""
    http_store.publish_release(CONTAINER, PRODUCT, VERSION, release)
    http_store.write_pointer(CONTAINER, make_pointer(release), dev_keys / "release-signing.key")
    return http_store


def seen_key(store, channel: str = "stable", container: str = CONTAINER) -> str:
    """The --last-seen entry of a pointer: per store host, container, product and channel."""
    return f"{urlsplit(store.url).netloc}/{container}/{PRODUCT}/{channel}"


def pointer_url(store, channel: str = "stable", query: str = "") -> str:
    return f"{store.url}/{CONTAINER}/{PRODUCT}/channels/{channel}.json" + (f"?{query}" if query else "")


def package_url(store) -> str:
    return f"{store.url}/{CONTAINER}/{PRODUCT}/{VERSION}/{PRODUCT}-{VERSION}.zip"


def verify_remote(cli, dev_keys, url: str, *extra: str, json_out: bool = False, key: Path | None = None,
                  verbose: bool = False):
    head = (["--json"] if json_out else []) + (["-v"] if verbose else [])
    return cli(*head, "verify", "--remote", url, "--public-key", key or dev_keys / "release-signing.pub",
               "--allow-insecure-http", *extra)


def test_a_fresh_pointer_is_accepted_and_last_seen_written(cli, served, dev_keys, release, tmp_path):
    last_seen = tmp_path / "seen" / "last-seen.json"
    result = verify_remote(cli, dev_keys, pointer_url(served), "--last-seen", last_seen, json_out=True)
    assert result.exit_code == 0, result.output
    doc = result.json()
    assert doc["verified"] is True and doc["kind"] == "remote-pointer"
    assert (doc["product"], doc["version"], doc["pointer"]["sequence"]) == (PRODUCT, VERSION, 5)
    # pointer, its .sig, SHA256SUMS, manifest.json, manifest.json.sig, the zip
    assert doc["files"] > 0 and doc["downloaded_files"] == 7  # pointer, .sig, SHA256SUMS and the 4 files it lists
    assert any("sha256 equal the pointer's" in check for check in doc["checks"])
    seen = json.loads(last_seen.read_text())
    assert seen["format"] == "b2release-last-seen/1"
    entry = seen["pointers"][seen_key(served)]
    assert (entry["sequence"], entry["version"], entry["manifest_sha256"]) == (5, VERSION, manifest_sha(release))
    assert "plain http" in result.stderr  # the insecure switch warns
    # The same pointer again is fine (equal sequence, same release).
    again = verify_remote(cli, dev_keys, pointer_url(served), "--last-seen", last_seen)
    assert again.exit_code == 0, again.output
    assert f"verified channel stable of {PRODUCT}: {VERSION} (sequence 5" in again.stderr


def test_an_expired_pointer_is_refused(cli, served, dev_keys, release, tmp_path):
    served.write_pointer(CONTAINER, make_pointer(release, now=time.time() - 7200, ttl=3600),
                         dev_keys / "release-signing.key")
    last_seen = tmp_path / "last-seen.json"
    result = verify_remote(cli, dev_keys, pointer_url(served), "--last-seen", last_seen)
    assert_user_error(result, 1, "expired", "freeze protection")
    assert not last_seen.exists()


def test_a_lower_sequence_than_last_seen_is_refused(cli, served, dev_keys, release, tmp_path):
    last_seen = tmp_path / "last-seen.json"
    served.write_pointer(CONTAINER, make_pointer(release, sequence=9), dev_keys / "release-signing.key")
    assert verify_remote(cli, dev_keys, pointer_url(served), "--last-seen", last_seen).exit_code == 0
    before = last_seen.read_bytes()
    served.write_pointer(CONTAINER, make_pointer(release, sequence=5), dev_keys / "release-signing.key")
    result = verify_remote(cli, dev_keys, pointer_url(served), "--last-seen", last_seen)
    assert_user_error(result, 1, "sequence 5, lower than the last seen 9", "rollback protection")
    assert last_seen.read_bytes() == before
    # A deliberate rollback raises the sequence and is accepted, naming the reason.
    served.write_pointer(CONTAINER, make_pointer(release, sequence=10, rollback={"from": "1.3.0", "reason": "bug 42"}),
                         dev_keys / "release-signing.key")
    ok = verify_remote(cli, dev_keys, pointer_url(served), "--last-seen", last_seen, json_out=True)
    assert ok.exit_code == 0, ok.output
    assert any("bug 42" in note for note in ok.json()["notes"])
    assert json.loads(last_seen.read_text())["pointers"][seen_key(served)]["sequence"] == 10


def test_same_sequence_naming_another_release_is_refused(cli, served, dev_keys, release, tmp_path):
    last_seen = tmp_path / "last-seen.json"
    last_seen.write_text(json.dumps({"format": "b2release-last-seen/1", "pointers": {
        seen_key(served): {"sequence": 5, "version": "1.1.0", "manifest_sha256": "0" * 64}}}))
    result = verify_remote(cli, dev_keys, pointer_url(served), "--last-seen", last_seen)
    assert_user_error(result, 1, "same sequence 5")


def test_a_tampered_zip_is_refused(cli, served, dev_keys):
    zip_path = served.root / CONTAINER / PRODUCT / VERSION / f"{PRODUCT}-{VERSION}.zip"
    data = bytearray(zip_path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    zip_path.write_bytes(bytes(data))
    result = verify_remote(cli, dev_keys, pointer_url(served))
    assert_user_error(result, 1, f"{CONTAINER}/{PRODUCT}/{VERSION}/{PRODUCT}-{VERSION}.zip")
    assert "b2release-remote-" not in result.stderr  # messages name the URL, not our temp copy


def test_a_tampered_zip_with_regenerated_sha256sums_is_refused(cli, served, dev_keys, tmp_path):
    """SHA256SUMS is not signed: an attacker can rewrite it, the signed manifest still catches the change."""
    import zipfile

    folder = served.root / CONTAINER / PRODUCT / VERSION
    zip_path = folder / f"{PRODUCT}-{VERSION}.zip"
    rebuilt = tmp_path / "evil.zip"
    with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(rebuilt, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if not info.filename.startswith(".b2release/"):
                body += b"\nevil"
            dst.writestr(info, body)
    shutil.copyfile(rebuilt, zip_path)
    sums = checksums.parse((folder / "SHA256SUMS").read_bytes())
    sums[zip_path.name] = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    (folder / "SHA256SUMS").write_bytes(checksums.render(sums))
    result = verify_remote(cli, dev_keys, pointer_url(served))
    assert_user_error(result, 1, f"{PRODUCT}-{VERSION}.zip: entry Enventa.Connector.dll.config", "manifest")


def test_a_pointer_signed_by_another_key_is_refused(cli, served, dev_keys, other_keys, release, tmp_path):
    served.write_pointer(CONTAINER, make_pointer(release, sequence=6), other_keys / "release-signing.key")
    last_seen = tmp_path / "last-seen.json"
    result = verify_remote(cli, dev_keys, pointer_url(served), "--last-seen", last_seen)
    assert_user_error(result, 1, "channel pointer", "signature does not verify")
    assert not last_seen.exists()


def test_a_pointer_naming_another_manifest_is_refused(cli, served, dev_keys, release):
    served.write_pointer(CONTAINER, make_pointer(release, manifest_sha256="ab" * 32), dev_keys / "release-signing.key")
    result = verify_remote(cli, dev_keys, pointer_url(served))
    assert_user_error(result, 1, "manifest.json has sha256", "abababababababab")


def test_a_pointer_served_under_another_channel_is_refused(cli, served, dev_keys, release):
    channels = served.root / CONTAINER / PRODUCT / "channels"
    shutil.copyfile(channels / "stable.json", channels / "beta.json")
    shutil.copyfile(channels / "stable.json.sig", channels / "beta.json.sig")
    result = verify_remote(cli, dev_keys, pointer_url(served, "beta"))
    assert_user_error(result, 1, f"signed for {PRODUCT}/stable, not {PRODUCT}/beta")


def test_a_missing_version_file_is_refused(cli, served, dev_keys):
    (served.root / CONTAINER / PRODUCT / VERSION / "manifest.json.sig").unlink()
    result = verify_remote(cli, dev_keys, pointer_url(served))
    assert_user_error(result, 1, "names version 1.2.0", "manifest.json.sig is missing")


def test_the_sas_query_is_reused_for_siblings_and_never_shown(cli, served, dev_keys, release, tmp_path):
    served.require_query = {"sig": SAS_SIG}
    query = f"sv=2024-08-04&sr=c&sp=r&spr=https&sig={SAS_SIG}"
    last_seen = tmp_path / "last-seen.json"
    ok = verify_remote(cli, dev_keys, pointer_url(served, query=query), "--last-seen", last_seen, json_out=True)
    assert ok.exit_code == 0, ok.output
    assert len(served.hits) == 7 and all(SAS_SIG in hit.query and hit.status == 200 for hit in served.hits)
    served.write_pointer(CONTAINER, make_pointer(release, sequence=1), dev_keys / "release-signing.key")
    refused = verify_remote(cli, dev_keys, pointer_url(served, query=query), "--last-seen", last_seen,
                            json_out=True, verbose=True)
    assert refused.exit_code == 1
    without = verify_remote(cli, dev_keys, pointer_url(served))  # no SAS: the server says 403
    assert_user_error(without, 3, "HTTP 403")
    for text in (ok.stdout, ok.stderr, refused.stdout, refused.stderr, last_seen.read_text()):
        assert SAS_SIG not in text
    assert "?***" in ok.json()["remote"]


def test_transient_server_errors_are_retried(cli, served, dev_keys, no_sleep):
    served.fail_next(f"/{CONTAINER}/{PRODUCT}/{VERSION}/SHA256SUMS", 503, 500)
    result = verify_remote(cli, dev_keys, pointer_url(served))
    assert result.exit_code == 0, result.output
    assert no_sleep == [1.0, 2.0]


def test_retries_are_bounded(cli, served, dev_keys, no_sleep):
    served.fail_next(f"/{CONTAINER}/{PRODUCT}/channels/stable.json", *([502] * 10))
    result = verify_remote(cli, dev_keys, pointer_url(served))
    assert_user_error(result, 3, "download failed after 5 attempts: HTTP 502")
    assert no_sleep == [1.0, 2.0, 4.0, 8.0]


def test_a_missing_pointer_is_a_remote_error(cli, served, dev_keys):
    result = verify_remote(cli, dev_keys, pointer_url(served, "beta"))
    assert_user_error(result, 3, "HTTP 404", "beta.json")


def test_downloads_are_size_capped(cli, served, dev_keys, monkeypatch):
    monkeypatch.setattr("b2release.verification.remote.MAX_POINTER", 16)
    result = verify_remote(cli, dev_keys, pointer_url(served))
    assert_user_error(result, 1, "stable.json is implausibly large")


def test_a_versioned_package_url_is_verified(cli, served, dev_keys):
    result = verify_remote(cli, dev_keys, package_url(served), json_out=True)
    assert result.exit_code == 0, result.output
    doc = result.json()
    # The zip, and the provenance published beside it.
    assert (doc["kind"], doc["product"], doc["version"], doc["downloaded_files"]) == ("remote-package", PRODUCT,
                                                                                      VERSION, 2)
    assert doc["provenance"]["subject_name"] == f"{PRODUCT}-{VERSION}.zip"


def test_a_tampered_package_url_is_refused(cli, served, dev_keys, other_keys):
    result = verify_remote(cli, dev_keys, package_url(served), key=other_keys / "release-signing.pub")
    assert_user_error(result, 1, f"{PRODUCT}-{VERSION}.zip", "signature does not verify")


def test_last_seen_is_for_pointers_only(cli, served, dev_keys, tmp_path):
    result = verify_remote(cli, dev_keys, package_url(served), "--last-seen", tmp_path / "x.json")
    assert_user_error(result, 2, "--last-seen applies to channel pointers")


def test_a_corrupt_last_seen_file_is_refused_not_reset(cli, served, dev_keys, tmp_path):
    last_seen = tmp_path / "last-seen.json"
    last_seen.write_text("{not json")
    result = verify_remote(cli, dev_keys, pointer_url(served), "--last-seen", last_seen)
    assert_user_error(result, 2, "--last-seen", "not a readable JSON file")
    assert last_seen.read_text() == "{not json"


def test_plain_http_needs_the_insecure_switch(cli, served, dev_keys):
    result = cli("verify", "--remote", pointer_url(served), "--public-key", dev_keys / "release-signing.pub")
    assert_user_error(result, 2, "uses plain http", "--allow-insecure-http")
    assert served.hits == []


@pytest.mark.parametrize("url, needle", [
    ("ftp://example.com/c/p/channels/stable.json", "must be an https URL"),
    ("https://example.com/c/p/1.0.0/other.zip", "must name a channel pointer"),
    ("https://example.com/c/p/channels/Bad_Name.json", "invalid channel name"),
    ("https://example.com/c/p/v1/p-v1.zip", "invalid version"),
])
def test_url_shapes_are_checked(cli, dev_keys, url, needle):
    result = cli("verify", "--remote", url, "--public-key", dev_keys / "release-signing.pub")
    assert_user_error(result, 2, needle)


def test_path_and_remote_are_exclusive_and_local_verify_still_works(cli, served, dev_keys, release):
    both = cli("verify", release, "--remote", pointer_url(served), "--public-key", dev_keys / "release-signing.pub")
    assert_user_error(both, 2, "either PATH or --remote")
    neither = cli("verify", "--public-key", dev_keys / "release-signing.pub")
    assert_user_error(neither, 2, "PATH")
    stray = cli("verify", release, "--last-seen", "x.json", "--public-key", dev_keys / "release-signing.pub")
    assert_user_error(stray, 2, "need --remote")
    local = cli("--json", "verify", release, "--public-key", dev_keys / "release-signing.pub")
    assert local.exit_code == 0, local.output
    assert local.json()["kind"] == "folder"


def test_a_timeout_is_retried(cli, served, dev_keys, no_sleep, monkeypatch):
    import requests

    real_request = requests.Session.request
    calls = {"n": 0}

    def flaky_request(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the pointer's signature
            raise requests.ReadTimeout("read timed out")
        return real_request(self, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", flaky_request)
    result = verify_remote(cli, dev_keys, pointer_url(served))
    assert result.exit_code == 0, result.output
    assert no_sleep == [1.0]
    assert "(ReadTimeout); retrying in 1s" in result.stderr


def test_a_hostile_sha256sums_name_is_refused_without_touching_the_disk(cli, served, dev_keys):
    sums = served.root / CONTAINER / PRODUCT / VERSION / "SHA256SUMS"
    sums.write_bytes(sums.read_bytes() + f"{'0' * 64}  {'x' * 300}\n".encode())
    result = verify_remote(cli, dev_keys, pointer_url(served))
    assert_user_error(result, 1, "SHA256SUMS line", "longer than a file name may be")


def test_an_unwritable_last_seen_fails_before_anything_is_downloaded(cli, served, dev_keys, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    result = verify_remote(cli, dev_keys, pointer_url(served), "--last-seen", blocker / "seen.json")
    assert_user_error(result, 2, "--last-seen", "cannot write beside it")
    assert served.hits == []  # refused before the first request
