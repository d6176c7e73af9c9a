"""The Store contract, checked on both implementations (local folder, Azurite over https)."""

from __future__ import annotations

import hashlib

import pytest

from b2release.stores.base import AlreadyExists, PreconditionFailed


@pytest.fixture(params=["file", "azure"])
def store(request, tmp_path):
    if request.param == "file":
        from b2release.stores.local import LocalStore

        with LocalStore(tmp_path / "root") as s:
            yield s
        return
    from b2release.stores.azure import AzureAuth, AzureStore
    from tests.fixtures.azurite import ACCOUNT, ACCOUNT_KEY

    server = request.getfixturevalue("azurite_https")
    request.getfixturevalue("monkeypatch").setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
    auth = AzureAuth(account_url=server.endpoint, account_name=ACCOUNT, account_key=ACCOUNT_KEY, source="test")
    with AzureStore(auth, correlation_id="corr-123", retries=1) as s:
        s.test_prefix = server.unique("c")  # type: ignore[attr-defined]
        yield s


def name(store, stem: str) -> str:
    return getattr(store, "test_prefix", "") + stem


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_create_only_upload_and_listing(store, tmp_path):
    container = name(store, "box")
    assert store.stat(container, "p/1.0.0/a.txt") is None and store.list(container) == []
    assert store.list_existing(container) is None  # no container: one listing says so
    assert store.ensure_container(container) is True
    assert store.ensure_container(container) is False
    assert store.list_existing(container) == []  # a container, empty
    source = tmp_path / "a.txt"
    source.write_bytes(b"alpha" * 1000)
    sent = []
    assert store.create_from_file(container, "p/1.0.0/a.txt", source, sha(source.read_bytes()), "public",
                                  sent.append) == 5000
    assert sum(sent) == 5000
    info = store.stat(container, "p/1.0.0/a.txt")
    assert (info.size, info.sha256) == (5000, sha(b"alpha" * 1000))

    other = tmp_path / "b.txt"
    other.write_bytes(b"different")
    with pytest.raises(AlreadyExists):
        store.create_from_file(container, "p/1.0.0/a.txt", other, sha(b"different"), "public")
    assert store.read_bytes(container, "p/1.0.0/a.txt")[0] == b"alpha" * 1000  # unchanged

    store.create_from_file(container, "p/2.0.0/b.txt", other, sha(b"different"), "public")
    assert [b.path for b in store.list(container)] == ["p/1.0.0/a.txt", "p/2.0.0/b.txt"]
    assert [b.path for b in store.list(container, "p/2.0.0/")] == ["p/2.0.0/b.txt"]
    assert [b.path for b in store.list_existing(container, "p/2.0.0/")] == ["p/2.0.0/b.txt"]
    assert store.read_bytes(container, "p/2.0.0/b.txt")[0] == b"different"


@pytest.mark.parametrize("known_size", [True, False], ids=["size-known", "size-unknown"])
def test_server_side_copy_is_create_only(store, tmp_path, known_size):
    # Azure: a source of known size within 256 MiB is copied synchronously (Copy Blob From
    # URL), else asynchronously (Copy Blob, polled); both keep the contract.
    src, dst = name(store, "src"), name(store, "dst")
    store.ensure_container(src)
    store.ensure_container(dst)
    data = b"payload" * 100
    source = tmp_path / "f"
    source.write_bytes(data)
    store.create_from_file(src, "p/1/f.bin", source, sha(data), "public, max-age=31536000, immutable")
    size = len(data) if known_size else None
    store.copy_within(src, "p/1/f.bin", dst, sha(data), size)
    copied = store.stat(dst, "p/1/f.bin")
    assert (copied.size, copied.sha256) == (len(data), sha(data))
    assert store.read_bytes(dst, "p/1/f.bin")[0] == data
    if store.kind == "azure":
        assert copied.cache_control == "public, max-age=31536000, immutable"
    with pytest.raises(AlreadyExists):
        store.copy_within(src, "p/1/f.bin", dst, sha(data), size)


