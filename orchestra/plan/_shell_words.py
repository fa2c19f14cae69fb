"""Splitting a shell command line into words as bash would, for the curl importer.

``shlex`` knows ``'…'``, ``"…"`` and backslashes, but not bash's ANSI-C
quoting ``$'…'``, which browsers use in "Copy as cURL (bash)" whenever a
header or body holds a quote, a newline or a byte that is not printable
(``--data-raw $'{"note":"it\\'s"}'``). This reads the four kinds of quoting
and line continuations (``\\`` at the end of a line); it expands nothing
(``$VAR``, ``$(…)`` and globs stay literal text), since a pasted command is
data to read, never to run.
"""

from __future__ import annotations

import re

_ANSI_SIMPLE = {
    "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r",
    "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?",
}  # fmt: skip
_ANSI_NUMERIC = re.compile(
    r"x([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{1,4})|U([0-9A-Fa-f]{1,8})|([0-7]{1,3})"
)
_DOUBLE_ESCAPES = frozenset('$`"\\\n')


class ShellSyntaxError(ValueError):
    """The text is not a well-formed command line (an unterminated quote)."""


def split_words(text: str) -> list[str]:
    """The words of one command line; ``\\`` + newline joins lines, as in bash."""
    words: list[str] = []
    current: list[str] = []
    in_word = False
    position, end = 0, len(text)
    while position < end:
        char = text[position]
        if char in " \t\r\n":
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
            position += 1
        elif char == "\\":
            following = text[position + 1 : position + 2]
            if following == "\n" or text[position + 1 : position + 3] == "\r\n":
                position += 2 if following == "\n" else 3  # a line continuation
                continue
            current.append(following)
            in_word = True
            position += 2
        elif char == "'":
            close = text.find("'", position + 1)
            if close < 0:
                raise ShellSyntaxError(f"a single quote at character {position + 1} is not closed")
            current.append(text[position + 1 : close])
            in_word, position = True, close + 1
        elif char == "$" and text[position + 1 : position + 2] == "'":
            value, position = _ansi_c(text, position + 2)
            current.append(value)
            in_word = True
        elif char == '"':
            value, position = _double_quoted(text, position + 1)
            current.append(value)
            in_word = True
        elif char == "#" and not in_word:  # a comment runs to the end of the line
            newline = text.find("\n", position)
            position = end if newline < 0 else newline
        else:
            current.append(char)
            in_word = True
            position += 1
    if in_word:
        words.append("".join(current))
    return words


def _double_quoted(text: str, position: int) -> tuple[str, int]:
    out: list[str] = []
    start = position - 1
    while position < len(text):
        char = text[position]
        if char == '"':
            return "".join(out), position + 1
        if char == "\\" and text[position + 1 : position + 2] in _DOUBLE_ESCAPES:
            following = text[position + 1]
            if following != "\n":  # \ + newline: a continuation, dropped
                out.append(following)
            position += 2
            continue
        out.append(char)
        position += 1
    raise ShellSyntaxError(f"a double quote at character {start + 1} is not closed")


def _ansi_c(text: str, position: int) -> tuple[str, int]:
    """``$'…'`` from just after its opening quote: (value, position after the closing quote)."""
    out: list[str | bytes] = []  # \xHH and octal escapes are bytes (UTF-8 when joined)
    start = position - 2
    while position < len(text):
        char = text[position]
        if char == "'":
            return _joined(out), position + 1
        if char != "\\":
            out.append(char)
            position += 1
            continue
        following = text[position + 1 : position + 2]
        if following in _ANSI_SIMPLE:
            out.append(_ANSI_SIMPLE[following])
            position += 2
            continue
        if following == "c" and position + 2 < len(text):  # \cX: control character
            out.append(chr(ord(text[position + 2]) & 0x1F))
            position += 3
            continue
        match = _ANSI_NUMERIC.match(text, position + 1)
        if match:
            hex_byte, short, long, octal = match.groups()
            if octal is not None or hex_byte is not None:
                out.append(bytes([int(octal, 8) & 0xFF if octal else int(hex_byte, 16)]))
            elif int(short or long, 16) > 0x10FFFF:  # no such character: kept as written
                out.append(text[position : match.end()])
            else:
                out.append(chr(int(short or long, 16)))
            position = match.end()
            continue
        out.append("\\" + following)  # unknown escapes stay as written, as in bash
        position += 2
    raise ShellSyntaxError(f"a $'…' quote at character {start + 1} is not closed")


def _joined(parts: list[str | bytes]) -> str:
    """Text and runs of bytes (decoded as UTF-8, as a terminal would show them) as one str."""
    out: list[str] = []
    pending = bytearray()
    for part in parts:
        if isinstance(part, bytes):
            pending += part
            continue
        if pending:
            out.append(pending.decode("utf-8", errors="replace"))
            pending.clear()
        out.append(part)
    if pending:
        out.append(pending.decode("utf-8", errors="replace"))
    return "".join(out)
