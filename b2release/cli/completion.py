"""Shell completion of option values: stage names, tenants, channels (`--install-completion`).

These run only when the shell asks for completions (TAB), never for `--help` or a command,
and stay cheap even then: the stage list is one light module, and tenants and channels come
from the config in the current folder (or `--config`) read without validation, and from the
folders of a `file://` store. No store is contacted and no secret is read.
"""

from pathlib import Path
from typing import Any

import typer


def stages(incomplete: str) -> list[str]:
    """The stage names release --from / --to / --skip accept, in pipeline order."""
    from b2release.stages import select  # stage names only: no command module is loaded

    return [name for name in select(None, None, []) if name.startswith(incomplete)]


def _config(ctx: typer.Context) -> Any:
    """The config a command here would read, loaded without raising: completion must never fail."""
    from b2release import config

    root = ctx.find_root()
    explicit = root.params.get("config") if root.params else None
    try:
        return config.load(Path(explicit) if explicit else None, collect=True)
    except Exception:  # a half-typed command line or an unreadable file: offer nothing
        return config.Config()


def tenants(ctx: typer.Context, incomplete: str) -> list[str]:
    """[store] tenants of the config (file, then B2RELEASE_STORE_TENANTS)."""
    return [t for t in _config(ctx).get("store.tenants") or [] if t.startswith(incomplete)]


def _file_store_channels(cfg: Any) -> list[str]:
    """Channel names published in a `file://` store: <root>/<container>/<product>/channels/<name>.json."""
    url = cfg.get("store.url") or ""
    if not url.startswith("file://") or not url[len("file://"):]:
        return []
    root = Path(url[len("file://"):]).expanduser()
    if not root.is_absolute():
        root = cfg.bases.get("store.url", Path.cwd()) / root
    return sorted({p.name[:-len(".json")] for p in root.glob("*/*/channels/*.json")})


def channels(ctx: typer.Context, incomplete: str) -> list[str]:
    """[store] channel of the config and the channels a local file store holds."""
    cfg = _config(ctx)
    try:
        found = _file_store_channels(cfg)
    except OSError:
        found = []
    names = dict.fromkeys([cfg.get("store.channel"), *found])  # configured first, no duplicates
    return [name for name in names if name and name.startswith(incomplete)]


def rings(ctx: typer.Context, incomplete: str) -> list[str]:
    """The ring names of [rollout] rings ("NAME = ...")."""
    names = [str(r).partition("=")[0].strip() for r in _config(ctx).get("rollout.rings") or []]
    return [name for name in names if name and name.startswith(incomplete)]
