"""Finding exercises on the search path, and loading their files.

A *collection* is a folder whose sub-folders holding an ``exercise.yaml`` are exercises (a folder that
holds an ``exercise.yaml`` itself is a collection of that one exercise). Collections are searched in
this order, and the first exercise of a name wins:

1. the folders given with ``grade --exercises DIR`` (repeatable), in the order given;
2. the folders in the environment variable ``DL_GRADER_EXERCISES`` (separated by ``os.pathsep``);
3. the Python entry points of group ``dl_grader.exercises``, by name: ``course = "course_pkg"`` names
   a package whose folder is the collection, ``course = "course_pkg:FOLDER"`` an object that is a path;
4. the built-in ``exercises/`` folder (absent from a student kit, whose own exercises are an entry point).

An exercise folder has a public part (``exercise.yaml``, ``statement.md``, ``template.py``, ``checks.py``),
which a student kit copies, and an ``instructor/`` part that it never copies: ``instructor/exercise.yaml``
(the reference's path and the hidden checks), ``instructor/checks.py`` and ``instructor/mistakes.py``
(docs/AUTHORING.md, docs/KIT.md). A kit's exercise has ``fixtures/`` instead, and its reference and
mistakes are replayed from them (:mod:`grader.kit.replay`).

Nothing here imports torch, and what only grading needs is imported where it is used: ``grade list``,
``show`` and ``init`` read only the spec, the statement and the template. The check files, the mistakes
and the reference are loaded by path (:mod:`grader.loader`) when an exercise is graded, and only then is
the exercise checked against them.
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
from grader.loader import INSTRUCTOR, load_exercise_file
from grader.spec import CheckSpec, ExerciseSpec, InstructorSpec, load_instructor_spec, load_spec, merge

if TYPE_CHECKING:
    from grader.checks import CheckFn
    from grader.mistakes import MistakeBook

ENV_VAR = "DL_GRADER_EXERCISES"
ENTRY_POINT_GROUP = "dl_grader.exercises"
BUILTIN_DIR = Path(__file__).resolve().parent.parent / "exercises"
REQUIRED_FILES = ("exercise.yaml", "statement.md", "template.py", "checks.py")
FIXTURES = "fixtures"  # a student kit's recorded outputs (grader.kit), in place of instructor/

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

    # -- the two parts: public (copied into a student kit) and instructor/ (never) -----------------
    @property
    def instructor_folder(self) -> Path:
        return self.folder / INSTRUCTOR

    @property
    def has_instructor_data(self) -> bool:
        """Whether the exercise has its ``instructor/`` part: the reference, the mistakes, the hidden checks.
        A student kit's exercises have none; ``--show-hidden`` means something only where this is true."""
        return self.instructor_folder.is_dir()

    @property
    def is_kit(self) -> bool:
        """An exercise of a student kit: no ``instructor/`` part, but recorded ``fixtures/`` to grade against."""
        return not self.has_instructor_data and (self.folder / FIXTURES).is_dir()

    @cached_property
    def public_spec(self) -> ExerciseSpec:
        """``exercise.yaml``: the public checks only."""
        return load_spec(self.folder / "exercise.yaml")

    @cached_property
    def instructor_spec(self) -> InstructorSpec | None:
        """``instructor/exercise.yaml`` (the reference and the hidden checks); None without instructor/."""
        path = self.instructor_folder / "exercise.yaml"
        if not self.has_instructor_data:
            return None
        if not path.is_file():
            raise GraderError(f"exercise folder {self.folder} lacks instructor/exercise.yaml (an instructor/ "
                              "folder names the reference and the hidden checks; see docs/AUTHORING.md)")
        return load_instructor_spec(path)

    @cached_property
    def spec(self) -> ExerciseSpec:
        """The spec grading uses: the public one, with the hidden checks in their places where instructor/
        exists (:func:`grader.spec.merge`)."""
        instructor = self.instructor_spec
        if instructor is None:
            return self.public_spec
        return merge(self.public_spec, instructor, self.instructor_folder / "exercise.yaml")

    @property
    def reference_path(self) -> Path | None:
        """The reference solution's file; None for an exercise without instructor/ (a kit's)."""
        instructor = self.instructor_spec
        return None if instructor is None else self.folder / instructor.reference

    def missing_files(self) -> list[str]:
        """The files an exercise folder must hold that this one lacks."""
        missing = [f for f in REQUIRED_FILES if not (self.folder / f).is_file()]
        if "exercise.yaml" in missing:
            return missing
        if not self.has_instructor_data:
            if not self.is_kit:
                missing.append("instructor/ (the reference and the hidden checks; or fixtures/, in a student kit)")
            return missing
        instructor = self.instructor_spec
        assert instructor is not None
        if not (self.folder / instructor.reference).is_file():
            missing.append(f"{instructor.reference} (the reference: key of instructor/exercise.yaml)")
        if instructor.checks and not (self.instructor_folder / "checks.py").is_file():
            missing.append("instructor/checks.py (instructor/exercise.yaml lists hidden checks)")
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
                              "holds exercise.yaml, statement.md, template.py, checks.py, and instructor/ with "
                              "instructor/exercise.yaml naming the reference solution; see docs/AUTHORING.md)")

    @cached_property
    def checks(self) -> dict[str, CheckFn]:
        """The check functions (public from ``checks.py``, hidden from ``instructor/checks.py``), each file
        matched against its spec both ways; the spec's ``functions`` against the reference and the template.
        Loading them imports torch: only grading asks for them."""
        from grader.checks import collect_checks

        self.require_files()
        found = self._matched(collect_checks(self._load("checks.py", "checks")), self.public_spec.checks,
                              "exercise.yaml", "checks.py")
        instructor = self.instructor_spec
        if instructor is not None and (instructor.checks or (self.instructor_folder / "checks.py").is_file()):
            hidden = collect_checks(self._load(f"{INSTRUCTOR}/checks.py", f"{INSTRUCTOR}.checks"))
            found.update(self._matched(hidden, instructor.checks, f"{INSTRUCTOR}/exercise.yaml",
                                       f"{INSTRUCTOR}/checks.py"))
        self._check_functions()
        return {c.id: found[c.id] for c in self.spec.checks}  # in the spec's order

    def _matched(self, found: dict[str, CheckFn], listed_specs: Sequence[CheckSpec], spec_file: str,
                 checks_file: str) -> dict[str, CheckFn]:
        listed = [c.id for c in listed_specs]
        missing = [c for c in listed if c not in found]
        unlisted = [c for c in found if c not in listed]
        where = self.folder / spec_file
        if missing:
            raise SpecError(f"{where}: checks {missing} are listed but {checks_file} defines no @check for them")
        if unlisted:
            raise SpecError(f"{where}: {checks_file} defines {unlisted}, which the spec does not list")
        return found

    def _check_functions(self) -> None:
        want = self.spec.functions
        in_reference = [f for f in want if not callable(getattr(self.reference, f, None))]
        in_template = [f for f in want if f not in _defined_functions(self.template)]
        lacks = []
        if in_reference:
            named = self.instructor_spec.reference if self.instructor_spec is not None else "of the fixtures"
            lacks.append(f"the reference {named} does not define {', '.join(in_reference)}")
        if in_template:
            lacks.append(f"template.py does not define {', '.join(in_template)}")
        if lacks:
            raise SpecError(f"{self.folder / 'exercise.yaml'}: functions: " + "; ".join(lacks))

    @cached_property
    def reference(self) -> Any:
        """The reference API: the reference module (instructor/), or the replay of a kit's fixtures."""
        self.require_files()
        if self.is_kit:
            return self.fixtures.reference
        assert self.instructor_spec is not None
        return self._load(self.instructor_spec.reference, "reference")

    @cached_property
    def mistakes(self) -> MistakeBook | None:
        """The ``MISTAKES`` book of ``instructor/mistakes.py`` bound to this exercise's reference (or the
        recorded mistakes of a kit's fixtures), or None."""
        from grader.mistakes import MistakeBook

        if self.is_kit:
            return self.fixtures.mistakes  # MistakeBook-like: the recorded variants
        path = self.instructor_folder / "mistakes.py"
        if not path.is_file():
            return None
        reference = self.reference  # first: mistakes.py may import it (`from ..reference import f`)
        book = getattr(self._load(f"{INSTRUCTOR}/mistakes.py", f"{INSTRUCTOR}.mistakes"), "MISTAKES", None)
        if not isinstance(book, MistakeBook):
            raise SpecError(f"{path} must define MISTAKES = MistakeBook(...)")
        book.bind(reference)
        return book

    @cached_property
    def fixtures(self) -> Any:
        """A kit exercise's recorded fixtures (:func:`grader.kit.replay.open_fixtures`: ``.reference``,
        ``.mistakes``, ``.seeds``, ``.parameters``); None for an instructor's exercise."""
        if not self.is_kit:
            return None
        from grader.kit.replay import open_fixtures

        return open_fixtures(self.folder / FIXTURES)

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
    if BUILTIN_DIR.is_dir():  # a student kit has none: its exercises come through its entry point
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
