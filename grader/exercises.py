"""Finding exercises on the search path, and loading their files.

A *collection* is a folder whose sub-folders holding an ``exercise.yaml`` are exercises (a folder that
holds an ``exercise.yaml`` itself is a collection of that one exercise). Collections are searched in
this order, and the first exercise of a name wins:

1. the folders given with ``grade --exercises DIR`` (repeatable), in the order given;
2. the folders in the environment variable ``DL_GRADER_EXERCISES`` (separated by ``os.pathsep``);
3. the Python entry points of group ``dl_grader.exercises``, by name: ``course = "course_pkg"`` names
   a package whose folder is the collection, ``course = "course_pkg:FOLDER"`` an object that is a path;
4. the built-in ``exercises/`` folder.

Nothing here imports torch, and what only grading needs is imported where it is used: ``grade list``,
``show`` and ``init`` read only the spec, the statement and the template. ``checks.py``,
``mistakes.py`` and the reference are loaded by path (:mod:`grader.loader`) when an exercise is
graded, and only then is the exercise checked against them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from grader.errors import GraderError, SpecError
from grader.loader import load_exercise_file
from grader.spec import ExerciseSpec, load_spec

if TYPE_CHECKING:
    from grader.checks import CheckFn
    from grader.mistakes import MistakeBook

ENV_VAR = "DL_GRADER_EXERCISES"
ENTRY_POINT_GROUP = "dl_grader.exercises"
BUILTIN_DIR = Path(__file__).resolve().parent.parent / "exercises"
REQUIRED_FILES = ("exercise.yaml", "statement.md", "template.py", "checks.py")

_cli_dirs: list[Path] = []  # set by the CLI's --exercises options


def use_dirs(dirs: Sequence[Path]) -> None:
    """Put ``dirs`` (from ``--exercises``) on the search path, after those given before."""
    for d in dirs:
        if Path(d) not in _cli_dirs:
            _cli_dirs.append(Path(d))


def given_dirs() -> list[Path]:
    """The folders given with ``--exercises`` so far."""
    return list(_cli_dirs)


@dataclass(frozen=True)
class Collection:
    folder: Path
    origin: str  # where it was named: "--exercises", "$DL_GRADER_EXERCISES", "entry point NAME", "built-in"

    def exercises(self) -> list[Exercise]:
        if not self.folder.is_dir():
            raise GraderError(f"exercise folder {self.folder} (from {self.origin}) does not exist")
        if (self.folder / "exercise.yaml").is_file():
            return [Exercise(self.folder.name, self.folder, self.origin)]
        return [Exercise(p.name, p, self.origin) for p in sorted(self.folder.iterdir())
                if (p / "exercise.yaml").is_file()]


@dataclass
class Exercise:
    name: str
    folder: Path
    origin: str = "built-in"
    shadows: list[Exercise] = field(default_factory=list, repr=False, compare=False)  # same name, later on the path

    @classmethod
    def at(cls, folder: str | Path) -> Exercise:
        """The exercise in ``folder``, found by path rather than by name."""
        folder = Path(folder)
        if not (folder / "exercise.yaml").is_file():
            raise GraderError(f"{folder} is not an exercise folder: it has no exercise.yaml")
        return cls(folder.name, folder, "path")

    @property
    def where(self) -> str:
        """Where it comes from, for `grade list`: the origin, and the folder unless it is built in."""
        if self.origin == "built-in":
            return self.origin
        return f"{self.origin}: {self.folder if self.origin == 'path' else self.folder.parent}"

    @cached_property
    def spec(self) -> ExerciseSpec:
        return load_spec(self.folder / "exercise.yaml")

    @property
    def has_instructor_data(self) -> bool:
        return (self.folder / "instructor").is_dir()

    @property
    def reference_path(self) -> Path:
        return self.folder / self.spec.reference

    def missing_files(self) -> list[str]:
        """The files an exercise folder must hold that this one lacks."""
        missing = [f for f in REQUIRED_FILES if not (self.folder / f).is_file()]
        if "exercise.yaml" not in missing and not self.reference_path.is_file():
            missing.append(f"{self.spec.reference} (the reference: key of exercise.yaml)")
        return missing

    def _read(self, filename: str) -> str:
        try:
            return (self.folder / filename).read_text(encoding="utf-8")
        except OSError as e:
            raise GraderError(f"exercise {self.name!r} ({self.folder}): cannot read {filename}: "
                              f"{e.strerror}") from None

    @property
    def statement(self) -> str:
        return self._read("statement.md")

    @property
    def template(self) -> str:
        return self._read("template.py")

    def require_files(self) -> None:
        missing = self.missing_files()
        if missing:
            raise GraderError(f"exercise folder {self.folder} lacks {', '.join(missing)} (an exercise folder "
                              "holds exercise.yaml, statement.md, template.py, checks.py and its reference "
                              "solution; see docs/AUTHORING.md)")

    @cached_property
    def checks(self) -> dict[str, CheckFn]:
        """The check functions, matched against the spec both ways; the spec's ``functions`` against the
        reference and the template. Loading them imports torch: only grading asks for them."""
        from grader.checks import collect_checks

        self.require_files()
        found = collect_checks(self._load("checks.py", "checks"))
        listed = [c.id for c in self.spec.checks]
        missing = [c for c in listed if c not in found]
        unlisted = [c for c in found if c not in listed]
        where = self.folder / "exercise.yaml"
        if missing:
            raise SpecError(f"{where}: checks {missing} are listed but checks.py defines no @check for them")
        if unlisted:
            raise SpecError(f"{where}: checks.py defines {unlisted}, which the spec does not list")
        self._check_functions()
        return found

    def _check_functions(self) -> None:
        want = self.spec.functions
        in_reference = [f for f in want if not callable(getattr(self.reference, f, None))]
        in_template = [f for f in want if f not in _defined_functions(self.template)]
        lacks = []
        if in_reference:
            lacks.append(f"the reference {self.spec.reference} does not define {', '.join(in_reference)}")
        if in_template:
            lacks.append(f"template.py does not define {', '.join(in_template)}")
        if lacks:
            raise SpecError(f"{self.folder / 'exercise.yaml'}: functions: " + "; ".join(lacks))

    @cached_property
    def reference(self) -> ModuleType:
        self.require_files()
        return self._load(self.spec.reference, "reference")

    @cached_property
    def mistakes(self) -> MistakeBook | None:
        """The ``MISTAKES`` book of ``mistakes.py`` bound to this exercise's reference, or None."""
        from grader.mistakes import MistakeBook

        if not (self.folder / "mistakes.py").is_file():
            return None
        reference = self.reference  # first: mistakes.py may import it (`from .reference import f`)
        book = getattr(self._load("mistakes.py", "mistakes"), "MISTAKES", None)
        if not isinstance(book, MistakeBook):
            raise SpecError(f"{self.folder / 'mistakes.py'} must define MISTAKES = MistakeBook(...)")
        book.bind(reference)
        return book

    def _load(self, filename: str, role: str) -> ModuleType:
        import traceback

        path = self.folder / filename
        try:
            return load_exercise_file(self.folder, path, role)
        except Exception as e:  # noqa: BLE001 - the exercise's own code: report where it broke
            frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename.startswith(str(self.folder))]
            at = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
            raise GraderError(f"exercise {self.name!r}: loading {path} raised {type(e).__name__}: {e}{at}") from e


