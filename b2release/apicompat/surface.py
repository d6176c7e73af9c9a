"""The public-API model of one assembly and its canonical text rendering.

An `ApiSurface` holds the visible types (`TypeDecl`) and members (`Member`) of one
assembly. `ApiSurface.to_text()` writes the canonical `.api.txt` form: one line per type
or member, C#-like, sorted, with no metadata tokens, so two builds of the same source give
byte-identical files (docs/compat.md describes the syntax). `parse.py` reads the text back
into the same model; `render(parse(text)) == text` holds for every file this module writes.

Types inside signatures are small immutable trees (`TypeExpr`): the metadata reader builds
them from signature blobs, the text parser builds them from the rendered text, and both
sides compare through `type_key`, which names generic parameters by position so renaming
`T` to `TItem` does not look like a new member.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Union

# --- type expressions ------------------------------------------------------------------

# C# keywords for the built-in types. Used for every encoding of these types (element type
# bytes and TypeRefs alike) so the same type always renders the same way.
KEYWORDS: dict[str, str] = {
    "System.Boolean": "bool",
    "System.Char": "char",
    "System.SByte": "sbyte",
    "System.Byte": "byte",
    "System.Int16": "short",
    "System.UInt16": "ushort",
    "System.Int32": "int",
    "System.UInt32": "uint",
    "System.Int64": "long",
    "System.UInt64": "ulong",
    "System.Single": "float",
    "System.Double": "double",
    "System.Decimal": "decimal",
    "System.String": "string",
    "System.Object": "object",
    "System.Void": "void",
}
KEYWORD_TYPES: dict[str, str] = {kw: full for full, kw in KEYWORDS.items()}
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


# --- identifiers -------------------------------------------------------------------------

# Characters with a meaning in the line grammar: a name containing one is quoted 'like this'.
STRUCTURAL = set(" <>()[],:=*&?{};\"'+.!\\#")
# Words the parser reads as keywords where a name could also stand (modifiers, parameter
# modifiers, variance, constraints, type suffixes); a name equal to one is quoted, so a
# parameter named `in` or a type named `static` can never be mistaken for the keyword.
RESERVED = frozenset(
    {"public", "protected", "static", "abstract", "virtual", "override", "sealed", "readonly", "volatile",
     "const", "fixed", "event", "delegate", "ref", "out", "in", "params", "this", "class", "struct", "interface",
     "enum", "modreq", "modopt", "where", "__arglist"}
    | set(KEYWORD_TYPES)
)
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_`$@]*\Z")  # the common case, checked fast


def _safe_char(ch: str) -> bool:
    return ch.isprintable() and not ch.isspace() and ch not in STRUCTURAL


@functools.lru_cache(maxsize=1 << 16)
def quote_ident(name: str) -> str:
    """A single name part as it appears in a line: bare when safe, else '...' with escapes."""
    if name not in RESERVED and (_PLAIN_NAME.match(name) or (name and all(_safe_char(ch) for ch in name))):
        return name
    return "'" + escape_text(name, "'") + "'"


@functools.lru_cache(maxsize=1 << 16)
def quote_dotted(name: str) -> str:
    """A dotted namespace-qualified name: each part quoted on its own."""
    return ".".join(quote_ident(part) for part in name.split("."))


_ESCAPES = {"\\": "\\\\", "\0": "\\0", "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
            "\t": "\\t", "\v": "\\v"}


def escape_text(text: str, quote: str) -> str:
    """C# escapes for a string or char literal body (also used for quoted identifiers).

    Anything not printable (controls, lone surrogates from bad UTF-16/UTF-8, format
    characters) becomes \\uXXXX so the file stays valid UTF-8 and one line per entry.
    """
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch == quote:
            out.append("\\" + ch)
        elif not ch.isprintable() or ch in "\u2028\u2029\u0085":
            code = ord(ch)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


def string_literal(text: str | None) -> str:
    return "null" if text is None else '"' + escape_text(text, '"') + '"'


def char_literal(ch: str) -> str:
    return "'" + escape_text(ch, "'") + "'"


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


# --- declarations -------------------------------------------------------------------------

VISIBILITY_RANK = {"protected": 1, "public": 2}
TYPE_KINDS = ("class", "struct", "interface", "enum", "delegate")
TYPE_MODIFIERS = ("static", "abstract", "sealed", "readonly", "ref")
MEMBER_MODIFIERS = ("static", "abstract", "virtual", "sealed", "override", "readonly", "volatile", "const", "fixed")
MEMBER_KINDS = ("field", "constructor", "property", "event", "method")
PARAM_MODIFIERS = ("ref", "out", "in", "params")


@dataclass(frozen=True, slots=True)
class Obsolete:
    message: str | None = None
    error: bool = False
    has_message: bool = True  # False for the parameterless [Obsolete]

    def render(self) -> str:
        if not self.has_message:
            return "[Obsolete]"
        if self.error:
            return f"[Obsolete({string_literal(self.message)}, true)]"
        return f"[Obsolete({string_literal(self.message)})]"


@dataclass(frozen=True, slots=True)
class GenericParamDecl:
    """A declared generic parameter with variance and constraints (`where T : class, new()`)."""

    name: str
    variance: str = ""  # "", "in", "out"
    reference_type: bool = False  # class
    value_type: bool = False  # struct
    default_ctor: bool = False  # new()
    types: tuple[TypeExpr, ...] = ()  # sorted by rendered text

    def constraint_items(self, key: bool = False) -> list[str]:
        items = []
        if self.reference_type:
            items.append("class")
        if self.value_type:
            items.append("struct")
        items.extend(render_type(t, key) for t in self.types)
        if self.default_ctor and not self.value_type:
            items.append("new()")
        return items


def render_where(params: tuple[GenericParamDecl, ...]) -> str:
    clauses = []
    for p in params:
        items = p.constraint_items()
        if items:
            clauses.append(f" where {quote_ident(p.name)} : " + ", ".join(items))
    return "".join(clauses)


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: TypeExpr  # without the ByRef of ref/out/in parameters
    modifier: str = ""  # "", "ref", "out", "in", "params"
    this: bool = False  # first parameter of an extension method
    default: str | None = None  # rendered literal
    optional: bool = False  # [Optional] without a default value

    def render(self) -> str:
        text = "[Optional] " if self.optional else ""
        if self.this:
            text += "this "
        if self.modifier:
            text += self.modifier + " "
        text += render_type(self.type)
        if self.name:
            text += " " + quote_ident(self.name)
        if self.default is not None:
            text += " = " + self.default
        return text

    def key(self) -> str:
        # ref, out and in are the same managed reference at the binary level.
        byref = "&" if self.modifier in ("ref", "out", "in") else ""
        return render_type(self.type, key=True) + byref


def render_params(params: tuple[Param, ...], varargs: bool) -> str:
    items = [p.render() for p in params]
    if varargs:
        items.append("__arglist")
    return ", ".join(items)


def render_return(t: TypeExpr, ref_readonly: bool) -> str:
    if isinstance(t, ByRef):
        return ("ref readonly " if ref_readonly else "ref ") + render_type(t.element)
    return render_type(t)


def render_decl_name(name: Named, generic_params: tuple[GenericParamDecl, ...] = ()) -> str:
    """A declared type's name, spelled out (`System.Int32`, `System.Nullable<T>`, never a
    keyword or `T?`); with generic_params, variance shows (`IReader<out T>`)."""
    parts = []
    for i, seg in enumerate(name.segments):
        text = quote_dotted(seg.name) if i == 0 else quote_ident(seg.name)
        if seg.args:
            shown = []
            for a in seg.args:
                variance = ""
                if isinstance(a, GenericParamRef) and a.index < len(generic_params):
                    variance = generic_params[a.index].variance
                shown.append((variance + " " if variance else "") + render_type(a))
            text += "<" + ", ".join(shown) + ">"
        parts.append(text)
    return "+".join(parts)


def decl_key(name: Named) -> str:
    """Identity of a declared type: namespace, nesting and arity (`Ns.Outer`1+Inner`)."""
    return "+".join(s.name + (f"`{len(s.args)}" if s.args else "") for s in name.segments)


@dataclass(frozen=True, slots=True)
class DelegateSig:
    ret: TypeExpr
    params: tuple[Param, ...] = ()
    ref_readonly: bool = False


@dataclass(frozen=True, slots=True)
class TypeDecl:
    name: Named  # segment args are GenericParamRef for each declared parameter
    kind: str  # one of TYPE_KINDS
    visibility: str  # "public" or "protected"
    modifiers: tuple[str, ...] = ()  # subset of TYPE_MODIFIERS, in that order
    generic_params: tuple[GenericParamDecl, ...] = ()
    base: TypeExpr | None = None  # base class; enum underlying type
    interfaces: tuple[TypeExpr, ...] = ()  # sorted by rendered text
    delegate: DelegateSig | None = None
    obsolete: Obsolete | None = None

    @property
    def key(self) -> str:
        return decl_key(self.name)

    @property
    def display_name(self) -> str:
        return render_decl_name(self.name)

    def render(self) -> str:
        head = "type "
        if self.obsolete:
            head += self.obsolete.render() + " "
        head += self.visibility + " "
        head += "".join(m + " " for m in self.modifiers)
        if self.kind == "delegate" and self.delegate is not None:
            sig = self.delegate
            return (head + "delegate " + render_return(sig.ret, sig.ref_readonly) + " "
                    + render_decl_name(self.name, self.generic_params)
                    + "(" + render_params(sig.params, False) + ")" + render_where(self.generic_params))
        text = head + self.kind + " " + render_decl_name(self.name, self.generic_params)
        bases = ([self.base] if self.base is not None else []) + list(self.interfaces)
        if bases:
            text += " : " + ", ".join(render_type(b) for b in bases)
        return text + render_where(self.generic_params)


@dataclass(frozen=True, slots=True)
class Accessor:
    name: str  # "get", "set", "init", "add", "remove"
    visibility: str


@dataclass(frozen=True, slots=True)
class Member:
    declaring: Named
    kind: str  # one of MEMBER_KINDS
    name: str
    visibility: str
    modifiers: tuple[str, ...] = ()  # subset of MEMBER_MODIFIERS, in that order
    type: TypeExpr | None = None  # field/property/event type, method return; None for constructors
    ref_readonly: bool = False  # `ref readonly` return or property
    generic_params: tuple[GenericParamDecl, ...] = ()
    params: tuple[Param, ...] = ()
    accessors: tuple[Accessor, ...] = ()  # properties: get/set/init that are visible
    value: str | None = None  # const value, rendered
    obsolete: Obsolete | None = None
    varargs: bool = False

    @property
    def declaring_key(self) -> str:
        return decl_key(self.declaring)

    @property
    def key(self) -> str:
        """Identity: declaring type, kind, name, generic arity and parameter types.

        Return types are not part of it (a changed return type is a *changed* member), except
        for conversion operators, whose overloads differ only by return type.
        """
        key = f"{self.declaring_key}::{self.name}"
        if self.generic_params:
            key += f"``{len(self.generic_params)}"
        if self.kind in ("method", "constructor") or self.params:
            key += "(" + ", ".join(p.key() for p in self.params) + (", ..." if self.varargs else "") + ")"
        if self.kind == "method" and self.name in ("op_Implicit", "op_Explicit") and self.type is not None:
            key += " => " + render_type(self.type, key=True)
        return f"{self.kind} {key}"

    @property
    def signature_key(self) -> str:
        """The key without the declaring type: finds the same member on a base type."""
        return self.key.split("::", 1)[1]

    def display(self) -> str:
        """A short human name: `Ns.Client.Get(string, int)`."""
        owner = render_decl_name(self.declaring)
        if self.kind == "constructor":
            name = self.name
        else:
            name = quote_ident(self.name)
            if self.generic_params:
                name += "<" + ", ".join(quote_ident(g.name) for g in self.generic_params) + ">"
        text = f"{owner}.{name}"
        if self.kind in ("method", "constructor"):
            text += "(" + ", ".join(_short_param(p) for p in self.params) + ")"
        elif self.params:
            text += "[" + ", ".join(_short_param(p) for p in self.params) + "]"
        return text

    def render(self) -> str:
        text = f"member {render_decl_name(self.declaring)}: "
        if self.obsolete:
            text += self.obsolete.render() + " "
        text += self.visibility + " "
        text += "".join(m + " " for m in self.modifiers)
        name = quote_ident(self.name)
        if self.kind == "constructor":
            return text + name + "(" + render_params(self.params, self.varargs) + ")"
        assert self.type is not None, self
        if self.kind == "event":
            return text + "event " + render_type(self.type) + " " + name
        if self.kind == "field":
            text += render_type(self.type) + " " + name
            return text + (" = " + self.value if self.value is not None else "")
        if self.kind == "property":
            text += render_return(self.type, self.ref_readonly) + " " + name
            if self.params:
                text += "[" + render_params(self.params, False) + "]"
            shown = []
            for acc in self.accessors:
                prefix = acc.visibility + " " if acc.visibility != self.visibility else ""
                shown.append(f"{prefix}{acc.name};")
            return text + " { " + " ".join(shown) + " }"
        # method
        text += render_return(self.type, self.ref_readonly) + " " + name
        if self.generic_params:
            text += "<" + ", ".join(quote_ident(g.name) for g in self.generic_params) + ">"
        return text + "(" + render_params(self.params, self.varargs) + ")" + render_where(self.generic_params)


def _short_param(p: Param) -> str:
    return (p.modifier + " " if p.modifier in ("ref", "out", "in") else "") + render_type(p.type)


@dataclass(frozen=True, slots=True)
class Forwarder:
    """A type forwarded to another assembly ([TypeForwardedTo]): still resolvable from here."""

    name: str  # CLR name with nesting and arity: Ns.Outer`1+Inner
    target: str  # assembly name

    @property
    def key(self) -> str:
        return self.name

    def render(self) -> str:
        parts = self.name.split("+")
        shown = "+".join([quote_dotted(parts[0])] + [quote_ident(p) for p in parts[1:]])
        return f"forward {shown} => {quote_dotted(self.target)}"


@dataclass(frozen=True)
class ApiSurface:
    """The public API of one assembly."""

    assembly: str
    types: tuple[TypeDecl, ...] = ()
    members: tuple[Member, ...] = ()
    forwarders: tuple[Forwarder, ...] = ()

    def lines(self) -> list[str]:
        """The canonical lines (without the `assembly` header), in canonical order."""
        keyed: list[tuple[tuple[str, int, str, str], str]] = []
        for t in self.types:
            line = t.render()
            keyed.append(((t.key, 0, "", line), line))
        for m in self.members:
            line = m.render()
            keyed.append(((m.declaring_key, 1, m.name, line), line))
        for f in self.forwarders:
            line = f.render()
            keyed.append(((f.key, 2, "", line), line))
        keyed.sort(key=lambda item: item[0])
        return [line for _, line in keyed]

    def to_text(self) -> str:
        return "\n".join([f"assembly {quote_dotted(self.assembly)}", *self.lines()]) + "\n"

    @property
    def file_name(self) -> str:
        return api_file_name(self.assembly)


def api_file_name(assembly: str) -> str:
    return f"{assembly}.api.txt"
