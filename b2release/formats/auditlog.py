"""The release audit log: append-only, hash-chained, signed JSON lines, one per change.

Every change b2release makes to a store or the CDN (a version uploaded, a channel pointer
moved by upload/promote/rollback/refresh, a grant created or revoked, a purge) appends one
line. The log lives in the release container as one blob per month, `audit/<yyyy>/<mm>.jsonl`.

Line format (canonical JSON: sorted keys, no spaces, UTF-8, terminated by one LF):

    {"action":"move-pointer","actor":"octocat@github-actions/b2connect/connector/runs/42",
     "channel":"stable","command":"promote","correlation_id":"9f1c...","format":"b2release-audit/1",
     "grant_id":null,"keyid":"<release key id>","prev":"<64 hex>","product":"enventa-connector",
     "seq":17,"sequence_after":8,"sequence_before":7,"sig":"<base64>","tenants":["acme","globex"],
     "time":"2024-05-01T10:07:30Z","version":"1.4.0"}

- `time`: UTC, RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.ffffff]Z`). `actor`: the CI identity or `user@host`.
- `command`: upload, promote, rollback, refresh, grant, revoke, purge (or `audit` for a seal).
  `action`: what changed: upload-version, move-pointer, grant, revoke, purge, seal.
- `sequence_before`/`sequence_after`: the channel pointer's sequence around a pointer move.
- `grant_id`: the stored access policy id of a grant; never a SAS token (refused).
- `reason` (only in `b2release-audit/2` lines): why, as the operator said it (`rollback
  --reason`, `promote --force --reason`), one line of at most 500 characters. A line without
  a reason is written as `/1`, exactly as before, so a log without reasons stays readable by
  verifiers that predate `/2`; a `/2` line has every `/1` key plus `reason`, nothing else.
- `seq`: the line's position in the whole log, 1 for the very first line, +1 per line,
  across month files. It is what lets a verifier tell a removed line from a reordered one.
- `prev`: sha256 hex of the previous line's exact bytes, including its terminating LF.
  The very first line of the log has 64 zeros. The first line of a month file chains to the
  last line of the previous month's file (its seal line, below), so the chain never restarts.
- `keyid` and `sig`: the release key id, and the base64 (standard, padded) signature of the
  canonical JSON (with its LF) of the line object without `sig`. `prev` and `seq` are signed.

Month files are closed by a *seal*: when the first change of a new month arrives, the writer
appends a line with `command: audit`, `action: seal` to the old month's file, and the new
file's first line chains to that seal. Every month file but the latest therefore ends with a
seal line, and a seal is always the last line of its file.

Store-side protocol (the store code does the I/O; this module computes every line):

1. List `audit/` and read the latest month blob (the greatest name), or note there is none.
2. `plan_append(latest, record, key)` returns one or two steps. Each is either an append to
   an existing append blob, conditional on its current length (`x-ms-blob-condition-appendpos`
   = the length read in 1; or If-Match on the ETag read in 1), or the creation of a new month
   blob with its first line, conditional on the blob not existing (`If-None-Match: *`).
3. Run the steps in order. If a condition fails (412 AppendPositionConditionNotMet or
   ConditionNotMet, 409 BlobAlreadyExists), another writer won the race: go back to 1. The
   re-read tail gives a new `prev` and `seq` (`next_line_for` recomputes them); the record is
   unchanged. A condition failure never leaves a half-written line: each append is atomic.
4. A writer that dies between a seal and the new month's first line leaves a sealed file as
   the latest; the next writer sees the seal at the tail and creates the new month's file.

What the chain proves: no line was changed, removed, inserted or reordered, up to the last
line seen. Removing lines from the *end* of the latest file cannot be seen from the file
alone; pass the last known head (`ChainResult.head`, e.g. recorded by a previous audit run)
as `expect_head` to catch that too.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from typing import Any, Mapping

from b2release.errors import InputError, VerificationError
from b2release.formats import canonical
from b2release.formats.origin import detect_builder
from b2release.formats.signature import SigningKey

AUDIT_FORMAT = "b2release-audit/1"
AUDIT_FORMAT_REASON = "b2release-audit/2"  # /1 plus `reason`: written only for a line that has one
MAX_REASON = 500
AUDIT_PREFIX = "audit/"
GENESIS_PREV = "0" * 64
COMMANDS = ("upload", "promote", "rollback", "refresh", "grant", "revoke", "purge", "audit")
ACTIONS = ("upload-version", "move-pointer", "grant", "revoke", "purge", "seal")
SEAL_ACTION = "seal"

_TIME = re.compile(r"^(\d{4})-(\d{2})-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z$")
_GRANT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_TENANT = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
BLOB_NAME = re.compile(r"(?:^|/)(\d{4})/(\d{2})\.jsonl$")
_RECORD_FIELDS = ("time", "actor", "command", "action", "correlation_id", "tenants", "product", "version", "channel",
                  "sequence_before", "sequence_after", "grant_id")
_LINE_KEYS = frozenset({"format", "seq", "prev", "keyid", "sig", *_RECORD_FIELDS})
_LINE_KEYS_BY_FORMAT = {AUDIT_FORMAT: _LINE_KEYS, AUDIT_FORMAT_REASON: _LINE_KEYS | {"reason"}}


# --- records ----------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditRecord:
    """What changed: the signed content of one line, without the chain fields."""

    time: str
    actor: str
    command: str
    action: str
    correlation_id: str
    tenants: tuple[str, ...] = ()
    product: str | None = None
    version: str | None = None
    channel: str | None = None
    sequence_before: int | None = None
    sequence_after: int | None = None
    grant_id: str | None = None
    reason: str | None = None  # a /2 line's only addition

    @property
    def format(self) -> str:
        return AUDIT_FORMAT if self.reason is None else AUDIT_FORMAT_REASON

    def to_dict(self) -> dict[str, Any]:
        doc = {name: getattr(self, name) for name in _RECORD_FIELDS}
        doc["tenants"] = list(self.tenants)
        if self.reason is not None:
            doc["reason"] = self.reason
        return doc

    def check(self) -> AuditRecord:
        """Refuse records b2release must never write (raises InputError)."""
        if not _TIME.fullmatch(self.time or ""):
            raise InputError(f"audit time {self.time!r} is not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SSZ)")
        if self.command not in COMMANDS:
            raise InputError(f"audit command {self.command!r} is not one of {', '.join(COMMANDS)}")
        if self.action not in ACTIONS:
            raise InputError(f"audit action {self.action!r} is not one of {', '.join(ACTIONS)}")
        if not self.actor or not self.correlation_id:
            raise InputError("an audit line needs an actor and a correlation id")
        for tenant in self.tenants:
            if not isinstance(tenant, str) or not _TENANT.fullmatch(tenant):
                raise InputError(f"audit tenant {tenant!r} is not a tenant id")
        if self.grant_id is not None and not _GRANT_ID.fullmatch(self.grant_id):
            # A SAS token contains '=', '&', '%' or '?': none of them can get through here.
            raise InputError("audit grant id must be the stored access policy id (1-64 letters, digits, '.', '_', '-'), "
                             "never a SAS token")
        for name in ("sequence_before", "sequence_after"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise InputError(f"audit {name} must be a non-negative integer")
        if self.reason is not None and not (isinstance(self.reason, str) and 0 < len(self.reason) <= MAX_REASON
                                            and "\n" not in self.reason):
            raise InputError(f"audit reason must be one line of 1-{MAX_REASON} characters")
        return self


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def current_actor(env: Mapping[str, str] | None = None) -> str:
    """The CI identity (GitHub Actions, Azure Pipelines) or `user@host`."""
    return detect_builder(os.environ if env is None else env).actor


def seal_record(time: str, actor: str, correlation_id: str) -> AuditRecord:
    return AuditRecord(time=time, actor=actor, command="audit", action=SEAL_ACTION, correlation_id=correlation_id)


def blob_name(time: str | _dt.datetime) -> str:
    """`audit/<yyyy>/<mm>.jsonl` for a record time (UTC)."""
    if isinstance(time, _dt.datetime):
        utc = time.astimezone(_dt.timezone.utc) if time.tzinfo else time
        return f"{AUDIT_PREFIX}{utc.year:04d}/{utc.month:02d}.jsonl"
    match = _TIME.fullmatch(time or "")
    if not match:
        raise InputError(f"audit time {time!r} is not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SSZ)")
    return f"{AUDIT_PREFIX}{match.group(1)}/{match.group(2)}.jsonl"


def _month_after(name: str) -> str:
    match = BLOB_NAME.search(name)
    if not match:
        raise InputError(f"{name} is not an audit blob name (audit/<yyyy>/<mm>.jsonl)")
    year, month = int(match.group(1)), int(match.group(2))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{AUDIT_PREFIX}{year:04d}/{month:02d}.jsonl"


# --- lines ------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditLine:
    record: AuditRecord
    seq: int
    prev: str
    keyid: str
    sig: bytes
    raw: bytes  # the exact line, with its LF
    file: str
    lineno: int

    @property
    def digest(self) -> str:
        return line_hash(self.raw)

    @property
    def is_seal(self) -> bool:
        return self.record.action == SEAL_ACTION


def line_hash(line: bytes) -> str:
    """sha256 hex of a line's exact bytes (with its LF): the next line's `prev`."""
    return hashlib.sha256(line).hexdigest()


def signed_bytes(doc: Mapping[str, Any]) -> bytes:
    """The bytes a line's signature covers: canonical JSON of the line object without `sig`."""
    return canonical.dumps({k: v for k, v in doc.items() if k != "sig"})


