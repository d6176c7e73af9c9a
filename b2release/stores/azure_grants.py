"""Grants on Azure: read-only, https-only, expiring SAS bound to stored access policies.

Each grant creates its own stored access policy on the container (id
`b2r-<UTC time>-<random>`, never reused) holding the permission (read), start and expiry;
the SAS names only that policy and the protocol (https). So deleting a container's `b2r-`
policies (`revoke_grants`) ends every outstanding grant at once (Azure: within 30
seconds). Azure allows five stored access policies per container: grants rotate, first
dropping the expired `b2r-` policies; with five live ones left (b2release's or other
tools', which are left alone) a grant is refused with the time the next slot frees up.
A SAS is registered for redaction the moment it is made.

Policies are one document per container that `grant` and `revoke` read and rewrite, so two
of them at once could undo each other (a grant that read the policies before a revoke wrote
them would bring the revoked grants back). Azure's Set Container ACL has no ETag condition;
so each read-modify-write holds a short lease on the container (`_policy_lease`): a second
writer waits for it (bounded, with jitter), then reads what the first one wrote. After
writing, the policies are read again to confirm the change took.
"""

from __future__ import annotations

import random
import secrets
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Iterator

from b2release import log
from b2release.errors import ConfigError, InputError, RemoteError, UsageError
from b2release.redact import register_secret
from b2release.stores.base import ReadGrant, Revocation

if TYPE_CHECKING:
    from b2release.stores.azure import AzureStore

POLICY_PREFIX = "b2r-"
MAX_POLICIES = 5  # Azure's limit of stored access policies per container
LEASE_SECONDS = 15  # Azure's shortest lease: a crashed writer blocks others at most this long
LEASE_WAIT_S = 60.0  # how long a writer waits for another's lease before giving up (exit 3)


