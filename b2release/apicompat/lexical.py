"""The lexical layer of the `.api.txt` text: type keywords, reserved words, quoting of
names, and C# escapes for string and char literals.

`typeexpr.py` and `surface.py` render with these; `lexer.py` reads the same forms back.
"""

from __future__ import annotations

import functools
import re

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

