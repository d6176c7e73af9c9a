"""Many tenants, many versions (issue #17, part 3): upload, promote, rollback and a status read
against one store holding TENANTS tenants and VERSIONS versions, for growing tenant counts.

The store is filled first with VERSIONS complete releases in every tenant's container: all
but the last two are seeded through the store API (each file written into the release
container and every tenant's, 8 writes in parallel, one request each; no pointers: a quick
fill, the measured commands below do not depend on how the old versions got there), the
last two are uploaded to every tenant by `b2release upload` (stable ends on the last one,
at sequence 2). Then, for each tenant count T in --steps (the first T tenants), on that
full store:

    upload    a new version to stable, for T tenants (+ the release container)
    promote   stable -> canary, for T tenants
    rollback  stable back to the previous version, for T tenants
    status    read and verify every stable and canary pointer of the T tenants (what
              `b2release status` will read), through the store API

and checks each result (every pointer of the T tenants verifies and names what it should;
the other tenants are untouched). It prints, per command and T: seconds, requests (HTTP
requests b2release sent, counted by a loopback proxy, for Azurite; store operations for the
file store), and both per tenant. Linear growth shows as flat per-tenant columns.

Run: `make bench`, or `python benchmarks/bench_scale.py [--backend file,azurite]
[--tenants 200] [--versions 50] [--steps 25,50,100,200]`. Needs Azurite for `azurite`
(`make tools`).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PRODUCT = "bench-connector"
COMMANDS = ("upload", "promote", "rollback", "status")


@dataclass
class Row:
    backend: str
    command: str
    tenants: int
    seconds: float
    requests: int

    @property
    def per_tenant(self) -> tuple[float, float]:
        return self.seconds / self.tenants, self.requests / self.tenants


class Counting:
    """A Store wrapper counting every call of the store interface (file store 'requests').

    Calls on the audit log (`audit/...`) are not counted: a command appends one line per
    group of containers that moved alike, a small number that depends on the store's
    history, not on the tenant count this benchmark grows."""

    def __init__(self, inner: Any, counter: list[int]):
        self._inner, self._counter = inner, counter

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if callable(value) and name not in ("close", "__enter__", "__exit__"):
            def counted(*args: Any, **kwargs: Any) -> Any:
                if not any(isinstance(a, str) and a.startswith("audit/") for a in args):
                    self._counter[0] += 1
                return value(*args, **kwargs)
            return counted
        return value

    def __enter__(self) -> Counting:
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.close()


def cli(*args: Any) -> None:
    """b2release in this process; output kept; a failure raises with it."""
    from b2release.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    if code != 0:
        raise SystemExit(f"b2release {' '.join(map(str, args[:4]))} ... exited {code}:\n{err.getvalue()[-2000:]}")


class Bench:
    def __init__(self, backend: str, root: Path, keys: Path, tenants: int, versions: int):
        self.backend, self.root, self.keys = backend, root, keys
        self.tenant_ids = [f"t{i:03d}" for i in range(tenants)]
        self.versions = [f"1.0.{i}" for i in range(versions)]
        self.counter = [0]
        self.proxy = None
        self.azurite = None

    # --- the store ---------------------------------------------------------------------------
    def __enter__(self) -> Bench:
        os.environ["B2RELEASE_PRODUCT_NAME"] = PRODUCT
        os.environ["SOURCE_DATE_EPOCH"] = "1700000000"
        if self.backend == "file":
            os.environ["B2RELEASE_STORE_URL"] = f"file://{self.root / 'store'}"
            import b2release.stores as stores

            real = stores.open_store
            def counted(*args: Any, **kwargs: Any) -> Counting:
                return Counting(real(*args, **kwargs), self.counter)

            for module in ("upload", "promote", "rollback", "refresh"):
                __import__(f"b2release.stages.{module}")
                sys.modules[f"b2release.stages.{module}"].open_store = counted
        else:
            from tests.fixtures.faults import FaultProxy, RestartableAzurite, proxy_connection_string

            self.azurite = RestartableAzurite(self.root / "azurite")
            self.azurite.start()
            self.proxy = FaultProxy(("127.0.0.1", self.azurite.port), max_requests=10**8).start()
            os.environ.update({"AZURE_STORAGE_CONNECTION_STRING": proxy_connection_string(self.proxy),
                               "B2RELEASE_STORE_URL": "azure", "B2RELEASE_STORE_ALLOW_HTTP_EMULATOR": "true",
                               "B2RELEASE_STORE_MAX_CONCURRENCY": "8"})
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        if self.azurite is not None:
            self.azurite.stop()

    def requests(self) -> int:
        if self.proxy is None:
            return self.counter[0]
        # What b2release sent (Azurite's own fetches of copy sources do not carry our id).
        return sum(1 for s in self.proxy.since(0) if "x-ms-client-request-id" in s.headers)

    def open(self):
        from b2release.config import load
        from b2release.stores import open_store

        return open_store(load(None))

    # --- steps -----------------------------------------------------------------------------
    def package(self, version: str) -> Path:
        work = self.root / f"work-{version}"
        if not work.exists():
            source = self.root / f"input-{version}"
            shutil.copytree(REPO / "examples" / "prebuilt", source)
            (source / "README.txt").write_text(f"release {version}\n", encoding="utf-8")
            cli("-q", "--work-dir", work, "package", "--input", source, "--name", PRODUCT, "--version", version,
                "--signing-key", self.keys / "release-signing.key")
        return work

    def tenant_args(self, count: int) -> list[str]:
        return [a for t in self.tenant_ids[:count] for a in ("--tenant", t)]

    def upload(self, version: str, count: int, channel: str = "stable") -> None:
        cli("-q", "--work-dir", self.package(version), "upload", "--channel", channel, "--signing-key",
            self.keys / "release-signing.key", *self.tenant_args(count))

    def direct(self):
        """The store without counting or proxy (for seeding)."""
        if self.azurite is None:
            from b2release.stores.local import LocalStore

            return LocalStore(self.root / "store")
        from b2release.stores.azure import AzureAuth, AzureStore
        from tests.fixtures.azurite import ACCOUNT, ACCOUNT_KEY

        auth = AzureAuth(account_url=f"http://127.0.0.1:{self.azurite.port}/{ACCOUNT}", account_name=ACCOUNT,
                         account_key=ACCOUNT_KEY, source="bench")
        return AzureStore(auth, correlation_id="bench-seed", allow_http=True)

    def seed(self, version: str) -> None:
        """A complete release folder in the release container and in every tenant's, no pointer."""
        from concurrent.futures import ThreadPoolExecutor

        from b2release.fsutil import sha256_file
        from b2release.stores.base import IMMUTABLE_CACHE_CONTROL

        work = self.package(version)
        names = [line.split("  ", 1)[1] for line in (work / "SHA256SUMS").read_text().splitlines()] + ["SHA256SUMS"]
        files = [(name, work / name, sha256_file(work / name)[0]) for name in names]
        prefix = f"{PRODUCT}/{version}/"
        with self.direct() as store:
            for container in ["releases", *[f"tenant-{t}" for t in self.tenant_ids]]:
                store.ensure_container(container)
            for name, path, digest in files:
                store.create_from_file("releases", prefix + name, path, digest, IMMUTABLE_CACHE_CONTROL)
            with ThreadPoolExecutor(8) as pool:
                for batch in (files[:-1], files[-1:]):  # SHA256SUMS last in every container
                    list(pool.map(lambda job: store.create_from_file(f"tenant-{job[0]}", prefix + job[1][0], job[1][1],
                                                                     job[1][2], IMMUTABLE_CACHE_CONTROL),
                                  [(t, f) for t in self.tenant_ids for f in batch]))

    def fill(self) -> float:
        start = time.perf_counter()
        for version in self.versions[:-2]:
            self.seed(version)
        for version in self.versions[-2:]:
            self.upload(version, len(self.tenant_ids))
        return time.perf_counter() - start

    def status(self, count: int) -> dict[str, dict[str, str | None]]:
        from b2release.formats.signature import load_public_key
        from b2release.stores.channels import read_channel

        public = load_public_key(self.keys / "release-signing.pub")
        found: dict[str, dict[str, str | None]] = {}
        with self.open() as store:
            store = Counting(store, self.counter) if self.proxy is None else store
            for container in [f"tenant-{t}" for t in self.tenant_ids[:count]] + ["releases"]:
                for channel in ("stable", "canary"):
                    state = read_channel(store, container, PRODUCT, channel, public)
                    if state.pointer is not None and not state.verified:
                        raise SystemExit(f"{container}/{channel}: pointer does not verify")
                    found.setdefault(container, {})[channel] = state.pointer.version if state.pointer else None
        return found

    def measure(self, command: str, count: int, action: Callable[[], Any]) -> tuple[Row, Any]:
        before = self.requests()
        start = time.perf_counter()
        result = action()
        seconds = time.perf_counter() - start
        return Row(self.backend, command, count, seconds, self.requests() - before), result


