"""Reading `.api.txt` files back into the `surface` model.

A previous release ships only its text files, so comparing must start from text. The
grammar is the one `surface.py` renders (docs/compat.md): `lexer.py` reads names and
literals, `grammar.py` the pieces of a line, and this module whole type, member and
forwarder lines and files. It is strict: anything it does not understand is an InputError
naming the file and line, never a silent skip, because a skipped line would look like a
removed API.

A method's own generic parameters are declared after its return type, so a line that
declares any is parsed twice, the second time knowing their names (the same for a generic
delegate's return type).
"""

from __future__ import annotations

from pathlib import Path

from b2release.errors import InputError

from . import grammar as g
from .lexer import Cursor, LineSyntax, end_of_line
from .surface import (
    MEMBER_MODIFIERS,
    TYPE_KINDS,
    TYPE_MODIFIERS,
    Accessor,
    ApiSurface,
    DelegateSig,
    Forwarder,
    Member,
    TypeDecl,
)
from .typeexpr import TypeExpr


def parse_type_line(text: str, known: tuple[str, ...] = ()) -> TypeDecl:
    """One `type ...` line. `known`: the generic parameter names (second pass for delegates)."""
    c = Cursor(text)
    c.expect("type ")
    obsolete = g.obsolete(c)
    visibility = g.visibility(c)
    modifiers = g.modifiers(c, TYPE_MODIFIERS)
    if c.accept_word("delegate"):
        # The return type comes before the name that declares the generic parameters.
        ctx = g.GenericScope(known)
        ret, ref_readonly = g.return_type(c, ctx)
        c.expect(" ")
        name, gp_names = g.decl_name(c, with_variance=True)
        names = tuple(n for n, _ in gp_names)
        if names != known:
            return parse_type_line(text, names)
        c.expect("(")
        params, _ = g.params(c, ctx, ")")
        clauses = g.where(c, ctx, list(names))
        end_of_line(c)
        return TypeDecl(name, "delegate", visibility, modifiers, g.generic_decls(gp_names, clauses),
                        delegate=DelegateSig(ret, params, ref_readonly), obsolete=obsolete)
    kind = ""
    for word in TYPE_KINDS:
        if c.accept_word(word):
            kind = word
            break
    if not kind:
        raise LineSyntax("expected a type kind")
    name, gp_names = g.decl_name(c, with_variance=True)
    ctx = g.GenericScope(tuple(n for n, _ in gp_names))
    bases: list[TypeExpr] = []
    if c.accept(" : "):
        bases = [g.parse_type(c, ctx)]
        while c.accept(", "):
            bases.append(g.parse_type(c, ctx))
    clauses = g.where(c, ctx, [n for n, _ in gp_names])
    end_of_line(c)
    base = None
    if kind in ("class", "enum") and bases:
        base, bases = bases[0], bases[1:]
    return TypeDecl(name, kind, visibility, modifiers, g.generic_decls(gp_names, clauses), base, tuple(bases),
                    obsolete=obsolete)


def parse_member_line(text: str, method_names: tuple[str, ...] = ()) -> Member:
    """One `member ...` line. `method_names`: the method's generic parameters (second pass)."""
    c = Cursor(text)
    c.expect("member ")
    declaring, gp_names = g.decl_name(c, with_variance=False)
    ctx = g.GenericScope(tuple(n for n, _ in gp_names), method_names)
    c.expect(": ")
    obsolete = g.obsolete(c)
    visibility = g.visibility(c)
    modifiers = g.modifiers(c, MEMBER_MODIFIERS)
    if c.accept_word("event"):
        etype = g.parse_type(c, ctx)
        c.expect(" ")
        name, _ = c.ident()
        end_of_line(c)
        return Member(declaring, "event", name, visibility, modifiers, etype, obsolete=obsolete)
    # A constructor is a name directly followed by "(": a method has a return type first.
    mark = c.pos
    try:
        name, _ = c.ident()
    except LineSyntax:
        name = ""
    if name and c.peek() == "(":
        c.expect("(")
        params, varargs = g.params(c, ctx, ")")
        end_of_line(c)
        return Member(declaring, "constructor", name, visibility, modifiers, params=params, obsolete=obsolete,
                      varargs=varargs)
    c.pos = mark
    mtype, ref_readonly = g.return_type(c, ctx)
    c.expect(" ")
    name, _ = c.ident()
    if c.peek() in ("<", "("):
        names = g.method_params_declared(c)
        if tuple(names) != method_names:
            return parse_member_line(text, tuple(names))
        c.expect("(")
        params, varargs = g.params(c, ctx, ")")
        clauses = g.where(c, ctx, names)
        end_of_line(c)
        return Member(declaring, "method", name, visibility, modifiers, mtype, ref_readonly,
                      g.generic_decls([(n, "") for n in names], clauses), params, obsolete=obsolete, varargs=varargs)
    params = ()
    if c.accept("["):
        params, _ = g.params(c, ctx, "]")
    if c.accept(" { "):
        accessors = []
        while not c.accept("}"):
            acc_vis = visibility
            for word in ("public", "protected"):
                if c.accept_word(word):
                    acc_vis = word
            word, _ = c.ident()
            if word not in ("get", "set", "init"):
                raise LineSyntax(f"unknown accessor {word!r}")
            c.expect(";")
            c.accept(" ")
            accessors.append(Accessor(word, acc_vis))
        end_of_line(c)
        return Member(declaring, "property", name, visibility, modifiers, mtype, ref_readonly, params=params,
                      accessors=tuple(accessors), obsolete=obsolete)
    value = None
    if c.accept(" = "):
        value = c.literal("")
    end_of_line(c)
    return Member(declaring, "field", name, visibility, modifiers, mtype, value=value, obsolete=obsolete)


def parse_forward_line(text: str) -> Forwarder:
    c = Cursor(text)
    c.expect("forward ")
    first, _ = c.dotted()
    parts = [first]
    while c.accept("+"):
        part, _ = c.ident()
        parts.append(part)
    c.expect(" => ")
    target, _ = c.dotted()
    end_of_line(c)
    return Forwarder("+".join(parts), target)




def parse_api_text(text: str, source: str = "<text>") -> ApiSurface:
    """Parse one `.api.txt` document. Raises InputError (file and line) on anything malformed."""
    assembly = None
    types: list[TypeDecl] = []
    members: list[Member] = []
    forwarders: list[Forwarder] = []
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if not line or line.startswith("#"):
            continue
        try:
            if line.startswith("assembly "):
                if assembly is not None:
                    raise LineSyntax("a second assembly line")
                c = Cursor(line)
                c.expect("assembly ")
                assembly, _ = c.dotted()
                end_of_line(c)
            elif assembly is None:
                raise LineSyntax("the first line must be `assembly <name>`")
            elif line.startswith("type "):
                types.append(parse_type_line(line))
            elif line.startswith("member "):
                members.append(parse_member_line(line))
            elif line.startswith("forward "):
                forwarders.append(parse_forward_line(line))
            else:
                raise LineSyntax("unknown line kind")
        except (LineSyntax, RecursionError) as exc:
            raise InputError(f"{source}:{number}: {exc}", details={"line": line})
    if assembly is None:
        raise InputError(f"{source}: no `assembly <name>` line (not an API file)")
    return ApiSurface(assembly, tuple(types), tuple(members), tuple(forwarders))


def load_api_file(path: Path | str) -> ApiSurface:
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")  # tolerate a BOM added by a Windows editor
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text")
    return parse_api_text(text, str(path))
