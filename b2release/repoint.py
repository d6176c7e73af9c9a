"""Moving channel pointers: where (targets), whether (trusted / serves), and how (moves).

Shared by every command that writes a pointer: upload (onto a new version), rollback
(back), promote (across channels) and refresh (same version, new expiry). They all
- act on the same containers: each tenant's `tenant-<id>`, then the release container;
- check everything in every container before the first write;
- write tenants first and the release container last, each pointer with the
  compare-and-swap of `stores.channels.write_channel`, so a concurrent writer is never
  silently overwritten;
- resolve a lost compare-and-swap the same way (`write_moves`): read the pointer again,
  decide again with the command's own rule (`Decide`), at most ATTEMPTS times per
  container with a random pause before each retry, one log line per retry;
- order themselves against each other by the rules of `Race` (docs/rollback.md, "When
  commands race"): upload and promote go forward (the highest version wins), rollback
  goes back (the lowest target wins), and between a rollback and an upload or promote
  the command that started later wins;
- queue every pointer written for the purge stage (in state, saved by the runner even
  when a later write fails, so what moved is still purged).
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from b2release import cdn, fanout, log
from b2release.config import Config, parse_duration
from b2release.context import Context
from b2release.errors import B2ReleaseError, CheckFailed, ToolError, UsageError
from b2release.formats import pointer as pointer_fmt
from b2release.formats.signature import SigningKey
from b2release.state import State
from b2release.stores.base import Store
from b2release.stores.channels import ChannelState, PointerConflict, ReleaseDigests, write_channel
from b2release.stores.tenants import tenant_container, validate_container_name, validate_tenants

# A lost compare-and-swap is retried (read again, decide again) at most this many times
# per container. The highest of N concurrent publishers loses at most N - 1 swaps per
# container (each other writer moves it at most once: a lower version never overwrites a
# higher one), plus one for a promote and one for a refresh.
ATTEMPTS = 10
# How long a pointer whose signature does not match (yet) is re-read before it is taken
# for what it is: at the start of a run, a leftover of an interrupted write (rewritten);
# during a run (after a lost swap), another writer that stopped between its pointer and
# its signature (replaced only where the command would replace it whatever it says: see
# the `decide` functions; otherwise the command stops, and the next run rewrites it).
SETTLE_AT_START_S = 0.3
SETTLE_DURING_S = 1.0


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


# Tests replace these: `sleep` to record the pauses instead of waiting, `clock` to set a
# command's start time (the time a race is decided by).
sleep: Callable[[float], None] = _sleep
clock: Callable[[], float] = time.time

# Test-only (never in production): every pointer-writing command waits at the start of its
# pointer writes until COUNT processes have arrived (each creates a file in DIR), then
# sleeps DELAY_MS, so a test can make concurrent jobs contend for the pointers for sure.
TEST_BARRIER_ENV = "B2RELEASE_DEBUG_BARRIER"  # DIR:COUNT
TEST_BARRIER_DELAY_ENV = "B2RELEASE_DEBUG_BARRIER_DELAY_MS"
TEST_BARRIER_TIMEOUT_S = 60


def _test_barrier() -> None:
    spec = os.environ.get(TEST_BARRIER_ENV)
    if not spec:
        return
    folder, _, count = spec.rpartition(":")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{os.getpid()}-{random.random()}"), "w"):
        pass
    deadline = time.monotonic() + TEST_BARRIER_TIMEOUT_S
    while len(os.listdir(folder)) < int(count) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(int(os.environ.get(TEST_BARRIER_DELAY_ENV) or 0) / 1000)


def retry_delay(attempt: int) -> float:
    """Random pause before retry `attempt` (1, 2, ...): 20 ms plus up to 0.05 * 2**(n-1) s, at most 1 s more."""
    return 0.02 + random.uniform(0.0, min(1.0, 0.05 * 2 ** (attempt - 1)))


@dataclass
class Targets:
    """Where a pointer-writing command acts."""

    product: str
    tenants: list[str]
    containers: list[str]  # tenant containers first, the release container last
    release_container: str
    ttl: int
    cache_control: str


def resolve_targets(ctx: Context, tenants_option: list[str] | None, product: str | None = None) -> Targets:
    """--tenant (else [store] tenants), the release container, the pointer TTL and headers."""
    config = ctx.config
    tenants = validate_tenants(list(tenants_option) if tenants_option else list(config.get("store.tenants")))
    tenant_containers = [tenant_container(t) for t in tenants]
    release = validate_container_name(config.get("store.release_container"), "store.release_container")
    if release in tenant_containers:
        raise UsageError(f"store.release_container {release!r} collides with a tenant container")
    ttl = parse_duration(config.get("store.pointer_ttl"), "store.pointer_ttl")
    return Targets(product or ctx.product_name(), tenants, [*tenant_containers, release], release, ttl,
                   config.get("store.pointer_cache_control"))


def check_purge_settings(config: Config, purge: bool) -> None:
    """Fail on CDN settings before any pointer moves, not after (exit 2, nothing changed)."""
    if not purge or cdn.provider_name(config) == "none":
        return
    cdn.check_base_url(config.get("cdn.base_url"))
    cdn.make_provider(config)  # checks zone id, api base, token presence; sends nothing


def trusted(state: ChannelState, product: str, channel: str) -> bool:
    """A pointer that verifies with the release key and names the place it sits at: its
    product, channel and container (a valid pointer copied from another tenant is not)."""
    p = state.pointer
    return bool(p is not None and state.verified and p.bound and p.product == product and p.channel == channel
                and p.container == state.container)


def serves(state: ChannelState, product: str, channel: str, version: str, digests: ReleaseDigests,
           now: float) -> bool:
    """True when the container's pointer already serves exactly this release, validly:
    trusted, this version, manifest and package, not expired. Anything else is (re)written."""
    p = state.pointer
    return bool(trusted(state, product, channel) and p is not None and p.version == version
                and p.manifest_sha256 == digests.manifest_sha256 and p.package_sha256 == digests.package_sha256
                and pointer_fmt.parse_rfc3339(p.expires_at) > now)


def new_pointer(targets: Targets, container: str, channel: str, version: str, digests: ReleaseDigests, sequence: int,
                now: float, **extra: Any) -> pointer_fmt.Pointer:
    """A pointer for one container: bound to that container and to the release's bytes."""
    return pointer_fmt.new(product=targets.product, channel=channel, container=container, version=version,
                           manifest_sha256=digests.manifest_sha256, package_sha256=digests.package_sha256,
                           sequence=sequence, ttl_s=targets.ttl, now=now, **extra)


