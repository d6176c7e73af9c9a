"""Hashing package entries on all cores, streaming, and handing chosen entries' bytes to
a sink (verify copies PE files to a temp dir for an Authenticode check).

Each worker streams one entry at a time (`PackageArchive.stream`, 1 MiB chunks: flat
memory); zlib and hashlib release the GIL, so threads use every core. The error raised is
always the one of the first bad entry in archive order, whatever the thread timing.

An entry whose compressed bytes (by sha256), method, CRC-32 and sizes equal an entry
already inflated and checked has that entry's content (inflating is deterministic), so it
takes that digest instead of inflating again (formats/twins.py); only its first bytes are
inflated when a sink wants to look at them, and all of them when the sink wants them all.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol

from b2release.formats.archive_reader import PackageArchive
from b2release.formats.twins import Twins, twin_rank
from b2release.formats.zip_layout import ZipEntry


class EntrySink(Protocol):
    """Receives the bytes of one entry from `hash_entries` (in a worker thread)."""

    def write(self, data: bytes) -> None: ...

    def wants_more(self) -> bool:
        """Whether it still needs bytes (False once the first bytes it looks at were enough)."""

    def finish(self, sha256: str, size: int) -> None:
        """Called once all bytes were written and the entry's size and CRC-32 checked."""

    def abort(self) -> None:
        """Called instead of `finish` when the entry fails to read or check."""


SinkFactory = Callable[[ZipEntry], "EntrySink | None"]


@dataclass(frozen=True)
class _Result:
    sha256: str
    size: int


class _FirstFailure:
    """The lowest entry position that failed so far: later entries stop early, earlier ones finish.

    The error raised is then always the one of the first bad entry in archive order,
    whatever the thread timing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.position: int | None = None

    def record(self, position: int) -> None:
        with self._lock:
            if self.position is None or position < self.position:
                self.position = position

    def after(self, position: int) -> bool:
        first = self.position
        return first is not None and first < position


def _stream_key(archive: PackageArchive, entry: ZipEntry) -> tuple[object, ...]:
    """What makes two entries' content the same without inflating them: their compressed bytes."""
    raw = hashlib.sha256()
    for chunk in archive.raw_chunks(entry):
        raw.update(chunk)
    return entry.method, entry.crc32, entry.size, entry.compressed_size, raw.hexdigest()


def _hash_one(archive: PackageArchive, entry: ZipEntry, position: int, failure: _FirstFailure,
              sink: SinkFactory | None, progress: Callable[[int], None] | None,
              twins: Twins[_Result] | None) -> _Result:
    if twins is None:  # no other entry of its compressed size: it has no twin, no key to read
        return _hash_stream(archive, entry, position, failure, sink(entry) if sink is not None else None, progress)
    try:
        key = _stream_key(archive, entry)
    except BaseException:
        failure.record(position)
        raise
    twin = twins.claim(key)
    if twin is not None:
        target = sink(entry) if sink is not None else None
        if target is None or _head_enough(archive, entry, target):
            if target is not None:
                target.finish(twin.sha256, twin.size)
            if progress is not None:
                progress(entry.size)
            return twin
        target.abort()  # it wants every byte: a fresh sink gets a full stream
        return _hash_stream(archive, entry, position, failure, sink(entry) if sink is not None else None, progress)
    result = None
    try:
        result = _hash_stream(archive, entry, position, failure, sink(entry) if sink is not None else None,
                              progress)
        return result
    finally:
        twins.publish(key, result)


HEAD_STEPS = (4 << 10, 128 << 10)  # first bytes a sink may look at without the whole entry (PE headers)


def _head_enough(archive: PackageArchive, entry: ZipEntry, target: EntrySink) -> bool:
    """Feed `target` the first bytes of an entry whose content is known good, inflating only
    those (a page, then more if it asks); False when it wants more than that (then it gets a
    fresh sink and a full stream)."""
    fed = 0
    for limit in HEAD_STEPS:
        head = archive.head(entry, limit)
        target.write(head[fed:])
        fed = len(head)
        if fed == entry.size or not target.wants_more():
            return True
    return False


def _hash_stream(archive: PackageArchive, entry: ZipEntry, position: int, failure: _FirstFailure,
                 target: EntrySink | None, progress: Callable[[int], None] | None) -> _Result:
    digest = hashlib.sha256()
    try:
        for chunk in archive.stream(entry, _cancel=lambda: failure.after(position)):
            digest.update(chunk)
            if target is not None:
                target.write(chunk)
            if progress is not None:
                progress(len(chunk))
    except BaseException:
        failure.record(position)
        if target is not None:
            target.abort()
        raise
    result = _Result(digest.hexdigest(), entry.size)
    if target is not None:
        target.finish(result.sha256, result.size)
    return result


def hash_entries(archive: PackageArchive, entries: Iterable[ZipEntry] | None = None, *, workers: int | None = None,
                 sink: SinkFactory | None = None,
                 progress: Callable[[int], None] | None = None) -> dict[str, tuple[str, int]]:
    """sha256 and size of each entry (all by default), entries inflated and hashed in parallel.

    Each worker streams one entry at a time in 1 MiB chunks, so memory stays flat. `sink`,
    if given, is called in the worker with each entry and returns an `EntrySink` that
    receives the entry's bytes, or None to skip it; `progress(n)`, also called in the
    workers, hears of each chunk's size. Raises the `VerificationError` of the first bad
    entry in archive order.
    """
    chosen = list(archive.entries if entries is None else entries)
    workers = max(1, min(workers or os.cpu_count() or 1, len(chosen) or 1))
    failure = _FirstFailure()
    twins: Twins[_Result] = Twins()
    # Twins have the same compressed size: an entry whose size no other has is not keyed
    # (no extra read of its compressed bytes).
    sizes = Counter(e.compressed_size for e in chosen)

    def twins_of(entry: ZipEntry) -> Twins[_Result] | None:
        return twins if sizes[entry.compressed_size] > 1 else None

    results: dict[str, tuple[str, int]] = {}
    if workers == 1:
        for position, entry in enumerate(chosen):
            result = _hash_one(archive, entry, position, failure, sink, progress, twins_of(entry))
            results[entry.name] = (result.sha256, result.size)
        return results
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hash-entries") as pool:
        # Largest entries first, so that one big entry does not start last and run alone;
        # likely twins (same compressed size) after every first one.
        rank = twin_rank([e.compressed_size for e in chosen])
        order = sorted(range(len(chosen)), key=lambda i: (rank[i], -chosen[i].compressed_size))
        futures = {i: pool.submit(_hash_one, archive, chosen[i], i, failure, sink, progress,
                                   twins_of(chosen[i])) for i in order}
        try:
            for position, entry in enumerate(chosen):
                result = futures[position].result()
                results[entry.name] = (result.sha256, result.size)
        except BaseException:
            for future in futures.values():
                future.cancel()
            raise
    return results
