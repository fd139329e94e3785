"""Common mistakes: variants of a reference solution, each with the hint a student should see.

An exercise's ``exercises/<name>/mistakes.py`` builds one :class:`MistakeBook`::

    from grader.mistakes import MistakeBook

    MISTAKES = MistakeBook("least_squares")          # binds to reference/least_squares.py

    @MISTAKES.add("ls_grad", name="factor 2 missing",
                  hint="The gradient of ‖Wθ − y‖² is 2Wᵀ(Wθ − y): you dropped the 2.")
    def ls_grad_without_two(W, theta, y):
        return W.T @ (W @ theta - y)

The decorated function's ``__name__`` is the mistake id. A mistake that changes several API
functions at once is added with :meth:`MistakeBook.add_variant`.

The grader uses a book two ways:

* diagnosis: when a student's output is wrong, each mistake's variant of the same computation is run
  (in the parent, it is trusted code) and a match names the mistake;
* tests: :meth:`MistakeBook.materialize` builds the full student API with the mistake in it, which the
  tests write out as a mutant submission and grade like any other file.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType, SimpleNamespace
from typing import Any

from grader.diagnosis import Diagnosis


@dataclass(frozen=True)
class Mistake:
    id: str
    name: str  # a few words, shown as the mistake's title ("factor 2 missing")
    hint: str  # what the student should read: what is wrong and how to fix it
    overrides: dict[str, Callable[..., Any]] = field(default_factory=dict)
    # True for a mistake whose signature is a NaN or an infinity (0·log 0, an overflow): only then does a
    # non-finite value of the submission count as evidence for it (grader.diagnosis.confirms_variant)
    nonfinite: bool = False

    @property
    def functions(self) -> tuple[str, ...]:
        return tuple(self.overrides)

    @property
    def diagnosis(self) -> Diagnosis:
        return Diagnosis(self.id, self.name, self.hint, "mistake")


class MistakeBook:
    """The mistakes of one exercise, over its reference module ``reference.<exercise>``."""

    def __init__(self, exercise: str, reference_module: str | None = None) -> None:
        self.exercise = exercise
        self.reference_module = reference_module or f"reference.{exercise}"
        self._mistakes: dict[str, Mistake] = {}

    # -- building -----------------------------------------------------------------------------
    def add(self, function: str, *, name: str, hint: str,
            nonfinite: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: the decorated function replaces API function ``function``.

        ``nonfinite=True`` declares a mistake recognised by the NaN or infinity it produces.
        """

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self._register(Mistake(fn.__name__, name, hint, {function: fn}, nonfinite))
            return fn

        return register

    def add_variant(self, id: str, *, name: str, hint: str, nonfinite: bool = False,
                    **overrides: Callable[..., Any]) -> Mistake:
        """A mistake that replaces several API functions at once (``forward=..., backward=...``)."""
        return self._register(Mistake(id, name, hint, dict(overrides), nonfinite))

    def _register(self, m: Mistake) -> Mistake:
        if m.id in self._mistakes:
            raise ValueError(f"{self.exercise}: duplicate mistake id {m.id!r}")
        if not m.overrides:
            raise ValueError(f"{self.exercise}: mistake {m.id!r} overrides no function")
        self._mistakes[m.id] = m
        return m

    # -- reading ------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Mistake]:
        return iter(self._mistakes.values())

    def __len__(self) -> int:
        return len(self._mistakes)

    def __getitem__(self, id: str) -> Mistake:
        return self._mistakes[id]

    def reference(self) -> ModuleType:
        return importlib.import_module(self.reference_module)

    def variant(self, id: str) -> SimpleNamespace:
        """The reference API with mistake ``id`` in it, as a namespace of functions."""
        return SimpleNamespace(**self.materialize(id))

    def materialize(self, id: str) -> dict[str, Callable[..., Any]]:
        """Public functions of the reference, with the mistake's overrides applied."""
        ref = self.reference()
        api = {k: v for k, v in vars(ref).items() if callable(v) and not k.startswith("_")}
        api.update(self._mistakes[id].overrides)
        return api


def load_book(exercise: str) -> MistakeBook | None:
    """The ``MISTAKES`` book of ``exercises/<exercise>/mistakes.py``, or None if it has none."""
    try:
        mod = importlib.import_module(f"exercises.{exercise}.mistakes")
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith(f"exercises.{exercise}"):
            return None
        raise
    book = getattr(mod, "MISTAKES", None)
    if not isinstance(book, MistakeBook):
        raise TypeError(f"exercises/{exercise}/mistakes.py must define MISTAKES = MistakeBook(...)")
    return book


def mutant_source(exercise: str, mistake_id: str) -> str:
    """Source of a submission file that is the reference with one mistake in it (for tests)."""
    return (
        "from grader.mistakes import load_book as _load_book\n"
        f"globals().update(_load_book({exercise!r}).materialize({mistake_id!r}))\n"
    )
