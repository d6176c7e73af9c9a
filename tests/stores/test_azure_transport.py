"""The Azure store reads the environment once: proxies for its host, NO_PROXY, the CA bundle."""

from __future__ import annotations

import pytest

from b2release.stores.azure_transport import transport_options

URL = "https://acct.blob.core.windows.net"


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
                 "ALL_PROXY", "all_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


def test_a_proxy_from_the_environment_is_kept(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    options = transport_options(URL, 5, 30)
    assert options["proxies"]["https"] == "http://proxy.internal:3128"
    assert options["transport"].connection_config.timeout == 5
    assert options["transport"].connection_config.read_timeout == 30


def test_no_proxy_for_the_account_host_means_none(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", ".blob.core.windows.net")
    assert transport_options(URL, 5, 30)["proxies"] is None


def test_the_ca_bundle_is_read_once_as_requests_would(monkeypatch, tmp_path):
    assert transport_options(URL, 5, 30)["transport"].connection_config.verify is True
    monkeypatch.setenv("CURL_CA_BUNDLE", str(tmp_path / "curl.pem"))
    assert transport_options(URL, 5, 30)["transport"].connection_config.verify == str(tmp_path / "curl.pem")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    assert transport_options(URL, 5, 30)["transport"].connection_config.verify == str(tmp_path / "ca.pem")
