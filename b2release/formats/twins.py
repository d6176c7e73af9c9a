"""Identical content worked on once, by the package writer and by verify.

Releases repeat files (the same assembly beside several programs, per-framework folders).
Deflate is deterministic, so a file whose content another file already has gets the same
compressed bytes (archive.py shares them instead of deflating again); and an entry whose
compressed bytes, CRC-32 and sizes equal an entry already inflated and hashed has the same
content (archive_hash.py takes its digest instead of inflating again). Either way the
result is the one the work itself would give, never a guess.

The first worker to see a key claims it and does the work; another worker with the same
key waits for that result. If the claimer fails, a waiter does its own work (it then
reports its own error), so nothing is lost but time.
"""

from __future__ import annotations

import threading
from typing import Generic, Hashable, TypeVar

R = TypeVar("R")


class Twins(Generic[R]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[Hashable, R] = {}
        self._pending: dict[Hashable, threading.Event] = {}

    def claim(self, key: Hashable) -> R | None:
        """The finished result for `key`, or None: the caller does the work and must `publish`."""
        while True:
            with self._lock:
                if key in self._done:
                    return self._done[key]
                event = self._pending.get(key)
                if event is None:
                    self._pending[key] = threading.Event()
                    return None
            event.wait()

    def publish(self, key: Hashable, result: R | None) -> None:
        """What the claimer found (None: it failed; a waiter then works on its own)."""
        with self._lock:
            if result is not None:
                self._done[key] = result
            self._pending.pop(key).set()


def twin_rank(sizes: list[int]) -> list[int]:
    """For each item, how many items of the same size come before it. Scheduling by
    (rank, largest first) starts every first copy before any likely twin, so twins find
    their result done instead of waiting for it side by side."""
    rank: list[int] = []
    count: dict[int, int] = {}
    for size in sizes:
        rank.append(count.get(size, 0))
        count[size] = rank[-1] + 1
    return rank
