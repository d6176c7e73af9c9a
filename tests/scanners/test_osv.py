import json
import zipfile

import pytest

from b2release.errors import InputError, RemoteError
from b2release.scanners import osv
from tests.fixtures.scan import NEWTONSOFT_GHSA, osv_record, write_osv_folder


def test_offline_folder_recursive_and_other_ecosystems_skipped(tmp_path):
    folder = write_osv_folder(tmp_path / "db", [NEWTONSOFT_GHSA])
    sub = folder / "more"
    sub.mkdir()
    (sub / "PYSEC-1.json").write_text(json.dumps(
        {"id": "PYSEC-1", "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"}}]}), encoding="utf-8")
    (sub / "X-2.json").write_text(json.dumps(osv_record("X-2", "Polly", [{"introduced": "0"}])), encoding="utf-8")
    db = osv.load_offline(folder)
    assert sorted(db.records) == ["GHSA-5crp-9r3c-p9vr", "X-2"]
    assert [r["id"] for r in db.for_package("NEWTONSOFT.JSON")] == ["GHSA-5crp-9r3c-p9vr"]
    assert db.for_package("Serilog") == []


def test_offline_zip_like_osv_all_zip(tmp_path):
    path = tmp_path / "all.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("GHSA-5crp-9r3c-p9vr.json", json.dumps(NEWTONSOFT_GHSA))
        zf.writestr("GHSA-2.json", json.dumps(osv_record("GHSA-2", "Serilog", [{"introduced": "0"}])))
    db = osv.load_offline(path)
    assert sorted(db.records) == ["GHSA-2", "GHSA-5crp-9r3c-p9vr"]
    # the digest names the data: same records, same digest; different records, different digest
    assert db.digest() == osv.load_offline(path).digest()
    assert db.digest() != osv.load_offline(write_osv_folder(tmp_path / "f", [NEWTONSOFT_GHSA])).digest()


@pytest.mark.parametrize("make,needle", [
    (lambda p: p / "missing", "does not exist"),
    (lambda p: (p / "x.txt").write_text("hi") and p / "x.txt", "neither a folder nor a zip"),
])
def test_offline_bad_paths(tmp_path, make, needle):
    with pytest.raises(InputError, match=needle):
        osv.load_offline(make(tmp_path))


def test_offline_broken_record_names_the_file(tmp_path):
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(InputError) as info:
        osv.load_offline(tmp_path)
    assert "bad.json" in info.value.message


def test_online_querybatch_then_vulns(osv_server):
    osv_server.state.records = {"GHSA-5crp-9r3c-p9vr": NEWTONSOFT_GHSA}
    db = osv.load_online(osv_server.url, [("Newtonsoft.Json", "12.0.3"), ("Polly", "7.2.4")])
    assert sorted(db.records) == ["GHSA-5crp-9r3c-p9vr"]
    methods = [(m, p) for m, p, _ in osv_server.state.log]
    assert methods == [("POST", "/v1/querybatch"), ("GET", "/v1/vulns/GHSA-5crp-9r3c-p9vr")]
    body = osv_server.state.log[0][2]
    assert body["queries"][0] == {"package": {"name": "Newtonsoft.Json", "ecosystem": "NuGet"}, "version": "12.0.3"}


def test_online_transient_503_is_retried(osv_server):
    osv_server.state.records = {"GHSA-5crp-9r3c-p9vr": NEWTONSOFT_GHSA}
    osv_server.state.failures = {"/v1/querybatch": [503], "/v1/vulns/": [429, 502]}
    db = osv.load_online(osv_server.url, [("Newtonsoft.Json", "12.0.3")])
    assert sorted(db.records) == ["GHSA-5crp-9r3c-p9vr"]
    paths = [p for _, p, _ in osv_server.state.log]
    assert paths.count("/v1/querybatch") == 2
    assert paths.count("/v1/vulns/GHSA-5crp-9r3c-p9vr") == 3


def test_online_page_tokens_are_followed(osv_server):
    records = {f"GHSA-{i}": osv_record(f"GHSA-{i}", "Newtonsoft.Json", [{"introduced": "0"}]) for i in range(5)}
    osv_server.state.records = records
    osv_server.state.page_size = {"newtonsoft.json": 2}
    db = osv.load_online(osv_server.url, [("Newtonsoft.Json", "12.0.3")])
    assert sorted(db.records) == sorted(records)
    batches = [body for m, p, body in osv_server.state.log if p == "/v1/querybatch"]
    assert len(batches) == 3
    assert "page_token" not in batches[0]["queries"][0]
    assert [b["queries"][0]["page_token"] for b in batches[1:]] == ["2", "4"]


def test_online_timeout_is_retried(osv_server):
    osv_server.state.records = {"GHSA-5crp-9r3c-p9vr": NEWTONSOFT_GHSA}
    osv_server.state.delays = {"/v1/querybatch": [0.5]}
    client = osv.OsvClient(osv_server.url, timeout=0.1)
    db = osv.load_online(osv_server.url, [("Newtonsoft.Json", "12.0.3")], client=client)
    assert sorted(db.records) == ["GHSA-5crp-9r3c-p9vr"]
    assert client.requests_made == 3  # slow querybatch, retried querybatch, vulns/{id}


def test_online_gives_up_after_bounded_retries(osv_server):
    osv_server.state.failures = {"/v1/querybatch": [503] * 10}
    with pytest.raises(RemoteError) as info:
        osv.load_online(osv_server.url, [("Newtonsoft.Json", "12.0.3")])
    assert "after 4 attempts" in info.value.message and "HTTP 503" in info.value.message
    assert len(osv_server.state.log) == osv.RETRIES + 1


def test_online_client_error_is_not_retried(osv_server):
    osv_server.state.failures = {"/v1/querybatch": [400]}
    with pytest.raises(RemoteError, match="HTTP 400"):
        osv.load_online(osv_server.url, [("Newtonsoft.Json", "12.0.3")])
    assert len(osv_server.state.log) == 1


def test_online_connection_refused_is_a_remote_error(monkeypatch):
    import socket

    monkeypatch.setattr("b2release.http.sleep", lambda seconds: None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RemoteError, match="ConnectionError"):
        osv.load_online(f"http://127.0.0.1:{port}", [("Newtonsoft.Json", "12.0.3")])