def _last_line(tail: bytes) -> bytes | None:
    """The last complete line of `tail` (with its LF), or None when `tail` holds no line."""
    if not tail:
        return None
    if not tail.endswith(b"\n"):
        raise InputError("audit log tail does not end with LF: read the whole last line before appending")
    start = tail.rfind(b"\n", 0, len(tail) - 1) + 1
    return tail[start:]


def make_line(record: AuditRecord, prev_line_bytes: bytes | None, key: SigningKey) -> bytes:
    """The signed line for `record`, chained to `prev_line_bytes` (None or b"" for the first line)."""
    record.check()
    if prev_line_bytes:
        if not prev_line_bytes.endswith(b"\n") or prev_line_bytes.count(b"\n") != 1:
            raise InputError("make_line needs the previous line alone, with its LF (next_line_for takes a whole tail)")
        try:
            previous = parse_line(prev_line_bytes, "audit log", 0)
        except AuditChainError as exc:
            raise VerificationError(f"cannot append: the audit log's last line is not a valid audit line "
                                    f"({exc.failure.reason})") from None
        seq, prev = previous.seq + 1, line_hash(prev_line_bytes)
    else:
        seq, prev = 1, GENESIS_PREV
    doc: dict[str, Any] = {"format": record.format, "seq": seq, "prev": prev, "keyid": key.key_id, **record.to_dict()}
    doc["sig"] = base64.b64encode(key.sign(signed_bytes(doc))).decode("ascii")
    return canonical.dumps(doc)


