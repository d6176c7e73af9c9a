"""Azure Monitor resource logs for Blob Storage (category StorageRead), archived to a storage account.

Blobs: container `insights-logs-storageread`, path
`resourceId=/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Storage/storageAccounts/<account>/blobServices/default/y=<YYYY>/m=<MM>/d=<DD>/h=<hh>/m=00/PT1H.json`.
Each line is one JSON object (older exports: one document `{"records": [...]}`, also read):

    {"time": "2024-05-01T10:00:00.1234567Z", "resourceId": ".../blobServices/default",
     "category": "StorageRead", "operationName": "GetBlob", "operationVersion": "2021-06-08",
     "schemaVersion": "1.0", "statusCode": 200, "statusText": "Success", "durationMs": 9,
     "callerIpAddress": "203.0.113.7:56029", "correlationId": "<request id>",
     "identity": {"type": "SAS", "tokenHash": "key1(...),SasSignature(...)"},
     "location": "West Europe",
     "properties": {"accountName": "acct", "userAgentHeader": "...", "clientRequestId": "...",
                    "etag": "...", "serviceType": "blob", "objectKey": "/acct/container/blob",
                    "metricResponseType": "Success", "serverLatencyMs": 9, "requestHeaderSize": 636,
                    "responseHeaderSize": 394, "responseBodySize": 99, "tlsVersion": "TLS 1.2"},
     "uri": "https://acct.blob.core.windows.net:443/container/blob?sp=r&se=...&si=...&sig=...",
     "protocol": "HTTPS", "resourceType": "Microsoft.Storage/storageAccounts/blobServices"}

Only the fields b2release needs are read; unknown fields are ignored (Azure adds fields).
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Iterator

from b2release.accesslogs.model import ParseProblem, Request, parse_time
from b2release.accesslogs.paths import split_object_key, split_url_path
from b2release.accesslogs.sas import split_url

FORMAT = "resource"


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def parse_record(doc: Any, source: str) -> Request | ParseProblem:
    """One resource log record (a parsed JSON object)."""
    if not isinstance(doc, dict):
        return ParseProblem(source, "not a JSON object")
    try:
        time = parse_time(str(doc.get("time", "")))
    except ValueError:
        return ParseProblem(source, "no valid 'time'")
    operation = doc.get("operationName")
    if not isinstance(operation, str) or not operation:
        return ParseProblem(source, "no 'operationName'")
    props = doc.get("properties") if isinstance(doc.get("properties"), dict) else {}
    identity = doc.get("identity") if isinstance(doc.get("identity"), dict) else {}
    uri = doc.get("uri") if isinstance(doc.get("uri"), str) else ""
    host_account, url_path, sas = split_url(uri) if uri else (None, None, None)
    account, container, blob = split_object_key(props.get("objectKey"))
    if container is None and url_path is not None:
        account, container, blob = split_url_path(url_path, host_account)
    auth = identity.get("type") or doc.get("authenticationType")
    category = str(doc.get("category") or "")
    return Request(
        time=time,
        operation=operation,
        status_code=_int(doc.get("statusCode")),
        status_text=str(doc.get("statusText") or ""),
        response_bytes=_int(props.get("responseBodySize")) or 0,
        duration_ms=_float(doc.get("durationMs")),
        caller_ip=doc.get("callerIpAddress") if isinstance(doc.get("callerIpAddress"), str) else None,
        request_id=doc.get("correlationId") if isinstance(doc.get("correlationId"), str) else None,
        client_request_id=props.get("clientRequestId") if isinstance(props.get("clientRequestId"), str) else None,
        account=props.get("accountName") if isinstance(props.get("accountName"), str) else account,
        container=container,
        blob=blob,
        auth_type=str(auth).replace(" ", "").lower() if auth else None,
        sas=sas,
        is_read=category == "StorageRead" if category else operation.startswith(("Get", "List", "Query")),
        source=source,
        log_format=FORMAT,
    )


def parse_lines(lines: Iterable[str], name: str) -> Iterator[Request | ParseProblem]:
    """Records from the lines of one file; a whole-file `{"records": [...]}` document is read too."""
    buffered: list[str] | None = None
    for lineno, line in enumerate(lines, 1):
        if buffered is not None:
            buffered.append(line)
            continue
        text = line.strip()
        if not text:
            continue
        try:
            doc = json.loads(text)
        except ValueError:
            if lineno == 1 and text in ("{", "["):
                buffered = [line]  # a pretty-printed document: read it whole
                continue
            yield ParseProblem(f"{name}:{lineno}", "not valid JSON")
            continue
        if isinstance(doc, dict) and isinstance(doc.get("records"), list):
            for index, record in enumerate(doc["records"]):
                yield parse_record(record, f"{name}:{lineno}#{index}")
        else:
            yield parse_record(doc, f"{name}:{lineno}")
    if buffered is not None:
        try:
            doc = json.loads("".join(buffered))
        except ValueError:
            yield ParseProblem(f"{name}:1", "not valid JSON")
            return
        records = doc.get("records") if isinstance(doc, dict) else doc
        if not isinstance(records, list):
            yield ParseProblem(f"{name}:1", "a JSON document without 'records'")
            return
        for index, record in enumerate(records):
            yield parse_record(record, f"{name}#{index}")
