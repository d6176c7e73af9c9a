"""Field-level parsing: classic quoting, times, SAS facts, object keys, attribution of paths."""

from __future__ import annotations

import datetime as dt

import pytest

from b2release.accesslogs import attribution, classic, resourcelogs
from b2release.accesslogs.model import ParseProblem, parse_time
from b2release.accesslogs.paths import split_object_key, split_url_path
from b2release.accesslogs.sas import sas_info, split_url
from b2release.redact import redact

DOC_SAMPLE = (  # the anonymous GetBlob sample of the Storage Analytics log format documentation
    '1.0;2014-06-19T22:59:23.1967767Z;GetBlob;AnonymousSuccess;200;17;16;anonymous;;storagesample;blob;'
    '"https://storagesample.blob.core.windows.net/sample-container1/00001.txt";'
    '"/storagesample/sample-container1/00001.txt";61d2e3f6-bcb7-4cd1-a81e-4f8f497f0da2;0;192.100.0.102:4362;'
    '2014-02-14;283;0;354;23;0;;;""0x8D15A2913C934DE"";Thursday, 19-Jun-14 22:58:10 GMT;;'
    '"WA-Storage/4.0.1 (.NET CLR 4.0.30319.34014; Win32NT 6.3.9600.0)";;"44dfd78e-7288-4898-8f70-c3478983d3b6"'
)


def test_classic_documented_sample():
    fields = classic.split_fields(DOC_SAMPLE)
    assert len(fields) == 30
    assert fields[24] == '"0x8D15A2913C934DE"'  # the ETag keeps its own quotes
    assert fields[27].startswith("WA-Storage/4.0.1 (.NET CLR") and fields[27].endswith("6.3.9600.0)")  # ';' inside quotes
    request = classic.parse_line(DOC_SAMPLE, "x:1")
    assert (request.account, request.container, request.blob) == ("storagesample", "sample-container1", "00001.txt")
    assert request.status_code == 200 and request.response_bytes == 23 and request.auth_type == "anonymous"
    assert request.client_request_id == "44dfd78e-7288-4898-8f70-c3478983d3b6" and request.sas is None


def test_classic_html_decoding_and_unknown_status():
    line = DOC_SAMPLE.replace(';200;17;', ';Unknown;17;').replace(
        '00001.txt";"/storage', '00001.txt?se=2014-06-20T00%3A00%3A00Z&amp;si=p1&amp;sig=abc%2Fdef";"/storage')
    request = classic.parse_line(line, "x:1")
    assert request.status_code is None
    assert request.sas.policy_id == "p1" and request.sas.expiry == dt.datetime(2014, 6, 20, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("line, reason", [
    ("3.0;a;b", "is not 1.0 or 2.0"),
    ("2.0;" + ";" * 10, "38 fields, this line has 12"),
    (DOC_SAMPLE.replace("2014-06-19T22:59:23.1967767Z", "yesterday"), "request-start-time"),
])
def test_classic_problems(line, reason):
    problem = classic.parse_line(line, "f:9")
    assert isinstance(problem, ParseProblem) and reason in problem.reason and problem.source == "f:9"


def test_resource_record_minimal_and_bad():
    request = resourcelogs.parse_record({"time": "2024-05-01T10:00:00Z", "operationName": "GetBlob", "statusCode": "200",
                                         "uri": "https://acct.blob.core.windows.net:443/tenant-a/p/1.0.0/p-1.0.0.zip"}, "s")
    assert (request.account, request.container, request.blob, request.status_code) == (
        "acct", "tenant-a", "p/1.0.0/p-1.0.0.zip", 200)
    assert request.is_read  # no category: judged by the operation name
    assert resourcelogs.parse_record([], "s").reason == "not a JSON object"
    assert resourcelogs.parse_record({"time": "x", "operationName": "GetBlob"}, "s").reason == "no valid 'time'"
    assert resourcelogs.parse_record({"time": "2024-05-01T10:00:00Z"}, "s").reason == "no 'operationName'"
    write = resourcelogs.parse_record({"time": "2024-05-01T10:00:00Z", "operationName": "PutBlob",
                                       "category": "StorageWrite"}, "s")
    assert not write.is_read


def test_parse_time():
    assert parse_time("2014-06-19T22:59:23.1967767Z") == dt.datetime(2014, 6, 19, 22, 59, 23, 196776, tzinfo=dt.timezone.utc)
    assert parse_time("2024-05-01T12:00:00+02:00") == dt.datetime(2024, 5, 1, 10, tzinfo=dt.timezone.utc)
    with pytest.raises(ValueError):
        parse_time("01/05/2024")


def test_sas_facts_and_redaction():
    info = sas_info("sv=2023-11-03&se=2024-06-01&sp=r&si=grant-x&sig=Zm9v%2BYmFyUUNJQ%3D")
    assert (info.policy_id, info.permissions, info.signed) == ("grant-x", "r", True)
    assert info.expiry == dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc)
    assert "sig" not in repr(info).lower().replace("signed", "")
    # The signature is registered: any later text quoting it is masked.
    assert redact("error: Zm9v+YmFyUUNJQ= and Zm9v%2BYmFyUUNJQ%3D") == "error: *** and ***"
    assert sas_info("") is None and sas_info("comp=list&restype=container") is None
    account, path, sas = split_url("https://acct.blob.core.windows.net:443/c/b%20c.zip?si=g&sig=xyzw1234")
    assert (account, path, sas.policy_id) == ("acct", "/c/b c.zip", "g")


