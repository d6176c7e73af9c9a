"""--last-seen: per-place entries, written under a lock, never lowered by a concurrent run."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from b2release.errors import InputError
from b2release.verification import last_seen


def entry(sequence: int) -> dict:
    return {"sequence": sequence, "version": "1.0.0", "manifest_sha256": "0" * 64}


def test_a_lower_sequence_never_replaces_a_higher_one(tmp_path):
    path = tmp_path / "seen.json"
    key = last_seen.key_for("cdn.example", "tenant-acme", "app", "stable")
    last_seen.record(path, key, entry(5))
    last_seen.record(path, key, entry(3))  # a slower run that verified an older pointer
    assert last_seen.load_last_seen(path)["pointers"][key]["sequence"] == 5
    last_seen.record(path, key, entry(6))
    assert last_seen.load_last_seen(path)["pointers"][key]["sequence"] == 6


def _writer(path: str, sequences: list[int], container: str) -> None:
    key = last_seen.key_for("h", container, "app", "stable")
    for sequence in sequences:
        last_seen.record(Path(path), key, entry(sequence))


def test_concurrent_runs_keep_every_entry_at_its_highest(tmp_path):
    path = tmp_path / "seen.json"
    ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    jobs = [ctx.Process(target=_writer, args=(str(path), list(range(start, 60, 3)), f"tenant-{start % 2}"))
            for start in range(6)]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(60)
        assert job.exitcode == 0
    pointers = json.loads(path.read_text())["pointers"]
    assert {k.split("/")[1]: v["sequence"] for k, v in pointers.items()} == {"tenant-0": 59, "tenant-1": 59}


def test_an_unwritable_place_fails_before_anything_is_verified(tmp_path):
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    with pytest.raises(InputError, match="cannot write beside it"):
        last_seen.check_writable(blocked / "seen.json")


def test_a_corrupt_record_is_refused_not_reset(tmp_path):
    path = tmp_path / "seen.json"
    path.write_text("{not json")
    with pytest.raises(InputError, match="not a readable JSON file"):
        last_seen.record(path, "k", entry(1))
    assert path.read_text() == "{not json"