def test_conditional_pointer_writes(store):
    container = name(store, "ptr")
    store.ensure_container(container)
    first = store.write_bytes(container, "p/channels/x.json", b"one", "public, max-age=60", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        store.write_bytes(container, "p/channels/x.json", b"two", "public, max-age=60", if_none_match=True)
    current = store.stat(container, "p/channels/x.json")
    second = store.write_bytes(container, "p/channels/x.json", b"two", "public, max-age=60", if_match=current.etag)
    with pytest.raises(PreconditionFailed):  # stale etag: someone wrote in between
        store.write_bytes(container, "p/channels/x.json", b"three", "public, max-age=60", if_match=first.etag)
    data, info = store.read_bytes(container, "p/channels/x.json")
    assert data == b"two" and info.etag == second.etag
    assert store.read_bytes(container, "p/channels/missing.json") is None


def test_read_bytes_refuses_large_blobs(store, tmp_path):
    from b2release.errors import RemoteError

    container = name(store, "big")
    store.ensure_container(container)
    store.write_bytes(container, "p/big", b"x" * 2000, "public")
    with pytest.raises(RemoteError, match="larger than 1000 bytes"):
        store.read_bytes(container, "p/big", max_size=1000)


def test_azure_sends_correlation_id_and_bounded_retries(azurite_https, monkeypatch):
    from b2release.stores.azure import AzureAuth, AzureStore
    from tests.fixtures.azurite import ACCOUNT, ACCOUNT_KEY

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(azurite_https.ca_file))
    auth = AzureAuth(account_url=azurite_https.endpoint, account_name=ACCOUNT, account_key=ACCOUNT_KEY)
    seen = []
    with AzureStore(auth, correlation_id="corr-42", retries=2) as store:
        store.service.get_service_properties(raw_response_hook=lambda r: seen.append(
            r.http_request.headers.get("x-ms-client-request-id")))
        assert store.service._config.retry_policy.total_retries == 2
    assert seen == ["corr-42"]


def test_local_store_rejects_unsafe_paths(tmp_path):
    from b2release.errors import UsageError
    from b2release.stores.local import LocalStore

    store = LocalStore(tmp_path)
    with pytest.raises(UsageError, match="contains '..'"):
        store.stat("releases", "p/../../etc/passwd")
    with pytest.raises(UsageError, match="invalid container name"):
        store.stat("../up", "x")


def test_large_file_goes_up_in_validated_blocks(store, tmp_path):
    from b2release.stores.azure import BLOCK_SIZE

    container = name(store, "large")
    store.ensure_container(container)
    data = bytes(range(256)) * ((2 * BLOCK_SIZE + 12345) // 256)  # > 2 blocks: chunked, parallel
    source = tmp_path / "large.bin"
    source.write_bytes(data)
    sent = []
    store.create_from_file(container, "p/1/large.bin", source, sha(data), "public", sent.append)
    assert sum(sent) == len(data)
    info = store.stat(container, "p/1/large.bin")
    assert (info.size, info.sha256) == (len(data), sha(data))
    if store.kind == "azure":
        assert info.content_md5 == hashlib.md5(data).hexdigest()
    assert store.read_bytes(container, "p/1/large.bin", max_size=len(data))[0] == data


def test_containers_starting_with_answers_from_one_page_or_not_at_all(store):
    stem = name(store, "names")
    for suffix in ("a", "b", "c"):
        store.ensure_container(f"{stem}-{suffix}")
    store.ensure_container(name(store, "other"))
    assert store.containers_starting_with(f"{stem}-", 3) == {f"{stem}-a", f"{stem}-b", f"{stem}-c"}
    assert store.containers_starting_with(f"{stem}-", 2) is None  # more than the limit: cannot tell
    assert store.containers_starting_with(f"{stem}-zz", 2) == set()
