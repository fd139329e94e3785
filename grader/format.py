"""The one formatting module: shapes, indices, dtypes, numbers, lists and the "Likely mistake" sentence.

Every message the grader writes formats these things through here, so a shape reads ``(3, 2)`` and an
index ``(1, 0)`` everywhere, and a diagnosis is phrased one way. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.diagnosis import Diagnosis

MAX_LISTED = 6  # at most this many indices or names are listed in one message


def fmt_shape(shape: Sequence[int]) -> str:
    """``(3, 2)``; a 1-d shape keeps Python's trailing comma, ``(3,)``."""
    return fmt_index(shape)


def fmt_index(index: Sequence[int]) -> str:
    dims = tuple(int(s) for s in index)
    return "(" + ", ".join(map(str, dims)) + ("," if len(dims) == 1 else "") + ")"


def dtype_name(dtype: Any) -> str:
    """``float32`` for ``torch.float32`` (no torch import needed)."""
    return str(dtype).removeprefix("torch.")


def num(x: float) -> str:
    """A number as a message shows it: six significant digits."""
    return f"{x:.6g}"


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def listing(items: Iterable[str], limit: int = MAX_LISTED) -> str:
    """``a, b, c`` or ``a, b, c, … (9 in all)`` past ``limit``."""
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown}, … ({len(items)} in all)"


def likely_mistake(d: Diagnosis) -> str:
    """The sentence a student reads for a diagnosis. Built here only: a catalogued mistake is named
    ("Likely mistake: factor 2 missing. …"); a generic pattern's hint already says what it is."""
    if d.name:
        return f"Likely mistake: {d.name}. {d.hint}".rstrip()
    return d.hint
