"""`b2release.toml`: schema, validation, and the environment / CLI override layers.

Precedence (docs/configuration.md): file < environment `B2RELEASE_<SECTION>_<KEY>` < CLI flags.
Paths in the file are relative to the file's folder; paths from the environment or the
command line are relative to the current directory. Secrets never live here: they come
from the environment or from files named here, and are read by the code that needs them.

SCHEMA (config/keys.py) is the one description of every key: `load` validates against it, `b2release config
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

from b2release.config.durations import DURATION_PATTERN, parse_duration
from b2release.config.keys import SCHEMA, SECTIONS, Key, key_kind
from b2release.errors import ConfigError
from b2release.redact import SECRET_ENV_VARS

__all__ = ["CONFIG_FILE_NAME", "DURATION_PATTERN", "ENV_PREFIX", "SCHEMA", "SECTIONS", "Config", "Key", "Problem",
           "env_var", "find_config_file", "key_kind", "load", "parse_duration", "tomllib"]

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

CONFIG_FILE_NAME = "b2release.toml"
ENV_PREFIX = "B2RELEASE_"
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
    if spec.format == "duration":
        # Checked when loaded, naming where the value came from: not first by the command that
        # needs it (a refresh days later), and never passed by `doctor`.
        parse_duration(value, f"{source}: {dotted}")
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
            config.values[dotted] = _coerce(spec, _from_env_string(spec, raw, dotted, var), dotted, source)
        except ConfigError as exc:
            _report(problems, source, dotted, exc.message)
            continue
        config.sources[dotted] = f"environment {var}"
        config.bases[dotted] = Path.cwd()


def env_var(dotted: str) -> str:
    """The environment variable that overrides a key: store.pointer_ttl -> B2RELEASE_STORE_POINTER_TTL."""
    section, key = _split(dotted)
    return f"{ENV_PREFIX}{section}_{key}".upper()
