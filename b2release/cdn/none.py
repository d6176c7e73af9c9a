"""The `none` CDN provider: the store is served directly, so there is no cache to purge."""

from __future__ import annotations

from typing import Callable

from b2release.cdn import PurgeReport


class NoneProvider:
    name = "none"
    enabled = False
    skip_reason = "cdn.provider is none"

    def purge(self, urls: list[str], on_batch: Callable[[int, int, int], None] | None = None) -> PurgeReport:
        # Nothing sits in front of the store; a purge is a successful no-op.
        return PurgeReport()
