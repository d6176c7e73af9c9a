"""The pieces of the line grammar (docs/compat.md): type expressions, declared names with
generic parameters, `[Obsolete]`, visibility, modifiers, parameter lists, `where` clauses
and return types. `parse.py` assembles them into type, member and forwarder lines.

Generic parameters are resolved by name through a `GenericScope`: the declaring type's
from the type name at the start of a member line, the method's from its `<...>` list.
"""

from __future__ import annotations

from .lexer import Cursor, LineSyntax
from .lexical import KEYWORD_TYPES
from .surface import PARAM_MODIFIERS, GenericParamDecl, Obsolete, Param
from .typeexpr import (
    NULLABLE,
    ArrayOf,
    ByRef,
    FunctionPointer,
    GenericParamRef,
    Modified,
    Named,
    NameSeg,
    Pointer,
    TypeExpr,
)


class GenericScope:
    def __init__(self, type_params: tuple[str, ...] = (), method_params: tuple[str, ...] = ()):
        self.type_params = type_params
        self.method_params = method_params

    def lookup(self, name: str) -> GenericParamRef | None:
        if name in self.method_params:
            return GenericParamRef(name, self.method_params.index(name), True)
        if name in self.type_params:
            return GenericParamRef(name, self.type_params.index(name), False)
        return None


def parse_type(c: Cursor, ctx: GenericScope) -> TypeExpr:
    t = _parse_core(c, ctx)
    while True:
        if c.peek() == "[":
            end = c.text.find("]", c.pos)
            if end < 0:
                raise LineSyntax("unterminated array shape")
            t = ArrayOf(t, c.text[c.pos:end + 1])
            c.pos = end + 1
        elif c.accept("*"):
            t = Pointer(t)
        elif c.accept("&"):
            t = ByRef(t)
        elif c.accept("?"):
            t = Named((NameSeg(NULLABLE, (t,)),))
        elif c.startswith(" modreq(") or c.startswith(" modopt("):
            required = c.startswith(" modreq(")
            c.pos += len(" modreq(")
            modifier = parse_type(c, ctx)
            c.expect(")")
            t = Modified(t, required, modifier)
        else:
            return t


def _parse_core(c: Cursor, ctx: GenericScope) -> TypeExpr:
    if c.accept("delegate*"):
        convention = ""
        if c.accept(" "):
            start = c.pos
            while c.peek() and c.peek() != "<":
                c.pos += 1
            convention = c.text[start:c.pos]
        c.expect("<")
        types = _type_list(c, ctx, ">")
        if not types:
            raise LineSyntax("function pointer without a return type")
        return FunctionPointer(convention, types[-1], tuple(types[:-1]))
    if c.peek() == "!":
        method = c.accept("!!")
        if not method:
            c.expect("!")
        start = c.pos
        while c.peek().isdigit():
            c.pos += 1
        if c.pos == start:
            raise LineSyntax("expected a generic parameter number")
        return GenericParamRef("", int(c.text[start:c.pos]), method)
    name, quoted = c.dotted()
    if "." not in name:
        found = ctx.lookup(name)
        if found is not None:
            return found
    if not quoted:
        full = KEYWORD_TYPES.get(name)
        if full is not None:
            return Named((NameSeg(full),))
    segments = [NameSeg(name, _args(c, ctx))]
    while c.accept("+"):
        part, _ = c.ident()
        segments.append(NameSeg(part, _args(c, ctx)))
    return Named(tuple(segments))


def _args(c: Cursor, ctx: GenericScope) -> tuple[TypeExpr, ...]:
    if not c.accept("<"):
        return ()
    return tuple(_type_list(c, ctx, ">"))


def _type_list(c: Cursor, ctx: GenericScope, close: str) -> list[TypeExpr]:
    items = []
    if c.accept(close):
        return items
    while True:
        items.append(parse_type(c, ctx))
        if c.accept(close):
            return items
        c.expect(", ")


