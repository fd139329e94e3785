"""Helpers of the kit's tests. Kit exercises built here from the built-in ones: the student-visible files
copied, fixtures recorded once per session (grader.kit.record), reference and mistakes answered by the
fixtures (grader.kit.replay); and an in-process stand-in for the sandbox's session.

The kit builder (grader/kit/build.py, issue 12's kit-layout part) and the exercise hook that opens a kit's
fixtures are written elsewhere; :class:`KitExercise` stands in for that hook here.
"""

from __future__ import annotations

import importlib.util
import inspect
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
import torch

from grader.checks import DEFAULT_DTYPES, clone_tree
from grader.errors import MissingFunction, StudentException
from grader.exercises import REQUIRED_FILES, Exercise, get_exercise
from grader.format import dtype_name
from grader.grading import CallLedger, GradeOptions, run_check
from grader.kit.record import record_fixtures
from grader.kit.replay import Fixtures, open_fixtures
from grader.sandbox.oprecord import Recorder
from grader.trusted import TrustedFunction

ROOT = Path(__file__).resolve().parents[2]
KIT_SEEDS = (0,)
SEED = 0


def symbolic_fixtures() -> bool:
    """Whether the symbolic exercise's fixtures can be written (grader.symbolic.sampled, kit-symbolic's part)."""
    return importlib.util.find_spec("grader.symbolic.sampled") is not None
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


class InProcessSession:
    """The sandbox session's interface, run here: the student's functions on copies of the inputs, under the
    same op recorder, with the errors the sandbox would report."""

    def __init__(self, api: dict[str, Any]) -> None:
        self.api = api
        self.functions = sorted(api)
        self.parameters = {}
        for name, fn in api.items():
            try:
                self.parameters[name] = list(inspect.signature(fn).parameters)
            except (TypeError, ValueError):
                continue
        self.load_error = None
        self.import_output = ""

    def call(self, fn: str, args: tuple, kwargs: dict, *, timeout: float, **_: Any) -> dict[str, Any]:
        f = self.api.get(fn)
        if f is None:
            raise MissingFunction(f"your file does not define {fn}")
        a, k = _resolve(clone_tree(args)), _resolve(clone_tree(kwargs))
        recorder = Recorder("")
        try:
            value = recorder.run(f, a, k)
        except Exception as e:  # noqa: BLE001 - as the sandbox reports it
            raise StudentException(f"{fn} raised {type(e).__name__}: {e}") from None
        return {"value": value, "args_after": [x if isinstance(x, torch.Tensor) else None for x in a],
                "kwargs_after": {n: v for n, v in k.items() if isinstance(v, torch.Tensor)},
                "ops": recorder.take()}


def _resolve(tree: Any) -> Any:
    if isinstance(tree, TrustedFunction):
        return tree.resolve_bound()
    if isinstance(tree, list | tuple):
        return type(tree)(_resolve(v) for v in tree)
    if isinstance(tree, dict):
        return {n: _resolve(v) for n, v in tree.items()}
    return tree


def _module_api(path: Path) -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location(f"_kit_parity_{path.parent.name}_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {n: v for n, v in vars(module).items() if callable(v) and not n.startswith("_")}


def submissions(name: str) -> list[tuple[str, dict[str, Any]]]:
    ex = get_exercise(name)
    out = [("reference", {n: v for n, v in vars(ex.reference).items() if callable(v) and not n.startswith("_")})]
    out += [(f"mistake {m.id}", ex.mistakes.materialize(m.id)) for m in ex.mistakes or ()]
    out += [(f"buggy {p.name}", _module_api(p)) for p in sorted((ROOT / "tests" / "buggy" / name).glob("*.py"))]
    return out


def verdicts(ex: Any, api: dict[str, Any]) -> dict[str, Any]:
    """The public checks' results for the student API ``api``."""
    spec = ex.spec
    options = GradeOptions(seed=SEED)
    options = replace(options, dtypes=tuple(d for d in DEFAULT_DTYPES if dtype_name(d) in spec.dtypes))
    session = InProcessSession(api)
    ledger = CallLedger()
    out = {}
    for cs in spec.checks:
        if cs.visibility == "hidden":
            continue
        out[cs.id] = run_check(ex, cs, ex.checks[cs.id], session, [], options, "cpu", spec.timeout_for(cs),  # type: ignore[arg-type]
                               spec.student_file, ledger)
    return out