# --- reading ------------------------------------------------------------------------------
Reader = Callable[[str], ChannelState]  # container -> the channel as found there now


def settle(read: Reader, container: str, wait_s: float) -> ChannelState:
    """Read a channel; while its signature does not match, read again for up to `wait_s`.

    The .json and its .sig are two blobs written one after the other: a read that falls
    between another writer's two writes sees a mismatch for a few milliseconds. A pointer
    that still does not verify after the wait is returned as it is (the caller decides).
    """
    state = read(container)
    deadline = time.monotonic() + wait_s
    while not state.settled and time.monotonic() < deadline:
        sleep(random.uniform(0.02, 0.1))
        state = read(container)
    return state


def settle_all(read: Reader, containers: list[str], workers: int) -> dict[str, ChannelState]:
    """`settle` of every container's channel at the start of a command, `workers` at a time
    (`[store] fanout`): the first read error in the containers' order once all have settled."""
    return dict(zip(containers, fanout.each(lambda c: settle(read, c, SETTLE_AT_START_S), containers, workers),
                    strict=True))


# --- who wins a race -----------------------------------------------------------------------
def decision_of(p: pointer_fmt.Pointer) -> str:
    """What a pointer decides, whatever its sequence and times: a refresh re-issues the
    same decision, an upload, promote or rollback makes a new one."""
    return json.dumps([p.version, p.manifest_sha256, p.package_sha256, p.rollback, p.promoted_from],
                      sort_keys=True)


