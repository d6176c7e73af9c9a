"""`b2release.toml`: schema, validation, and the environment / CLI override layers.

Precedence (docs/configuration.md): file < environment `B2RELEASE_<SECTION>_<KEY>` < CLI flags.
Paths in the file are relative to the file's folder; paths from the environment or the
command line are relative to the current directory. Secrets never live here: they come
from the environment or from files named here, and are read by the code that needs them.

SCHEMA is the one description of every key: `load` validates against it, `b2release config
schema` exports it as a JSON Schema, and docs/configuration.md's key tables are generated
from that export (b2release/stages/config/). `load` is strict (the first problem raises)
except with `collect=True`, which `config check` and `config show` use to see every problem.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from b2release.errors import ConfigError
from b2release.redact import SECRET_ENV_VARS

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

CONFIG_FILE_NAME = "b2release.toml"
ENV_PREFIX = "B2RELEASE_"
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
        "signing_key": Key("path", None, help="release signing key (package, upload, rollback, promote)"),
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
        "pointer_cache_control": Key(str, "public, max-age=60", help="Cache-Control of channel pointers"),
        "max_grant_expiry": Key(str, "7d", format="duration", help="longest `grant --expires` allowed"),
        "release_container": Key(str, "releases", help=(
            "container that receives each file once (tenants get server-side copies)")),
        "allow_http_emulator": Key(bool, False, help=(
            "allow a plain-http Azure endpoint (local emulators such as Azurite only)")),
        "retries": Key(int, 4, help="retries of a transient Azure error (exponential backoff)"),
        "retry_backoff": Key(int, 2, help="backoff base in seconds: retry n waits about b + b**n"),
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


@dataclass(frozen=True)
class Problem:
    """One invalid setting found by a collecting load (`load(..., collect=True)`)."""

    source: str  # the file, "environment variable X", or "command line"
    key: str  # dotted key ("" for the file as a whole, a section name for a section)
    message: str  # one line, naming the source: what a strict load would raise

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "key": self.key, "message": self.message}


@dataclass
class Config:
    """Validated configuration: values per dotted key, where each came from, and bases.

    `problems` stays empty for a strict load (the first problem raises); a collecting load
    (`config check`, `config show`) records every problem there and skips the bad values.
    """

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    bases: dict[str, Path] = field(default_factory=dict)
    file: Path | None = None
    problems: list[Problem] = field(default_factory=list)

    def get(self, dotted: str) -> Any:
        if dotted in self.values:
            return self.values[dotted]
        section, key = _split(dotted)
        return SCHEMA[section][key].default

    def path(self, dotted: str) -> Path | None:
        """A path-typed key resolved against the folder of whoever set it."""
        value = self.get(dotted)
        if value in (None, ""):
            return None
        p = Path(os.path.expanduser(str(value)))
        if not p.is_absolute():
            p = self.bases.get(dotted, Path.cwd()) / p
        return p

    def source(self, dotted: str) -> str:
        return self.sources.get(dotted, "default")

    def set(self, dotted: str, value: Any, source: str = "command line", base: Path | None = None) -> None:
        """Apply a CLI override (already typed). None means "flag not given"."""
        if value is None:
            return
        section, key = _split(dotted)
        spec = SCHEMA[section][key]
        self.values[dotted] = _coerce(spec, value, dotted, source)
        self.sources[dotted] = source
        self.bases[dotted] = base or Path.cwd()

    def as_dict(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for section, keys in SCHEMA.items():
            out[section] = {k: self.get(f"{section}.{k}") for k in keys}
        return out


def _split(dotted: str) -> tuple[str, str]:
    section, _, key = dotted.partition(".")
    if section not in SCHEMA or key not in SCHEMA[section]:
        raise ConfigError(f"unknown config key {dotted}")
    return section, key


def _type_name(spec: Key) -> str:
    return {str: "a string", bool: "a boolean", int: "an integer", "list": "a list of strings", "path": "a path string"}[
        spec.type
    ]


def _coerce(spec: Key, value: Any, dotted: str, source: str) -> Any:
    ok: bool
    if spec.type in (str, "path"):
        ok = isinstance(value, str)
    elif spec.type is bool:
        ok = isinstance(value, bool)
    elif spec.type is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:  # list of strings
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    if not ok:
        raise ConfigError(f"{source}: {dotted} must be {_type_name(spec)}, got {type(value).__name__} {value!r}")
    if spec.choices and value not in spec.choices:
        raise ConfigError(f"{source}: {dotted} must be one of {', '.join(spec.choices)}, got {value!r}")
    return value


def _from_env_string(spec: Key, raw: str, dotted: str, var: str) -> Any:
    if spec.type is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"environment variable {var}: {dotted} must be a boolean (true/false), got {raw!r}")
    if spec.type is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"environment variable {var}: {dotted} must be an integer, got {raw!r}") from None
    if spec.type == "list":
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw


def _toml_error_location(exc: Exception) -> str:
    # tomllib messages end with "(at line 3, column 7)"; keep it short and on one line.
    match = re.search(r"at line (\d+), column (\d+)", str(exc))
    if match:
        return f"line {match.group(1)}, column {match.group(2)}"
    return "unknown position"


def find_config_file(explicit: Path | None) -> Path | None:
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file {explicit} does not exist")
        return explicit
    candidate = Path.cwd() / CONFIG_FILE_NAME
    return candidate if candidate.is_file() else None


def load(explicit: Path | None = None, environ: Mapping[str, str] | None = None, *, collect: bool = False) -> Config:
    """Load the file (if any), validate it, then apply environment overrides.

    Strict by default: the first problem raises a ConfigError naming the key and the file
    or variable. With `collect=True` nothing raises: every problem goes to
    `Config.problems` and the bad value is left out (the layer below shows through), so
    `config check` can list them all and `config show` still shows the rest.
    """
    environ = os.environ if environ is None else environ
    config = Config()
    problems = config.problems if collect else None
    try:
        path = find_config_file(explicit)
    except ConfigError as exc:
        if problems is None:
            raise
        problems.append(Problem(str(explicit), "", exc.message))
        path = None
    if path is not None:
        config.file = path
        data = _read_file(path, problems)
        if data is not None:
            _apply_file(config, data, path, problems)
    _apply_env(config, environ, problems)
    return config


def _report(problems: list[Problem] | None, source: str, key: str, message: str) -> None:
    if problems is None:
        raise ConfigError(message)
    problems.append(Problem(source, key, message))


def _read_file(path: Path, problems: list[Problem] | None) -> dict | None:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc).split(" (at line")[0]
        if problems is None:
            raise ConfigError(f"{path}: {_toml_error_location(exc)}: {msg}") from exc
        _report(problems, str(path), "", f"{path}: {_toml_error_location(exc)}: {msg}")
    except OSError as exc:
        if problems is None:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
        _report(problems, str(path), "", f"cannot read config file {path}: {exc.strerror}")
    return None


def _apply_file(config: Config, data: dict, path: Path, problems: list[Problem] | None = None) -> None:
    base = path.resolve().parent
    source = str(path)
    for section, table in data.items():
        if section not in SCHEMA:
            _report(problems, source, section, f"{path}: unknown config section [{section}] (known: {', '.join(SCHEMA)})")
            continue
        if not isinstance(table, dict):
            _report(problems, source, section, f"{path}: {section} must be a table ([{section}])")
            continue
        for key, value in table.items():
            dotted = f"{section}.{key}"
            if key not in SCHEMA[section]:
                _report(problems, source, dotted, f"{path}: unknown config key {dotted}")
                continue
            try:
                config.values[dotted] = _coerce(SCHEMA[section][key], value, dotted, source)
            except ConfigError as exc:
                _report(problems, source, dotted, exc.message)
                continue
            config.sources[dotted] = source
            config.bases[dotted] = base


def _apply_env(config: Config, environ: Mapping[str, str], problems: list[Problem] | None = None) -> None:
    for var, raw in environ.items():
        if not var.startswith(ENV_PREFIX) or var.removesuffix("_FILE") in SECRET_ENV_VARS:
            # A secret variable (e.g. B2RELEASE_CDN_TOKEN_KEY) is not a config key: its reader takes it.
            continue
        rest = var[len(ENV_PREFIX):].lower()
        section = next((s for s in SCHEMA if rest.startswith(s + "_")), None)
        if section is None:
            # Not a config key (e.g. B2RELEASE_KEY_PASSPHRASE, B2RELEASE_WORK_DIR).
            continue
        key = rest[len(section) + 1:]
        dotted = f"{section}.{key}"
        source = f"environment variable {var}"
        if key not in SCHEMA[section]:
            _report(problems, source, dotted, f"environment variable {var}: unknown config key {dotted}")
            continue
        spec = SCHEMA[section][key]
        try:
            config.values[dotted] = _coerce(spec, _from_env_string(spec, raw, dotted, var), dotted, var)
        except ConfigError as exc:
            _report(problems, source, dotted, exc.message)
            continue
        config.sources[dotted] = f"environment {var}"
        config.bases[dotted] = Path.cwd()


def env_var(dotted: str) -> str:
    """The environment variable that overrides a key: store.pointer_ttl -> B2RELEASE_STORE_POINTER_TTL."""
    section, key = _split(dotted)
    return f"{ENV_PREFIX}{section}_{key}".upper()


_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# parse_duration's rule as an ECMA-262 pattern, for the JSON Schema (editors, validators): no zero.
DURATION_PATTERN = r"^\s*0*[1-9][0-9]*\s*[smhdw]\s*$"


def parse_duration(text: str, what: str) -> int:
    """'90s', '15m', '24h', '7d', '2w' -> seconds. `what` names the key or flag."""
    match = _DURATION.fullmatch(str(text))
    if not match or int(match.group(1)) <= 0:
        raise ConfigError(f"{what}: invalid duration {text!r} (use e.g. 30m, 24h, 7d)")
    return int(match.group(1)) * _UNITS[match.group(2)]


_KINDS: dict[Any, str] = {str: "string", bool: "bool", int: "int", "list": "list", "path": "path"}


def key_kind(spec: Key) -> str:
    """What a value is, in the docs' words: string, bool, int, list, path, duration or url."""
    return spec.format or _KINDS[spec.type]
