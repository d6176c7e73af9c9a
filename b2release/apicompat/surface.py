"""The public-API model of one assembly and its canonical text rendering.

An `ApiSurface` holds the visible types (`TypeDecl`) and members (`Member`) of one
assembly. `ApiSurface.to_text()` writes the canonical `.api.txt` form: one line per type
or member, C#-like, sorted, with no metadata tokens, so two builds of the same source give
byte-identical files (docs/compat.md describes the syntax). `parse.py` reads the text back
into the same model; `render(parse(text)) == text` holds for every file this module writes.
Types inside signatures are `typeexpr.TypeExpr` trees; names and literals are quoted by
`lexical.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .lexical import quote_dotted, quote_ident, string_literal
from .typeexpr import ByRef, GenericParamRef, Named, TypeExpr, render_type

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
