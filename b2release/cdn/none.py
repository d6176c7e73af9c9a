"""The `none` CDN provider: the store is served directly, so there is no cache to purge."""

from __future__ import annotations

from b2release.cdn.base import BatchFn, PurgeReport


class NoneProvider:
    name = "none"
    enabled = False
    skip_reason = "cdn.provider is none"

    def purge(self, urls: list[str], on_batch: BatchFn | None = None) -> PurgeReport:
        # Nothing sits in front of the store; a purge is a successful no-op.
        return PurgeReport()
