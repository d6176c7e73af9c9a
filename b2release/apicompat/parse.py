"""Reading `.api.txt` files back into the `surface` model.

A previous release ships only its text files, so comparing must start from text. The
grammar is the one `surface.py` renders (docs/compat.md); this is a small recursive-descent
parser over one line at a time. It is strict: anything it does not understand is an
InputError naming the file and line, never a silent skip, because a skipped line would
look like a removed API.

Generic parameters are resolved by name: the declaring type's from the type name at the
start of a member line, the method's from its `<...>` list. A method's own parameters are
declared after its return type, so a line that declares any is parsed twice, the second
time knowing their names.
"""

from __future__ import annotations

from pathlib import Path

from b2release.errors import InputError

from .surface import (
    KEYWORD_TYPES,
    MEMBER_MODIFIERS,
    NULLABLE,
    PARAM_MODIFIERS,
    STRUCTURAL,
    TYPE_KINDS,
    TYPE_MODIFIERS,
    Accessor,
    ApiSurface,
    ArrayOf,
    ByRef,
    DelegateSig,
    Forwarder,
    FunctionPointer,
    GenericParamDecl,
    GenericParamRef,
    Member,
    Modified,
    Named,
    NameSeg,
    Obsolete,
    Param,
    Pointer,
    TypeDecl,
    TypeExpr,
)


class _Syntax(Exception):
    """A parse failure inside one line (turned into an InputError with file and line)."""


