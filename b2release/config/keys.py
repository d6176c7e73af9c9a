"""The one schema of every b2release.toml key: type, default, choices, help, format.

`config.load` validates against it, `b2release config schema` exports it as a JSON Schema,
and docs/configuration.md's key tables are generated from that export.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Key:
    type: type | str  # str, bool, int, "list", "path"
    default: Any = None
    choices: tuple[str, ...] | None = None
    help: str = ""  # one line of Markdown: the JSON Schema description and docs/configuration.md's "meaning"
    # "duration" (30m, 24h, 7d: parse_duration) or "url": how `config check` and the JSON Schema read a string.
    format: str = ""
    # The value is a credential: `config show` masks it and the JSON Schema marks it writeOnly. No key is
    # one today (secrets come from the environment, redact.SECRET_ENV_VARS), but a key that becomes one
    # must never be printed.
    secret: bool = False


# What each section is for: the JSON Schema's section descriptions and the docs' headings.
SECTIONS: dict[str, str] = {
    "product": "what is released",
    "build": "the build stage: tool, configuration, properties, what ships",
    "test": "the test stage: the solution's test projects and their runner",
    "sign": "Authenticode signing of the PE files (sign stage)",
    "release": "the release signing key pair (manifests and channel pointers)",
    "scan": "the scan stage: vulnerabilities (OSV), licences, secrets",
    "store": "where releases go: store, tenants, channels",
    "promote": "`promote`: default channels, and the staging gate (docs/rollback.md)",
    "rollout": "rollout rings: ordered groups of tenants for `promote`/`rollback --ring` (docs/rollback.md)",
    "cdn": "the CDN in front of the store (purge stage)",
    "audit": "the download audit from Azure Storage's request logs (`audit downloads`)",
}

# The one schema of every config key. Stages that land later add their keys here (and a
# section to SECTIONS); docs/configuration.md's key tables are generated from it.
SCHEMA: dict[str, dict[str, Key]] = {
    "product": {
        "name": Key(str, None, help="product name, used in package and blob names"),
        "project": Key("path", None, help="solution or project file the build stage builds"),
    },
    "build": {
        "tool": Key(str, "auto", ("auto", "msbuild", "dotnet", "xbuild"), help="build tool"),
        "configuration": Key(str, "Release", help="build configuration"),
        "warnings_as_errors": Key(bool, False, help="a build warning fails the build"),
        "symbols": Key(bool, True, help="keep .pdb/.mdb symbols in the build output"),
        "properties": Key("list", [], help="extra `K=V` build properties (values of secret-looking names are masked)"),
        "pass_env": Key("list", [], help=(
            "more environment variables (names or globs such as `MYCO_*`) the build tool may see; build tools "
            "otherwise see only an allowlist (PATH, locale, temp dirs, Windows, Mono, .NET, MSBuild and NuGet "
            "variables), never b2release's secrets")),
        "include": Key("list", [], help="globs: when set, only output files matching one of them ship"),
        "exclude": Key("list", [], help="globs: output files matching one of them do not ship"),
    },
    "test": {
        "required": Key(bool, False, help="no test project found fails the test stage instead of skipping it"),
        "runner": Key(str, "auto", ("auto", "nunit-console", "nunit3-console", "xunit", "vstest", "dotnet"),
                      help="the test runner (auto: by platform and project)"),
        "timeout": Key(str, "30m", help="longest run of one test runner (duration)", format="duration"),
        "pass_env": Key("list", [], help="more environment variables (names or globs) the test runner may see"),
    },
    "sign": {
        "cert": Key("path", None, help="code-signing certificate (PEM)"),
        "key": Key("path", None, help="its private key (PEM; passphrase from `B2RELEASE_KEY_PASSPHRASE`)"),
        "pfx": Key("path", None, help="or a PKCS#12 file (password from `B2RELEASE_PFX_PASSWORD`)"),
        "timestamp_url": Key(str, "", format="url",
                             help="RFC 3161 timestamp server; empty: signing time from `SOURCE_DATE_EPOCH`"),
        "required": Key(bool, True, help="`package` refuses unsigned PE files"),
        "description": Key(str, "", help="Authenticode description"),
        "url": Key(str, "", help="Authenticode URL"),
    },
    "release": {
        "signing_key": Key("path", None, help=(
            "release signing key (package; upload, promote, rollback, refresh; grant, revoke, purge sign their "
            "audit line)")),
        "public_key": Key("path", None, help="release public key (verify)"),
    },
    "scan": {
        "advisories": Key("path", None, help="offline OSV advisories: a folder of JSON files or an ecosystem zip"),
        "fail_on": Key(str, "high", ("critical", "high", "medium", "low", "none"),
                       help="lowest severity that fails the scan"),
        "licenses_allow": Key("list", [], help="allowed SPDX licence ids"),
        "licenses_deny": Key("list", [], help="denied SPDX licence ids"),
        "unknown_license": Key(str, "warn", ("warn", "fail"), help="what an unknown licence does"),
        "online": Key(bool, False, help="query OSV online"),
        "osv_url": Key(str, "https://api.osv.dev", format="url", help="OSV API base URL"),
        "source": Key("path", None, help="source tree to scan (default: the build's)"),
        "ignore_file": Key("path", None, help=(
            "accepted risks (default: `.b2release-ignore.toml` in the current folder, else the source tree)")),
        "tool_licenses": Key(bool, True, help=(
            "also check the licences of b2release's own Python environment (pip-licenses)")),
    },
    "store": {
        "url": Key(str, "file://releases", help="`file://PATH`, `azure` or `azure://ACCOUNT`"),
        "tenants": Key("list", [], help="tenant ids (container `tenant-<id>` each)"),
        "channel": Key(str, "stable", help="channel the upload moves"),
        "pointer_ttl": Key(str, "7d", format="duration", help=(
            "lifetime of a channel pointer (renew with a scheduled `b2release refresh`)")),
        "account_url": Key(str, "", format="url", help="Azure account URL (when not using a connection string)"),
        "max_concurrency": Key(int, 4, help="parallel transfers per blob"),
        "fanout": Key(int, 8, help=(
            "containers worked on at once when a command reaches many tenants (channel reads, server-side "
            "copies, pointer writes)")),
        "pointer_cache_control": Key(str, "public, max-age=60", help="Cache-Control of channel pointers"),
        "max_grant_expiry": Key(str, "7d", format="duration", help="longest `grant --expires` allowed"),
        "release_container": Key(str, "releases", help=(
            "container that receives each file once (tenants get server-side copies)")),
        "allow_http_emulator": Key(bool, False, help=(
            "allow a plain-http Azure endpoint (local emulators such as Azurite only)")),
        "retries": Key(int, 4, help="retries of a transient Azure error (exponential backoff)"),
        "retry_backoff": Key(int, 2, help="backoff base in seconds: retry n waits about b + b**n"),
    },
    "promote": {
        "from": Key(str, "", help="channel `promote` takes the release from when `--from` is not given"),
        "to": Key(str, "", help="channel `promote` moves when `--to` is not given"),
        "gated": Key("list", ["staging->stable"], help=(
            "channel pairs `FROM->TO` whose promote must pass the staging gate: remote verification through the "
            "public URL, `min_soak` on the source channel, passing tests and scan in the provenance "
            "(`--force --reason` overrides)")),
        "min_soak": Key(str, "24h", format="duration", help=(
            "how long a release must have been on the source channel (signed pointer `since`) before a gated "
            "promote")),
    },
    "rollout": {
        "rings": Key("list", [], help=(
            "ordered rings, each `\"NAME = TENANT TENANT ...\"` (tenants of `store.tenants`, one ring each) or, "
            "last, `\"NAME = *\"` (everyone and the release container); `--ring NAME` selects one")),
    },
    "cdn": {
        "provider": Key(str, "none", ("cloudflare", "none"), help="CDN in front of the store"),
        "zone_id": Key(str, "", help="Cloudflare zone id"),
        "base_url": Key(str, "", format="url", help="public URL of the store: `{base_url}/{container}/{path}`"),
        "api_base": Key(str, "https://api.cloudflare.com/client/v4", format="url", help="Cloudflare API base URL"),
        "batch_size": Key(int, 30, help="URLs per purge request"),
        "timeout": Key(int, 30, help="seconds per purge API request"),
        "retries": Key(int, 5, help="retries after 429, 5xx or a timeout (bounded exponential backoff)"),
        "token_auth": Key(bool, False, help=(
            "tenant isolation at the edge: `grant` also prints CDN URLs with a timed HMAC token, checked by one "
            "WAF custom rule per tenant that `revoke` rotates (key from `B2RELEASE_CDN_TOKEN_KEY`; docs/cdn.md)")),
        "token_param": Key(str, "b2t", help=(
            "query parameter that carries the CDN token (always the last one in a CDN URL)")),
    },
    "audit": {
        "logs_store": Key(str, "", help=(
            "store holding the log containers `insights-logs-storageread` and `$logs` (`azure://ACCOUNT`, `file://PATH`); "
            "empty: the release store")),
    },
}


_KINDS: dict[Any, str] = {str: "string", bool: "bool", int: "int", "list": "list", "path": "path"}


def key_kind(spec: Key) -> str:
    """What a value is, in the docs' words: string, bool, int, list, path, duration or url."""
    return spec.format or _KINDS[spec.type]
