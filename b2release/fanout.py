"""Doing one thing for many containers at once, bounded (`[store] fanout`).

A release goes to tens of tenants: each one costs a few requests (read its channel, list its
version, copy each file, write its pointer), and done one after the other they dominate an
upload (issue #16: 50 tenants took 2.7x one tenant). Those requests wait on the network, so
a few threads overlap them.

`settle_all` runs every call to its end, even after one failed, so nothing is still running
when the caller reports a failure (and a caller that must say what did change, like
repoint.write_moves, learns every outcome). Results keep the order of the items given.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Generic, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Outcome(Generic[T, R]):
    item: T
    value: R | None = None
    error: BaseException | None = None


def settle_all(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[Outcome[T, R]]:
    """`fn` over `items`, at most `workers` at a time; every outcome, in the items' order."""
    if not items:
        return []
    if workers <= 1 or len(items) == 1:  # no thread for one item (the common single-tenant case)
        return [_outcome(fn, item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(lambda item: _outcome(fn, item), items))


def each(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """`fn` over `items` as settle_all; raises the first error (in the items' order) once all
    have settled, else returns the results in the items' order."""
    outcomes = settle_all(fn, items, workers)
    for outcome in outcomes:
        if outcome.error is not None:
            raise outcome.error
    return [outcome.value for outcome in outcomes]  # type: ignore[misc]


def _outcome(fn: Callable[[T], R], item: T) -> Outcome[T, R]:
    try:
        return Outcome(item, value=fn(item))
    except BaseException as exc:  # collected: the caller raises or reports it
        return Outcome(item, error=exc)
