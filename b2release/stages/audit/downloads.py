"""`audit downloads`: who downloaded which release with which grant, from Azure Storage's own request logs.

Reads local log files/folders (arguments), or the log containers of a store (`--logs-store`,
else `[audit] logs_store`, else the release store): see logsources.py. Attribution, report,
JSON lines and thresholds are b2release.accesslogs'; this module wires them to the command:

- "revoked" needs the live stored access policy ids: `--live-grant ID` (repeatable), else,
  when the release store has grants (Azure), the policies of every tenant container a SAS
  request in the logs went to. A container that no longer exists has none.
- The logs are parsed once per use (report, then the export) rather than held in memory:
  an hour of a busy account is large, and parsing again is cheaper than keeping it.
- The text report goes to stderr with the other human output; `--json` is the one document
  on stdout; `--export FILE` writes JSON lines (`-`: stdout, not with --json), each with the
  request's Azure id (`correlation_id`) and this audit run's id (`b2release_correlation_id`).
- Thresholds (`--fail-on-error-rate`, `--fail-on-unauthorized`) exit 1 naming each one that
  tripped, after the report was printed and the export written, so the alert has its evidence.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterator

from b2release import log
from b2release.accesslogs import FORMATS, build_report, check_thresholds, export_lines, read_requests, render_text
from b2release.accesslogs.model import ParseProblem, Request
from b2release.accesslogs.reader import log_files
from b2release.accesslogs.thresholds import parse_count, parse_error_rate, parse_since
from b2release.context import Context
from b2release.errors import CheckFailed, InputError, UsageError
from b2release.formats import canonical
from b2release.fsutil import atomic_writer
from b2release.stages import StageResult
from b2release.stages.audit.logsources import LogFiles, from_store
from b2release.stores import Store, open_store
from b2release.stores.tenants import TENANT_PREFIX

logger = log.get("audit")
DEFAULT_STORE_PERIOD = "1d"  # from a store, reading all history by accident would be slow and costly


def _check_usage(opts: Any, json_output: bool) -> None:
    if opts.log_type not in FORMATS:
        raise UsageError(f"unknown --format {opts.log_type!r}: use one of {', '.join(FORMATS)}")
    if opts.fail_on_error_rate is not None:
        parse_error_rate(opts.fail_on_error_rate)
    if opts.fail_on_unauthorized is not None:
        parse_count(opts.fail_on_unauthorized)
    if opts.export == "-" and json_output:
        raise UsageError("--export - writes JSON lines to stdout, which --json needs for its document: "
                         "export to a file instead")
    if opts.paths and opts.logs_store:
        raise UsageError("give log files or --logs-store, not both")


def _local_files(paths: list[Path]) -> LogFiles:
    files = log_files(paths)  # InputError naming a missing path
    if not files:
        raise InputError(f"no log files in {', '.join(str(p) for p in paths)}")
    return LogFiles(files, {}, blobs=len(files), where=", ".join(str(p) for p in paths))


def _live_policies(ctx: Context, opts: Any, containers: set[str]) -> tuple[set[str] | None, str]:
    """The live stored access policy ids, and where they came from ("" when not known)."""
    if opts.live_grants:
        return set(opts.live_grants), "--live-grant"
    tenants = {c for c in containers if c.startswith(TENANT_PREFIX)}
    if not tenants:
        return None, ""
    with open_store(ctx.config, opts.store, ctx.correlation_id) as store:
        get_policies: Callable[[str], dict[str, Any]] | None = getattr(store, "get_policies", None)
        if not store.supports_grants or get_policies is None:
            return None, ""  # a folder store has no grants, so nothing can have been revoked
        if not getattr(getattr(store, "auth", None), "account_key", None):
            # Stored access policies are read with Shared Key only (as grant and revoke write them).
            logger.warning("no account key for %s: revoked grants are not told apart (they show as rejected when "
                           "Azure refused them); set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_KEY, or pass "
                           "--live-grant", store.description)
            return None, ""
        live: set[str] = set()
        for container in sorted(tenants):
            try:
                live.update(get_policies(container))
            except InputError:  # the container is gone: none of its grants is live
                logger.warning("container %s no longer exists: its grants count as revoked", container)
        return live, store.description


def _write_export(target: str, lines: Iterator[bytes], run_id: str) -> int:
    count = 0

    def stamped() -> Iterator[bytes]:
        nonlocal count
        for line in lines:
            count += 1
            yield canonical.dumps({**json.loads(line), "b2release_correlation_id": run_id})

    if target == "-":
        for line in stamped():
            sys.stdout.write(line.decode("utf-8"))
        sys.stdout.flush()
    else:
        try:
            with atomic_writer(Path(target)) as out:
                for line in stamped():
                    out.write(line)
        except OSError as exc:
            raise InputError(f"cannot write --export {target}: {exc.strerror or exc}") from None
    return count


def run(ctx: Context, opts: Any) -> StageResult:
    _check_usage(opts, ctx.json_output)
    logs_url = opts.logs_store or ctx.config.get("audit.logs_store") or None
    since_text = opts.since if opts.since is not None else (None if opts.paths else DEFAULT_STORE_PERIOD)
    since: _dt.datetime | None = parse_since(since_text) if since_text else None
    release_container = ctx.config.get("store.release_container")

    with tempfile.TemporaryDirectory(prefix="b2release-audit-") as tmp:
        if opts.paths:
            files = _local_files([Path(p) for p in opts.paths])
        else:
            store: Store
            with open_store(ctx.config, logs_url or opts.store, ctx.correlation_id) as store:
                files = from_store(store, since, Path(tmp))
            if not files.paths:
                logger.warning("no request logs in %s%s: are the logs switched on (docs/monitoring.md)?", files.where,
                               f" since {since_text}" if since else "")

        def items() -> Iterator[Request | ParseProblem]:
            return files.shown(read_requests(files.paths, opts.log_type))

        # First pass without policies: it names the containers whose grants need checking.
        report = build_report(items(), None, since, release_container)
        live, policies_from = _live_policies(ctx, opts, {g.container for g in report.grants})
        if live is not None:
            report = build_report(items(), live, since, release_container)
        exported = None
        if opts.export:
            exported = _write_export(opts.export, export_lines(items(), live, since, release_container),
                                     ctx.correlation_id)

    if not ctx.json_output and ctx.verbosity >= 0:
        ctx.console.print(render_text(report), markup=False, highlight=False, end="")
    trips = check_thresholds(report, opts.fail_on_error_rate, opts.fail_on_unauthorized)
    data: dict[str, Any] = {
        "source": files.where,
        "log_files": len(files.paths),
        "log_blobs_outside_period": files.skipped,
        "since": since.isoformat().replace("+00:00", "Z") if since else None,
        "live_grants_from": policies_from or None,
        "report": report.to_dict(),
        "thresholds": [asdict(t) for t in trips],
    }
    if exported is not None:
        data["export"] = {"target": opts.export, "lines": exported}
    if report.problems:
        logger.warning("%d log line(s) could not be read (first: %s)", report.problems,
                       report.problem_samples[0].source)
    if trips:
        raise CheckFailed("download audit: " + "; ".join(t.message for t in trips), details=data)
    summary = (f"download audit: {report.requests} requests, {report.total_downloads} downloads, "
               f"{report.errors} errors ({report.error_rate:.2%}), {report.unauthorized} unauthorized, "
               f"{len(report.expired_or_revoked)} with expired or revoked grants")
    return StageResult(stage="audit", summary=summary, data=data)