def _defined_functions(source: str) -> set[str]:
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


# -- the search path ---------------------------------------------------------------------------------
def collections(dirs: Sequence[Path] | None = None) -> list[Collection]:
    """The search path: ``dirs`` (default: the CLI's --exercises), the environment variable, the entry
    points, the built-in folder."""
    out = [Collection(Path(d), "--exercises") for d in (_cli_dirs if dirs is None else dirs)]
    out += [Collection(Path(p), f"${ENV_VAR}") for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p.strip()]
    out += _entry_point_collections()
    out.append(Collection(BUILTIN_DIR, "built-in"))
    return out


@lru_cache(maxsize=1)
def _entry_point_collections() -> list[Collection]:
    if not _may_have_entry_points():
        return []
    from importlib.metadata import entry_points  # a tenth of a second: only when some package declares one

    out = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        origin = f"entry point {ep.name}" + (f" ({dist.name})" if dist is not None else "")
        try:
            folder = _entry_point_folder(ep.value)
        except Exception as e:  # noqa: BLE001 - a broken course package must say which one it is
            raise GraderError(f"{origin} = {ep.value!r} in group {ENTRY_POINT_GROUP}: {type(e).__name__}: {e}") \
                from None
        out.append(Collection(folder, origin))
    return out


def _may_have_entry_points() -> bool:
    """Whether an installed distribution on ``sys.path`` declares the group: a quick look at the
    ``entry_points.txt`` files, so that ``grade list`` does not import importlib.metadata for nothing.
    (Distributions that only a custom finder knows of are missed; none ship exercises today.)"""
    marker = f"[{ENTRY_POINT_GROUP}]"
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as it:
                infos = [e.path for e in it if e.name.endswith((".dist-info", ".egg-info")) and e.is_dir()]
        except OSError:
            continue
        for info in infos:
            try:
                if marker in Path(info, "entry_points.txt").read_text(encoding="utf-8", errors="replace"):
                    return True
            except OSError:
                continue
    return False


def _entry_point_folder(value: str) -> Path:
    """``"pkg"`` -> the package's folder (found without importing it); ``"pkg.mod:NAME"`` -> NAME, a path
    or a package."""
    import importlib
    import importlib.util

    module, _, attr = value.partition(":")
    module, attr = module.strip(), attr.strip()
    if not attr:
        spec = importlib.util.find_spec(module)
        if spec is None:
            raise ModuleNotFoundError(f"no module named {module!r}")
        return _module_folder(spec.submodule_search_locations, spec.origin, module)
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if isinstance(obj, str | os.PathLike):
        return Path(obj)
    if isinstance(obj, ModuleType):
        return _module_folder(getattr(obj, "__path__", None), obj.__file__, obj.__name__)
    raise TypeError(f"{value} is a {type(obj).__name__}; it must be a folder (str or Path) or a package")


def _module_folder(search: Any, origin: str | None, name: str) -> Path:
    if search:
        return Path(next(iter(search)))
    if origin:
        return Path(origin).parent
    raise ModuleNotFoundError(f"{name!r} has no folder")


def discover(dirs: Sequence[Path] | None = None) -> list[Exercise]:
    """Every exercise on the search path, first of each name; the later ones are in ``.shadows``."""
    found: dict[str, Exercise] = {}
    for collection in collections(dirs):
        for ex in collection.exercises():
            if ex.name in found:
                found[ex.name].shadows.append(ex)
            else:
                found[ex.name] = ex
    return list(found.values())


def all_exercises(dirs: Sequence[Path] | None = None) -> list[Exercise]:
    return discover(dirs)


def get_exercise(name: str, dirs: Sequence[Path] | None = None) -> Exercise:
    exercises = {e.name: e for e in discover(dirs)}
    if name not in exercises:
        import difflib

        names = list(exercises)
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise GraderError(f"unknown exercise {name!r}.{hint} Available: {', '.join(names)}")
    return exercises[name]
