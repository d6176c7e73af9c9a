"""append_audit on the folder store and on Azurite: month blobs, seals, lost races retried,
concurrent writers, and a log that `auditchain.verify_chain` accepts afterwards."""

from __future__ import annotations

import threading

import pytest

from b2release.errors import RemoteError
from b2release.formats import auditchain, auditlog
from b2release.formats.auditlog import AuditRecord
from b2release.formats.signature import load_public_key, load_signing_key
from b2release.stores.audit import append_audit, audit_blobs, read_log
from b2release.stores.base import PreconditionFailed


def _record(i: int, month: str = "2024-05", **kw) -> AuditRecord:
    base = dict(time=f"{month}-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z", actor="octocat@github-actions/b2/runs/1",
                command="promote", action="move-pointer", correlation_id=f"corr-{i}", tenants=("acme",),
                product="enventa-connector", version="1.4.0", channel="stable", sequence_before=i, sequence_after=i + 1)
    base.update(kw)
    return AuditRecord(**base)


@pytest.fixture
def keys(dev_keys):
    return load_signing_key(dev_keys / "release-signing.key"), load_public_key(dev_keys / "release-signing.pub")


@pytest.fixture(params=["file", "azure"])
def store_and_container(request, tmp_path):
    if request.param == "file":
        from b2release.stores.local import LocalStore

        store = LocalStore(tmp_path / "store")
        store.ensure_container("releases")
        yield store, "releases"
        return
    from b2release.stores.azure import AzureAuth, AzureStore
    from tests.fixtures.azurite import ACCOUNT, ACCOUNT_KEY

    server = request.getfixturevalue("azurite")
    auth = AzureAuth(account_url=server.endpoint, account_name=ACCOUNT, account_key=ACCOUNT_KEY, source="test")
    store = AzureStore(auth, correlation_id="test", retries=1, retry_backoff=0, allow_http=True)
    container = server.unique("auditlog")
    store.ensure_container(container)
    yield store, container
    store.close()


def test_appends_chain_across_months(store_and_container, keys):
    store, container = store_and_container
    key, pub = keys
    assert append_audit(store, _record(1), key, container=container) == ["audit/2024/05.jsonl"]
    assert append_audit(store, _record(2), key, container=container) == ["audit/2024/05.jsonl"]
    # The first change of June seals May, then starts June's blob chained to the seal.
    assert append_audit(store, _record(3, month="2024-06"), key, container=container) == [
        "audit/2024/05.jsonl", "audit/2024/06.jsonl"]
    assert audit_blobs(store, container) == ["audit/2024/05.jsonl", "audit/2024/06.jsonl"]
    log = read_log(store, container)
    result = auditchain.verify_chain(log, pub)
    assert (result.files, result.lines, result.first_seq, result.last_seq) == (2, 4, 1, 4)
    may = auditlog.parse_lines(log[0][1], log[0][0])
    assert [line.record.action for line in may] == ["move-pointer", "move-pointer", "seal"]


def test_concurrent_writers_all_land_in_one_chain(store_and_container, keys):
    store, container = store_and_container
    key, pub = keys
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(3):
                append_audit(store, _record(n * 10 + i), key, container=container, sleep=lambda s: None, attempts=50)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    log = read_log(store, container)
    result = auditchain.verify_chain(log, pub)
    assert result.lines == 15 and (result.first_seq, result.last_seq) == (1, 15)
    ids = sorted(line.record.correlation_id for line in auditlog.parse_lines(log[0][1], log[0][0]))
    assert ids == sorted(f"corr-{n * 10 + i}" for n in range(5) for i in range(3))


class _RacingStore:
    """Wraps a store: before the first `times` conditional writes, another writer appends first."""

    def __init__(self, inner, container, key, times: int):
        self.inner, self.container, self.key, self.times = inner, container, key, times
        self.lost = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def write_bytes(self, container, path, data, cache_control, **kw):
        if self.times > 0:
            self.times -= 1
            append_audit(self.inner, _record(900 + self.times, actor="other@ci"), self.key, container=self.container)
            try:
                return self.inner.write_bytes(container, path, data, cache_control, **kw)
            except PreconditionFailed:
                self.lost += 1
                raise
        return self.inner.write_bytes(container, path, data, cache_control, **kw)


def test_a_lost_race_is_retried_from_a_fresh_read(store_and_container, keys):
    store, container = store_and_container
    key, pub = keys
    append_audit(store, _record(1), key, container=container)
    racing = _RacingStore(store, container, key, times=2)
    append_audit(racing, _record(2), key, container=container, sleep=lambda s: None)
    assert racing.lost == 2
    lines = auditlog.parse_lines(read_log(store, container)[0][1])
    assert [line.record.correlation_id for line in lines] == ["corr-1", "corr-901", "corr-900", "corr-2"]
    assert auditchain.verify_chain(read_log(store, container), pub).last_seq == 4


def test_a_writer_that_always_loses_gives_up_with_one_line(tmp_path, keys):
    from b2release.stores.local import LocalStore

    store = LocalStore(tmp_path / "store")
    store.ensure_container("releases")
    key, _ = keys
    append_audit(store, _record(1), key, container="releases")
    racing = _RacingStore(store, "releases", key, times=100)
    with pytest.raises(RemoteError, match="3 attempts lost a race"):
        append_audit(racing, _record(2), key, container="releases", attempts=3, sleep=lambda s: None)


def test_a_sas_token_is_refused_as_a_grant_id(tmp_path, keys):
    from b2release.errors import InputError
    from b2release.stores.local import LocalStore

    store = LocalStore(tmp_path / "store")
    store.ensure_container("releases")
    with pytest.raises(InputError, match="never a SAS token"):
        append_audit(store, _record(1, action="grant", command="grant", grant_id="sv=2024&sig=abc%3D"), keys[0],
                     container="releases")
    assert audit_blobs(store, "releases") == []
