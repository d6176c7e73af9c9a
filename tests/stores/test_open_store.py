"""open_store: URL forms, auth resolution, redaction of credentials, the http switch."""

from __future__ import annotations

from pathlib import Path

import pytest

from b2release import config as config_mod
from b2release import redact
from b2release.errors import ConfigError
from b2release.stores import open_store
from b2release.stores.azure_auth import account_name_from_url, parse_connection_string, resolve_auth


def config_for(tmp_path: Path, toml: str = "") -> config_mod.Config:
    path = None
    if toml:
        path = tmp_path / "b2release.toml"
        path.write_text(toml, encoding="utf-8")
    return config_mod.load(path)


def test_file_url_relative_to_the_config_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path.parent)
    store = open_store(config_for(tmp_path, '[store]\nurl = "file://mirror"\n'))
    assert store.kind == "file" and store.root == tmp_path / "mirror"
    override = open_store(config_for(tmp_path), "file://elsewhere")
    assert override.root == tmp_path.parent / "elsewhere"


def test_connection_string_key_is_registered_for_redaction(monkeypatch):
    key = "c2VjcmV0LWtleS1mb3ItdGVzdHM=" + "Q" * 20
    conn = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={key};EndpointSuffix=core.windows.net"
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", conn)
    auth = resolve_auth("azure", "")
    assert auth.account_url == "https://acct.blob.core.windows.net" and auth.account_name == "acct"
    assert key in redact.registered() and conn in redact.registered()
    assert key not in redact.redact(f"oops {key}")
    assert parse_connection_string("a=b;SharedAccessSignature=sv=1&sig=zzzzzz")["SHAREDACCESSSIGNATURE"]


def test_account_url_forms(monkeypatch):
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.setenv("AZURE_STORAGE_KEY", "a2V5LWZvci10ZXN0aW5nLW9ubHk=")
    auth = resolve_auth("azure://myacct", "")
    assert (auth.account_url, auth.account_name) == ("https://myacct.blob.core.windows.net", "myacct")
    emulator = resolve_auth("azure", "https://127.0.0.1:10000/devstoreaccount1")
    assert emulator.account_name == "devstoreaccount1" and emulator.account_key
    assert account_name_from_url("https://localhost:1/acct2/") == "acct2"
    with pytest.raises(ConfigError, match=r"is not an http\(s\) URL"):
        resolve_auth("azure", "not a url")


def test_http_endpoint_needs_the_emulator_switch(tmp_path, monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true")
    with pytest.raises(ConfigError, match="allow_http_emulator"):
        open_store(config_for(tmp_path), "azure")
    monkeypatch.setenv("B2RELEASE_STORE_ALLOW_HTTP_EMULATOR", "true")
    store = open_store(config_for(tmp_path), "azure")
    assert store.kind == "azure" and not store.https
    store.close()
