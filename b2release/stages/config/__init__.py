"""config show | check | schema: the configuration a command would run with, made visible.

- `show`: every key's effective value and where it came from (default, the file,
  environment B2RELEASE_X_Y, command line), and which secret variables are set; secret
  values are masked (`Key.secret`, and build properties with secret-looking names).
- `check`: config.load's problems (collected, not only the first) plus b2release/config_checks.py's, one
  log line each naming the file or variable; exit 2 when there is any.
- `schema`: the JSON Schema of b2release.toml, or with `markdown` the key tables of
  docs/configuration.md (schema.py).

Read-only: no state.json. The CLI builds the Context with a collecting config load
(`lenient_config`), so a broken file is this command's input, not a reason to refuse it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from b2release import config_checks as checks
from b2release import log
from b2release.config import SCHEMA, Config, Problem
from b2release.context import Context
from b2release.errors import ConfigError, UsageError
from b2release.redact import MASK, SECRET_ENV_VARS, redact, redact_obj
from b2release.stages import StageResult
from b2release.stages.config import schema
from b2release.toolchains import is_secret_property

NAME = "config"
RECORDED = False
ACTIONS = ("show", "check", "schema")

logger = log.get("config")


@dataclass
class Options:
    action: str = "show"
    markdown: bool = False  # schema: the docs' key tables instead of the JSON Schema


@dataclass
class Setting:
    """One row of `config show`."""

    key: str
    value: Any  # masked when it is (or holds) a secret
    source: str  # "default", the file, "environment B2RELEASE_X_Y", "command line"
    resolved: str | None = None  # a path key's absolute path
    secret: bool = False


@dataclass
class SecretVariable:
    """A secret b2release reads from the environment: whether it is set, never its value."""

    name: str
    set: bool
    source: str = ""  # "environment X" or "file named by X_FILE"


@dataclass
class Shown:
    file: str | None
    settings: list[Setting] = field(default_factory=list)
    secrets: list[SecretVariable] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return redact_obj({"file": self.file, "keys": [asdict(s) for s in self.settings],
                           "secrets": [asdict(s) for s in self.secrets],
                           "problems": [p.to_dict() for p in self.problems]})


def _masked(dotted: str, value: Any, secret: bool) -> Any:
    if secret and value not in (None, "", []):
        return MASK
    if dotted == "build.properties":
        # Build properties may carry a secret (the build stage masks the same names in its log).
        return [f"{p.partition('=')[0]}={MASK}" if is_secret_property(p.partition("=")[0].strip()) else p
                for p in value]
    return value


def settings(cfg: Config) -> list[Setting]:
    rows = []
    for section, keys in SCHEMA.items():
        for name, spec in keys.items():
            dotted = f"{section}.{name}"
            value = _masked(dotted, cfg.get(dotted), spec.secret)
            path = cfg.path(dotted) if spec.type == "path" else None
            rows.append(Setting(dotted, value, cfg.source(dotted), str(path) if path else None, spec.secret))
    return rows


def secret_variables(environ: dict[str, str] | None = None) -> list[SecretVariable]:
    env = os.environ if environ is None else environ
    out = []
    for name in SECRET_ENV_VARS:
        if env.get(name):
            out.append(SecretVariable(name, True, f"environment {name}"))
        elif env.get(f"{name}_FILE"):
            out.append(SecretVariable(name, True, f"file named by {name}_FILE"))
        else:
            out.append(SecretVariable(name, False))
    return out


def _text(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(value) if value else "[]"
    return '""' if value == "" else str(value)


def table_lines(shown: Shown) -> list[str]:
    """`config show` as aligned plain text: key, value, source. Not a rich table: in a CI log
    (80 columns, no terminal) that would cut or fold paths and URLs, the values one looks for."""
    rows = [("key", "value", "source")]
    for s in shown.settings:
        text = _text(s.value)
        if s.resolved and s.resolved != text:
            text += f" ({s.resolved})"
        rows.append((s.key, redact(text), s.source))
    secrets = [(v.name, MASK if v.set else "(not set)", v.source or "-") for v in shown.secrets]
    key_width = max(len(r[0]) for r in rows + secrets)
    value_width = min(max(len(r[1]) for r in rows + secrets), 48)  # a longer value shifts its own line only
    lines = [f"{k:<{key_width}}  {v:<{value_width}}  {src}".rstrip() for k, v, src in rows]
    return lines + ["", "secrets (from the environment; values never shown):"] + [
        f"{k:<{key_width}}  {v:<{value_width}}  {src}".rstrip() for k, v, src in secrets]


def _sources_summary(cfg: Config) -> str:
    total = sum(len(keys) for keys in SCHEMA.values())
    from_file = sum(1 for s in cfg.sources.values() if cfg.file is not None and s == str(cfg.file))
    from_env = sum(1 for s in cfg.sources.values() if s.startswith("environment "))
    where = f"{from_file} from {cfg.file}" if cfg.file else "no config file"
    return f"{total} keys: {where}, {from_env} from the environment, the rest defaults"


def show(ctx: Context) -> StageResult:
    cfg = ctx.config
    shown = Shown(str(cfg.file) if cfg.file else None, settings(cfg), secret_variables(), list(cfg.problems))
    if not ctx.json_output and ctx.verbosity >= 0:
        for line in table_lines(shown):
            ctx.console.print(line, markup=False)
    summary = f"config: {_sources_summary(cfg)}"
    if shown.problems:
        # Shown anyway (a viewer should not refuse to show), but never silently.
        for problem in shown.problems:
            logger.warning("%s (ignored)", problem.message)
        summary += f"; {len(shown.problems)} invalid setting(s) ignored (see `b2release config check`)"
    return StageResult(stage=NAME, summary=summary, data={"action": "show", **shown.to_dict()})


def check(ctx: Context) -> StageResult:
    cfg = ctx.config
    problems = [*cfg.problems, *checks.check(cfg)]
    if problems:
        for problem in problems:  # one line each; JSON log lines carry the key and source as fields
            logger.error("%s", problem.message, extra={"fields": {"key": problem.key, "source": problem.source}})
        sources = ", ".join(dict.fromkeys(p.source for p in problems))
        raise ConfigError(f"config check: {len(problems)} problem(s) in {sources}",
                          details={"problems": [p.to_dict() for p in problems]})
    return StageResult(stage=NAME, summary=f"config check: ok ({_sources_summary(cfg)})",
                       data={"action": "check", "ok": True, "file": str(cfg.file) if cfg.file else None,
                             "problems": []})


def describe(ctx: Context, markdown: bool) -> StageResult:
    doc = schema.json_schema()
    keys = sum(len(s["properties"]) for s in doc["properties"].values())
    if markdown:
        text = schema.render_markdown(doc)
        return StageResult(stage=NAME, summary=f"config schema: key tables of {keys} keys (Markdown)",
                           data={"action": "schema", "markdown": text}, output=text)
    return StageResult(stage=NAME, summary=f"config schema: {len(doc['properties'])} sections, {keys} keys "
                       "(JSON Schema draft 2020-12)", data={"action": "schema", "schema": doc},
                       output=json.dumps(doc, indent=2) + "\n")


def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    if opts.action == "show":
        return show(ctx)
    if opts.action == "check":
        return check(ctx)
    if opts.action == "schema":
        return describe(ctx, opts.markdown)
    raise UsageError(f"unknown config action {opts.action!r} (choose {', '.join(ACTIONS)})")
