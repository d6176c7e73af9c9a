"""Pointer races are resolved, not just detected (issue #17, part 1): the rules, one interleaving each.

Each test runs one command in-process and, at a chosen moment (after its checks, before its
pointer writes), another command to completion: the first command's compare-and-swap is then
lost and it must read again and decide again by the rules in docs/rollback.md ("When commands
race"). File store: the code paths are the store-independent ones of repoint; the store-level
signature protocol and the concurrent (subprocess) races run on Azurite too
(tests/stages/test_races.py).
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import re
import time
from pathlib import Path

import pytest

from b2release.formats import pointer as pointer_fmt
from b2release.formats.signature import load_public_key, load_signing_key
from b2release.stores.channels import PointerConflict, read_channel, write_channel
from tests.conftest import assert_user_error
from tests.fixtures.releases import PRODUCT, everyone_args, tenant_args

STABLE = f"{PRODUCT}/channels/stable.json"
CANARY = f"{PRODUCT}/channels/canary.json"
REASON = "6.0.5 breaks the order import (INC-4711)"
MOVED = re.compile(r"^(\S+)/" + re.escape(PRODUCT) + r"/channels/(\S+)\.json -> \S+ (\S+) \(sequence (\d+)\)$",
                   re.MULTILINE)


@pytest.fixture(autouse=True)
def _setup(monkeypatch):
    monkeypatch.setenv("B2RELEASE_PRODUCT_NAME", PRODUCT)
    monkeypatch.setattr("b2release.repoint.sleep", lambda s: None)  # retries without waiting


def pointer(backend, container: str, name: str = STABLE) -> pointer_fmt.Pointer:
    """The pointer in a container; its signature must verify (raises otherwise)."""
    raw = backend.read(container, name)
    load_public_key(Path(backend.keys) / "release-signing.pub").verify(raw, backend.read(container, name + ".sig"),
                                                                      f"{container}/{name}")
    return pointer_fmt.parse(raw)


@pytest.fixture
def store(file_backend, releaser):
    file_backend.keys = releaser.keys
    return file_backend


def publish(releaser, backend, version: str, *args: str, channel: str = "stable") -> Path:
    work = releaser.package(version)
    result = releaser.upload(work, "--channel", channel, *tenant_args(backend), *args)
    assert result.exit_code == 0, result.output
    return work


def inner(*args: str) -> tuple[int, str]:
    """Run b2release in-process from inside another command's run (stdout/stderr kept apart)."""
    from b2release.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue() + err.getvalue()


def before_writes(monkeypatch, command: str, action) -> list:
    """Run `action()` once, when `command` is about to write its first pointer."""
    import b2release.repoint as repoint

    real = repoint.write_moves
    done: list = []

    def racing(*args, **kwargs):
        if not done:  # the command started by `action` passes here too: only the first one races
            done.append(None)
            done[0] = action()
        return real(*args, **kwargs)

    monkeypatch.setattr(f"b2release.stages.{command}.write_moves", racing)
    return done


def sequences(output: str, channel: str = "stable") -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for container, name, _, seq in MOVED.findall(output):
        if name == channel:
            seen.setdefault(container, []).append(int(seq))
    return seen


def upload_cmd(releaser, work: Path, backend, *args: str) -> list:
    return ["--work-dir", work, "upload", "--signing-key", releaser.signing_key, *tenant_args(backend), *args]


def rollback_cmd(releaser, work: Path, backend, to: str, *args: str) -> list:
    return ["--work-dir", work, "rollback", "--to", to, "--reason", REASON, "--signing-key", releaser.signing_key,
            "--no-purge", *everyone_args(backend), *args]


