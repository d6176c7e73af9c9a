"""Faults in the middle of an upload (issue #17, part 2): each fault x each step, on Azurite.

A FaultProxy sits between b2release and an Azurite that can be killed and restarted with
its data (tests/fixtures/faults.py). The cases share two tenants and a release container,
whose channel serves the version the previous case published (7.0.0 first); each case
uploads the next version with one fault armed at one step:

    blocks             a block of the package zip (files above the block size go up in blocks)
    release-complete   the first request after the release container is complete (the first copy)
    copies             the third server-side copy of the fan-out to the tenants
    pointer-signature  the first tenant's pointer .sig, after its .json was written
    between-tenants    the second tenant's pointer .json, after the first tenant's is complete

faults: 503 and reset until the retries run out, 500 once, a slow answer (past the read
timeout) once, a truncated answer (the request took effect) once, and Azurite killed (then
restarted by the test, with its data). After every case:

- the run completed (exit 0) or failed with exit 3 and one line naming what to re-run; no
  traceback; every retry was logged with the run's correlation id, which every request carried;
- no pointer was ever written before its version was complete in that container (by the
  order of the requests), and no pointer names an incomplete version;
- a pointer without a valid signature is left only by a run that failed;
- the re-run completes, sends exactly the bytes of the files that were not complete (no
  duplicate bytes for what was), and leaves every pointer on 7.1.0 and verifying;
- per container, the pointer sequences written (in every case so far) are 1, 2, ... n: no
  gap, no duplicate.

`make test` runs every fault at every step once; B2RELEASE_FUZZ=1 adds cases with a random
number of consecutive faults (seeded).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from b2release.formats import pointer as pointer_fmt
from b2release.formats.signature import load_public_key
from b2release.stores.azure import AzureAuth, AzureStore
from b2release.stores.channels import read_channel, verify_version
from tests.fixtures.azurite import ACCOUNT, ACCOUNT_KEY
from tests.fixtures.faults import FAULTS, Seen, Trigger, proxy_connection_string
from tests.fixtures.releases import PRODUCT

pytestmark = pytest.mark.azurite

POINTER = f"{PRODUCT}/channels/stable.json"
RETRIES = 2
TIMES = {"503": RETRIES + 1, "reset": RETRIES + 1, "500": 1, "slow": 1, "truncate": 1, "kill": 1}
STEPS = ["blocks", "release-complete", "copies", "pointer-signature", "between-tenants"]
BLOCK = 64 << 10  # block size for these tests: the ~200 KiB package goes up in four blocks
READ_TIMEOUT = 0.6  # seconds; the proxy holds a slow answer back for 0.9 s
_counter = iter(range(1, 1_000_000))


def is_copy(s: Seen) -> bool:
    return s.method == "PUT" and any(k.lower() == "x-ms-copy-source" for k in s.headers)


def step_matcher(step: str, start: int, tenants: list[str]):
    pointer_of = {c: f"/{ACCOUNT}/{c}/{POINTER}" for c in tenants}
    if step == "blocks":
        return lambda s, h: s.method == "PUT" and s.comp == "block"
    if step == "release-complete":
        return lambda s, h: is_copy(s)
    if step == "copies":
        return lambda s, h: is_copy(s) and sum(is_copy(x) for x in h[start:]) == 2
    if step == "pointer-signature":
        return lambda s, h: s.method == "PUT" and s.path == pointer_of[tenants[0]] + ".sig"
    if step == "between-tenants":
        return lambda s, h: s.method == "PUT" and s.path == pointer_of[tenants[1]]
    raise AssertionError(step)


class World:
    """The containers every case of this module publishes to, and the checks."""

    def __init__(self, azurite, proxy, public):
        self.azurite, self.proxy, self.public = azurite, proxy, public
        self.tenants = ["tenant-faulty-a", "tenant-faulty-b"]
        self.release = "releases-faulty"
        self.containers = [*self.tenants, self.release]
        self.start = proxy.mark()
        self.published = 0  # minor version of 7.x.0 the channel serves (-1: nothing yet)

    def direct(self) -> AzureStore:
        """The store without the proxy, for the checks."""
        auth = AzureAuth(account_url=f"http://127.0.0.1:{self.azurite.port}/{ACCOUNT}", account_name=ACCOUNT,
                         account_key=ACCOUNT_KEY, source="test")
        return AzureStore(auth, correlation_id="checks", retries=1, allow_http=True)

    def complete_files(self, version: str) -> set[str]:
        with self.direct() as store:
            return {b.path.rsplit("/", 1)[1] for b in store.list(self.release, f"{PRODUCT}/{version}/")}

    def check_store(self, failed: bool) -> dict[str, pointer_fmt.Pointer | None]:
        """No pointer names an incomplete version; one without a valid signature only after a failed run."""
        found = {}
        with self.direct() as store:
            for container in self.containers:
                state = read_channel(store, container, PRODUCT, "stable", self.public)
                assert state.pointer is not None, container
                verify_version(store, container, PRODUCT, state.pointer.version, state.pointer.manifest_sha256)
                assert state.verified or failed, f"{container}: a pointer without a valid signature after exit 0"
                found[container] = state.pointer if state.verified else None
        return found

    def check_requests(self, case_start: int, correlation: str) -> None:
        """By the order of the requests: every pointer write came after its version was complete in
        that container (its SHA256SUMS created there), and the sequences written are 1..n per container."""
        seen = self.proxy.since(self.start)
        complete: set[tuple[str, str]] = set()
        sequences: dict[str, list[int]] = {}
        in_flight: dict[str, set[int]] = {}  # pointer writes Azurite was killed under (applied or not)
        for s in seen:
            parts = s.path.split("/", 3)  # '', account, container, blob path
            if len(parts) == 4 and s.method == "PUT" and s.status is None and parts[3] == POINTER and s.body:
                in_flight.setdefault(parts[2], set()).add(pointer_fmt.parse(s.body).sequence)
            if len(parts) < 4 or s.method != "PUT" or s.status not in (200, 201, 202):
                continue
            container, blob = parts[2], parts[3]
            if blob.endswith("/SHA256SUMS"):
                complete.add((container, blob.split("/")[1]))
            elif blob == POINTER:
                p = pointer_fmt.parse(s.body)
                assert (container, p.version) in complete, f"{container}: pointer to {p.version} before it was complete"
                sequences.setdefault(container, []).append(p.sequence)
        assert set(sequences) == set(self.containers)
        for container, written in sequences.items():
            # 1..n, no duplicate; a number is missing only where a write of it was in flight when
            # Azurite was killed (tenants' pointers are written at once: another tenant's may be).
            assert len(set(written)) == len(written), (container, written)
            missing = set(range(1, max(written) + 1)) - set(written)
            assert missing <= in_flight.get(container, set()), (container, written, missing)
        carried = {s.headers.get("x-ms-client-request-id") for s in seen[case_start - self.start:]
                   if "x-ms-client-request-id" in s.headers}
        assert carried <= {correlation, "checks"}, carried


@pytest.fixture(scope="module")
def world(restartable_azurite, azurite_proxy, dev_keys):
    return World(restartable_azurite, azurite_proxy, load_public_key(dev_keys / "release-signing.pub"))


def run_case(world: World, releaser, monkeypatch, step: str, fault: str, times: int) -> None:
    proxy, azurite = world.proxy, world.azurite
    n = next(_counter)
    correlation = f"fault-case-{n}"
    for key, value in {
        "AZURE_STORAGE_CONNECTION_STRING": proxy_connection_string(proxy),
        "B2RELEASE_STORE_URL": "azure",
        "B2RELEASE_STORE_ALLOW_HTTP_EMULATOR": "true",
        "B2RELEASE_STORE_RETRIES": str(RETRIES),
        "B2RELEASE_STORE_RETRY_BACKOFF": "0",
        "B2RELEASE_STORE_RELEASE_CONTAINER": world.release,
        "B2RELEASE_CORRELATION_ID": correlation,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("b2release.stores.azure.BLOCK_SIZE", BLOCK)
    monkeypatch.setattr("b2release.stores.azure.READ_TIMEOUT_S", READ_TIMEOUT)
    monkeypatch.setattr("b2release.repoint.SETTLE_AT_START_S", 0.1)
    # A payload that does not compress: the package zip goes up in blocks.
    (releaser.sample / "payload.bin").write_bytes(random.Random(n).randbytes(3 * BLOCK + 5000))
    tenant_args = [a for t in world.tenants for a in ("--tenant", t.removeprefix("tenant-"))]

    def upload(work: Path, *opts: str):
        return releaser.cli("--work-dir", work, *opts, "upload", "--signing-key", releaser.signing_key, *tenant_args)

    if world.published == 0:
        base = upload(releaser.package("7.0.0"), "--json")
        assert base.exit_code == 0, base.output
    version = f"7.{n}.0"
    work = releaser.package(version)
    case_start = proxy.mark()
    trigger = Trigger(step_matcher(step, case_start, world.tenants), fault, times)
    proxy.arm(trigger)
    try:
        first = upload(work, "--log-format", "json")
    finally:
        proxy.arm(None)
        if not azurite.running:
            azurite.start()
    assert trigger.fired >= 1, f"the step {step} was never reached"

    # The faulty run: done, or exit 3 with one line that names what to re-run.
    assert "Traceback" not in first.output, first.output
    assert first.exit_code in (0, 3), first.output
    lines = [json.loads(line) for line in first.stderr.splitlines() if line.startswith("{")]
    assert all(line["correlation_id"] == correlation for line in lines)
    retried = [line for line in lines if "retry" in line["msg"] and line["logger"] == "b2release.store"]
    assert retried, f"no retry was logged:\n{first.stderr}"
    if first.exit_code == 3:
        errors = [line["msg"] for line in lines if line["level"] == "error"]
        assert len(errors) == 1 and "re-run the same `b2release upload`" in errors[0], errors
        assert ACCOUNT_KEY not in first.output
    world.check_store(failed=first.exit_code != 0)

    # The re-run completes, and sends only what was not complete.
    complete = world.complete_files(version)
    sizes = {line.split("  ", 1)[1]: (work / line.split("  ", 1)[1]).stat().st_size
             for line in (work / "SHA256SUMS").read_text().splitlines()}
    sizes["SHA256SUMS"] = (work / "SHA256SUMS").stat().st_size
    mark = proxy.mark()
    again = upload(work, "--json")
    assert again.exit_code == 0, again.output
    sent = sum(len(s.body) for s in proxy.since(mark)
               if s.method == "PUT" and s.path.startswith(f"/{ACCOUNT}/{world.release}/{PRODUCT}/{version}/")
               and s.comp != "blocklist")
    expected = sum(size for name, size in sizes.items() if name not in complete)
    assert sent == expected == again.json()["bytes_sent"], (sent, expected, again.json(), complete)
    assert again.json()["files_present"] == len(complete)
    final = world.check_store(failed=False)
    assert {p.version for p in final.values() if p is not None} == {version} and None not in final.values()
    world.published = n
    world.check_requests(case_start, correlation)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("step", STEPS)
def test_fault_matrix(world, releaser, monkeypatch, step, fault):
    run_case(world, releaser, monkeypatch, step, fault, TIMES[fault])


@pytest.mark.skipif(not os.environ.get("B2RELEASE_FUZZ"), reason="B2RELEASE_FUZZ=1 runs the random fault cases")
@pytest.mark.parametrize("seed", range(12))
def test_fault_fuzz(world, releaser, monkeypatch, seed):
    rng = random.Random(seed)
    fault = rng.choice(FAULTS)
    run_case(world, releaser, monkeypatch, rng.choice(STEPS), fault, 1 if fault == "kill" else rng.randint(1, RETRIES + 2))
