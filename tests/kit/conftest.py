"""Kit exercises built here from the built-in ones: the student-visible files copied, fixtures recorded once
per session (grader.kit.record), reference and mistakes answered by the fixtures (grader.kit.replay).

The kit builder (grader/kit/build.py, issue 12's kit-layout part) and the exercise hook that opens a kit's
fixtures are written elsewhere; :class:`KitExercise` stands in for that hook here.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from grader.exercises import REQUIRED_FILES, Exercise, get_exercise
from grader.kit.record import record_fixtures
from grader.kit.replay import Fixtures, open_fixtures

KIT_SEEDS = (0,)
STUDENT_FILES = ("exercise.yaml", "statement.md", "template.py", "checks.py")


class KitExercise(Exercise):
    """An exercise folder with ``fixtures/`` and no reference: what a student kit holds."""

    @cached_property
    def fixtures(self) -> Fixtures:
        return open_fixtures(self.folder / "fixtures")

    @property  # type: ignore[override]
    def reference(self) -> Any:
        return self.fixtures.reference

    @property  # type: ignore[override]
    def mistakes(self) -> Any:
        return self.fixtures.mistakes

    def missing_files(self) -> list[str]:
        return [f for f in REQUIRED_FILES if not (self.folder / f).is_file()]


def build_kit_exercise(name: str, root: Path, seeds=KIT_SEEDS) -> KitExercise:
    ex = get_exercise(name)
    folder = root / name
    folder.mkdir(parents=True)
    for f in STUDENT_FILES:
        shutil.copy(ex.folder / f, folder / f)
    record_fixtures(ex, seeds, folder / "fixtures")
    return KitExercise(name, folder, "kit")


@pytest.fixture(scope="session")
def kit_exercise() -> Iterator[Any]:
    """kit_exercise(name) -> KitExercise, recorded once per session."""
    root = Path(tempfile.mkdtemp(prefix="kit-"))
    built: dict[str, KitExercise] = {}

    def get(name: str) -> KitExercise:
        if name not in built:
            built[name] = build_kit_exercise(name, root)
        return built[name]

    yield get
    shutil.rmtree(root, ignore_errors=True)