# --- upload against upload: the highest version wins ------------------------------------------
def test_a_lower_version_that_lands_first_is_overwritten(store, releaser, monkeypatch):
    publish(releaser, store, "6.0.0")
    lower = releaser.package("6.0.1")
    ran = before_writes(monkeypatch, "upload", lambda: inner(*upload_cmd(releaser, lower, store)))
    result = releaser.upload(releaser.package("6.0.2"), *tenant_args(store))
    assert ran[0][0] == 0, ran[0][1]
    assert result.exit_code == 0, result.output
    doc = result.json()["pointer"]
    # Each container: 6.0.0 (1), then 6.0.1 (2) by the other job, then ours over it (3): current + 1, no gap.
    assert doc["sequences"] == {c: 3 for c in store.containers} and doc["retries"] == len(store.containers)
    assert "changed while this command ran (another upload?); reading it again and deciding again" in result.stderr
    for container in store.containers:
        assert (pointer(store, container).version, pointer(store, container).sequence) == ("6.0.2", 3)


def test_a_lower_version_that_lands_last_loses_with_the_documented_message(store, releaser, monkeypatch):
    publish(releaser, store, "6.0.0")
    higher = releaser.package("6.0.2")
    ran = before_writes(monkeypatch, "upload", lambda: inner(*upload_cmd(releaser, higher, store)))
    result = releaser.upload(releaser.package("6.0.1"), *tenant_args(store), json_output=False)
    assert ran[0][0] == 0, ran[0][1]
    assert_user_error(result, 1, f"{store.containers[0]}/{STABLE} serves 6.0.2, newer than 6.0.1",
                      "written while this upload ran", "upload never moves a channel to a lower version",
                      "6.0.1 is stored complete")
    for container in store.containers:
        assert (pointer(store, container).version, pointer(store, container).sequence) == ("6.0.2", 2)
    assert sequences(result.stderr) == {}  # the lower job wrote no pointer


def test_sequences_continue_per_container(store, releaser, tmp_path):
    """A pilot ring promoted earlier is one step ahead; an upload continues each container's own sequence."""
    publish(releaser, store, "6.0.0")
    publish(releaser, store, "6.0.1", channel="canary")
    pilot = store.tenants[0]
    code, out = inner("--work-dir", tmp_path / "p", "promote", "--from", "canary", "--to", "stable", "--tenant", pilot,
                      "--signing-key", releaser.signing_key, "--no-purge")
    assert code == 0, out
    result = releaser.upload(releaser.package("6.0.2"), *tenant_args(store))
    assert result.exit_code == 0, result.output
    # The pilot's promote left the release container alone (#18): it moves with the whole channel.
    assert result.json()["pointer"]["sequences"] == {f"tenant-{pilot}": 3, store.containers[1]: 2, "releases": 2}
    assert result.json()["pointer"]["sequence"] == 3


# --- rollback against upload: the command that started later wins ---------------------------
def test_a_rollback_that_started_after_an_upload_wins(store, releaser, tmp_path, monkeypatch):
    publish(releaser, store, "6.0.4")
    publish(releaser, store, "6.0.5")
    work = releaser.package("6.0.6")
    ran = before_writes(monkeypatch, "upload", lambda: inner(*rollback_cmd(releaser, tmp_path / "rb", store, "6.0.4")))
    result = releaser.upload(work, *tenant_args(store), json_output=False)
    assert ran[0][0] == 0, ran[0][1]
    assert_user_error(result, 1, "was rolled back to 6.0.4 after this upload started", REASON,
                      "a rollback is a newer decision than an upload that started before it",
                      "re-run `b2release upload`")
    for container in store.containers:
        p = pointer(store, container)
        assert (p.version, p.sequence, p.rollback["from"]) == ("6.0.4", 3, "6.0.5")
    # Re-run: an upload that starts after the rollback is the newer decision.
    import b2release.repoint

    monkeypatch.setattr("b2release.stages.upload.write_moves", b2release.repoint.write_moves)
    again = releaser.upload(work, *tenant_args(store))
    assert again.exit_code == 0, again.output
    assert again.json()["bytes_sent"] == 0  # the files were complete already
    assert {pointer(store, c).version for c in store.containers} == {"6.0.6"}


