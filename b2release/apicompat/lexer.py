"""One line of an `.api.txt` file as a cursor: names (bare or quoted), quoted text with C#
escapes, and literal values kept as text. `grammar.py` builds on it; a failure is a
`LineSyntax` error, which `parse.py` turns into an InputError naming the file and line.
"""

from __future__ import annotations

from .lexical import STRUCTURAL


class LineSyntax(Exception):
    """A parse failure inside one line (turned into an InputError with file and line)."""


_SIMPLE_ESCAPES = {"\\": "\\", "0": "\0", "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                   "v": "\v", '"': '"', "'": "'"}


class Cursor:
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
            raise LineSyntax(f"expected {s!r} at column {self.pos + 1}")

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
            raise LineSyntax(f"expected a name at column {start + 1}")
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
                raise LineSyntax("unterminated quoted text")
            ch = text[self.pos]
            self.pos += 1
            if ch == quote:
                return "".join(out)
            if ch != "\\":
                out.append(ch)
                continue
            if self.pos >= len(text):
                raise LineSyntax("unterminated escape")
            esc = text[self.pos]
            self.pos += 1
            if esc in _SIMPLE_ESCAPES:
                out.append(_SIMPLE_ESCAPES[esc])
            elif esc in "uU":
                width = 4 if esc == "u" else 8
                digits = text[self.pos:self.pos + width]
                if len(digits) != width or any(c not in "0123456789abcdefABCDEF" for c in digits):
                    raise LineSyntax("bad \\u escape")
                out.append(chr(int(digits, 16)))
                self.pos += width
            else:
                raise LineSyntax(f"unknown escape \\{esc}")

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
            raise LineSyntax(f"expected a value at column {start + 1}")
        return value



def end_of_line(c: Cursor) -> None:
    if not c.at_end():
        raise LineSyntax(f"unexpected text at column {c.pos + 1}")

