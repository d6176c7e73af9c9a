"""Download audit from Azure Storage logs: who downloaded which release, with which grant.

Two log formats are read, from local files, plain or gzip-compressed (auto-detected, or
named explicitly):

- `resource`: Azure Monitor resource logs of category StorageRead, as a diagnostic setting
  archives them to a storage account (container `insights-logs-storageread`, blobs
  `resourceId=/.../blobServices/default/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`): one JSON
  object per line (resourcelogs.py).
- `classic`: Storage Analytics logging (container `$logs`, blobs `blob/YYYY/MM/DD/hhmm/nnnnnn.log`),
  log format 1.0 or 2.0: one semicolon-delimited line per request (classic.py).

Each request is attributed (attribution.py) to a tenant container (`tenant-<id>`) or the
`releases` container, a product, a version or channel pointer, and a grant: the stored
access policy id in the SAS `si=` parameter. With the release audit log
(formats/auditlog.py), a channel pointer read is also attributed to the version the pointer
served at that moment (`pointer_history`). The SAS signature and the rest of the query
never leave the parser: the signature is registered with b2release.redact and the query is
dropped, so no report, export line or error message can carry it (sas.py).

report.py aggregates downloads per tenant and version, the error rate, 403s, requests with
expired or revoked grants and first/last use per grant; export.py writes JSON lines for log
shippers; thresholds.py turns `--fail-on-error-rate 5%` / `--fail-on-unauthorized 10` into a
verdict. docs/monitoring.md says how to switch the logs on and run the audit on a schedule.
"""

from b2release.accesslogs.attribution import AttributedRequest, Target, attribute, pointer_history
from b2release.accesslogs.export import export_lines
from b2release.accesslogs.model import ParseProblem, Request, SasInfo
from b2release.accesslogs.reader import FORMATS, read_requests
from b2release.accesslogs.report import DownloadReport, build_report, render_text
from b2release.accesslogs.thresholds import Trip, check_thresholds, parse_error_rate, parse_since

__all__ = [
    "FORMATS", "AttributedRequest", "DownloadReport", "ParseProblem", "Request", "SasInfo", "Target", "Trip",
    "attribute", "build_report", "pointer_history", "check_thresholds", "export_lines", "parse_error_rate", "parse_since",
    "read_requests", "render_text",
]
