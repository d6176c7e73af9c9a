"""Typer's option values without pydantic, for the plain types the CLI declares.

Typer 0.2x converts every non-bool parameter value through a pydantic TypeAdapter, built
on first use. Importing pydantic for that costs ~150 ms, more than the rest of start-up
together, and `b2release CMD --help` paid it just for the global options' defaults (issue
#16: `--help` within 1.1x of importing Typer). `install` wraps the one function Typer
calls to build a parameter's converter: parameters typed str, int, bool, Path or a list
of those, without constraints, get the direct conversion below; anything else, and any value
that does not convert cleanly, goes to Typer's own converter, so every error message stays
Typer's. Typers without that hook (older ones convert with click types) are left alone.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any, Callable

_SCALARS = (str, int, bool, Path)


class _Unconverted(Exception):
    """This value is for Typer's own converter."""


def _is_integer(text: str) -> bool:
    """`[+-]?[0-9]+`, the whole text (no regex: compiling one costs every start-up)."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    return digits.isascii() and digits.isdigit()


def _scalar(kind: type, value: Any, info: Any, param: Any, ctx: Any) -> Any:
    if kind is str:
        if isinstance(value, str):
            return value
    elif kind is bool:
        if type(value) is bool:
            return value
    elif kind is int:
        if type(value) is int:
            return value
        if isinstance(value, str) and _is_integer(value):
            return int(value)
    elif isinstance(value, (str, Path)):
        from typer._param_types import coerce_cli_path

        # Typer's own checks (exists, readable, dir_okay, ...) and messages, given a Path already.
        return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
    raise _Unconverted()


class _Direct:
    """A parameter's converter with Typer's RuntimeParam interface (`coerce`)."""

    def __init__(self, kind: type, many: bool, descriptor: Any, typer_builder: Callable[[Any], Any]):
        self.kind, self.many = kind, many
        self.descriptor, self._typer_builder = descriptor, typer_builder
        self._typer: Any = None

    def _fallback(self) -> Any:
        if self._typer is None:
            self._typer = self._typer_builder(self.descriptor)
        return self._typer

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        multiple = param.multiple or param.nargs == -1
        if value is None:  # as Typer's RuntimeParam.coerce
            return () if multiple else None
        info = self.descriptor.parameter_info
        try:
            if self.many and isinstance(value, (list, tuple)):
                return [_scalar(self.kind, item, info, param, ctx) for item in value]
            if not self.many and not multiple:
                return _scalar(self.kind, value, info, param, ctx)
        except _Unconverted:
            pass
        return self._fallback().coerce(value, param=param, ctx=ctx)


def _plain(descriptor: Any) -> tuple[type, bool] | None:
    """(element type, is a list) when the direct conversion applies to this parameter."""
    info = descriptor.parameter_info
    annotation = descriptor.annotation
    many = typing.get_origin(annotation) is list
    if many:
        args = typing.get_args(annotation)
        annotation = args[0] if len(args) == 1 else None
    if annotation not in _SCALARS or descriptor.file_annotation is not None:
        return None
    if getattr(info, "parser", None) is not None or getattr(info, "path_type", None) is not None:
        return None
    if annotation is int and (getattr(info, "min", None) is not None or getattr(info, "max", None) is not None):
        return None
    return annotation, many


def install() -> None:
    try:
        from typer import core
    except ImportError:  # pragma: no cover - Typer without a core module
        return
    typer_builder = getattr(core, "build_runtime_param", None)
    if typer_builder is None or getattr(typer_builder, "b2release_direct", False):
        return

    def build_runtime_param(descriptor: Any) -> Any:
        plain = _plain(descriptor)
        if plain is None:
            return typer_builder(descriptor)
        return _Direct(*plain, descriptor, typer_builder)

    build_runtime_param.b2release_direct = True  # type: ignore[attr-defined]
    core.build_runtime_param = build_runtime_param
