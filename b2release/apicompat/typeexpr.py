"""Types inside signatures: small immutable trees (`TypeExpr`) and their C#-like text.

The metadata reader builds them from signature blobs, the text parser builds them from the
rendered text, and both sides compare through `render_type(t, key=True)`, which names
generic parameters by position so renaming `T` to `TItem` does not look like a new member.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .lexical import KEYWORDS, quote_dotted, quote_ident

NULLABLE = "System.Nullable"


@dataclass(frozen=True, slots=True)
class NameSeg:
    """One level of a (possibly nested) type name: `Ns.Outer` or `Inner`, with its own args."""

    name: str  # dotted full name for the outermost level, simple name for nested levels
    args: tuple[TypeExpr, ...] = ()


@dataclass(frozen=True, slots=True)
class Named:
    """A named type: `Ns.Outer<int>+Inner`. Keywords (`int`) are stored by full name."""

    segments: tuple[NameSeg, ...]
    # Known from signatures (VALUETYPE vs CLASS), unknown when parsed from text; only used
    # to pick `default` over `null` when rendering a default value, so not compared.
    value_type: bool | None = field(default=None, compare=False)

    @property
    def full_name(self) -> str:
        return "+".join(s.name for s in self.segments)


@dataclass(frozen=True, slots=True)
class GenericParamRef:
    """A generic parameter in a signature: `T` (type's, !index) or `U` (method's, !!index)."""

    name: str  # "" when the metadata has no name for it: rendered positionally
    index: int
    method: bool


@dataclass(frozen=True, slots=True)
class ArrayOf:
    """`T[]` (shape "[]"), `T[,]`, `T[*]` (rank-1 non-vector) or with bounds `T[0...3]`."""

    element: TypeExpr
    shape: str = "[]"


@dataclass(frozen=True, slots=True)
class Pointer:
    element: TypeExpr


@dataclass(frozen=True, slots=True)
class ByRef:
    """A managed reference. Parameters and returns show it as `ref`/`out`/`in`; inside other
    types (function pointers, modified types) it renders as a `&` suffix."""

    element: TypeExpr


@dataclass(frozen=True, slots=True)
class Modified:
    """A custom modifier left in the signature: `int modopt(System.Runtime.CompilerServices.IsLong)`."""

    element: TypeExpr
    required: bool
    modifier: TypeExpr


@dataclass(frozen=True, slots=True)
class FunctionPointer:
    """`delegate*<int, string, void>`: parameter types then the return type (as in C# 9)."""

    convention: str  # "" (managed), "unmanaged[Cdecl]", ... , "vararg"
    ret: TypeExpr
    params: tuple[TypeExpr, ...] = ()


TypeExpr = Union[Named, GenericParamRef, ArrayOf, Pointer, ByRef, Modified, FunctionPointer]


def named(full_name: str, *args: TypeExpr, value_type: bool | None = None) -> Named:
    """A one-level named type (handy for tests and keyword types)."""
    return Named((NameSeg(full_name, tuple(args)),), value_type)


def is_nullable(t: TypeExpr) -> bool:
    return isinstance(t, Named) and len(t.segments) == 1 and t.segments[0].name == NULLABLE and len(t.segments[0].args) == 1


# --- rendering types ---------------------------------------------------------------------

def render_type(t: TypeExpr, key: bool = False) -> str:
    """C#-like text of a type. key=True names generic parameters by position (!0, !!0):
    the form used for identities, independent of parameter names."""
    if isinstance(t, Named):
        segs = t.segments
        if len(segs) == 1 and not segs[0].args:
            keyword = KEYWORDS.get(segs[0].name)
            if keyword is not None:
                return keyword
        if is_nullable(t):
            return render_type(segs[0].args[0], key) + "?"
        parts = []
        for i, seg in enumerate(segs):
            text = quote_dotted(seg.name) if i == 0 else quote_ident(seg.name)
            if seg.args:
                text += "<" + ", ".join(render_type(a, key) for a in seg.args) + ">"
            parts.append(text)
        return "+".join(parts)
    if isinstance(t, GenericParamRef):
        if key or not t.name:
            return ("!!" if t.method else "!") + str(t.index)
        return quote_ident(t.name)
    if isinstance(t, ArrayOf):
        return render_type(t.element, key) + t.shape
    if isinstance(t, Pointer):
        return render_type(t.element, key) + "*"
    if isinstance(t, ByRef):
        return render_type(t.element, key) + "&"
    if isinstance(t, Modified):
        word = "modreq" if t.required else "modopt"
        return f"{render_type(t.element, key)} {word}({render_type(t.modifier, key)})"
    if isinstance(t, FunctionPointer):
        head = "delegate*" + (" " + t.convention if t.convention else "")
        return head + "<" + ", ".join(render_type(p, key) for p in (*t.params, t.ret)) + ">"
    raise TypeError(f"not a type expression: {t!r}")

