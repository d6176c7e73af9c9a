"""Download audit over fixture logs in both formats: counts, grants, thresholds, and no SAS signature anywhere."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest

from b2release.accesslogs import (
    build_report,
    check_thresholds,
    export_lines,
    parse_error_rate,
    parse_since,
    read_requests,
    render_text,
)
from b2release.accesslogs.model import ParseProblem, Request
from b2release.errors import InputError, UsageError

from .fixtures.generate import SIGS

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RESOURCE = FIXTURES / "resource" / "PT1H.json"
CLASSIC = FIXTURES / "classic" / "000000.log"
LIVE = {"grant-acme-01", "grant-globex-01"}
BOTH = pytest.mark.parametrize("log", [RESOURCE, CLASSIC], ids=["resource", "classic"])


def _report(log: Path, live=LIVE, **kw):
    return build_report(list(read_requests([log], **kw)), live_policies=live)


@BOTH
def test_every_line_parses(log):
    items = list(read_requests([log]))
    assert len(items) == 21 and not [i for i in items if isinstance(i, ParseProblem)]
    first = items[0]
    assert isinstance(first, Request)
    assert (first.account, first.container, first.blob) == ("b2dist", "tenant-acme",
                                                          "enventa-connector/1.4.0/enventa-connector-1.4.0.zip")
    assert first.time == dt.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=dt.timezone.utc)
    assert first.status_code == 200 and first.response_bytes == 1000 and first.auth_type == "sas"
    assert first.sas.policy_id == "grant-acme-01" and first.sas.signed and first.sas.expiry is None
    assert first.request_id == "00000000-101e-0006-728c-8f0570000000" and first.client_request_id == "client-0"


@BOTH
def test_downloads_per_tenant_and_version(log):
    report = _report(log)
    rows = {(d.tenant, d.version): (d.downloads, d.partial, d.bytes) for d in report.downloads}
    assert rows == {
        ("acme", "1.4.0"): (2, 0, 2000),
        ("acme", "1.5.0"): (1, 0, 1500),
        ("globex", "1.4.0"): (1, 0, 1000),
        ("globex", "1.5.0"): (2, 1, 3500),
        (None, "1.5.0"): (1, 0, 1500),  # the releases container (CI, account key)
    }
    assert report.total_downloads == 7
    assert {(p.tenant, p.channel): p.reads for p in report.pointer_reads} == {("acme", "stable"): 2, ("globex", "stable"): 1}


@BOTH
def test_errors_unauthorized_and_out_of_scope(log):
    report = _report(log)
    assert (report.requests, report.errors, report.client_errors, report.server_errors) == (20, 8, 4, 4)
    assert report.error_rate == pytest.approx(0.4)
    assert report.unauthorized == 4 and report.unauthorized_by_tenant == {"acme": 3, "globex": 1}
    assert report.out_of_scope == 1


@BOTH
def test_expired_and_revoked_grants(log):
    incidents = {(i.tenant, i.grant_id, i.status) for i in _report(log).expired_or_revoked}
    assert incidents == {("acme", "grant-acme-01", "rejected"), ("acme", "grant-acme-00", "expired"),
                         ("globex", "grant-globex-old", "revoked")}
    # Without the live policy list the revoked grant still shows, as Azure's 403 AuthenticationFailed.
    without = {(i.grant_id, i.status) for i in _report(log, live=None).expired_or_revoked}
    assert ("grant-globex-old", "rejected") in without and len(without) == 3


@BOTH
def test_first_and_last_seen_per_grant(log):
    grants = {g.grant_id: g for g in _report(log).grants}
    assert set(grants) == {"grant-acme-00", "grant-acme-01", "grant-globex-01", "grant-globex-old"}
    acme = grants["grant-acme-01"]
    assert (acme.tenant, acme.container, acme.requests, acme.downloads, acme.denied) == ("acme", "tenant-acme", 7, 3, 1)
    assert acme.first_seen.isoformat() == "2024-05-01T10:00:00.123456+00:00"
    assert acme.last_seen.isoformat() == "2024-05-01T10:00:42.123456+00:00"
    globex = grants["grant-globex-01"]
    assert (globex.requests, globex.downloads, globex.denied, globex.bytes) == (9, 3, 0, 4810)
    assert globex.statuses == {"live": 9}


@BOTH
def test_thresholds(log):
    report = _report(log)
    trips = check_thresholds(report, fail_on_error_rate="5%", fail_on_unauthorized="4")
    assert [t.threshold for t in trips] == ["error_rate", "unauthorized"]
    assert trips[0].actual == "40.00%" and "8 of 20 requests" in trips[0].message
    assert check_thresholds(report, fail_on_error_rate="41%", fail_on_unauthorized=5) == []
    assert [t.threshold for t in check_thresholds(report, fail_on_error_rate="0.4")] == ["error_rate"]


def test_threshold_parsing():
    assert parse_error_rate("5%") == pytest.approx(0.05)
    assert parse_error_rate("0.05") == pytest.approx(0.05)
    for bad in ("5", "abc", "150%", "-1%"):
        with pytest.raises(UsageError, match="invalid error rate"):
            parse_error_rate(bad)
    with pytest.raises(UsageError, match="at least 1"):
        check_thresholds(build_report([]), fail_on_unauthorized="0")
    assert check_thresholds(build_report([]), fail_on_error_rate="0%") == []  # no requests, no errors


def test_since():
    now = dt.datetime(2024, 5, 2, 10, 0, tzinfo=dt.timezone.utc)
    assert parse_since("1d", now) == dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.timezone.utc)
    assert parse_since("90m", now) == now - dt.timedelta(minutes=90)
    assert parse_since("2024-05-01T10:01:00Z") == dt.datetime(2024, 5, 1, 10, 1, tzinfo=dt.timezone.utc)
    with pytest.raises(UsageError, match="invalid --since"):
        parse_since("yesterday")
    report = build_report(list(read_requests([RESOURCE])), since=parse_since("2024-05-01T10:01:00Z"))
    assert report.skipped_before_since == 9 and report.requests == 11


def test_gzip_and_folders(tmp_path):
    folder = tmp_path / "logs" / "y=2024" / "m=05"
    folder.mkdir(parents=True)
    (folder / "PT1H.json.gz").write_bytes(gzip.compress(RESOURCE.read_bytes()))
    (folder / "000000.log").write_bytes(gzip.compress(CLASSIC.read_bytes()))  # gzip without a .gz name
    report = build_report(list(read_requests([tmp_path / "logs"])), live_policies=LIVE)
    assert report.requests == 40 and report.total_downloads == 14


def test_explicit_format(tmp_path):
    plain = tmp_path / "x.txt"
    shutil.copy(CLASSIC, plain)
    assert build_report(list(read_requests([plain], fmt="classic"))).requests == 20
    wrong = list(read_requests([plain], fmt="resource"))
    assert all(isinstance(i, ParseProblem) for i in wrong) and len(wrong) == 21
    with pytest.raises(UsageError, match="unknown log format"):
        list(read_requests([plain], fmt="w3c"))


def test_unknown_format_is_named_without_quoting_the_line(tmp_path):
    log = tmp_path / "odd.log"
    log.write_text(f"GET /tenant-acme/x.zip?si=g&sig={SIGS['grant-acme-01']}\n")
    with pytest.raises(InputError, match="cannot tell the log format of .*odd.log") as exc:
        list(read_requests([log]))
    assert "sig=" not in exc.value.message
    with pytest.raises(InputError, match="does not exist"):
        list(read_requests([tmp_path / "missing.log"]))


def test_bad_lines_are_counted_not_fatal(tmp_path):
    lines = RESOURCE.read_text().splitlines()
    lines.insert(3, lines[3][:120])  # a cut-off line that still holds a SAS
    classic = CLASSIC.read_text().splitlines()
    classic.insert(2, "2.0;2024-05-01T10:00:00Z;GetBlob;Success;200")
    (tmp_path / "a.json").write_text("\n".join(lines) + "\n")
    (tmp_path / "b.log").write_text("\n".join(classic) + "\n")
    report = build_report(list(read_requests([tmp_path / "a.json", tmp_path / "b.log"])))
    assert report.problems == 2 and report.requests == 40
    sources = [p.source for p in report.problem_samples]
    assert sources[0].endswith("a.json:4") and sources[1].endswith("b.log:3")
    assert "38 fields, this line has 5" in report.problem_samples[1].reason
    assert "b.log:3" in render_text(report)


def test_records_document_is_read(tmp_path):
    records = [json.loads(line) for line in RESOURCE.read_text().splitlines()]
    (tmp_path / "PT1H.json").write_text(json.dumps({"records": records}, indent=2))
    assert build_report(list(read_requests([tmp_path / "PT1H.json"]))).requests == 20


def test_export_lines_for_log_shippers():
    lines = list(export_lines(list(read_requests([RESOURCE])), live_policies=LIVE))
    assert len(lines) == 20
    docs = [json.loads(line) for line in lines]
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)
    first = docs[0]
    assert first["correlation_id"] == "00000000-101e-0006-728c-8f0570000000"
    assert (first["tenant"], first["version"], first["kind"], first["grant_id"], first["grant_status"]) == (
        "acme", "1.4.0", "package", "grant-acme-01", "live")
    assert first["@timestamp"] == "2024-05-01T10:00:00.123Z"
    assert {d["grant_status"] for d in docs} == {"live", "rejected", "expired", "revoked", None}
    assert len(list(export_lines(list(read_requests([RESOURCE])), include_out_of_scope=True))) == 21


@BOTH
def test_no_sas_signature_in_any_output(log):
    items = list(read_requests([log]))
    report = build_report(items, live_policies=LIVE)
    outputs = {
        "parsed requests": repr(items),
        "text report": render_text(report),
        "json report": json.dumps(report.to_dict()),
        "export lines": b"".join(export_lines(items, live_policies=LIVE)).decode(),
    }
    for name, text in outputs.items():
        assert "sig=" not in text, name
        for sig in SIGS.values():
            for form in (sig, unquote(sig), sig[5:17]):
                assert form not in text, f"{name} contains a SAS signature ({form})"


def test_pointer_reads_are_attributed_to_the_version_served(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from b2release.accesslogs import pointer_history
    from b2release.formats import auditlog
    from b2release.formats.signature import load_signing_key

    (tmp_path / "k.key").write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key = load_signing_key(tmp_path / "k.key")
    data = b""
    for time, tenants, version in [("2024-05-01T09:00:00Z", ("acme", "globex"), "1.4.0"),
                                   ("2024-05-01T10:00:25Z", ("acme",), "1.5.0")]:
        record = auditlog.AuditRecord(time=time, actor="ci", command="promote", action="move-pointer",
                                      correlation_id="c", tenants=tenants, product="enventa-connector",
                                      version=version, channel="stable")
        data += auditlog.next_line_for(data, record, key)
    history = pointer_history(auditlog.parse_lines(data, "audit/2024/05.jsonl"))
    report = build_report(list(read_requests([RESOURCE])), live_policies=LIVE, pointer_version=history)
    served = {(p.tenant, p.channel): p.versions for p in report.pointer_reads}
    assert served == {("acme", "stable"): {"1.4.0": 1, "1.5.0": 1}, ("globex", "stable"): {"1.4.0": 1}}
    assert "1.4.0 (1), 1.5.0 (1)" in render_text(report)
    exported = [json.loads(x) for x in export_lines(list(read_requests([RESOURCE])), pointer_version=history)]
    assert [d["version"] for d in exported if d["kind"] == "pointer-signature"] == ["1.5.0"]
