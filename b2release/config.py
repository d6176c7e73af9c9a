"""`b2release.toml`: schema, validation, and the environment / CLI override layers.

Precedence (docs/configuration.md): file < environment `B2RELEASE_<SECTION>_<KEY>` < CLI flags.
Paths in the file are relative to the file's folder; paths from the environment or the
command line are relative to the current directory. Secrets never live here: they come
from the environment or from files named here, and are read by the code that needs them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from b2release.errors import ConfigError

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

CONFIG_FILE_NAME = "b2release.toml"
ENV_PREFIX = "B2RELEASE_"
# Variables that start like a config key's but are not one: the upload stage's test hook
# (docs/distribution.md) shares the [test] section's prefix.
_NOT_CONFIG = frozenset({"B2RELEASE_TEST_PAUSE_AFTER_FILES"})


@dataclass(frozen=True)
class Key:
    type: type | str  # str, bool, int, "list", "path"
    default: Any = None
    choices: tuple[str, ...] | None = None
    help: str = ""


# The one schema of every config key. Stages that land later add their keys here.
SCHEMA: dict[str, dict[str, Key]] = {
    "product": {
        "name": Key(str, None, help="product name used in package and blob names"),
        "project": Key("path", None, help="solution or project file to build"),
    },
    "build": {
        "tool": Key(str, "auto", ("auto", "msbuild", "dotnet", "xbuild")),
        "configuration": Key(str, "Release"),
        "warnings_as_errors": Key(bool, False),
        "symbols": Key(bool, True, help="keep .pdb/.mdb symbols in the build output"),
        "properties": Key("list", [], help="extra K=V build properties"),
        "pass_env": Key("list", [], help="more environment variables (names or globs) the build tool may see"),
        "include": Key("list", [], help="globs: when set, only output files matching one of them ship"),
        "exclude": Key("list", [], help="globs: output files matching one of them do not ship"),
    },
    "test": {
        "required": Key(bool, False, help="no test project found fails the test stage instead of skipping it"),
        "runner": Key(str, "auto", ("auto", "nunit-console", "nunit3-console", "xunit", "vstest", "dotnet")),
        "timeout": Key(str, "30m", help="longest run of one test runner (duration)"),
        "pass_env": Key("list", [], help="more environment variables (names or globs) the test runner may see"),
    },
    "sign": {
        "cert": Key("path", None),
        "key": Key("path", None),
        "pfx": Key("path", None),
        "timestamp_url": Key(str, ""),
        "required": Key(bool, True),
        "description": Key(str, ""),
        "url": Key(str, ""),
    },
    "release": {
        "signing_key": Key("path", None),
        "public_key": Key("path", None),
    },
    "scan": {
        "advisories": Key("path", None),
        "fail_on": Key(str, "high", ("critical", "high", "medium", "low", "none")),
        "licenses_allow": Key("list", []),
        "licenses_deny": Key("list", []),
        "unknown_license": Key(str, "warn", ("warn", "fail")),
        "online": Key(bool, False),
        "osv_url": Key(str, "https://api.osv.dev"),
        "source": Key("path", None),
        "ignore_file": Key("path", None, help="accepted risks (default: .b2release-ignore.toml in cwd or source)"),
        "tool_licenses": Key(bool, True, help="check b2release's own Python environment's licences too"),
    },
    "store": {
        "url": Key(str, "file://releases"),
        "tenants": Key("list", []),
        "channel": Key(str, "stable"),
        "pointer_ttl": Key(str, "7d"),
        "account_url": Key(str, ""),
        "max_concurrency": Key(int, 4),
        "pointer_cache_control": Key(str, "public, max-age=60"),
        "max_grant_expiry": Key(str, "7d"),
        "release_container": Key(str, "releases", help="container that receives each file once"),
        "allow_http_emulator": Key(bool, False, help="allow a plain-http Azure endpoint (local emulators only)"),
        "retries": Key(int, 4, help="retries of a transient Azure error (exponential backoff)"),
        "retry_backoff": Key(int, 2, help="backoff base in seconds: retry n waits about b + b**n"),
    },
    "cdn": {
        "provider": Key(str, "none", ("cloudflare", "none")),
        "zone_id": Key(str, ""),
        "base_url": Key(str, ""),
        "api_base": Key(str, "https://api.cloudflare.com/client/v4"),
        "batch_size": Key(int, 30, help="URLs per purge request (plans differ)"),
        "timeout": Key(int, 30, help="seconds per purge API request"),
        "retries": Key(int, 5, help="retries after 429, 5xx or a timeout (bounded exponential backoff)"),
    },
}


@dataclass
class Config:
    """Validated configuration: values per dotted key, where each came from, and bases."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    bases: dict[str, Path] = field(default_factory=dict)
    file: Path | None = None

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


def load(explicit: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load the file (if any), validate it, then apply environment overrides."""
    environ = os.environ if environ is None else environ
    config = Config()
    path = find_config_file(explicit)
    if path is not None:
        config.file = path
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            msg = str(exc).split(" (at line")[0]
            raise ConfigError(f"{path}: {_toml_error_location(exc)}: {msg}") from exc
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
        _apply_file(config, data, path)
    _apply_env(config, environ)
    return config


def _apply_file(config: Config, data: dict, path: Path) -> None:
    base = path.resolve().parent
    for section, table in data.items():
        if section not in SCHEMA:
            raise ConfigError(f"{path}: unknown config section [{section}] (known: {', '.join(SCHEMA)})")
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {section} must be a table ([{section}])")
        for key, value in table.items():
            dotted = f"{section}.{key}"
            if key not in SCHEMA[section]:
                raise ConfigError(f"{path}: unknown config key {dotted}")
            config.values[dotted] = _coerce(SCHEMA[section][key], value, dotted, str(path))
            config.sources[dotted] = str(path)
            config.bases[dotted] = base


def _apply_env(config: Config, environ: Mapping[str, str]) -> None:
    for var, raw in environ.items():
        if not var.startswith(ENV_PREFIX) or var in _NOT_CONFIG:
            continue
        rest = var[len(ENV_PREFIX):].lower()
        section = next((s for s in SCHEMA if rest.startswith(s + "_")), None)
        if section is None:
            # Not a config key (e.g. B2RELEASE_KEY_PASSPHRASE, B2RELEASE_WORK_DIR).
            continue
        key = rest[len(section) + 1:]
        dotted = f"{section}.{key}"
        if key not in SCHEMA[section]:
            raise ConfigError(f"environment variable {var}: unknown config key {dotted}")
        spec = SCHEMA[section][key]
        config.values[dotted] = _coerce(spec, _from_env_string(spec, raw, dotted, var), dotted, var)
        config.sources[dotted] = f"environment {var}"
        config.bases[dotted] = Path.cwd()


_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, what: str) -> int:
    """'90s', '15m', '24h', '7d', '2w' -> seconds. `what` names the key or flag."""
    match = _DURATION.match(str(text))
    if not match or int(match.group(1)) <= 0:
        raise ConfigError(f"{what}: invalid duration {text!r} (use e.g. 30m, 24h, 7d)")
    return int(match.group(1)) * _UNITS[match.group(2)]
