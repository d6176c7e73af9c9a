"""Checking the release audit log's chain (formats/auditlog.py describes the format).

`verify_chain` re-checks every month file in order: hash links, positions, signatures and
seals, and names the first line that was changed, removed, inserted or reordered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from b2release.errors import InputError, VerificationError
from b2release.formats.auditlog import (
    AUDIT_PREFIX,
    BLOB_NAME,
    GENESIS_PREV,
    AuditLine,
    chain_error,
    parse_line,
    signed_bytes,
    split_lines,
)
from b2release.formats.signature import PublicKey


@dataclass(frozen=True)
class ChainResult:
    files: int
    lines: int
    first_seq: int | None
    last_seq: int | None
    head: str  # sha256 of the last line: the `prev` of the next line to come
    key_id: str


def _load(item: tuple[str, bytes] | Path | str) -> tuple[str, bytes]:
    if isinstance(item, tuple):
        return item
    path = Path(item)
    try:
        return str(path), path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read audit log {path}: {exc.strerror}") from None


def verify_chain(files_in_order: Iterable[tuple[str, bytes] | Path | str], public_key: PublicKey,
                 *, start_prev: str | None = GENESIS_PREV, start_seq: int | None = 1,
                 expect_head: str | None = None) -> ChainResult:
    """Verify audit files (oldest first) as one chain signed by `public_key`.

    `start_prev`/`start_seq` anchor the first line (the log's genesis by default); pass None
    for both to verify a later stretch of the log from wherever it starts. Raises
    AuditChainError naming the first line (file and line number) that was changed, removed,
    inserted, reordered or truncated.
    """
    files = [_load(item) for item in files_in_order]
    entries: list[tuple[str, int, bytes, bool]] = []  # file, line number, bytes, complete
    for name, data in files:
        entries.extend((name, lineno, raw, complete) for lineno, raw, complete in split_lines(data))

    def later_seqs(start: int) -> dict[int, tuple[str, int]]:
        found: dict[int, tuple[str, int]] = {}
        for name, lineno, raw, _complete in entries[start:]:
            try:
                found.setdefault(int(json.loads(raw)["seq"]), (name, lineno))
            except (ValueError, KeyError, TypeError):
                continue
        return found

    previous: AuditLine | None = None
    first_seq: int | None = None
    for index, (name, lineno, raw, complete) in enumerate(entries):
        if not complete:
            raise chain_error(name, lineno, "truncated", "truncated: the last line has no terminating LF (cut short)")
        if raw == b"\n":
            raise chain_error(name, lineno, "inserted", "inserted: an empty line")
        line = parse_line(raw, name, lineno)
        if line.keyid != public_key.key_id:
            raise chain_error(name, lineno, "foreign-key",
                        f"inserted or re-signed: signed by key {line.keyid[:16]}..., not the release key "
                        f"{public_key.key_id[:16]}...")
        try:
            public_key.verify(signed_bytes(json.loads(raw)), line.sig, f"{name} line {lineno}")
        except VerificationError:
            raise chain_error(name, lineno, "changed", "changed: the line's signature does not verify") from None
        if previous is None:
            expected_seq = start_seq
            expected_prev = start_prev
        else:
            expected_seq = previous.seq + 1
            expected_prev = previous.digest
            if previous.is_seal and previous.file == name:
                raise chain_error(name, lineno, "inserted", "inserted: a line after its month's seal line")
            if previous.file != name and not previous.is_seal:
                raise chain_error(name, lineno, "unsealed",
                            f"removed: {previous.file} does not end with a seal line, so lines were removed from its end "
                            "(or a month file is missing)")
        if expected_seq is not None and line.seq != expected_seq:
            if line.seq > expected_seq:
                later = later_seqs(index + 1).get(expected_seq)
                if later is not None:
                    raise chain_error(name, lineno, "reordered",
                                f"reordered: seq {line.seq} where {expected_seq} belongs ({expected_seq} is at "
                                f"{later[0]} line {later[1]})")
                missing = line.seq - expected_seq
                raise chain_error(name, lineno, "removed",
                            f"removed: {missing} line{'s' if missing > 1 else ''} missing before this one "
                            f"(seq {expected_seq}..{line.seq - 1})")
            raise chain_error(name, lineno, "reordered",
                        f"reordered or inserted: seq {line.seq} comes after seq {expected_seq - 1}")
        if expected_prev is not None and line.prev != expected_prev:
            what = "the start of the log" if previous is None else f"{previous.file} line {previous.lineno}"
            raise chain_error(name, lineno, "inserted",
                        f"prev does not match {what}: a line before it was replaced, or this line was inserted")
        if first_seq is None:
            first_seq = line.seq
        previous = line
    head = previous.digest if previous else (start_prev or GENESIS_PREV)
    if expect_head is not None and head != expect_head:
        where = f"{previous.file} line {previous.lineno}" if previous else "the start"
        raise chain_error(previous.file if previous else "audit log", previous.lineno if previous else 0, "removed",
                    f"removed: the log ends at {where}, which is not the expected head {expect_head[:16]}... "
                    "(lines were removed from the end)")
    return ChainResult(len(files), len(entries), first_seq, previous.seq if previous else None, head,
                       public_key.key_id)


def chain_files(names: Sequence[str]) -> list[str]:
    """Audit blob names in chain order (by year and month), ignoring anything else under audit/."""
    return sorted(n for n in names if BLOB_NAME.search(n) and n.startswith(AUDIT_PREFIX))