@dataclass
class Race:
    """One command's view of the others: when it started, and the decisions it has seen.

    Rules (docs/rollback.md, "When commands race"):
    - a decision seen before this command's first write (in its checks) is older;
    - otherwise a decision's time is the earliest `issued_at` seen for it (a pointer is
      issued at the start time of the command that wrote it; a refresh re-issues an older
      decision later, so the earliest copy counts), in whole seconds;
    - between a rollback and an upload or promote the later start wins, and a rollback
      wins a tie (the same second).
    """

    started: float = field(default_factory=lambda: clock())
    at_start: set[str] = field(default_factory=set)
    earliest: dict[str, float] = field(default_factory=dict)

    def observe(self, state: ChannelState, at_start: bool = False) -> None:
        p = state.pointer
        if p is None:
            return
        key = decision_of(p)
        if at_start:
            self.at_start.add(key)
        try:
            issued = pointer_fmt.parse_rfc3339(p.issued_at)
        except B2ReleaseError:
            return
        self.earliest[key] = min(issued, self.earliest.get(key, issued))

    def _time(self, p: pointer_fmt.Pointer) -> int | None:
        """Whole seconds of a decision not seen at the start; None if seen at the start."""
        key = decision_of(p)
        if key in self.at_start:
            return None
        issued = self.earliest.get(key)
        if issued is None:
            try:
                issued = pointer_fmt.parse_rfc3339(p.issued_at)
            except B2ReleaseError:
                return None
        return int(issued)

    def rollback_is_newer(self, p: pointer_fmt.Pointer) -> bool:
        """For upload / promote: `p` is a rollback that started at or after this command."""
        t = self._time(p)
        return p.rollback is not None and t is not None and t >= int(self.started)

    def forward_is_newer(self, p: pointer_fmt.Pointer) -> bool:
        """For rollback: `p` is an upload or promote that started after this command."""
        t = self._time(p)
        return p.rollback is None and t is not None and t > int(self.started)


class Lost(CheckFailed):
    """This command's decision lost against another writer's (a higher version for upload
    or promote, a newer rollback, ...): the other writer's pointer stays."""


def changed_unverified(state: ChannelState, command: str) -> PointerConflict:
    return PointerConflict(
        f"{state.container}/{state.path} changed while this command ran and does not verify with the release key "
        f"(another writer stopped between the pointer and its signature?); nothing was overwritten, re-run "
        f"`b2release {command}` (a pointer that still does not verify then is rewritten)"
    )


# --- writing ------------------------------------------------------------------------------
@dataclass
class Move:
    """One container's planned pointer change (pointer None: already right, left alone)."""

    container: str
    state: ChannelState  # the channel as read before the (last) write attempt
    from_version: str | None
    to_version: str
    pointer: pointer_fmt.Pointer | None = None
    retries: int = 0  # lost compare-and-swaps resolved by reading and deciding again

    @property
    def sequence(self) -> int | None:
        if self.pointer is not None:
            return self.pointer.sequence
        return self.state.pointer.sequence if self.state.pointer is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {"container": self.container, "from": self.from_version, "to": self.to_version,
                "sequence": self.sequence, "changed": self.pointer is not None}


# decide(state, during): the Move for a channel as just read. `during` is True for a read
# after a lost compare-and-swap (another writer acted while this command ran). Raises a
# B2ReleaseError (usually Lost) when this command must not write there.
Decide = Callable[[ChannelState, bool], Move]


