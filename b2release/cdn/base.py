"""What every CDN provider offers: `purge(urls)` and the report of what it did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

# Called after each batch with (batch number, batches in all, URLs in this batch).
BatchFn = Callable[[int, int, int], None]


@dataclass
class PurgeReport:
    """What a provider did: the URLs purged, in how many requests, after how many retries."""

    urls: list[str] = field(default_factory=list)
    requests: int = 0
    batches: int = 0
    retries: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"urls": self.urls, "requests": self.requests, "batches": self.batches, "retries": self.retries}


class Provider(Protocol):
    name: str
    enabled: bool

    def purge(self, urls: list[str], on_batch: BatchFn | None = None) -> PurgeReport:
        """Purge the URLs; raise RemoteError (exit 3) when the CDN refuses or stays unreachable."""
        ...
