"""fanout: bounded, ordered, and every call settles before an error is raised."""

from __future__ import annotations

import threading
import time

import pytest

from b2release import fanout


def test_results_keep_the_items_order_and_concurrency_is_bounded():
    running, peak, lock = [0], [0], threading.Lock()

    def work(n: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.01 * (n % 3))  # finish out of order
        with lock:
            running[0] -= 1
        return n * n

    assert fanout.each(work, list(range(20)), 4) == [n * n for n in range(20)]
    assert 1 < peak[0] <= 4


def test_every_call_settles_then_the_first_error_in_items_order_is_raised():
    done: list[int] = []

    def work(n: int) -> int:
        if n in (3, 7):
            time.sleep(0.05 if n == 3 else 0)  # 7 fails first in time, 3 first in order
            raise ValueError(f"item {n}")
        done.append(n)
        return n

    with pytest.raises(ValueError, match="item 3"):
        fanout.each(work, list(range(10)), 3)
    assert sorted(done) == [0, 1, 2, 4, 5, 6, 8, 9]  # nothing abandoned part-way
    outcomes = fanout.settle_all(work, [1, 3], 2)
    assert outcomes[0].value == 1 and isinstance(outcomes[1].error, ValueError)


def test_one_worker_runs_in_order_in_the_calling_thread():
    threads: list[int] = []
    fanout.each(lambda n: threads.append(threading.get_ident()), [1, 2, 3], 1)
    assert set(threads) == {threading.get_ident()}
    assert fanout.each(lambda n: n, [], 8) == []