class AzureGrants:
    """The grant half of AzureStore (a mixin: it uses the store's client and error mapping)."""

    def require_account_key(self: AzureStore, what: str) -> str:
        if not self.auth.account_key:
            raise ConfigError(
                f"{what} needs the storage account key (AZURE_STORAGE_CONNECTION_STRING with AccountKey, or "
                "AZURE_STORAGE_KEY): SAS bound to a stored access policy cannot be made with a SAS token or a "
                "user delegation key"
            )
        return self.auth.account_key

    def read_query(self: AzureStore, container: str, minutes: int) -> str:
        """A read-only container SAS (query string) valid for `minutes`, for b2release's own
        downloads through the blob URL (the promote gate). Ad hoc, bound to no stored access
        policy: it changes nothing in the store, takes none of the five policy slots, and dies
        on its own. Account key, else a user delegation key, else the configured SAS token."""
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        now = datetime.now(timezone.utc)
        window: dict[str, Any] = {"permission": ContainerSasPermissions(read=True), "start": now - timedelta(minutes=5),
                                  "expiry": now + timedelta(minutes=minutes),
                                  "protocol": "https" if self.https else "https,http"}
        if self.auth.account_key:
            sas = generate_container_sas(self.auth.account_name, container, account_key=self.auth.account_key, **window)
        elif self.auth.token_credential is not None:
            with self._errors(f"getting a user delegation key to read {container}"):
                key = self.service.get_user_delegation_key(window["start"], window["expiry"])
            sas = generate_container_sas(self.auth.account_name, container, user_delegation_key=key, **window)
        else:
            sas = self.auth.sas_token or ""
        register_secret(sas)
        return sas

    def get_policies(self: AzureStore, container: str) -> dict[str, Any]:
        """Stored access policies of a container: {id: AccessPolicy}."""
        from azure.core.exceptions import ResourceNotFoundError

        with self._errors(f"reading the access policies of {container}"):
            try:
                acl = self.service.get_container_client(container).get_container_access_policy()
            except ResourceNotFoundError:
                raise InputError(f"container {container} does not exist in {self.description}") from None
        return {ident.id: ident.access_policy for ident in acl.get("signed_identifiers", [])}

    def set_policies(self: AzureStore, container: str, policies: dict[str, Any], lease: Any = None) -> None:
        """Replace the container's stored access policies (the container stays private)."""
        with self._errors(f"setting the access policies of {container}"):
            self.service.get_container_client(container).set_container_access_policy(
                signed_identifiers=policies, lease=lease)

    @contextmanager
    def _policy_lease(self: AzureStore, container: str) -> Iterator[Any]:
        """An exclusive lease on the container while its policies are read and rewritten."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        client = self.service.get_container_client(container)
        deadline = time.monotonic() + LEASE_WAIT_S
        while True:
            with self._errors(f"leasing {container} to change its access policies"):
                try:
                    lease = client.acquire_lease(lease_duration=LEASE_SECONDS)
                    break
                except ResourceNotFoundError:
                    raise InputError(f"container {container} does not exist in {self.description}") from None
                except HttpResponseError as exc:
                    if exc.status_code != 409 or time.monotonic() > deadline:
                        if exc.status_code == 409:
                            raise RemoteError(f"{container}: another grant or revoke held its access policies for "
                                              f"{LEASE_WAIT_S:.0f}s; try again") from None
                        raise
            log.get("access").info("%s: another grant or revoke is changing its policies; waiting", container)
            time.sleep(0.2 + random.random() * 0.4)
        try:
            yield lease
        finally:
            try:
                lease.release()
            except Exception:  # noqa: BLE001 - an unreleased lease expires by itself within LEASE_SECONDS
                pass

    def require_grants(self: AzureStore, command: str) -> None:
        """Grants are https-only and need the account key: refuse before any other work."""
        if not self.https:
            raise ConfigError(f"grants are https-only, but {self.description} is plain http (an emulator)")
        self.require_account_key(command)

    def grant_read(self: AzureStore, container: str, start: datetime, expiry: datetime) -> ReadGrant:
        """A new stored access policy (read, start..expiry) and an https-only SAS naming only it.

        Expired b2release policies are dropped first; when five live policies remain
        (b2release's or other tools', which are left alone) this refuses and says when
        the next slot frees up.
        """
        from azure.storage.blob import generate_container_sas

        self.require_grants("grant")
        key = self.require_account_key("grant")
        with self._policy_lease(container) as lease:
            policy_id, dropped = self._add_policy(container, start, expiry, lease)
        # Permission, start and expiry all come from the policy: deleting it kills the SAS.
        sas = generate_container_sas(self.auth.account_name, container, account_key=key, policy_id=policy_id,
                                     protocol="https")
        register_secret(sas)
        return ReadGrant(container=container, policy_id=policy_id, query=sas, dropped=sorted(dropped))

    def _add_policy(self: AzureStore, container: str, start: datetime, expiry: datetime,
                    lease: Any) -> tuple[str, list[str]]:
        from azure.storage.blob import AccessPolicy, ContainerSasPermissions

        policies = self.get_policies(container)
        now = datetime.now(timezone.utc)
        dropped = _drop_expired(container, policies, now)
        policy_id = new_policy_id(now)  # when the grant was made: unique, never reused
        policies[policy_id] = AccessPolicy(permission=ContainerSasPermissions(read=True), start=start, expiry=expiry)
        self.set_policies(container, policies, lease)
        if policy_id not in self.get_policies(container):
            raise RemoteError(f"{container}: the new access policy {policy_id} is not there after writing it")
        return policy_id, dropped

    def plan_grant(self: AzureStore, container: str) -> list[str]:
        self.require_grants("grant")
        self.require_account_key("grant")
        return sorted(_drop_expired(container, self.get_policies(container), datetime.now(timezone.utc)))

    def plan_revoke(self: AzureStore, container: str) -> Revocation:
        self.require_account_key("revoke")
        policies = self.get_policies(container)
        return Revocation(container=container, removed=sorted(p for p in policies if p.startswith(POLICY_PREFIX)),
                          kept=sorted(p for p in policies if not p.startswith(POLICY_PREFIX)))

    def revoke_grants(self: AzureStore, container: str) -> Revocation:
        """Delete the b2release policies of a container: every grant bound to them stops working."""
        self.require_account_key("revoke")
        with self._policy_lease(container) as lease:
            policies = self.get_policies(container)
            removed = sorted(p for p in policies if p.startswith(POLICY_PREFIX))
            kept = {p: v for p, v in policies.items() if not p.startswith(POLICY_PREFIX)}
            if removed:
                self.set_policies(container, kept, lease)
                left = [p for p in self.get_policies(container) if p.startswith(POLICY_PREFIX)]
                if left:
                    raise RemoteError(f"{container}: grants {', '.join(left)} are still there after revoking")
        return Revocation(container=container, removed=removed, kept=sorted(kept))


def _drop_expired(container: str, policies: dict[str, Any], now: datetime) -> list[str]:
    """Remove the expired b2release policies from `policies` (in place) and name them; refuse
    when no slot is left after that (the grant and its dry run decide alike)."""
    dropped = [p for p, policy in policies.items() if p.startswith(POLICY_PREFIX) and (_expiry(policy) or now) <= now]
    for policy_id in dropped:
        del policies[policy_id]
    if len(policies) >= MAX_POLICIES:
        live = sorted(filter(None, (_expiry(p) for p in policies.values())))
        when = f"; the next expires at {live[0]:%Y-%m-%dT%H:%M:%SZ}" if live else ""
        raise UsageError(
            f"{container} already has {len(policies)} live stored access policies, Azure's limit{when}; "
            "revoke the tenant's grants to end all of them"
        )
    return dropped


def _expiry(policy: Any) -> datetime | None:
    """A stored policy's expiry as an aware datetime (the SDK may give a string)."""
    value = getattr(policy, "expiry", None)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def new_policy_id(at: datetime) -> str:
    return POLICY_PREFIX + at.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(4)
