"""`audit show` and `audit verify`: the release audit log of store changes (formats/auditlog.py).

The log is read from the release container of the store (`audit/<yyyy>/<mm>.jsonl`,
stores/audit.py), or from local copies of its month files (arguments: files or folders).

- `show` lists the changes (who, when, which command, what moved where). It checks each
  line's form, not the signatures or the chain: that is `verify`'s job, and the summary says so.
- `verify` checks the whole chain with the release public key: every signature, hash link,
  position and month seal; exit 1 names the first line changed, removed, inserted or
  reordered. `--expect-head` (the head a previous run printed) also catches lines removed
  from the end, which the log alone cannot show.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

from b2release.accesslogs.thresholds import parse_since
from b2release.context import Context
from b2release.errors import InputError, UsageError
from b2release.formats import auditchain, auditlog
from b2release.stages import StageResult
from b2release.stores import open_store
from b2release.stores.audit import read_log
from b2release.stores.tenants import validate_tenant_id

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _month_key(path: Path) -> tuple[int, int] | None:
    match = auditlog.BLOB_NAME.search(path.as_posix())
    return (int(match.group(1)), int(match.group(2))) if match else None


def _local_files(paths: list[Path]) -> list[tuple[str, bytes]]:
    """Month files named or found under folders, in chain order (by year and month in their path)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(p for p in path.rglob("*.jsonl") if p.is_file() and _month_key(p) is not None)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"audit log {path} does not exist")
    if not files:
        raise InputError(f"no audit log month files (<yyyy>/<mm>.jsonl) in {', '.join(map(str, paths))}")
    if all(_month_key(f) is not None for f in files):
        files.sort(key=lambda f: _month_key(f) or (0, 0))
    out = []
    for file in files:
        try:
            out.append((str(file), file.read_bytes()))
        except OSError as exc:
            raise InputError(f"cannot read audit log {file}: {exc.strerror}") from None
    return out


def _load(ctx: Context, opts: Any) -> tuple[list[tuple[str, bytes]], str]:
    if opts.paths:
        return _local_files([Path(p) for p in opts.paths]), ", ".join(str(p) for p in opts.paths)
    container = ctx.config.get("store.release_container")
    with open_store(ctx.config, opts.store, ctx.correlation_id) as store:
        return read_log(store, container), f"{store.description} {container}/{auditlog.AUDIT_PREFIX}"


def _line_doc(line: auditlog.AuditLine) -> dict[str, Any]:
    return {"file": line.file, "line": line.lineno, "seq": line.seq, **line.record.to_dict()}


def _render(ctx: Context, lines: list[auditlog.AuditLine]) -> None:
    for line in lines:
        r = line.record
        what = " ".join(filter(None, [r.product, r.version, f"channel {r.channel}" if r.channel else None]))
        moved = (f" sequence {r.sequence_before}->{r.sequence_after}" if r.sequence_after is not None else "")
        tenants = f" tenants {','.join(r.tenants)}" if r.tenants else ""
        grant = f" grant {r.grant_id}" if r.grant_id else ""
        ctx.console.print(f"{r.time}  #{line.seq}  {r.command}/{r.action}  {what}{moved}{tenants}{grant}  by {r.actor}",
                          markup=False, highlight=False)


def show(ctx: Context, opts: Any) -> StageResult:
    if opts.limit is not None and opts.limit < 1:
        raise UsageError("--limit must be at least 1")
    files, where = _load(ctx, opts)
    since: _dt.datetime | None = parse_since(opts.since) if opts.since else None
    lines = [line for name, data in files for line in auditlog.parse_lines(data, name)]
    if since is not None:
        lines = [line for line in lines if auditlog_time(line) >= since]
    if opts.tenant is not None:
        tenant = validate_tenant_id(opts.tenant)
        lines = [line for line in lines if tenant in line.record.tenants]
    if opts.limit is not None:
        lines = lines[-opts.limit:]
    if not ctx.json_output and ctx.verbosity >= 0:
        _render(ctx, lines)
    data = {"source": where, "files": [name for name, _ in files], "lines": [_line_doc(line) for line in lines],
            "verified": False}
    return StageResult(stage="audit", data=data,
                       summary=f"audit log: {len(lines)} change(s) from {where} (not verified: run `b2release audit verify`)")


def auditlog_time(line: auditlog.AuditLine) -> _dt.datetime:
    return _dt.datetime.fromisoformat(line.record.time.replace("Z", "+00:00"))


def verify(ctx: Context, opts: Any) -> StageResult:
    if opts.expect_head is not None and not _HEX64.fullmatch(opts.expect_head):
        raise UsageError("--expect-head must be the 64 hex digits `audit verify` printed as the head")
    key = ctx.public_key(opts.public_key)
    files, where = _load(ctx, opts)
    result = auditchain.verify_chain(files, key, expect_head=opts.expect_head)
    data = {"source": where, "verified": True, **asdict(result), "file_names": [name for name, _ in files]}
    if not files:
        summary = f"audit log: none in {where} yet"
    else:
        summary = (f"audit log verified: {result.lines} line(s) in {result.files} file(s), seq {result.first_seq}.."
                   f"{result.last_seq}, key {result.key_id[:16]}...; head {result.head}")
    return StageResult(stage="audit", summary=summary, data=data)