def measure_step(bench: Bench, root: Path, keys: Path, new: str, count: int, last: str, previous: str) -> list[Row]:
    """upload `new`, promote stable -> canary, roll stable back to `previous`, read it all: T = count."""
    key = keys / "release-signing.key"
    bench.package(new)
    rows = [
        bench.measure("upload", count, lambda: bench.upload(new, count))[0],
        bench.measure("promote", count, lambda: cli(
            "-q", "--work-dir", root / "promote", "promote", "--from", "stable", "--to", "canary", "--no-purge",
            "--signing-key", key, *bench.tenant_args(count)))[0],
        bench.measure("rollback", count, lambda: cli(
            "-q", "--work-dir", root / "rollback", "rollback", "--to", previous, "--reason", "bench", "--no-purge",
            "--signing-key", key, *bench.tenant_args(count)))[0],
    ]
    row, seen = bench.measure("status", count, lambda: bench.status(count))
    rows.append(row)
    # Correct: the T tenants (and the release container) rolled back, canary on the new version;
    # every other tenant untouched (stable on the last filled version).
    for tenant in bench.tenant_ids[:count]:
        assert seen[f"tenant-{tenant}"] == {"stable": previous, "canary": new}, (tenant, seen[f"tenant-{tenant}"])
    assert seen["releases"] == {"stable": previous, "canary": new}, seen["releases"]
    rest = bench.status(len(bench.tenant_ids))
    for tenant in bench.tenant_ids[count:]:
        assert rest[f"tenant-{tenant}"]["stable"] == last, tenant
    return rows