def test_an_upload_that_started_after_a_rollback_wins(store, releaser, tmp_path, monkeypatch):
    publish(releaser, store, "6.0.4")
    publish(releaser, store, "6.0.5")
    start = time.time()
    monkeypatch.setattr("b2release.repoint.clock", lambda: start)
    work = releaser.package("6.0.6")

    def later_upload():
        monkeypatch.setattr("b2release.repoint.clock", lambda: start + 2)
        return inner(*upload_cmd(releaser, work, store))

    ran = before_writes(monkeypatch, "rollback", later_upload)
    monkeypatch.setattr("b2release.repoint.clock", lambda: start)
    result = releaser.cli(*rollback_cmd(releaser, tmp_path / "rb", store, "6.0.4"))
    assert ran[0][0] == 0, ran[0][1]
    assert_user_error(result, 1, "was moved to 6.0.6 by an upload or promote that started after this rollback",
                      "re-run `b2release rollback`")
    assert {pointer(store, c).version for c in store.containers} == {"6.0.6"}


@pytest.mark.parametrize("first", ["rollback", "upload"])
def test_a_tie_goes_to_the_rollback(store, releaser, tmp_path, monkeypatch, first):
    """Started in the same second: whichever lands first, every container ends rolled back."""
    publish(releaser, store, "6.0.4")
    publish(releaser, store, "6.0.5")
    start = float(int(time.time()))
    monkeypatch.setattr("b2release.repoint.clock", lambda: start + 0.5)
    work = releaser.package("6.0.6")
    if first == "rollback":  # the rollback lands while the upload runs
        before_writes(monkeypatch, "upload", lambda: inner(*rollback_cmd(releaser, tmp_path / "rb", store, "6.0.4")))
        result = releaser.upload(work, *tenant_args(store), json_output=False)
        assert_user_error(result, 1, "was rolled back to 6.0.4 after this upload started")
    else:  # the upload lands while the rollback runs
        ran = before_writes(monkeypatch, "rollback", lambda: inner(*upload_cmd(releaser, work, store)))
        result = releaser.cli(*rollback_cmd(releaser, tmp_path / "rb", store, "6.0.4"))
        assert ran[0][0] == 0 and result.exit_code == 0, result.output
        assert "reading it again and deciding again" in result.stderr
    assert {(pointer(store, c).version, pointer(store, c).sequence) for c in store.containers} == {
        ("6.0.4", 4 if first == "upload" else 3)}


def test_two_rollbacks_the_lower_target_wins(store, releaser, tmp_path, monkeypatch):
    for version in ("6.0.3", "6.0.4", "6.0.5"):
        publish(releaser, store, version)
    ran = before_writes(monkeypatch, "rollback",
                        lambda: inner(*rollback_cmd(releaser, tmp_path / "rb-3", store, "6.0.3")))
    result = releaser.cli(*rollback_cmd(releaser, tmp_path / "rb-4", store, "6.0.4"))
    assert ran[0][0] == 0, ran[0][1]
    assert_user_error(result, 1, "serves 6.0.3, lower than 6.0.4", "written while this rollback ran",
                      "a rollback only goes back")
    assert {pointer(store, c).version for c in store.containers} == {"6.0.3"}


def test_a_refreshed_rollback_is_not_a_newer_rollback(store, releaser, tmp_path, monkeypatch):
    """A rollback from before the upload started, re-issued by refresh while it runs: the upload still wins."""
    publish(releaser, store, "6.0.4")
    publish(releaser, store, "6.0.5")
    code, out = inner(*rollback_cmd(releaser, tmp_path / "rb", store, "6.0.4"))
    assert code == 0, out
    start = time.time()
    monkeypatch.setattr("b2release.repoint.clock", lambda: start)
    work = releaser.package("6.0.6")

    def refresh_later():
        monkeypatch.setattr("b2release.repoint.clock", lambda: start + 5)
        return inner("--work-dir", tmp_path / "rf", "refresh", "--within", "30d", "--no-purge", "--signing-key",
                     releaser.signing_key, *tenant_args(store))

    ran = before_writes(monkeypatch, "upload", refresh_later)
    monkeypatch.setattr("b2release.repoint.clock", lambda: start)
    result = releaser.upload(work, *tenant_args(store))
    assert ran[0][0] == 0, ran[0][1]
    assert result.exit_code == 0, result.output
    assert {(pointer(store, c).version, pointer(store, c).sequence) for c in store.containers} == {("6.0.6", 5)}


