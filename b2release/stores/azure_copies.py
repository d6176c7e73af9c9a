"""Server-side copies on Azure (the fan-out of a release to its tenants), and the
short-lived read SAS each copy names as its source.

A source of known size up to 256 MiB is copied with Copy Blob From URL: synchronous, one
request, done when it returns (on Azurite, half the work of the asynchronous copy). A larger
one, or one of unknown size, with the asynchronous Copy Blob, polled until it ends and then
checked for size and sha256. Both are create-only at the destination (If-None-Match: *).
A source's SAS is made once per blob for half its lifetime, and a user delegation key once
per store, so a fan-out makes no request per copy beyond the copy itself.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from b2release import log
from b2release.errors import RemoteError
from b2release.redact import register_secret
from b2release.stores.base import SHA256_METADATA, AlreadyExists

if TYPE_CHECKING:
    from b2release.stores.azure import AzureStore

COPY_TIMEOUT_S = 3600
SYNC_COPY_MAX = 256 << 20  # the largest source Copy Blob From URL (synchronous) takes; else Copy Blob
SOURCE_SAS_MINUTES = 60  # lifetime of the read SAS a server-side copy uses as its source
CLOCK_SKEW = timedelta(minutes=5)

logger = log.get("store")


class _SyncRefused(Exception):
    """Copy Blob From URL answered CannotVerifyCopySource: the service did not read the source."""


class AzureCopies:
    """The copy half of AzureStore (a mixin: it uses the store's client and error mapping)."""

    sync_copies = True  # False once the service refused a synchronous copy (then for the whole run)

    @staticmethod
    def _start_copy(dest: Any, source: str, sha256: str, sync: bool, where: str) -> dict[str, Any]:
        from azure.core import MatchConditions
        from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceModifiedError

        try:
            return dest.start_copy_from_url(source, metadata={SHA256_METADATA: sha256},
                                            match_condition=MatchConditions.IfMissing, requires_sync=sync)
        except HttpResponseError as exc:
            code = str(getattr(exc.error_code, "value", exc.error_code) or "")
            if sync and code == "CannotVerifyCopySource":  # whatever its status (401, 403, 404, 409)
                raise _SyncRefused() from None
            if isinstance(exc, (ResourceExistsError, ResourceModifiedError)):
                raise AlreadyExists(where) from None
            raise

    def _read_sas_url(self: AzureStore, container: str, path: str) -> str:
        """URL of a blob with a short-lived read-only SAS (copy source).

        Made once per blob for half its lifetime: a fan-out copies each file to every tenant,
        and a SAS (with a user delegation key, one request) per copy was most of its cost."""
        cached = self._source_urls.get((container, path))
        if cached is not None and time.monotonic() - cached[0] < SOURCE_SAS_MINUTES * 30:
            return cached[1]
        url = self._make_read_sas_url(container, path)
        self._source_urls[(container, path)] = (time.monotonic(), url)
        return url

    def _delegation_key(self: AzureStore, now: datetime) -> Any:
        with self._source_lock:  # one request for every copy of a fan-out, not one per copy
            made = self._delegation
            if made is None or time.monotonic() - made[0] >= SOURCE_SAS_MINUTES * 30:
                with self._errors("getting a user delegation key for the copy source"):
                    key = self.service.get_user_delegation_key(now - CLOCK_SKEW,
                                                               now + timedelta(minutes=SOURCE_SAS_MINUTES))
                made = self._delegation = (time.monotonic(), key)
            return made[1]

    def _make_read_sas_url(self: AzureStore, container: str, path: str) -> str:
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        blob_url = self.blob_url(container, path)
        now = datetime.now(timezone.utc)
        protocol = "https" if self.https else "https,http"
        if self.auth.account_key:
            sas = generate_blob_sas(self.auth.account_name, container, path, account_key=self.auth.account_key,
                                    permission=BlobSasPermissions(read=True), start=now - CLOCK_SKEW,
                                    expiry=now + timedelta(minutes=SOURCE_SAS_MINUTES), protocol=protocol)
        elif self.auth.token_credential is not None:
            sas = generate_blob_sas(self.auth.account_name, container, path,
                                    user_delegation_key=self._delegation_key(now),
                                    permission=BlobSasPermissions(read=True), start=now - CLOCK_SKEW,
                                    expiry=now + timedelta(minutes=SOURCE_SAS_MINUTES), protocol=protocol)
        else:
            sas = self.auth.sas_token or ""
        register_secret(sas)
        return f"{blob_url}?{sas}" if sas else blob_url

    def copy_within(self: AzureStore, src_container: str, path: str, dst_container: str, sha256: str,
                    size: int | None = None) -> None:
        what = f"copying {path} from {src_container} to {dst_container}"
        source = self._read_sas_url(src_container, path)
        dest = self._blob(dst_container, path)
        # Synchronous when the size allows: one request, half the service's work (a fan-out
        # makes one per tenant and file).
        sync = size is not None and size <= SYNC_COPY_MAX and self.sync_copies
        with self._errors(what):
            try:
                started = self._start_copy(dest, source, sha256, sync, f"{dst_container}/{path}")
            except _SyncRefused:
                # The service would not fetch the source itself (a network rule on the account
                # lets only requests from within it read): the asynchronous copy reads it from
                # within. So for the rest of this run.
                with self._source_lock:
                    if self.sync_copies:  # said once, though copies run side by side
                        self.sync_copies = False
                        logger.info("the service refused a synchronous copy (CannotVerifyCopySource): copying "
                                    "asynchronously")
                started = self._start_copy(dest, source, sha256, False, f"{dst_container}/{path}")
            status = started.get("copy_status")
            if status == "success":
                # Copied within the request (always so for a synchronous copy, and for an
                # asynchronous one within an account): the service vouches for the bytes of
                # its own blob, and the sha256 metadata is ours; nothing to read back.
                return
            deadline = time.monotonic() + COPY_TIMEOUT_S
            delay = 0.2
            while status == "pending":
                if time.monotonic() > deadline:
                    raise RemoteError(f"{what}: still pending after {COPY_TIMEOUT_S}s")
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                status = dest.get_blob_properties().copy.status
            if status != "success":
                raise RemoteError(f"{what}: copy ended with status {status}")
            props = dest.get_blob_properties()
            src_props = self._blob(src_container, path).get_blob_properties()
        if props.size != src_props.size or (props.metadata or {}).get(SHA256_METADATA) != sha256:
            raise RemoteError(f"{what}: the copy does not match its source (size or sha256)")