def next_line_for(tail_bytes: bytes, record: AuditRecord, key: SigningKey) -> bytes:
    """The line to append after the log's current tail (the latest file, or at least its last line).

    A writer whose conditional append lost a race re-reads the tail and calls this again:
    `prev` and `seq` come from whatever line is last now; the record stays as it was.
    """
    return make_line(record, _last_line(tail_bytes), key)


@dataclass(frozen=True)
class AppendStep:
    """One conditional write. create: If-None-Match * on a new blob; else append at `append_pos`."""

    blob: str
    line: bytes
    create: bool
    append_pos: int = 0


def plan_append(latest: tuple[str, bytes] | None, record: AuditRecord, key: SigningKey,
                *, seal_actor: str | None = None) -> list[AppendStep]:
    """The writes that add `record` to the log, given the latest month blob (name, content) or None.

    Same month: one append. A later month: a seal appended to the old file, then the new
    month's file created with the record. A record older than the latest file (clock skew)
    goes to the latest file, so the chain only ever grows at one end.
    """
    record.check()
    if latest is None:
        return [AppendStep(blob_name(record.time), make_line(record, None, key), create=True)]
    name, content = latest
    tail = _last_line(content)
    if tail is None:
        raise InputError(f"{name} is empty; audit blobs are created with their first line")
    try:
        sealed = parse_line(tail, name, content.count(b"\n")).is_seal
    except AuditChainError as exc:
        raise VerificationError(f"cannot append to {name}: its last line is not a valid audit line "
                                f"({exc.failure.reason})") from None
    target = blob_name(record.time)
    if not sealed and target <= name:
        return [AppendStep(name, make_line(record, tail, key), create=False, append_pos=len(content))]
    steps: list[AppendStep] = []
    if sealed:
        new_name = max(target, _month_after(name))
    else:
        new_name = target
        seal = make_line(seal_record(record.time, seal_actor or record.actor, record.correlation_id), tail, key)
        steps.append(AppendStep(name, seal, create=False, append_pos=len(content)))
        tail = seal
    steps.append(AppendStep(new_name, make_line(record, tail, key), create=True))
    return steps