# --- promote and refresh racing uploads --------------------------------------------------------
@pytest.mark.parametrize("canary, stable, winner", [("6.0.5", "6.0.6", "upload"), ("6.0.7", "6.0.6", "promote")])
def test_promote_against_upload_the_highest_version_wins(store, releaser, tmp_path, monkeypatch, canary, stable,
                                                          winner):
    publish(releaser, store, "6.0.4")
    publish(releaser, store, canary, channel="canary")
    work = releaser.package(stable)
    ran = before_writes(monkeypatch, "promote", lambda: inner(*upload_cmd(releaser, work, store)))
    result = releaser.cli("--work-dir", tmp_path / "p", "promote", "--from", "canary", "--to", "stable", "--no-purge",
                          "--signing-key", releaser.signing_key, *everyone_args(store))
    assert ran[0][0] == 0, ran[0][1]
    if winner == "upload":
        assert_user_error(result, 1, f"serves {stable}, higher than {canary} on canary", "written while this promote ran")
    else:
        assert result.exit_code == 0, result.output
    expected = stable if winner == "upload" else canary
    assert {(pointer(store, c).version, pointer(store, c).sequence) for c in store.containers} == {
        (expected, 2 if winner == "upload" else 3)}


def test_refresh_leaves_a_pointer_that_moved_alone(store, releaser, tmp_path, monkeypatch):
    monkeypatch.setenv("B2RELEASE_STORE_POINTER_TTL", "1d")
    publish(releaser, store, "6.0.5")  # expires in a day: due for a refresh within 2 days
    monkeypatch.delenv("B2RELEASE_STORE_POINTER_TTL")
    work = releaser.package("6.0.6")
    ran = before_writes(monkeypatch, "refresh", lambda: inner(*upload_cmd(releaser, work, store)))
    result = releaser.cli("--work-dir", tmp_path / "rf", "--json", "refresh", "--within", "2d", "--no-purge",
                          "--signing-key", releaser.signing_key, *tenant_args(store))
    assert ran[0][0] == 0, ran[0][1]
    assert result.exit_code == 0, result.output
    assert [c["changed"] for c in result.json()["containers"]] == [False] * len(store.containers)
    assert {(pointer(store, c).version, pointer(store, c).sequence) for c in store.containers} == {("6.0.6", 2)}