def write_moves(state: State, store: Store, moves: list[Move], key: SigningKey, cache_control: str,
                command: str, *, read: Reader | None = None, decide: Decide | None = None,
                on_moved: Callable[[list[Move]], None] | None = None, workers: int = 1) -> list[tuple[str, str]]:
    """Write every planned pointer; queue what was written for purge.

    With `workers` 1, in the order given, stopping at the first failure. With more, every
    move but the last at once (`workers` at a time), then the last one (callers put the
    release container last: the channel as it stands for everyone moves only after every
    tenant did), so many tenants cost about what one does.

    With `read` and `decide`, a lost compare-and-swap is resolved: the channel is read
    again (after a random pause), `decide` is asked again, and what it returns is written
    (or nothing, or it raises), at most ATTEMPTS times per container. Without them the
    first lost swap fails the command. Each move is updated in place with what was done.

    A failure part-way (a lost decision, a store error) still queues the pointers already
    written, and says which containers moved. `on_moved` is told the moves written (the
    audit log), also after a failure part-way.
    """
    logger = log.get(command)
    written: list[tuple[str, str]] = []
    moved: list[str] = []
    done: list[Move] = []

    def write_one(index: int) -> list[str]:
        move = moves[index]
        attempt = 1
        while move.pointer is not None:
            # `since` and `override` of the pointer it replaces, as read right before this write.
            move.pointer = pointer_fmt.carry_over(move.state.pointer, bool(move.state.verified), move.pointer)
            try:
                return write_channel(store, move.container, move.pointer, key, cache_control, move.state.etag,
                                     existed=move.state.raw is not None, signature_etag=move.state.signature_etag,
                                     signature_existed=move.state.signature is not None)
            except PointerConflict as conflict:
                if read is None or decide is None:
                    raise
                if attempt >= ATTEMPTS:
                    raise PointerConflict(f"{conflict.message} (still changing after {attempt} attempts)") from None
                delay = retry_delay(attempt)
                logger.warning("%s; reading it again and deciding again in %.2fs (attempt %d of %d)",
                               conflict.message.split(";")[0], delay, attempt + 1, ATTEMPTS)
                sleep(delay)
                fresh = settle(read, move.container, SETTLE_DURING_S)
                retries = move.retries + 1
                move = moves[index] = decide(fresh, True)
                move.retries = retries
                attempt += 1
        return []  # nothing (left) to write here

    indexes = list(range(len(moves)))
    groups = [[i] for i in indexes] if workers <= 1 else [indexes[:-1], indexes[-1:]]
    _test_barrier()
    try:
        for group in groups:
            failure: BaseException | None = None
            for outcome in fanout.settle_all(write_one, group, workers):
                if outcome.error is not None:
                    failure = failure or outcome.error
                elif outcome.value:
                    written.extend((moves[outcome.item].container, path) for path in outcome.value)
                    moved.append(moves[outcome.item].container)
                    done.append(moves[outcome.item])
            if failure is not None:
                raise failure
    except B2ReleaseError as exc:
        if done and on_moved is not None:
            try:
                on_moved(done)
            except B2ReleaseError as audit_exc:
                exc.message = f"{exc.message}; {audit_exc.message}"
        if moved:
            if isinstance(exc, Lost):
                exc.message = f"{exc.message}; {command} had moved the pointer in {', '.join(moved)} before that"
            else:
                exc.message = (f"{exc.message}; {command} already moved the pointer in {', '.join(moved)}: "
                               f"re-run the same `b2release {command}` to finish")
            exc.args = (exc.message,)
        raise
    finally:
        state.queue_purge(written)
    if done and on_moved is not None:
        on_moved(done)
    return written


def rerun_hint(exc: B2ReleaseError, command: str) -> B2ReleaseError:
    """A store or CDN failure (exit 3): say what to re-run, once. Re-running is always
    safe: versioned files already complete are not sent again, pointers already right
    are left alone."""
    if isinstance(exc, ToolError) and "re-run" not in exc.message:
        exc.message = f"{exc.message}; re-run the same `b2release {command}` to finish (what is complete is kept)"
        exc.args = (exc.message,)
    return exc


def nothing_changed(exc: B2ReleaseError, prefix: str) -> B2ReleaseError:
    """Re-word a pre-check failure: what was being done, and that nothing changed."""
    exc.message = f"{prefix}: {exc.message}; nothing was changed"
    exc.args = (exc.message,)
    return exc


def purge_follow_up(state: State, purge: bool, written: list[tuple[str, str]], data: dict[str, Any], *,
                    store: str | None = None, signing_key: Path | None = None,
                    ) -> tuple[list[str | tuple[str, dict[str, Any]]], str]:
    """What follows a pointer move: the purge stage, chained by the runner (then, done), or
    with --no-purge a "not-run" entry in the result's data (the queue is kept for later).
    The purge gets the store and key this command used: its audit line goes to that store."""
    if not purge:
        data["purge"] = {"status": "not-run", "reason": "--no-purge", "pending": len(state.pending_purge)}
        return [], ""
    values = {k: v for k, v in (("store", store), ("signing_key", signing_key)) if v is not None}
    return [("purge", values) if values else "purge"], \
        "the channel pointers moved (the purge list is kept in state.json)" if written else ""
