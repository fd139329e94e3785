"""Finding exercises: every folder of ``exercises/`` with an ``exercise.yaml``."""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType

from grader.checks import CheckFn, collect_checks
from grader.errors import GraderError, SpecError
from grader.mistakes import MistakeBook, load_book
from grader.spec import ExerciseSpec, load_spec

EXERCISES_DIR = Path(__file__).resolve().parent.parent / "exercises"


@dataclass
class Exercise:
    name: str
    folder: Path

    @cached_property
    def spec(self) -> ExerciseSpec:
        return load_spec(self.folder / "exercise.yaml")

    @property
    def statement(self) -> str:
        return (self.folder / "statement.md").read_text(encoding="utf-8")

    @property
    def template(self) -> str:
        return (self.folder / "template.py").read_text(encoding="utf-8")

    @cached_property
    def checks(self) -> dict[str, CheckFn]:
        """The check functions, matched against the spec both ways."""
        module = importlib.import_module(f"exercises.{self.name}.checks")
        found = collect_checks(module)
        listed = [c.id for c in self.spec.checks]
        missing = [c for c in listed if c not in found]
        unlisted = [c for c in found if c not in listed]
        where = self.folder / "exercise.yaml"
        if missing:
            raise SpecError(f"{where}: checks {missing} are listed but checks.py defines no @check for them")
        if unlisted:
            raise SpecError(f"{where}: checks.py defines {unlisted}, which the spec does not list")
        return found

    @cached_property
    def reference(self) -> ModuleType:
        return importlib.import_module(f"reference.{self.name}")

    @cached_property
    def mistakes(self) -> MistakeBook | None:
        return load_book(self.name)


def all_exercises() -> list[Exercise]:
    return [Exercise(p.name, p) for p in sorted(EXERCISES_DIR.iterdir())
            if (p / "exercise.yaml").is_file()]


def get_exercise(name: str) -> Exercise:
    names = [e.name for e in all_exercises()]
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise GraderError(f"unknown exercise {name!r}.{hint} Available: {', '.join(names)}")
    return Exercise(name, EXERCISES_DIR / name)