_SIMPLE_ESCAPES = {"\\": "\\", "0": "\0", "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                   "v": "\v", '"': '"', "'": "'"}


class _Cursor:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def startswith(self, s: str) -> bool:
        return self.text.startswith(s, self.pos)

    def accept(self, s: str) -> bool:
        if self.text.startswith(s, self.pos):
            self.pos += len(s)
            return True
        return False

    def expect(self, s: str) -> None:
        if not self.accept(s):
            raise _Syntax(f"expected {s!r} at column {self.pos + 1}")

    def accept_word(self, word: str) -> bool:
        """A bare keyword (not the start of a longer name), and the space after it if any.

        Keywords are never quoted; a name that equals a keyword always is.
        """
        end = self.pos + len(word)
        if self.text.startswith(word, self.pos) and (end == len(self.text) or self.text[end] in STRUCTURAL):
            self.pos = end
            if self.peek() == " ":
                self.pos += 1
            return True
        return False

    def accept_keyword(self, word: str) -> bool:
        """Like accept_word, but leaves the following space alone."""
        end = self.pos + len(word)
        if self.text.startswith(word, self.pos) and (end == len(self.text) or self.text[end] in STRUCTURAL):
            self.pos = end
            return True
        return False

    def ident(self) -> tuple[str, bool]:
        """One name part: bare, or quoted '...'. Returns (name, was_quoted)."""
        if self.peek() == "'":
            return self._quoted("'"), True
        start = self.pos
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch in STRUCTURAL or not ch.isprintable() or ch.isspace():
                break
            self.pos += 1
        if self.pos == start:
            raise _Syntax(f"expected a name at column {start + 1}")
        return text[start:self.pos], False

    def dotted(self) -> tuple[str, bool]:
        """A dotted name; was_quoted is True when any part was quoted."""
        name, quoted = self.ident()
        parts = [name]
        while self.peek() == ".":
            self.pos += 1
            part, q = self.ident()
            parts.append(part)
            quoted = quoted or q
        return ".".join(parts), quoted

    def _quoted(self, quote: str) -> str:
        self.expect(quote)
        out = []
        text = self.text
        while True:
            if self.pos >= len(text):
                raise _Syntax("unterminated quoted text")
            ch = text[self.pos]
            self.pos += 1
            if ch == quote:
                return "".join(out)
            if ch != "\\":
                out.append(ch)
                continue
            if self.pos >= len(text):
                raise _Syntax("unterminated escape")
            esc = text[self.pos]
            self.pos += 1
            if esc in _SIMPLE_ESCAPES:
                out.append(_SIMPLE_ESCAPES[esc])
            elif esc in "uU":
                width = 4 if esc == "u" else 8
                digits = text[self.pos:self.pos + width]
                if len(digits) != width or any(c not in "0123456789abcdefABCDEF" for c in digits):
                    raise _Syntax("bad \\u escape")
                out.append(chr(int(digits, 16)))
                self.pos += width
            else:
                raise _Syntax(f"unknown escape \\{esc}")

    def string_or_null(self) -> str | None:
        if self.accept("null"):
            return None
        return self._quoted('"')

    def literal(self, stops: str) -> str:
        """A rendered value, kept as text: up to a top-level stop character."""
        start = self.pos
        text = self.text
        while self.pos < len(text) and text[self.pos] not in stops:
            if text[self.pos] in "\"'":
                self._quoted(text[self.pos])
            else:
                self.pos += 1
        value = text[start:self.pos]
        if not value:
            raise _Syntax(f"expected a value at column {start + 1}")
        return value


class _Context:
    def __init__(self, type_params: tuple[str, ...] = (), method_params: tuple[str, ...] = ()):
        self.type_params = type_params
        self.method_params = method_params

    def lookup(self, name: str) -> GenericParamRef | None:
        if name in self.method_params:
            return GenericParamRef(name, self.method_params.index(name), True)
        if name in self.type_params:
            return GenericParamRef(name, self.type_params.index(name), False)
        return None


def _parse_type(c: _Cursor, ctx: _Context) -> TypeExpr:
    t = _parse_core(c, ctx)
    while True:
        if c.peek() == "[":
            end = c.text.find("]", c.pos)
            if end < 0:
                raise _Syntax("unterminated array shape")
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
            modifier = _parse_type(c, ctx)
            c.expect(")")
            t = Modified(t, required, modifier)
        else:
            return t


def _parse_core(c: _Cursor, ctx: _Context) -> TypeExpr:
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
            raise _Syntax("function pointer without a return type")
        return FunctionPointer(convention, types[-1], tuple(types[:-1]))
    if c.peek() == "!":
        method = c.accept("!!")
        if not method:
            c.expect("!")
        start = c.pos
        while c.peek().isdigit():
            c.pos += 1
        if c.pos == start:
            raise _Syntax("expected a generic parameter number")
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


def _args(c: _Cursor, ctx: _Context) -> tuple[TypeExpr, ...]:
    if not c.accept("<"):
        return ()
    return tuple(_type_list(c, ctx, ">"))


def _type_list(c: _Cursor, ctx: _Context, close: str) -> list[TypeExpr]:
    items = []
    if c.accept(close):
        return items
    while True:
        items.append(_parse_type(c, ctx))
        if c.accept(close):
            return items
        c.expect(", ")


def _decl_name(c: _Cursor, with_variance: bool) -> tuple[Named, list[tuple[str, str]]]:
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


def _obsolete(c: _Cursor) -> Obsolete | None:
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


def _visibility(c: _Cursor) -> str:
    for word in ("public", "protected"):
        if c.accept_word(word):
            return word
    raise _Syntax("expected public or protected")


def _modifiers(c: _Cursor, allowed: tuple[str, ...]) -> tuple[str, ...]:
    found = []
    progress = True
    while progress:
        progress = False
        for word in allowed:
            if word not in found and c.accept_word(word):
                found.append(word)
                progress = True
    return tuple(sorted(found, key=allowed.index))


def _params(c: _Cursor, ctx: _Context, close: str) -> tuple[tuple[Param, ...], bool]:
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
            ptype = _parse_type(c, ctx)
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


def _where(c: _Cursor, ctx: _Context, names: list[str]) -> dict[str, tuple[bool, bool, bool, tuple[TypeExpr, ...]]]:
    clauses: dict[str, tuple[bool, bool, bool, tuple[TypeExpr, ...]]] = {}
    while c.accept(" where "):
        name, _ = c.ident()
        if name not in names:
            raise _Syntax(f"constraint on unknown generic parameter {name!r}")
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
                types.append(_parse_type(c, ctx))
            if not c.accept(", "):
                break
        clauses[name] = (reference, value, ctor, tuple(types))
    return clauses


def _generic_decls(names: list[tuple[str, str]], clauses: dict) -> tuple[GenericParamDecl, ...]:
    decls = []
    for name, variance in names:
        reference, value, ctor, types = clauses.get(name, (False, False, False, ()))
        decls.append(GenericParamDecl(name, variance, reference, value, ctor, types))
    return tuple(decls)


def _return_type(c: _Cursor, ctx: _Context) -> tuple[TypeExpr, bool]:
    if c.accept("ref readonly "):
        return ByRef(_parse_type(c, ctx)), True
    if c.accept("ref "):
        return ByRef(_parse_type(c, ctx)), False
    return _parse_type(c, ctx), False


def _method_params_declared(c: _Cursor) -> list[str]:
    names = []
    if c.accept("<"):
        while True:
            name, _ = c.ident()
            names.append(name)
            if c.accept(">"):
                break
            c.expect(", ")
    return names


def parse_type_line(text: str, known: tuple[str, ...] = ()) -> TypeDecl:
    """One `type ...` line. `known`: the generic parameter names (second pass for delegates)."""
    c = _Cursor(text)
    c.expect("type ")
    obsolete = _obsolete(c)
    visibility = _visibility(c)
    modifiers = _modifiers(c, TYPE_MODIFIERS)
    if c.accept_word("delegate"):
        # The return type comes before the name that declares the generic parameters.
        ctx = _Context(known)
        ret, ref_readonly = _return_type(c, ctx)
        c.expect(" ")
        name, gp_names = _decl_name(c, with_variance=True)
        names = tuple(n for n, _ in gp_names)
        if names != known:
            return parse_type_line(text, names)
        c.expect("(")
        params, _ = _params(c, ctx, ")")
        clauses = _where(c, ctx, list(names))
        _end(c)
        return TypeDecl(name, "delegate", visibility, modifiers, _generic_decls(gp_names, clauses),
                        delegate=DelegateSig(ret, params, ref_readonly), obsolete=obsolete)
    kind = ""
    for word in TYPE_KINDS:
        if c.accept_word(word):
            kind = word
            break
    if not kind:
        raise _Syntax("expected a type kind")
    name, gp_names = _decl_name(c, with_variance=True)
    ctx = _Context(tuple(n for n, _ in gp_names))
    bases: list[TypeExpr] = []
    if c.accept(" : "):
        bases = [_parse_type(c, ctx)]
        while c.accept(", "):
            bases.append(_parse_type(c, ctx))
    clauses = _where(c, ctx, [n for n, _ in gp_names])
    _end(c)
    base = None
    if kind in ("class", "enum") and bases:
        base, bases = bases[0], bases[1:]
    return TypeDecl(name, kind, visibility, modifiers, _generic_decls(gp_names, clauses), base, tuple(bases),
                    obsolete=obsolete)


def parse_member_line(text: str, method_names: tuple[str, ...] = ()) -> Member:
    """One `member ...` line. `method_names`: the method's generic parameters (second pass)."""
    c = _Cursor(text)
    c.expect("member ")
    declaring, gp_names = _decl_name(c, with_variance=False)
    ctx = _Context(tuple(n for n, _ in gp_names), method_names)
    c.expect(": ")
    obsolete = _obsolete(c)
    visibility = _visibility(c)
    modifiers = _modifiers(c, MEMBER_MODIFIERS)
    if c.accept_word("event"):
        etype = _parse_type(c, ctx)
        c.expect(" ")
        name, _ = c.ident()
        _end(c)
        return Member(declaring, "event", name, visibility, modifiers, etype, obsolete=obsolete)
    # A constructor is a name directly followed by "(": a method has a return type first.
    mark = c.pos
    try:
        name, _ = c.ident()
    except _Syntax:
        name = ""
    if name and c.peek() == "(":
        c.expect("(")
        params, varargs = _params(c, ctx, ")")
        _end(c)
        return Member(declaring, "constructor", name, visibility, modifiers, params=params, obsolete=obsolete,
                      varargs=varargs)
    c.pos = mark
    mtype, ref_readonly = _return_type(c, ctx)
    c.expect(" ")
    name, _ = c.ident()
    if c.peek() in ("<", "("):
        names = _method_params_declared(c)
        if tuple(names) != method_names:
            return parse_member_line(text, tuple(names))
        c.expect("(")
        params, varargs = _params(c, ctx, ")")
        clauses = _where(c, ctx, names)
        _end(c)
        return Member(declaring, "method", name, visibility, modifiers, mtype, ref_readonly,
                      _generic_decls([(n, "") for n in names], clauses), params, obsolete=obsolete, varargs=varargs)
    params = ()
    if c.accept("["):
        params, _ = _params(c, ctx, "]")
    if c.accept(" { "):
        accessors = []
        while not c.accept("}"):
            acc_vis = visibility
            for word in ("public", "protected"):
                if c.accept_word(word):
                    acc_vis = word
            word, _ = c.ident()
            if word not in ("get", "set", "init"):
                raise _Syntax(f"unknown accessor {word!r}")
            c.expect(";")
            c.accept(" ")
            accessors.append(Accessor(word, acc_vis))
        _end(c)
        return Member(declaring, "property", name, visibility, modifiers, mtype, ref_readonly, params=params,
                      accessors=tuple(accessors), obsolete=obsolete)
    value = None
    if c.accept(" = "):
        value = c.literal("")
    _end(c)
    return Member(declaring, "field", name, visibility, modifiers, mtype, value=value, obsolete=obsolete)


def parse_forward_line(text: str) -> Forwarder:
    c = _Cursor(text)
    c.expect("forward ")
    first, _ = c.dotted()
    parts = [first]
    while c.accept("+"):
        part, _ = c.ident()
        parts.append(part)
    c.expect(" => ")
    target, _ = c.dotted()
    _end(c)
    return Forwarder("+".join(parts), target)


def _end(c: _Cursor) -> None:
    if not c.at_end():
        raise _Syntax(f"unexpected text at column {c.pos + 1}")


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
                    raise _Syntax("a second assembly line")
                c = _Cursor(line)
                c.expect("assembly ")
                assembly, _ = c.dotted()
                _end(c)
            elif assembly is None:
                raise _Syntax("the first line must be `assembly <name>`")
            elif line.startswith("type "):
                types.append(parse_type_line(line))
            elif line.startswith("member "):
                members.append(parse_member_line(line))
            elif line.startswith("forward "):
                forwarders.append(parse_forward_line(line))
            else:
                raise _Syntax("unknown line kind")
        except (_Syntax, RecursionError) as exc:
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
