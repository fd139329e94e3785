"""Errors of the symbolic engine. All are ``ValueError`` so callers that only know "bad input" work.

A :class:`ParseError` knows the column of the problem and renders the input with a caret under it,
because "unexpected ')'" alone does not tell a student which of their five brackets is wrong.
"""

from __future__ import annotations

_WINDOW = 60  # characters of the input shown around the caret


class SymbolicError(ValueError):
    """An answer the engine refuses: unreadable, too big, wrong shape, unknown name."""


class ShapeError(SymbolicError):
    """Matrix shapes that do not fit (a product T×D times T×1: usually a missing transpose)."""


class ParseError(SymbolicError):
    """A string answer that does not parse. ``column`` is 1-based, or None when it has no position.
    ``shape`` is set when the cause is a :class:`ShapeError`: the answer reads fine but cannot be right."""

    def __init__(self, reason: str, text: str = "", column: int | None = None, *, shape: bool = False) -> None:
        self.reason = reason
        self.shape = shape
        self.text = text
        self.column = column
        super().__init__(self.render())

    def render(self) -> str:
        if self.column is None:
            return self.reason
        line, caret = _window(self.text, self.column)
        return f"{self.reason} at column {self.column}\n  {line}\n  {caret}"


class TreeError(SymbolicError):
    """A serialised expression (from the student's process) that we will not rebuild."""


def _window(text: str, column: int) -> tuple[str, str]:
    """The part of ``text`` around ``column`` (1-based), newlines flattened, and a caret line."""
    flat = text.replace("\n", " ").replace("\t", " ")
    start = max(0, column - 1 - _WINDOW // 2)
    end = min(len(flat), start + _WINDOW)
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(flat) else ""
    line = prefix + flat[start:end] + suffix
    caret = " " * (len(prefix) + column - 1 - start) + "^"
    return line, caret
