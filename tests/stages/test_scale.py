"""Many tenants, many versions (issue #17, part 3), small: benchmarks/bench_scale.py on the
file store with a few tenants and versions. Every command's result is checked by the
benchmark itself; here, its store operations must grow linearly with the tenants (the file
store's counts are exact, so "linear" is checked exactly for upload, rollback and status)."""

from __future__ import annotations

import os

from benchmarks.bench_scale import run, table


def test_scale_benchmark_is_correct_and_linear(tmp_path, dev_keys):
    saved = dict(os.environ)
    try:
        for key in [k for k in os.environ if k.startswith("B2RELEASE_")]:
            del os.environ[key]
        rows = run("file", tmp_path / "file", dev_keys, tenants=8, versions=4, steps=[2, 4, 8], log=lambda _: None)
    finally:  # run() sets its store settings in the environment
        os.environ.clear()
        os.environ.update(saved)
    by = {(r.command, r.tenants): r.requests for r in rows}
    for command in ("upload", "rollback", "status"):
        r2, r4, r8 = by[command, 2], by[command, 4], by[command, 8]
        assert r8 - r4 == 2 * (r4 - r2) > 0, (command, r2, r4, r8)  # requests = a + b * tenants
    # promote: a destination channel that is new costs one read less; the slope stays within one per tenant.
    slopes = [(by["promote", 4] - by["promote", 2]) / 2, (by["promote", 8] - by["promote", 4]) / 4]
    assert abs(slopes[0] - slopes[1]) <= 1, slopes
    assert "req/tenant" in table(rows)
