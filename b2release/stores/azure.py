"""Azure Blob Storage store (azure-storage-blob, imported lazily inside methods, so that
`b2release --help` never loads the SDK). Credentials come from `stores.azure_auth`.
Plain http endpoints (emulators) are refused unless [store] allow_http_emulator = true.
"""

from __future__ import annotations

import hashlib
import mimetypes
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote, urlsplit

from b2release import log
from b2release.errors import ConfigError, RemoteError
from b2release.fsutil import CHUNK
from b2release.stores.azure_auth import AzureAuth
from b2release.stores.azure_copies import AzureCopies
from b2release.stores.azure_grants import AzureGrants
from b2release.stores.azure_transport import transport_options
from b2release.stores.base import (
    SHA256_METADATA,
    AlreadyExists,
    BlobInfo,
    PreconditionFailed,
    ProgressFn,
    Store,
)

logger = log.get("store")

BLOCK_SIZE = 4 << 20  # chunk size of block uploads; larger files go up in parallel blocks
CONNECTION_TIMEOUT_S = 20
READ_TIMEOUT_S = 120  # a response slower than this is a failed attempt (retried like a 5xx)
LIST_PAGE_MAX = 5000  # the most names one listing request returns


def _mime(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    if name == "SHA256SUMS":
        return "text/plain; charset=utf-8"
    if name.endswith(".sig"):
        return "application/octet-stream"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _logged_retry(**kwargs: Any) -> Any:
    """The SDK's exponential retry, plus one warning line per retry (JSON logs carry the
    run's correlation id, which every request also sends as x-ms-client-request-id)."""
    from azure.storage.blob import ExponentialRetry

    class LoggedRetry(ExponentialRetry):
        def increment(self, settings: dict[str, Any], request: Any, response: Any = None, error: Any = None) -> bool:
            more = super().increment(settings, request, response=response, error=error)
            if more:
                problem = (f"HTTP {response.status_code}" if response is not None
                           else type(getattr(error, "inner_exception", None) or error).__name__)
                # The path only: a query string may carry a SAS.
                logger.warning("Azure %s %s: %s; retry %d of %d", request.method, urlsplit(request.url).path,
                               problem, settings["count"], self.total_retries)
            return more

    return LoggedRetry(**kwargs)


def _md5_file(path: Path) -> bytes:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.digest()


class AzureStore(AzureCopies, AzureGrants, Store):
    kind = "azure"
    supports_grants = True

    def __init__(self, auth: AzureAuth, *, correlation_id: str, max_concurrency: int = 4, retries: int = 4,
                 retry_backoff: int = 2, allow_http: bool = False):
        from azure.storage.blob import BlobServiceClient

        self.auth = auth
        self.max_concurrency = max(1, max_concurrency)
        self._source_urls: dict[tuple[str, str], tuple[float, str]] = {}
        self._source_lock = threading.Lock()
        self._delegation: tuple[float, Any] | None = None
        scheme = urlsplit(auth.account_url).scheme
        if scheme == "http" and not allow_http:
            raise ConfigError(
                f"Azure endpoint {auth.account_url} ({auth.source}) is plain http; only emulators may use http: "
                "set [store] allow_http_emulator = true (B2RELEASE_STORE_ALLOW_HTTP_EMULATOR) for a local emulator"
            )
        if scheme not in ("http", "https"):
            raise ConfigError(f"Azure endpoint {auth.account_url} ({auth.source}) must be an https URL")
        self.https = scheme == "https"

        def stamp(request: Any) -> None:
            # One id for every request of this run, so Azure's logs line up with ours.
            request.http_request.headers["x-ms-client-request-id"] = correlation_id

        backoff = max(0, retry_backoff)
        kwargs: dict[str, Any] = dict(
            # Timeouts, 5xx and 429 are retried: retry n waits about b + b**n seconds (b=2: 4, 6, 10, 18).
            retry_policy=_logged_retry(initial_backoff=backoff, increment_base=backoff,
                                       retry_total=max(0, retries), random_jitter_range=min(1, backoff)),
            raw_request_hook=stamp,
            max_single_put_size=BLOCK_SIZE,
            max_block_size=BLOCK_SIZE,
            **transport_options(auth.account_url, CONNECTION_TIMEOUT_S, READ_TIMEOUT_S),
        )
        if auth.account_key:
            credential: Any = {"account_name": auth.account_name, "account_key": auth.account_key}
        elif auth.sas_token:
            from azure.core.credentials import AzureSasCredential

            credential = AzureSasCredential(auth.sas_token)
        else:
            credential = auth.token_credential
        self.service = BlobServiceClient(auth.account_url, credential=credential, **kwargs)

    @property
    def description(self) -> str:
        return self.auth.account_url

    def close(self) -> None:
        self.service.close()

    # --- errors ----------------------------------------------------------------------------
    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Turn SDK exceptions into one-line b2release errors (no URLs, no credentials)."""
        from azure.core.exceptions import (
            AzureError,
            ClientAuthenticationError,
            HttpResponseError,
            ServiceRequestError,
            ServiceResponseError,
        )

        try:
            yield
        except (AlreadyExists, PreconditionFailed):
            raise
        except ClientAuthenticationError as exc:
            raise RemoteError(
                f"{what}: Azure refused the credentials from {self.auth.source or 'the environment'} "
                f"(HTTP {exc.status_code or '?'})"
            ) from None
        except HttpResponseError as exc:
            code = getattr(exc, "error_code", None) or ""
            code = str(getattr(code, "value", code))
            if exc.status_code == 403 and code in ("AuthenticationFailed", "AuthorizationFailure", ""):
                raise RemoteError(
                    f"{what}: Azure refused the credentials from {self.auth.source or 'the environment'} "
                    f"(HTTP 403 {code})".strip()
                ) from None
            raise RemoteError(f"{what}: Azure answered HTTP {exc.status_code} {code}".strip()) from None
        except (ServiceRequestError, ServiceResponseError) as exc:
            reason = type(exc.inner_exception or exc).__name__
            if "SSL" in str(exc) or "certificate" in str(exc).lower():
                reason = "TLS certificate not trusted (set REQUESTS_CA_BUNDLE for a private CA)"
            raise RemoteError(f"{what}: cannot reach {self.auth.account_url} ({reason})") from None
        except OSError as exc:
            raise RemoteError(f"{what}: {exc.strerror or type(exc).__name__}") from None
        except AzureError as exc:  # anything else the SDK gives up with (a broken stream, ...)
            raise RemoteError(f"{what}: {type(exc).__name__}") from None

    def _blob(self, container: str, path: str):
        return self.service.get_blob_client(container, path)

    @staticmethod
    def _info(path: str, props: Any) -> BlobInfo:
        settings = props.content_settings
        md5 = bytes(settings.content_md5).hex() if settings and settings.content_md5 else None
        return BlobInfo(
            path=path,
            size=int(props.size or 0),
            sha256=(props.metadata or {}).get(SHA256_METADATA),
            etag=props.etag,
            cache_control=settings.cache_control if settings else None,
            content_md5=md5,
        )

    # --- containers ------------------------------------------------------------------------
    def container_exists(self, container: str) -> bool:
        with self._errors(f"checking container {container}"):
            return self.service.get_container_client(container).exists()

    def containers_starting_with(self, prefix: str, limit: int) -> set[str] | None:
        from azure.core.exceptions import HttpResponseError

        # One page of at most limit + 1 names: one request, whatever the account holds.
        with self._errors(f"listing the containers {prefix}*"):
            try:
                pages = self.service.list_containers(name_starts_with=prefix or None,
                                                     results_per_page=min(limit + 1, LIST_PAGE_MAX)).by_page()
                found = {c.name for c in next(pages, [])}
            except HttpResponseError as exc:
                if exc.status_code == 403:  # a SAS or role without account-level listing: ask each container
                    return None
                raise
        return found if len(found) <= limit and not pages.continuation_token else None

    def ensure_container(self, container: str) -> bool:
        from azure.core.exceptions import ResourceExistsError

        with self._errors(f"creating container {container}"):
            try:
                self.service.create_container(container)  # private: no public access level
                logger.info("created container %s", container)
                return True
            except ResourceExistsError:
                return False

    # --- reading ---------------------------------------------------------------------------
    def stat(self, container: str, path: str) -> BlobInfo | None:
        from azure.core.exceptions import ResourceNotFoundError

        with self._errors(f"reading {container}/{path}"):
            try:
                return self._info(path, self._blob(container, path).get_blob_properties())
            except ResourceNotFoundError:
                return None

    def list(self, container: str, prefix: str = "") -> list[BlobInfo]:
        return self.list_existing(container, prefix) or []

    def list_existing(self, container: str, prefix: str = "") -> list[BlobInfo] | None:
        from azure.core.exceptions import ResourceNotFoundError

        with self._errors(f"listing {container}/{prefix}"):
            try:
                client = self.service.get_container_client(container)
                blobs = [self._info(b.name, b) for b in client.list_blobs(name_starts_with=prefix or None,
                                                                          include=["metadata"])]
            except ResourceNotFoundError:  # ContainerNotFound (a blob listing has no other 404)
                return None
        return sorted(blobs, key=lambda b: b.path)

    def read_bytes(self, container: str, path: str, max_size: int = 1 << 20) -> tuple[bytes, BlobInfo] | None:
        from azure.core.exceptions import ResourceNotFoundError

        with self._errors(f"reading {container}/{path}"):
            try:
                downloader = self._blob(container, path).download_blob(max_concurrency=1)
            except ResourceNotFoundError:
                return None
            if downloader.size > max_size:
                raise RemoteError(f"{container}/{path} is larger than {max_size} bytes; refusing to read it")
            data = downloader.readall()
            return data, self._info(path, downloader.properties)

    # --- writing ---------------------------------------------------------------------------
    def create_from_file(self, container: str, path: str, source: Path, sha256: str, cache_control: str,
                         progress: ProgressFn | None = None) -> int:
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
        from azure.storage.blob import ContentSettings

        size = source.stat().st_size
        sent = [0]

        def hook(current: int, total: int | None) -> None:
            if progress is not None and current > sent[0]:
                progress(current - sent[0])
            sent[0] = max(sent[0], current)

        settings = ContentSettings(content_type=_mime(path), cache_control=cache_control,
                                   content_md5=bytearray(_md5_file(source)))
        with self._errors(f"uploading {container}/{path}"):
            try:
                with open(source, "rb") as fh:
                    # overwrite=False: If-None-Match:* on the put / block-list commit, so an
                    # existing versioned file is never replaced. validate_content: each request
                    # carries an MD5 the service checks; the blob keeps the whole-file MD5.
                    self._blob(container, path).upload_blob(
                        fh, length=size, overwrite=False, metadata={SHA256_METADATA: sha256},
                        content_settings=settings, validate_content=True,
                        max_concurrency=self.max_concurrency, progress_hook=hook,
                    )
            except (ResourceExistsError, ResourceModifiedError):
                raise AlreadyExists(f"{container}/{path}") from None
        return size

    def write_bytes(self, container: str, path: str, data: bytes, cache_control: str, *,
                    if_match: str | None = None, if_none_match: bool = False) -> BlobInfo:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
        from azure.storage.blob import ContentSettings

        conditions: dict[str, Any] = {}
        if if_none_match:
            conditions = {"overwrite": False}
        elif if_match is not None:
            conditions = {"overwrite": True, "etag": if_match, "match_condition": MatchConditions.IfNotModified}
        else:
            conditions = {"overwrite": True}
        settings = ContentSettings(content_type=_mime(path), cache_control=cache_control,
                                   content_md5=bytearray(hashlib.md5(data, usedforsecurity=False).digest()))
        with self._errors(f"writing {container}/{path}"):
            try:
                result = self._blob(container, path).upload_blob(
                    data, content_settings=settings, validate_content=True,
                    metadata={SHA256_METADATA: hashlib.sha256(data).hexdigest()}, **conditions,
                )
            except (ResourceExistsError, ResourceModifiedError):
                raise PreconditionFailed(f"{container}/{path}") from None
        return BlobInfo(path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                        etag=result.get("etag", ""), cache_control=cache_control)

    # --- URLs --------------------------------------------------------------------------------
    def location(self, container: str, path: str) -> str:
        return self.blob_url(container, path)

    def blob_url(self, container: str, path: str) -> str:
        return f"{self.auth.account_url}/{container}/{quote(path)}"

    def container_url(self, container: str) -> str:
        return f"{self.auth.account_url}/{container}"
