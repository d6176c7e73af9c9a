"""Azure Storage credentials: which account, and with what (docs/distribution.md).

In this order:
- store url `azure`: AZURE_STORAGE_CONNECTION_STRING if set, else [store] account_url;
- store url `azure://<account>`: https://<account>.blob.core.windows.net;
- with an account URL the credential is AZURE_STORAGE_KEY (shared key), else
  AZURE_STORAGE_SAS_TOKEN, else azure-identity's DefaultAzureCredential (managed identity,
  workload identity, az login).
Every secret is registered for redaction the moment it is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from b2release.errors import ConfigError
from b2release.redact import AZURE_CONNECTION_STRING_ENV, AZURE_KEY_ENV, AZURE_SAS_ENV, register_secret, secret_from_env


@dataclass
class AzureAuth:
    """What we know about the account; secrets are registered for redaction already."""

    account_url: str  # blob endpoint, e.g. https://acct.blob.core.windows.net
    account_name: str
    account_key: str | None = None
    sas_token: str | None = None
    connection_string: str | None = None
    token_credential: Any = None
    source: str = ""  # for messages: which variable or key supplied the account


def parse_connection_string(conn: str) -> dict[str, str]:
    """Key=value;... with upper-cased keys; registers the key and SAS for redaction."""
    settings: dict[str, str] = {}
    for part in conn.strip().rstrip(";").split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise ConfigError("AZURE_STORAGE_CONNECTION_STRING is malformed (expected Key=Value;... pairs)")
        settings[key.strip().upper()] = value.strip()
    register_secret(settings.get("ACCOUNTKEY"))
    register_secret(settings.get("SHAREDACCESSSIGNATURE"))
    return settings


def check_endpoint(url: str, where: str) -> None:
    """A usable http(s) endpoint URL, or ConfigError naming where it came from."""
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        usable = False
    if not usable:
        raise ConfigError(f"{where} {url!r} is not an http(s) URL with a valid host "
                          "(e.g. https://acct.blob.core.windows.net)")


def account_name_from_url(url: str) -> str:
    """acct from https://acct.blob.core.windows.net, or from the path for emulators (IP/localhost)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise ConfigError(f"Azure endpoint {url!r} is malformed (host or port)") from None
    if host in ("localhost",) or host.replace(".", "").isdigit() or ":" in host:
        segment = parts.path.strip("/").split("/")[0]
        if not segment:
            raise ConfigError(f"account URL {url} names no account (emulators: http(s)://host:port/<account>)")
        return segment
    return host.split(".")[0]


def resolve_auth(store_url: str, account_url: str) -> AzureAuth:
    if store_url.startswith("azure://"):
        account = store_url[len("azure://"):].strip("/")
        if not account or not account.isalnum() or account != account.lower():
            raise ConfigError(f"store.url {store_url!r}: expected azure://<account> with a lowercase account name")
        account_url, source = f"https://{account}.blob.core.windows.net", "store.url"
        conn = None
    else:
        conn = secret_from_env(AZURE_CONNECTION_STRING_ENV)
        source = "store.account_url"
    if conn and store_url == "azure":
        settings = parse_connection_string(conn)
        if settings.get("USEDEVELOPMENTSTORAGE", "").lower() == "true":
            endpoint = "http://127.0.0.1:10000/devstoreaccount1"
            name = "devstoreaccount1"
        else:
            endpoint = settings.get("BLOBENDPOINT", "")
            name = settings.get("ACCOUNTNAME", "")
            if not endpoint:
                if not name:
                    raise ConfigError("AZURE_STORAGE_CONNECTION_STRING names neither BlobEndpoint nor AccountName")
                protocol = settings.get("DEFAULTENDPOINTSPROTOCOL", "https")
                suffix = settings.get("ENDPOINTSUFFIX", "core.windows.net")
                endpoint = f"{protocol}://{name}.blob.{suffix}"
            check_endpoint(endpoint, "AZURE_STORAGE_CONNECTION_STRING BlobEndpoint")
            if not name:
                name = account_name_from_url(endpoint)
        return AzureAuth(
            account_url=endpoint.rstrip("/"),
            account_name=name,
            account_key=settings.get("ACCOUNTKEY"),
            sas_token=settings.get("SHAREDACCESSSIGNATURE"),
            connection_string=conn,
            source="AZURE_STORAGE_CONNECTION_STRING",
        )
    if not account_url:
        raise ConfigError(
            "no Azure storage account: set AZURE_STORAGE_CONNECTION_STRING, or [store] account_url "
            "(B2RELEASE_STORE_ACCOUNT_URL), or use store.url azure://<account>"
        )
    check_endpoint(account_url, "store.account_url")
    auth = AzureAuth(account_url=account_url.rstrip("/"), account_name=account_name_from_url(account_url),
                     source=source)
    auth.account_key = secret_from_env(AZURE_KEY_ENV)
    if not auth.account_key:
        sas = secret_from_env(AZURE_SAS_ENV)
        auth.sas_token = sas.lstrip("?") if sas else None
        register_secret(auth.sas_token)
    if not auth.account_key and not auth.sas_token:
        try:
            from azure.identity import DefaultAzureCredential
        except ImportError as exc:  # pragma: no cover - azure-identity is a dependency
            raise ConfigError("no AZURE_STORAGE_KEY / AZURE_STORAGE_SAS_TOKEN and azure-identity is missing",
                              hint="pip install azure-identity") from exc
        auth.token_credential = DefaultAzureCredential()
    return auth
