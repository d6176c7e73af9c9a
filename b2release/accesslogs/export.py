"""JSON lines for log shippers (Filebeat/Logstash into ELK, or any JSON-lines collector).

One line per request in scope (see report.py), canonical JSON (sorted keys), e.g.:

    {"@timestamp":"2024-05-01T10:00:00.123Z","account":"acct","auth_type":"sas","caller_ip":"203.0.113.7:4431",
     "channel":null,"client_request_id":"...","container":"tenant-acme","correlation_id":"<Azure request id>",
     "duration_ms":12.0,"grant_id":"grant-acme-01","grant_status":"live","kind":"package","log_format":"resource",
     "operation":"GetBlob","path":"enventa-connector/1.4.0/enventa-connector-1.4.0.zip","product":"enventa-connector",
     "response_bytes":1048576,"source":"PT1H.json:3","status_code":200,"status_text":"Success","tenant":"acme",
     "version":"1.4.0"}

`correlation_id` is the id Azure gives the request (resource logs `correlationId`, classic
`request-id-header`): the id Azure support asks for. `path` never has a query string.
"""

from __future__ import annotations

import datetime as _dt
from typing import Collection, Iterable, Iterator

from b2release.accesslogs.attribution import RELEASE_CONTAINER, PointerVersion, attribute
from b2release.accesslogs.model import ParseProblem, Request, iso
from b2release.formats import canonical
from b2release.redact import redact_obj


def export_lines(items: Iterable[Request | ParseProblem], live_policies: Collection[str] | None = None,
                 since: _dt.datetime | None = None, release_container: str = RELEASE_CONTAINER,
                 include_out_of_scope: bool = False, pointer_version: PointerVersion | None = None) -> Iterator[bytes]:
    for item in items:
        if isinstance(item, ParseProblem) or (since is not None and item.time < since):
            continue
        attributed = attribute(item, live_policies, release_container, pointer_version)
        if not attributed.in_scope and not include_out_of_scope:
            continue
        target = attributed.target
        doc = {
            "@timestamp": iso(item.time),
            "correlation_id": item.request_id,
            "client_request_id": item.client_request_id,
            "operation": item.operation,
            "status_code": item.status_code,
            "status_text": item.status_text,
            "response_bytes": item.response_bytes,
            "duration_ms": item.duration_ms,
            "caller_ip": item.caller_ip,
            "account": item.account,
            "container": item.container,
            "path": item.blob,
            "tenant": target.tenant,
            "product": target.product,
            "version": target.version,
            "channel": target.channel,
            "kind": target.kind,
            "auth_type": item.auth_type,
            "grant_id": attributed.grant_id,
            "grant_status": attributed.grant_status,
            "log_format": item.log_format,
            "source": item.source,
        }
        yield canonical.dumps(redact_obj(doc))
