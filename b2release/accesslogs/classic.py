"""Storage Analytics logs (`$logs` container), log format versions 1.0 and 2.0.

One request per line, fields separated by `;`, the last field not followed by one. A field
that may contain `"`, `;` or a newline is quoted, and its content HTML-encoded (so a URL's
`&` appears as `&amp;`). Version 1.0 fields, in order:

     1 version-number            11 service-type             21 response-packet-size
     2 request-start-time        12 request-url              22 request-content-length
     3 operation-type            13 requested-object-key     23 request-md5
     4 request-status            14 request-id-header        24 server-md5
     5 http-status-code          15 operation-count          25 etag-identifier
     6 end-to-end-latency-in-ms  16 requester-ip-address     26 last-modified-time
     7 server-latency-in-ms      17 request-version-header   27 conditions-used
     8 authentication-type       18 request-header-size      28 user-agent-header
     9 requester-account-name    19 request-packet-size      29 referrer-header
    10 owner-account-name        20 response-header-size     30 client-request-id

Version 2.0 appends: 31 user-object-id, 32 tenant-id, 33 application-id, 34 audience,
35 issuer, 36 user-principal-name, 37 reserved-field, 38 authorization-detail.

Example (1.0, shortened): `1.0;2014-06-19T22:59:23.1967767Z;GetBlob;AnonymousSuccess;200;17;16;
anonymous;;storagesample;blob;"https://storagesample.blob.core.windows.net/sample-container1/00001.txt";
"/storagesample/sample-container1/00001.txt";61d2e3f6-...;0;192.100.0.102:4362;2014-02-14;283;0;354;23;0;;;...`
"""

from __future__ import annotations

import html
from typing import Iterable, Iterator

from b2release.accesslogs.model import ParseProblem, Request, parse_time
from b2release.accesslogs.paths import split_object_key, split_url_path
from b2release.accesslogs.sas import split_url

FORMAT = "classic"
FIELD_COUNTS = {"1.0": 30, "2.0": 38}
# 0-based positions of the fields we read.
TIME, OPERATION, STATUS, HTTP_STATUS, E2E_MS, AUTH, OWNER, URL, OBJECT_KEY, REQUEST_ID = 1, 2, 3, 4, 5, 7, 9, 11, 12, 13
CALLER_IP, RESPONSE_PACKET_SIZE, CLIENT_REQUEST_ID = 15, 20, 29
_READ_PREFIXES = ("Get", "List", "Query")


def split_fields(line: str) -> list[str]:
    """Split on `;` outside quotes; unquote and HTML-decode quoted fields.

    A `"` toggles quoting, so the doubled quotes Azure puts around ETags inside a quoted
    field (`""0x8D...""`) come out as the ETag in quotes.
    """
    fields: list[str] = []
    current: list[str] = []
    quoted = False
    was_quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
            was_quoted = True
            current.append(char)
        elif char == ";" and not quoted:
            fields.append(_finish("".join(current), was_quoted))
            current, was_quoted = [], False
        else:
            current.append(char)
    fields.append(_finish("".join(current), was_quoted))
    return fields


def _finish(raw: str, was_quoted: bool) -> str:
    if was_quoted and len(raw) >= 2 and raw.startswith('"') and raw.endswith('"'):
        return html.unescape(raw[1:-1])
    return raw


def parse_line(line: str, source: str) -> Request | ParseProblem:
    fields = split_fields(line.rstrip("\r\n"))
    version = fields[0]
    expected = FIELD_COUNTS.get(version)
    if expected is None:
        return ParseProblem(source, f"log format version {version[:8]!r} is not 1.0 or 2.0")
    if len(fields) != expected:
        return ParseProblem(source, f"version {version} has {expected} fields, this line has {len(fields)}")
    try:
        time = parse_time(fields[TIME])
    except ValueError:
        return ParseProblem(source, "request-start-time is not a time")
    status = fields[HTTP_STATUS]
    host_account, url_path, sas = split_url(fields[URL]) if fields[URL] else (None, None, None)
    account, container, blob = split_object_key(fields[OBJECT_KEY])
    if container is None and url_path is not None:
        account, container, blob = split_url_path(url_path, host_account)
    size = fields[RESPONSE_PACKET_SIZE]
    latency = fields[E2E_MS]
    return Request(
        time=time,
        operation=fields[OPERATION],
        status_code=int(status) if status.isdigit() else None,
        status_text=fields[STATUS],
        response_bytes=int(size) if size.isdigit() else 0,
        duration_ms=float(latency) if latency.replace(".", "", 1).isdigit() else None,
        caller_ip=fields[CALLER_IP] or None,
        request_id=fields[REQUEST_ID] or None,
        client_request_id=fields[CLIENT_REQUEST_ID] or None,
        account=fields[OWNER] or account,
        container=container,
        blob=blob,
        auth_type=fields[AUTH].lower() or None,
        sas=sas,
        is_read=fields[OPERATION].startswith(_READ_PREFIXES),
        source=source,
        log_format=FORMAT,
    )


def parse_lines(lines: Iterable[str], name: str) -> Iterator[Request | ParseProblem]:
    for lineno, line in enumerate(lines, 1):
        if line.strip():
            yield parse_line(line, f"{name}:{lineno}")
