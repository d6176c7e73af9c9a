"""OSV advisories for NuGet: an offline database (folder or OSV's all.zip) and an online client.

Offline is the default for CI and air-gapped machines: a folder of OSV JSON records
(searched recursively) or the zip OSV publishes per ecosystem
(https://osv-vulnerabilities.storage.googleapis.com/NuGet/all.zip).

Online asks the OSV API: POST /v1/querybatch (which returns only ids, paginated by
`next_page_token` per query), then GET /v1/vulns/{id} for the full records, which are
matched locally exactly as offline records are (one matching logic for both modes).
HTTP goes through b2release.http (one retry policy for every outside service).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote

from b2release.errors import InputError, RemoteError
from b2release.http import HttpClient

ECOSYSTEM = "NuGet"
MAX_RECORD_BYTES = 16 << 20

RETRIES = 3  # 4 attempts in all
TIMEOUT_SECONDS = 30.0
BATCH_SIZE = 1000  # OSV's documented limit of queries per querybatch request
MAX_PAGES = 100  # per query: a server that never stops paging must not hang the scan


@dataclass
class AdvisoryDB:
    """OSV records indexed by the lower-cased NuGet package names they affect."""

    source: str  # "offline" or "online"
    records: dict[str, dict] = field(default_factory=dict)  # id -> record
    by_package: dict[str, set[str]] = field(default_factory=dict)

    def add(self, record: dict, origin: str) -> None:
        rec_id = record.get("id")
        if not isinstance(rec_id, str) or not rec_id:
            raise InputError(f"{origin}: OSV record without an 'id'")
        affected = record.get("affected") or []
        if not isinstance(affected, list):
            raise InputError(f"{origin}: 'affected' must be a list")
        names = set()
        for entry in affected:
            pkg = (entry or {}).get("package") or {}
            if str(pkg.get("ecosystem", "")).split(":")[0].lower() == ECOSYSTEM.lower() and pkg.get("name"):
                names.add(str(pkg["name"]).lower())
        if not names:
            return  # another ecosystem's record (a mixed folder is fine)
        self.records[rec_id] = record
        for name in names:
            self.by_package.setdefault(name, set()).add(rec_id)

    def for_package(self, name: str) -> list[dict]:
        return [self.records[i] for i in sorted(self.by_package.get(name.lower(), ()))]

    def digest(self) -> str:
        """sha256 over the canonical records: names the advisory data a report was made with."""
        h = hashlib.sha256()
        for rec_id in sorted(self.records):
            h.update(json.dumps(self.records[rec_id], sort_keys=True, separators=(",", ":")).encode("utf-8"))
            h.update(b"\n")
        return h.hexdigest()


def _parse_record(data: bytes, origin: str) -> dict:
    try:
        record = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{origin}: not a valid OSV JSON record ({exc})") from None
    if not isinstance(record, dict):
        raise InputError(f"{origin}: an OSV record must be a JSON object")
    return record


def load_offline(path: Path) -> AdvisoryDB:
    """Load a folder of OSV JSON files (recursively) or an OSV ecosystem zip."""
    path = Path(path)
    db = AdvisoryDB(source="offline")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.json") if p.is_file())
        for file in files:
            if file.stat().st_size > MAX_RECORD_BYTES:
                raise InputError(f"{file}: larger than {MAX_RECORD_BYTES} bytes; not an OSV record")
            db.add(_parse_record(file.read_bytes(), str(file)), str(file))
        return db
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise InputError(f"advisories {path} is neither a folder nor a zip of OSV records")
        try:
            with zipfile.ZipFile(path) as zf:
                for info in sorted(zf.infolist(), key=lambda i: i.filename):
                    if info.is_dir() or not info.filename.endswith(".json"):
                        continue
                    if info.file_size > MAX_RECORD_BYTES:
                        raise InputError(f"{path}!{info.filename}: implausibly large for an OSV record")
                    origin = f"{path}!{info.filename}"
                    db.add(_parse_record(zf.read(info), origin), origin)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(f"advisories {path}: cannot read the zip ({exc})") from None
        return db
    raise InputError(f"advisories {path} does not exist")


# --- online ----------------------------------------------------------------------------------
class OsvClient:
    """A small OSV API client on b2release.http (bounded retries of 429/5xx/timeouts)."""

    def __init__(self, base_url: str, *, timeout: float = TIMEOUT_SECONDS, retries: int = RETRIES):
        self.base_url = base_url.rstrip("/")
        self.http = HttpClient(timeout=timeout, retries=retries, logger="scan")

    @property
    def requests_made(self) -> int:
        return self.http.counters.requests

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        url = f"{self.base_url}{path}"
        display = f"OSV {method} {url}"

        def handle(response: Any) -> dict:
            if response.status_code != 200:
                raise RemoteError(f"{display} failed: HTTP {response.status_code}")
            try:
                doc = response.json()
            except ValueError:
                raise RemoteError(f"{display}: response is not JSON") from None
            if not isinstance(doc, dict):
                raise RemoteError(f"{display}: response is not a JSON object")
            return doc

        return self.http.call(method, url, display=display, handle=handle, json=body)

    def query_ids(self, packages: Iterable[tuple[str, str]]) -> dict[tuple[str, str], set[str]]:
        """Advisory ids per (name, version), following next_page_token until exhausted."""
        pending = [(name, version, None) for name, version in packages]
        found: dict[tuple[str, str], set[str]] = {(n, v): set() for n, v, _ in pending}
        pages = 0
        while pending:
            pages += 1
            if pages > MAX_PAGES * max(1, len(found)):
                raise RemoteError(f"OSV {self.base_url}/v1/querybatch kept paging; giving up")
            batch, pending = pending[:BATCH_SIZE], pending[BATCH_SIZE:]
            queries = []
            for name, version, token in batch:
                q: dict[str, Any] = {"package": {"name": name, "ecosystem": ECOSYSTEM}, "version": version}
                if token:
                    q["page_token"] = token
                queries.append(q)
            doc = self._call("POST", "/v1/querybatch", {"queries": queries})
            results = doc.get("results")
            if not isinstance(results, list) or len(results) != len(batch):
                raise RemoteError(
                    f"OSV {self.base_url}/v1/querybatch: expected {len(batch)} results, got "
                    f"{len(results) if isinstance(results, list) else 'none'}"
                )
            for (name, version, _), result in zip(batch, results, strict=True):
                for vuln in (result or {}).get("vulns") or []:
                    if isinstance(vuln, dict) and vuln.get("id"):
                        found[(name, version)].add(str(vuln["id"]))
                token = (result or {}).get("next_page_token")
                if token:
                    pending.append((name, version, token))
        return found

    def get_vuln(self, vuln_id: str) -> dict:
        return self._call("GET", f"/v1/vulns/{quote(vuln_id, safe='')}")


def load_online(base_url: str, packages: Iterable[tuple[str, str]], client: OsvClient | None = None) -> AdvisoryDB:
    client = client or OsvClient(base_url)
    try:
        ids = client.query_ids(packages)
        db = AdvisoryDB(source="online")
        for vuln_id in sorted(set().union(*ids.values()) if ids else set()):
            db.add(client.get_vuln(vuln_id), f"{client.base_url}/v1/vulns/{vuln_id}")
    finally:
        client.close()
    return db
