"""Tenant ids and the container names they map to (`tenant-<id>`).

Azure container names: 3-63 characters, lowercase letters, digits and '-', starting
with a letter or digit, every '-' between two letters/digits (no '--', no trailing '-').
We refuse anything else with a message instead of silently rewriting the id: a tenant
id is part of a security boundary, and two ids must never map to one container.
"""

from __future__ import annotations

from b2release.errors import UsageError
from b2release.formats.names import CONTAINER_NAME, TENANT_PREFIX, container_name_problem, validate_container_name

__all__ = ["TENANT_PREFIX", "container_name_problem", "tenant_container", "validate_container_name",
           "validate_tenant_id", "validate_tenants"]

MAX_TENANT_ID = 63 - len(TENANT_PREFIX)


def validate_tenant_id(tenant: str) -> str:
    text = tenant or ""
    if not text:
        raise UsageError("invalid tenant id '': it must not be empty")
    if text != text.lower():
        raise UsageError(f"invalid tenant id {tenant!r}: use lowercase (e.g. {text.lower()!r})")
    if len(text) > MAX_TENANT_ID:
        raise UsageError(f"invalid tenant id {tenant!r}: at most {MAX_TENANT_ID} characters "
                         f"(the container {TENANT_PREFIX}<id> must fit in 63)")
    if not CONTAINER_NAME.fullmatch(text):
        raise UsageError(
            f"invalid tenant id {tenant!r}: use lowercase letters, digits and single '-' between them "
            f"(it becomes the Azure container name {TENANT_PREFIX}<id>)"
        )
    return text


def tenant_container(tenant: str) -> str:
    """The container that holds one tenant's copy of every release."""
    return validate_container_name(TENANT_PREFIX + validate_tenant_id(tenant), "tenant container name")


def validate_tenants(tenants: list[str]) -> list[str]:
    """Validated, de-duplicated, order kept."""
    seen: list[str] = []
    for tenant in tenants:
        validate_tenant_id(tenant)
        if tenant not in seen:
            seen.append(tenant)
    return seen