def decl_name(c: Cursor, with_variance: bool) -> tuple[Named, list[tuple[str, str]]]:
    """A declared type name `Ns.Outer<T>+Inner<out U>`; also returns (name, variance) per parameter."""
    params: list[tuple[str, str]] = []

    def level(name: str) -> NameSeg:
        args = []
        if c.accept("<"):
            while True:
                variance = ""
                if with_variance:
                    for word in ("in", "out"):
                        if c.accept_word(word):
                            variance = word
                            break
                pname, _ = c.ident()
                args.append(GenericParamRef(pname, len(params), False))
                params.append((pname, variance))
                if c.accept(">"):
                    break
                c.expect(", ")
        return NameSeg(name, tuple(args))

    first, _ = c.dotted()
    segments = [level(first)]
    while c.accept("+"):
        part, _ = c.ident()
        segments.append(level(part))
    return Named(tuple(segments)), params


def obsolete(c: Cursor) -> Obsolete | None:
    if not c.accept("[Obsolete"):
        return None
    if c.accept("] "):
        return Obsolete(has_message=False)
    c.expect("(")
    message = c.string_or_null()
    error = False
    if c.accept(", "):
        if c.accept("true"):
            error = True
        else:
            c.expect("false")
    c.expect(")] ")
    return Obsolete(message, error)


def visibility(c: Cursor) -> str:
    for word in ("public", "protected"):
        if c.accept_word(word):
            return word
    raise LineSyntax("expected public or protected")


def modifiers(c: Cursor, allowed: tuple[str, ...]) -> tuple[str, ...]:
    found = []
    progress = True
    while progress:
        progress = False
        for word in allowed:
            if word not in found and c.accept_word(word):
                found.append(word)
                progress = True
    return tuple(sorted(found, key=allowed.index))


def params(c: Cursor, ctx: GenericScope, close: str) -> tuple[tuple[Param, ...], bool]:
    params: list[Param] = []
    varargs = False
    if c.accept(close):
        return (), False
    while True:
        if c.accept("__arglist"):
            varargs = True
        else:
            optional = c.accept("[Optional] ")
            this = c.accept_word("this")
            modifier = ""
            for word in PARAM_MODIFIERS:
                if c.accept_word(word):
                    modifier = word
                    break
            ptype = parse_type(c, ctx)
            name = ""
            default = None
            if c.accept(" "):
                if not c.startswith("= "):
                    name, _ = c.ident()
                    c.accept(" ")
                if c.accept("= "):
                    default = c.literal(",)]")
            params.append(Param(name, ptype, modifier, this, default, optional))
        if c.accept(close):
            return tuple(params), varargs
        c.expect(", ")


def where(c: Cursor, ctx: GenericScope, names: list[str]) -> dict[str, tuple[bool, bool, bool, tuple[TypeExpr, ...]]]:
    clauses: dict[str, tuple[bool, bool, bool, tuple[TypeExpr, ...]]] = {}
    while c.accept(" where "):
        name, _ = c.ident()
        if name not in names:
            raise LineSyntax(f"constraint on unknown generic parameter {name!r}")
        c.expect(" : ")
        reference = value = ctor = False
        types: list[TypeExpr] = []
        while True:
            if c.accept("new()"):
                ctor = True
            elif c.accept_keyword("class"):
                reference = True
            elif c.accept_keyword("struct"):
                value = True
                ctor = True
            else:
                types.append(parse_type(c, ctx))
            if not c.accept(", "):
                break
        clauses[name] = (reference, value, ctor, tuple(types))
    return clauses


def generic_decls(names: list[tuple[str, str]], clauses: dict) -> tuple[GenericParamDecl, ...]:
    decls = []
    for name, variance in names:
        reference, value, ctor, types = clauses.get(name, (False, False, False, ()))
        decls.append(GenericParamDecl(name, variance, reference, value, ctor, types))
    return tuple(decls)


def return_type(c: Cursor, ctx: GenericScope) -> tuple[TypeExpr, bool]:
    if c.accept("ref readonly "):
        return ByRef(parse_type(c, ctx)), True
    if c.accept("ref "):
        return ByRef(parse_type(c, ctx)), False
    return parse_type(c, ctx), False


def method_params_declared(c: Cursor) -> list[str]:
    names = []
    if c.accept("<"):
        while True:
            name, _ = c.ident()
            names.append(name)
            if c.accept(">"):
                break
            c.expect(", ")
    return names

