"""Common mistakes: variants of a reference solution, each with the hint a student should see.

An exercise's ``mistakes.py`` builds one :class:`MistakeBook`::

    from grader.mistakes import MistakeBook

    MISTAKES = MistakeBook("least_squares")   # the grader binds it to the exercise's reference

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
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.exercises import Exercise

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
    """The mistakes of one exercise, over its reference solution.

    The exercise that loads the book binds it to its reference (:meth:`bind`); an unbound book falls
    back to importing ``reference_module`` (default ``reference.<exercise>``).
    """

    def __init__(self, exercise: str, reference_module: str | None = None) -> None:
        self.exercise = exercise
        self.reference_module = reference_module or f"reference.{exercise}"
        self._mistakes: dict[str, Mistake] = {}
        self._reference: ModuleType | None = None

    def bind(self, reference: ModuleType) -> None:
        """Use ``reference`` (the exercise's reference module, loaded by path) as the base of every variant."""
        self._reference = reference

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
        if self._reference is None:
            self._reference = importlib.import_module(self.reference_module)
        return self._reference

    def variant(self, id: str) -> SimpleNamespace:
        """The reference API with mistake ``id`` in it, as a namespace of functions."""
        return SimpleNamespace(**self.materialize(id))

    def materialize(self, id: str) -> dict[str, Callable[..., Any]]:
        """Public functions of the reference, with the mistake's overrides applied."""
        ref = self.reference()
        api = {k: v for k, v in vars(ref).items() if callable(v) and not k.startswith("_")}
        api.update(self._mistakes[id].overrides)
        return api


def load_book(exercise: str | Path | Exercise) -> MistakeBook | None:
    """The ``MISTAKES`` book of an exercise's ``mistakes.py``, bound to its reference; None if it has none.

    ``exercise`` is a name (looked up on the search path), an exercise folder, or an :class:`Exercise`.
    """
    from grader.exercises import Exercise, get_exercise

    if isinstance(exercise, Exercise):
        return exercise.mistakes
    if isinstance(exercise, Path):
        return Exercise.at(exercise).mistakes
    return get_exercise(exercise).mistakes


def mutant_source(exercise: str | Exercise, mistake_id: str) -> str:
    """Source of a submission file that is the reference with one mistake in it (for tests).

    The file names the exercise's folder, so it works for an exercise of any collection: the sandbox's
    child, which knows no search path, loads the book from there.
    """
    from grader.exercises import Exercise, get_exercise

    ex = exercise if isinstance(exercise, Exercise) else get_exercise(exercise)
    return (
        "from pathlib import Path as _Path\n"
        "from grader.mistakes import load_book as _load_book\n"
        f"globals().update(_load_book(_Path({str(ex.folder.resolve())!r})).materialize({mistake_id!r}))\n"
    )