# --- bounded, jittered, logged ---------------------------------------------------------------
def test_retries_are_bounded_jittered_and_logged_with_the_correlation_id(store, releaser, monkeypatch):
    """Someone rewrites the pointer before every write of ours: after ATTEMPTS tries, exit 1 and re-run."""
    import b2release.repoint as repoint
    from b2release.stores.local import LocalStore

    publish(releaser, store, "6.0.0")
    pauses: list[float] = []
    monkeypatch.setattr("b2release.repoint.sleep", pauses.append)
    real_write = LocalStore.write_bytes

    def meddling(self, container, path, data, cache_control, *, if_match=None, if_none_match=False):
        if path == STABLE and if_match is not None:  # a competing writer got there just before us
            current = self.read_bytes(container, path)[0]
            real_write(self, container, path, current.replace(b'"issued_at"', b'"issued_at" '), cache_control)
        return real_write(self, container, path, data, cache_control, if_match=if_match, if_none_match=if_none_match)

    monkeypatch.setattr(LocalStore, "write_bytes", meddling)
    monkeypatch.setattr("b2release.repoint.SETTLE_DURING_S", 0)
    result = releaser.cli("--work-dir", releaser.package("6.0.1"), "--log-format", "json", "upload",
                          "--signing-key", releaser.signing_key, *tenant_args(store),
                          env={"B2RELEASE_CORRELATION_ID": "race-4711"})
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    retries = [line for line in lines if "deciding again" in line["msg"]]
    # Tenants' pointers are written at once, each retried ATTEMPTS - 1 times; the release
    # container's (written after every tenant's) is never tried.
    per_container = collections.Counter(line["msg"].split("/", 1)[0] for line in retries)
    tenants = [c for c in store.containers if c.startswith("tenant-")]
    assert per_container == {c: repoint.ATTEMPTS - 1 for c in tenants}, per_container
    assert len(pauses) == len(retries)
    assert all(line["correlation_id"] == "race-4711" for line in lines)
    assert all(0.02 <= p <= 1.02 for p in pauses) and len(set(pauses)) > 1  # bounded, random
    error = [line for line in lines if line["level"] == "error"][0]
    assert f"still changing after {repoint.ATTEMPTS} attempts" in error["msg"]


# --- the signature is written with compare-and-swap too --------------------------------------
@pytest.mark.parametrize("interleaving", ["slow-signature-lands-last", "slow-signature-lands-first"])
def test_the_newest_pointer_is_signed_last(store, releaser, interleaving):
    """Writer A is slow between its pointer and its signature; B replaces A's pointer meanwhile.
    Whatever order the two signature writes take, the pointer left is B's, signed by B."""
    publish(releaser, store, "6.0.0")
    key = load_signing_key(releaser.signing_key)
    container = store.containers[0]
    with store.open() as s:
        start = read_channel(s, container, PRODUCT, "stable", key.public())
        base = start.pointer
        a = pointer_fmt.Pointer(**{**base.__dict__, "sequence": base.sequence + 1, "version": base.version})
        b = pointer_fmt.Pointer(**{**base.__dict__, "sequence": base.sequence + 2})

        class SlowA:
            """The store as A sees it: before A's signature write, B does its whole write."""

            def __init__(self):
                self.fired = False

            def __getattr__(self, name):
                return getattr(s, name)

            def write_bytes(self, c, path, data, cc, **kw):
                if path.endswith(".sig") and not self.fired:
                    self.fired = True
                    if interleaving == "slow-signature-lands-last":
                        seen = read_channel(s, container, PRODUCT, "stable", key.public())
                        write_channel(s, container, b, key, cc, seen.etag, True, signature_etag=seen.signature_etag,
                                      signature_existed=True)
                        return s.write_bytes(c, path, data, cc, **kw)  # A's stale swap: refused
                    seen = read_channel(s, container, PRODUCT, "stable", key.public())  # A's pointer, old .sig
                    s.write_bytes(c, path, data, cc, **kw)  # A's signature lands first...
                    write_channel(s, container, b, key, cc, seen.etag, True, signature_etag=seen.signature_etag,
                                  signature_existed=True)  # ...B's swap on the signature fails, B re-checks, signs
                    return s.stat(c, path)
                return s.write_bytes(c, path, data, cc, **kw)

        slow = SlowA()
        if interleaving == "slow-signature-lands-last":
            with pytest.raises(PointerConflict, match="replaced by another writer before this command signed it"):
                write_channel(slow, container, a, key, "public, max-age=60", start.etag, True,
                              signature_etag=start.signature_etag, signature_existed=True)
        else:
            write_channel(slow, container, a, key, "public, max-age=60", start.etag, True,
                          signature_etag=start.signature_etag, signature_existed=True)
        final = read_channel(s, container, PRODUCT, "stable", key.public())
    assert final.verified and final.pointer.sequence == base.sequence + 2
