"""Where a build ran and where its source came from: the builder identity recorded in
provenance and in the audit log, and the public source URI (never with a credential).

Builder ids:
- GitHub Actions: `<GITHUB_SERVER_URL>/<GITHUB_WORKFLOW_REF>`, e.g.
  `https://github.com/b2connect/connector/.github/workflows/release.yml@refs/heads/main`
- Azure Pipelines: `<SYSTEM_COLLECTIONURI><SYSTEM_TEAMPROJECT>/_build?definitionId=<SYSTEM_DEFINITIONID>`
- anywhere else: `local://<user>@<host>`
"""

from __future__ import annotations

import getpass
import os
import re
import socket
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import quote, urlsplit, urlunsplit

from b2release.errors import InputError


@dataclass(frozen=True)
class Builder:
    id: str
    kind: str  # github-actions | azure-pipelines | local
    actor: str  # who@where, also used by the audit log
    run_url: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)



def _local_identity() -> tuple[str, str]:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "unknown"
    host = socket.gethostname() or "unknown-host"
    return user, host


def detect_builder(env: Mapping[str, str] | None = None) -> Builder:
    """Who is running b2release, from the CI environment (GitHub Actions, Azure Pipelines) or the machine."""
    env = os.environ if env is None else env
    if env.get("GITHUB_ACTIONS") == "true":
        server = (env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
        repo = env.get("GITHUB_REPOSITORY", "")
        workflow_ref = env.get("GITHUB_WORKFLOW_REF", "")
        run_id = env.get("GITHUB_RUN_ID", "")
        attempt = env.get("GITHUB_RUN_ATTEMPT", "")
        builder_id = f"{server}/{workflow_ref}" if workflow_ref else f"{server}/{repo}/actions"
        run_url = f"{server}/{repo}/actions/runs/{run_id}" if repo and run_id else None
        if run_url and attempt:
            run_url += f"/attempts/{attempt}"
        details = {k: env[v] for k, v in (("runnerEnvironment", "RUNNER_ENVIRONMENT"), ("eventName", "GITHUB_EVENT_NAME"),
                                          ("ref", "GITHUB_REF"), ("sha", "GITHUB_SHA")) if env.get(v)}
        actor = f"{env.get('GITHUB_ACTOR') or 'unknown'}@github-actions/{repo}/runs/{run_id or '?'}"
        return Builder(builder_id, "github-actions", actor, run_url, details)
    if (env.get("TF_BUILD") or "").lower() == "true":
        collection = env.get("SYSTEM_COLLECTIONURI", "")
        if collection and not collection.endswith("/"):
            collection += "/"
        project = quote(env.get("SYSTEM_TEAMPROJECT", ""), safe="")
        definition_id = env.get("SYSTEM_DEFINITIONID", "")
        definition_name = env.get("BUILD_DEFINITIONNAME", "")
        if definition_id:
            builder_id = f"{collection}{project}/_build?definitionId={definition_id}"
        else:
            builder_id = f"{collection}{project}/_build?definitionName={quote(definition_name, safe='')}"
        build_id = env.get("BUILD_BUILDID", "")
        run_url = f"{collection}{project}/_build/results?buildId={build_id}" if build_id else None
        details = {k: env[v] for k, v in (("definitionName", "BUILD_DEFINITIONNAME"), ("reason", "BUILD_REASON"),
                                          ("sourceBranch", "BUILD_SOURCEBRANCH"), ("agent", "AGENT_NAME")) if env.get(v)}
        who = env.get("BUILD_REQUESTEDFOREMAIL") or env.get("BUILD_REQUESTEDFOR") or "unknown"
        actor = f"{who}@azure-pipelines/{env.get('SYSTEM_TEAMPROJECT', '')}/builds/{build_id or '?'}"
        return Builder(builder_id, "azure-pipelines", actor, run_url, details)
    user, host = _local_identity()
    return Builder(f"local://{user}@{host}", "local", f"{user}@{host}")


def source_uri(remote_url: str) -> str:
    """A git remote URL as a SLSA source URI (`git+https://...`), without any credentials.

    Remote URLs sometimes carry a token as user info (`https://x-access-token:...@host/...`):
    that must never end up in a signed, published statement.
    """
    url = remote_url.strip()
    scp = re.match(r"^([A-Za-z0-9._-]+)@([^:/]+):(.+)$", url)
    if scp and "://" not in url:  # git@github.com:org/repo.git
        return f"git+ssh://{scp.group(1)}@{scp.group(2)}/{scp.group(3)}"
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme.startswith("git+"):
        scheme = scheme[4:]
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    if scheme == "ssh" and parts.username and not parts.password:
        netloc = f"{parts.username}@{netloc}"  # ssh user names (git@) are not secrets
    if scheme in ("http", "https", "ssh", "git"):
        return "git+" + urlunsplit((scheme, netloc, parts.path, "", ""))
    if scheme == "file" or not scheme:
        raise InputError(f"source repository {url!r} is not a remote URL; provenance needs the public repository URL")
    return urlunsplit((scheme, netloc, parts.path, "", ""))
