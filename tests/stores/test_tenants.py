"""Tenant ids -> Azure container names."""

from __future__ import annotations

import pytest

from b2release.errors import UsageError
from b2release.stores.tenants import container_name_problem, tenant_container, validate_tenants


@pytest.mark.parametrize("tenant", ["acme", "a", "globex-2", "x1-y2-z3", "a" * 56])
def test_valid_tenants(tenant):
    name = tenant_container(tenant)
    assert name == f"tenant-{tenant}" and container_name_problem(name) is None


@pytest.mark.parametrize("tenant, needle", [
    ("", "must not be empty"),
    ("ACME", "use lowercase"),
    ("ac--me", "single '-'"),
    ("acme-", "single '-'"),
    ("-acme", "single '-'"),
    ("ac.me", "single '-'"),
    ("a" * 57, "at most 56"),
])
def test_invalid_tenants(tenant, needle):
    with pytest.raises(UsageError, match="invalid tenant id") as info:
        tenant_container(tenant)
    assert needle in info.value.message


def test_container_rules():
    assert container_name_problem("ab") and container_name_problem("a" * 64)
    assert container_name_problem("Releases") == "must be lowercase"
    assert container_name_problem("releases") is None


def test_duplicates_collapse_in_order():
    assert validate_tenants(["b", "a", "b"]) == ["b", "a"]
