"""Concurrent publishers, as a CI farm runs them (issue #17, part 1): real processes, one store.

Six `upload` jobs of 6.0.1 ... 6.0.6 start together (in a seeded, shuffled order) against
one store, the file store and Azurite alike. A test barrier (B2RELEASE_DEBUG_BARRIER) holds
each job at the start of its pointer writes until all have arrived, then releases them after
a seeded delay each, so that they really contend for the same pointers. Every round:

- every container ends on 6.0.6, with a pointer that verifies;
- per container, the sequences written (every job logs each pointer it wrote) are exactly
  1, 2, ..., n: strictly increasing, no gap, no duplicate;
- the 6.0.6 job exits 0; every other job exits 0 or 1, and 1 only with the lower-version
  message; no traceback anywhere.

`make test` runs two seeds per store; B2RELEASE_FUZZ=1 runs ten.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from b2release.formats import pointer as pointer_fmt
from b2release.formats.signature import load_public_key
from b2release.repoint import TEST_BARRIER_DELAY_ENV, TEST_BARRIER_ENV
from b2release.stores.channels import read_channel, verify_version
from tests.conftest import REPO
from tests.fixtures.releases import PRODUCT, tenant_args

VERSIONS = [f"6.0.{n}" for n in range(1, 7)]
FUZZ = bool(os.environ.get("B2RELEASE_FUZZ"))
SEEDS = list(range(10)) if FUZZ else [0, 1]
MOVED = re.compile(r"^(\S+)/" + re.escape(PRODUCT) + r"/channels/(\S+)\.json -> \S+ (\S+) \(sequence (\d+)\)$",
                   re.MULTILINE)
JOB_TIMEOUT = 180


@pytest.fixture(scope="module")
def releases(tmp_path_factory, dev_keys) -> dict[str, Path]:
    """Work dirs holding packaged releases 5.9.0 and 6.0.1 ... 6.0.6 (packaged once per module)."""
    from b2release.cli import main

    root = tmp_path_factory.mktemp("race-releases")
    works: dict[str, Path] = {}
    with pytest.MonkeyPatch.context() as m:
        m.setenv("SOURCE_DATE_EPOCH", "1700000000")
        for version in ["5.9.0", *VERSIONS]:
            source = root / f"input-{version}"
            shutil.copytree(REPO / "examples" / "prebuilt", source)
            (source / "README.txt").write_text(f"release {version}\n", encoding="utf-8")
            works[version] = root / f"work-{version}"
            code = main(["-q", "--work-dir", str(works[version]), "package", "--input", str(source), "--name", PRODUCT,
                         "--version", version, "--signing-key", str(dev_keys / "release-signing.key")])
            assert code == 0
    return works


class Job:
    def __init__(self, name: str, args: list[str], env: dict[str, str]):
        self.name = name
        full_env = {**os.environ, "PYTHONPATH": str(REPO), **env}
        self.proc = subprocess.Popen([sys.executable, "-m", "b2release", *args], env=full_env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.code: int | None = None
        self.output = ""

    def wait(self) -> None:
        try:
            out, err = self.proc.communicate(timeout=JOB_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        self.code, self.output = self.proc.returncode, out + err

    @property
    def error(self) -> str:
        return "\n".join(line for line in self.output.splitlines() if line.startswith("error:"))


def run_jobs(specs: list[tuple[str, list[str]]], seed: int, barrier: Path) -> dict[str, Job]:
    """Start every job (in a seeded, shuffled order); all meet at the pointer barrier, then go
    after a seeded delay each."""
    rng = random.Random(seed)
    order = list(specs)
    rng.shuffle(order)
    jobs = {}
    for name, args in order:
        env = {TEST_BARRIER_ENV: f"{barrier}:{len(specs)}", TEST_BARRIER_DELAY_ENV: str(rng.randrange(0, 150))}
        jobs[name] = Job(name, args, env)
    for job in jobs.values():
        job.wait()
    for job in jobs.values():
        assert "Traceback" not in job.output, f"{job.name}:\n{job.output}"
    return jobs


def written_sequences(jobs: dict[str, Job], channel: str = "stable") -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for job in jobs.values():
        for container, name, _, seq in MOVED.findall(job.output):
            if name == channel:
                seen.setdefault(container, []).append(int(seq))
    return seen


def check_channel(backend, public, version: str, jobs: dict[str, Job], channel: str = "stable",
                  before: dict[str, int] | None = None) -> dict[str, pointer_fmt.Pointer]:
    """Every container serves `version` with a pointer that verifies, onto a complete version,
    and the pointers written to it carry the sequences after `before` with no gap or duplicate."""
    final = {}
    with backend.open() as store:
        for container in backend.containers:
            state = read_channel(store, container, PRODUCT, channel, public)
            assert state.verified, f"{container}: the pointer does not verify"
            assert state.pointer.version == version, (container, state.pointer, {j.name: j.output for j in
                                                                                  jobs.values()})
            verify_version(store, container, PRODUCT, version, state.pointer.manifest_sha256)
            final[container] = state.pointer
    written = written_sequences(jobs, channel)
    for container, p in final.items():
        start = (before or {}).get(container, 0)
        assert sorted(written.get(container, [])) == list(range(start + 1, p.sequence + 1)), (container, written)
    return final


def upload_args(work: Path, keys: Path, backend, channel: str = "stable") -> list[str]:
    return ["--work-dir", str(work), "upload", "--channel", channel, "--signing-key",
            str(keys / "release-signing.key"), *tenant_args(backend)]


def fresh(backend, tmp_path: Path, seed: int, monkeypatch):
    """A store no earlier round touched: a new folder, or new Azurite container names."""
    if backend.kind == "file":
        from b2release.stores.local import LocalStore

        root = tmp_path / f"store-{seed}"
        monkeypatch.setenv("B2RELEASE_STORE_URL", f"file://{root}")
        backend.open = lambda: LocalStore(root)
    else:
        server = backend.server
        backend.release_container = server.unique("releases")
        backend.tenants = [server.unique("acme"), server.unique("globex")]
        monkeypatch.setenv("B2RELEASE_STORE_RELEASE_CONTAINER", backend.release_container)
    return backend


@pytest.mark.parametrize("seed", SEEDS)
def test_six_publishers_converge_on_the_highest_version(backend, releases, dev_keys, tmp_path, seed, monkeypatch):
    backend = fresh(backend, tmp_path, seed, monkeypatch)
    public = load_public_key(dev_keys / "release-signing.pub")
    jobs = run_jobs([(v, upload_args(releases[v], dev_keys, backend)) for v in VERSIONS], seed, tmp_path / "barrier")
    assert jobs["6.0.6"].code == 0, jobs["6.0.6"].output
    for version, job in jobs.items():
        assert job.code in (0, 1), job.output
        if job.code == 1:
            assert re.search(rf"serves 6\.0\.\d, newer than {re.escape(version)}", job.error), job.output
            assert "upload never moves a channel to a lower version" in job.error
    check_channel(backend, public, "6.0.6", jobs)


@pytest.mark.parametrize("seed", SEEDS[:1] if not FUZZ else SEEDS)
def test_uploads_promote_and_refresh_racing_converge(file_backend, releases, dev_keys, tmp_path, seed, monkeypatch):
    """Six uploads to stable, a promote canary -> stable (5.9.0 ... and 6.0.3 on canary) and a
    refresh of stable, all at once: stable ends on 6.0.6 everywhere, sequences without gaps."""
    backend = fresh(file_backend, tmp_path, seed, monkeypatch)
    monkeypatch.setenv("B2RELEASE_PRODUCT_NAME", PRODUCT)
    public = load_public_key(dev_keys / "release-signing.pub")
    key = str(dev_keys / "release-signing.key")
    from b2release.cli import main

    assert main(upload_args(releases["5.9.0"], dev_keys, backend)) == 0
    assert main(upload_args(releases["6.0.3"], dev_keys, backend, channel="canary")) == 0
    specs = [(v, upload_args(releases[v], dev_keys, backend)) for v in VERSIONS]
    specs.append(("promote", ["--work-dir", str(tmp_path / "promote"), "promote", "--from", "canary", "--to", "stable",
                              "--no-purge", "--signing-key", key, *tenant_args(backend)]))
    specs.append(("refresh", ["--work-dir", str(tmp_path / "refresh"), "refresh", "--within", "30d", "--no-purge",
                              "--signing-key", key, *tenant_args(backend)]))
    jobs = run_jobs(specs, seed, tmp_path / "barrier")
    assert jobs["6.0.6"].code == 0 and jobs["refresh"].code in (0, 1), {j.name: j.output for j in jobs.values()}
    assert jobs["promote"].code == 0 or "promote never moves a channel down" in jobs["promote"].error
    check_channel(backend, public, "6.0.6", jobs, before={c: 1 for c in backend.containers})


@pytest.mark.parametrize("seed", SEEDS)
def test_a_rollback_racing_an_upload_ends_on_one_decision(file_backend, releases, dev_keys, tmp_path, seed,
                                                          monkeypatch):
    """One rollback (6.0.5 -> 6.0.4) and one upload (6.0.6) at once: every container ends on the
    same decision, the one the rule picks (the later start; the rollback on a tie), and a job that
    lost says so."""
    backend = fresh(file_backend, tmp_path, seed, monkeypatch)
    monkeypatch.setenv("B2RELEASE_PRODUCT_NAME", PRODUCT)
    public = load_public_key(dev_keys / "release-signing.pub")
    from b2release.cli import main

    for version in ("6.0.4", "6.0.5"):
        assert main(upload_args(releases[version], dev_keys, backend)) == 0
    rollback = ["--work-dir", str(tmp_path / "rb"), "rollback", "--to", "6.0.4", "--reason", "race", "--no-purge",
                "--signing-key", str(dev_keys / "release-signing.key"), *tenant_args(backend)]
    jobs = run_jobs([("upload", upload_args(releases["6.0.6"], dev_keys, backend)), ("rollback", rollback)], seed,
                    tmp_path / "barrier")
    with backend.open() as store:
        final = [read_channel(store, c, PRODUCT, "stable", public) for c in backend.containers]
    assert all(s.verified for s in final)
    assert len({(s.pointer.version, bool(s.pointer.rollback)) for s in final}) == 1, [s.pointer for s in final]
    winner = "rollback" if final[0].pointer.rollback else "upload"
    loser = jobs["upload" if winner == "rollback" else "rollback"]
    assert jobs[winner].code == 0, jobs[winner].output
    assert loser.code in (0, 1), loser.output
    if loser.code == 1:
        needle = "after this upload started" if winner == "rollback" else "started after this rollback"
        assert needle in loser.error, loser.output
    check_channel(backend, public, final[0].pointer.version, jobs, before={c: 2 for c in backend.containers})