# --- parsing ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChainFailure:
    file: str
    line: int  # 1-based line number in `file`
    kind: str  # changed | removed | inserted | reordered | truncated | foreign-key | unsealed
    reason: str

    def message(self) -> str:
        return f"{self.file} line {self.line}: {self.reason}"


class AuditChainError(VerificationError):
    """The audit log failed verification; `failure` names the first bad line."""

    kind = "audit-chain"

    def __init__(self, failure: ChainFailure):
        self.failure = failure
        super().__init__(failure.message())


def chain_error(file: str, line: int, kind: str, reason: str) -> AuditChainError:
    return AuditChainError(ChainFailure(file, line, kind, reason))


def parse_line(raw: bytes, file: str, lineno: int) -> AuditLine:
    """One complete line (with LF), strictly: exact keys and types, canonical bytes."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise chain_error(file, lineno, "changed", "changed: not a valid JSON line") from None
    found = doc.get("format") if isinstance(doc, dict) else None
    if not isinstance(found, str) or found not in _LINE_KEYS_BY_FORMAT:  # (a list is not hashable)
        raise chain_error(file, lineno, "changed", f"changed: format is {found!r}, not an audit line format")
    if set(doc) != _LINE_KEYS_BY_FORMAT[doc["format"]]:
        raise chain_error(file, lineno, "changed", "changed: not an audit line (wrong keys)")
    if canonical.dumps(doc) != raw:
        raise chain_error(file, lineno, "changed", "changed: not in canonical JSON form")
    seq = doc["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise chain_error(file, lineno, "changed", "changed: seq is not a positive integer")
    if not isinstance(doc["prev"], str) or not _HEX64.fullmatch(doc["prev"]):
        raise chain_error(file, lineno, "changed", "changed: prev is not a sha256 hex digest")
    if not isinstance(doc["keyid"], str) or not isinstance(doc["sig"], str):
        raise chain_error(file, lineno, "changed", "changed: keyid and sig must be strings")
    try:
        sig = base64.b64decode(doc["sig"].encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise chain_error(file, lineno, "changed", "changed: sig is not base64") from None
    tenants = doc["tenants"]
    if not isinstance(tenants, list) or not all(isinstance(t, str) for t in tenants):
        raise chain_error(file, lineno, "changed", "changed: tenants is not a list of strings")
    fields = {name: doc[name] for name in _RECORD_FIELDS}
    fields["tenants"] = tuple(tenants)
    if doc["format"] == AUDIT_FORMAT_REASON:
        fields["reason"] = doc["reason"]
        if doc["reason"] is None:  # a /2 line exists only for its reason
            raise chain_error(file, lineno, "changed", "changed: a b2release-audit/2 line without a reason")
    record = AuditRecord(**fields)
    try:
        record.check()
    except InputError as exc:
        raise chain_error(file, lineno, "changed", f"changed: {exc.message}") from None
    return AuditLine(record, seq, doc["prev"], doc["keyid"], sig, raw, file, lineno)


def split_lines(data: bytes) -> list[tuple[int, bytes, bool]]:
    """(line number, bytes with LF, complete) for each line; the last may lack its LF."""
    out = []
    pos, lineno = 0, 0
    while pos < len(data):
        lineno += 1
        end = data.find(b"\n", pos)
        if end < 0:
            out.append((lineno, data[pos:], False))
            break
        out.append((lineno, data[pos:end + 1], True))
        pos = end + 1
    return out


def parse_lines(data: bytes, what: str = "audit log") -> list[AuditLine]:
    """Every line of one audit file, strictly; AuditChainError names the first bad line.

    Parsing checks each line's form only; `verify_chain` checks signatures and the chain.
    """
    lines = []
    for lineno, raw, complete in split_lines(data):
        if not complete:
            raise chain_error(what, lineno, "truncated", "truncated: the last line has no terminating LF")
        lines.append(parse_line(raw, what, lineno))
    return lines


# --- verification -------------------------------------------------------------------------