def test_object_keys_and_url_paths():
    assert split_object_key("/acct/tenant-a/p/1.0.0/f.zip") == ("acct", "tenant-a", "p/1.0.0/f.zip")
    assert split_object_key("/acct/tenant-a") == ("acct", "tenant-a", None)
    assert split_object_key("https://acct.blob.core.windows.net/c/x/y") == ("acct", "c", "x/y")
    assert split_object_key("") == (None, None, None)
    assert split_url_path("/devstoreaccount1/c/b.zip", None) == ("devstoreaccount1", "c", "b.zip")


@pytest.mark.parametrize("container, blob, expected", [
    ("tenant-acme", "enventa-connector/1.4.0/enventa-connector-1.4.0.zip",
     ("tenant", "acme", "enventa-connector", "1.4.0", None, "package")),
    ("tenant-acme", "enventa-connector/channels/beta.json", ("tenant", "acme", "enventa-connector", None, "beta", "pointer")),
    ("tenant-acme", "enventa-connector/channels/beta.json.sig",
     ("tenant", "acme", "enventa-connector", None, "beta", "pointer-signature")),
    ("releases", "enventa-connector/1.4.0/manifest.json", ("releases", None, "enventa-connector", "1.4.0", None, "metadata")),
    ("releases", "enventa-connector/1.4.0/enventa-connector-1.4.0.intoto.jsonl",
     ("releases", None, "enventa-connector", "1.4.0", None, "metadata")),
    ("tenant-acme", "enventa-connector/1.4.0/readme.txt", ("tenant", "acme", "enventa-connector", "1.4.0", None, "file")),
    ("tenant-acme", None, ("tenant", "acme", None, None, None, "listing")),
    ("releases", "audit/2024/01.jsonl", ("releases", None, None, None, None, "audit-log")),
    ("tenant-acme", "enventa-connector", ("tenant", "acme", None, None, None, "other")),
    ("tenant-", "x", ("other", None, None, None, None, "other")),
    ("$logs", "blob/2024/05/01/1000/000000.log", ("other", None, None, None, None, "other")),
])
def test_attribution(container, blob, expected):
    target = attribution.target_of(container, blob)
    assert (target.scope, target.tenant, target.product, target.version, target.channel, target.kind) == expected


def test_sas_expiry_without_seconds():
    info = sas_info("se=2024-06-01T08:30Z&si=g&sig=abcd1234")
    assert info.expiry == dt.datetime(2024, 6, 1, 8, 30, tzinfo=dt.timezone.utc)