def run(backend: str, root: Path, keys: Path, tenants: int, versions: int, steps: list[int],
        log: Callable[[str], None] = print) -> list[Row]:
    """Fill a store, then measure every command at every step; checks every result."""
    rows: list[Row] = []
    with Bench(backend, root, keys, tenants, versions) as bench:
        filled = bench.fill()
        log(f"{backend}: {tenants} tenants x {versions} versions uploaded in {filled:.1f}s")
        everyone = bench.status(tenants)
        last, previous = bench.versions[-1], bench.versions[-2]
        assert all(c["stable"] == last for c in everyone.values()), "fill: stable is not on the last version"
        for number, count in enumerate(steps):
            rows += measure_step(bench, root, keys, f"1.1.{number}", count, last, previous)
            log(f"{backend}: {count} tenants measured and checked")
    return rows


def table(rows: list[Row]) -> str:
    lines = [f"{'backend':<8} {'command':<9} {'tenants':>7} {'seconds':>8} {'requests':>9} {'s/tenant':>9} "
             f"{'req/tenant':>10}"]
    for row in rows:
        s_per, r_per = row.per_tenant
        lines.append(f"{row.backend:<8} {row.command:<9} {row.tenants:>7} {row.seconds:>8.2f} {row.requests:>9} "
                     f"{s_per:>9.4f} {r_per:>10.2f}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="file,azurite", help="file, azurite or both (comma-separated)")
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--versions", type=int, default=50)
    parser.add_argument("--steps", default="25,50,100,200", help="tenant counts to measure (at most --tenants)")
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    if max(steps) > args.tenants or args.versions < 2:
        parser.error("--steps must not exceed --tenants, and --versions must be at least 2")

    from b2release.stages import keys as keys_stage

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="b2release-bench-scale-") as tmp:
        tmp_path = Path(tmp)
        keys_stage.generate(tmp_path / "keys", "ecdsa-p256")
        for backend in args.backend.split(","):
            if backend == "azurite":
                from tests.fixtures.azurite import find_azurite

                if find_azurite() is None:
                    print("Azurite not found: run `make tools` first (skipping azurite)", file=sys.stderr)
                    continue
            saved = dict(os.environ)
            try:
                rows += run(backend, tmp_path / backend, tmp_path / "keys", args.tenants, args.versions, steps,
                            log=lambda m: print(m, file=sys.stderr))
            finally:
                os.environ.clear()
                os.environ.update(saved)
    print(f"{args.tenants} tenants, {args.versions} versions in the store; each command on the first T tenants "
          "(+ the release container)")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
