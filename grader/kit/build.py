"""Building the student kit: ``grade kit OUT`` (docs/KIT.md).

The kit is an installable project, written to ``OUT/<name>/`` as a plain folder and built from there into a
wheel and an sdist in ``OUT/``. It holds:

* the ``grader`` package (the framework: it holds no answers, and nothing in it imports the reference or
  an exercise; checked here) and ``cli.py``, the ``grade`` console script;
* a package ``<name>_exercises`` (``-`` read as ``_``) whose folder is the collection of the kit's
  exercises, declared as the ``dl_grader.exercises`` entry point: each exercise's public part, copied by
  allow-list (:data:`PUBLIC_FILES`), and its ``fixtures/``, recorded here at the public seeds
  (:func:`grader.kit.record.record_fixtures`) from the reference and the mistakes.

Nothing of ``instructor/`` is ever copied: not the reference, not the mistakes, not the hidden checks.
Before building, every file of the kit is searched for the canary strings planted in the references and
in the instructor files (``CANARY = "dlg-canary-..."``): a kit that holds one is refused.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.exercises import Exercise

DEFAULT_NAME = "dl-grader-kit"
# The public part of an exercise: the only files a kit copies (fixtures/ is written, never copied).
PUBLIC_FILES = ("exercise.yaml", "statement.md", "template.py", "checks.py")
CANARY = re.compile(rb"dlg-canary-[A-Za-z0-9_-]+")
# Top-level modules that hold answers: no file of a kit may import them.
ANSWER_MODULES = ("reference", "exercises")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*$")
_SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the folder of grader/, cli.py and pyproject.toml

Recorder = Callable[[Exercise, Sequence[int], Path], None]


@dataclass(frozen=True)
class BuiltKit:
    """What :func:`build_kit` wrote."""

    folder: Path  # the plain folder: an installable project
    wheel: Path
    sdist: Path
    package: str  # the exercises' package (the entry point's value)
    exercises: tuple[str, ...]
    seeds: tuple[int, ...]

    def sizes(self) -> list[tuple[str, Path, int]]:
        """(what, path, bytes) of the folder, the wheel, the sdist, and each exercise's fixtures."""
        rows = [("folder", self.folder, tree_size(self.folder)), ("wheel", self.wheel, self.wheel.stat().st_size),
                ("sdist", self.sdist, self.sdist.stat().st_size)]
        for name in self.exercises:
            fixtures = self.folder / self.package / name / "fixtures"
            rows.append((f"fixtures of {name}", fixtures, tree_size(fixtures)))
        return rows


def build_kit(out: Path, exercises: Sequence[Exercise], *, seeds: Sequence[int] = (0,), name: str = DEFAULT_NAME,
              record: Recorder | None = None, build: bool = True) -> BuiltKit:
    """Write the kit of ``exercises`` (each with its ``instructor/`` part) to ``out``: the folder
    ``out/<name>`` and, with ``build``, its wheel and sdist in ``out``. ``record`` writes one exercise's
    fixtures (default :func:`grader.kit.record.record_fixtures`; tests pass a stand-in)."""
    if not _NAME.match(name):
        raise GraderError(f"kit name {name!r}: use letters, digits and - _ . (a Python distribution name)")
    if not exercises:
        raise GraderError("no exercise to put in the kit")
    if not seeds:
        raise GraderError("a kit needs at least one seed")
    lacking = [ex.name for ex in exercises if not ex.has_instructor_data]
    if lacking:
        raise GraderError(f"{', '.join(lacking)}: no instructor/ part (a kit is built from the instructor's "
                          "exercises, with their reference; see docs/AUTHORING.md)")
    record = record or _recorder()
    out = Path(out)
    folder = out / name
    if folder.exists():
        raise GraderError(f"{folder} exists: remove it, or build into another folder")
    package = re.sub(r"[-.]", "_", name).lower() + "_exercises"
    folder.mkdir(parents=True)
    _copy_framework(folder)
    collection = folder / package
    collection.mkdir()
    (collection / "__init__.py").write_text(f'"""The exercises of the student kit {name} (the folder is the '
                                            'collection of the dl_grader.exercises entry point)."""\n')
    for ex in exercises:
        ex.require_files()
        target = collection / ex.name
        target.mkdir()
        for filename in PUBLIC_FILES:
            shutil.copyfile(ex.folder / filename, target / filename)
        record(ex, list(seeds), target / "fixtures")
    _write_project(folder, name, package, [ex.name for ex in exercises], seeds)
    check_no_answers(folder, package, canaries(exercises))
    kit = BuiltKit(folder, Path(), Path(), package, tuple(ex.name for ex in exercises), tuple(seeds))
    if not build:
        return kit
    wheel, sdist = _build(folder, out)
    return BuiltKit(folder, wheel, sdist, package, kit.exercises, kit.seeds)


def _recorder() -> Recorder:
    try:
        from grader.kit.record import record_fixtures
    except ImportError as e:
        raise GraderError(f"cannot record fixtures: grader.kit.record is not available ({e})") from None
    return record_fixtures


# -- what goes in --------------------------------------------------------------------------------------
def _ignored(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".pyo"))}


def _copy_framework(folder: Path) -> None:
    shutil.copytree(_SOURCE_ROOT / "grader", folder / "grader", ignore=_ignored)
    shutil.copyfile(_SOURCE_ROOT / "cli.py", folder / "cli.py")


def _dependencies() -> list[str]:
    """The grader's runtime dependencies: from its pyproject.toml, or from its installed metadata."""
    pyproject = _SOURCE_ROOT / "pyproject.toml"
    if pyproject.is_file() and sys.version_info >= (3, 11):
        import tomllib

        return list(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"])
    from importlib.metadata import requires

    return [r for r in requires("dl-grader") or [] if "extra ==" not in r]


def _write_project(folder: Path, name: str, package: str, exercises: list[str], seeds: Sequence[int]) -> None:
    deps = ",\n".join(f"    {d!r}".replace("'", '"') for d in _dependencies())
    (folder / "pyproject.toml").write_text(f'''\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "{_version()}"
description = "Self-check kit of a deep-learning course: statements, templates, public checks, recorded fixtures."
readme = "README.md"
requires-python = ">=3.10"
dependencies = [
{deps},
]

[project.scripts]
grade = "cli:main"

[project.entry-points."dl_grader.exercises"]
{package} = "{package}"

[tool.setuptools]
py-modules = ["cli"]

[tool.setuptools.packages.find]
include = ["grader", "grader.*", "{package}"]

[tool.setuptools.package-data]
"{package}" = ["**/*"]
''', encoding="utf-8")
    (folder / "MANIFEST.in").write_text(f"graft {package}\nglobal-exclude *.py[cod] __pycache__\n", encoding="utf-8")
    (folder / "README.md").write_text(f"""\
# {name}

The self-check kit of the course: `pip install {name}` (or `pip install .` in this folder), then

    grade list                 # the exercises
    grade show EXERCISE        # its statement
    grade init EXERCISE        # a starter file, EXERCISE.py
    grade EXERCISE             # check your EXERCISE.py

Exercises: {", ".join(exercises)}. The checks compare your answers with outputs recorded at the seeds
{", ".join(map(str, seeds))} (`--seed`); the kit holds no solutions. Official grading uses other data and
further checks.
""", encoding="utf-8")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dl-grader")
    except PackageNotFoundError:
        return "0.0.0"


# -- what must not be in it ----------------------------------------------------------------------------
def canaries(exercises: Sequence[Exercise]) -> set[bytes]:
    """The canary strings of the exercises' references and instructor files."""
    found: set[bytes] = set()
    for ex in exercises:
        files = [ex.reference_path] if ex.reference_path is not None else []
        files += sorted(ex.instructor_folder.rglob("*.py"))
        for f in files:
            if f.is_file():
                found |= set(CANARY.findall(f.read_bytes()))
    return found


def check_no_answers(folder: Path, package: str, canary_strings: set[bytes]) -> None:
    """Refuse a kit folder that holds, in an exercise, a file outside the allow-list (:data:`PUBLIC_FILES`
    and ``fixtures/``), anywhere a canary string, or a Python file that imports the reference or the
    instructor's exercises."""
    problems: list[str] = []
    for path in _files(folder):
        rel = path.relative_to(folder)
        if rel.parts[0] == package and len(rel.parts) > 2 and not (
                rel.parts[2] in PUBLIC_FILES if len(rel.parts) == 3 else rel.parts[2] == "fixtures"):
            problems.append(f"{rel}: not a public file of the exercise")
            continue
        data = path.read_bytes()
        leaked = sorted(c.decode() for c in canary_strings if c in data)
        if leaked:
            problems.append(f"{rel} holds {leaked[0]}: a reference's or an instructor file's text")
        if path.suffix == ".py":
            problems += [f"{rel}: {what}" for what in answer_imports(data.decode("utf-8", "replace"))]
    if problems:
        raise GraderError("the kit would give answers away:\n  " + "\n  ".join(problems))


def answer_imports(source: str) -> list[str]:
    """The imports of ``source`` that reach an answer: the ``reference`` or ``exercises`` packages, or
    (relative) an exercise's reference or ``instructor/`` part."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"imports {a.name}" for a in node.names if a.name.split(".")[0] in ANSWER_MODULES]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 0 and module.split(".")[0] in ANSWER_MODULES:
                found.append(f"imports from {module}")
            elif node.level > 0 and (module.split(".")[0] in ("reference", "instructor") or any(
                    a.name in ("reference", "instructor") for a in node.names)):
                found.append(f"imports from {'.' * node.level}{module}")
    return found


def _files(folder: Path) -> Iterator[Path]:
    return (p for p in sorted(folder.rglob("*")) if p.is_file())


def tree_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in _files(folder)) if folder.is_dir() else 0


# -- building ------------------------------------------------------------------------------------------
def _build(folder: Path, out: Path) -> tuple[Path, Path]:
    """The sdist, and the wheel built from it (``python -m build --no-isolation``: no network), moved into
    ``out`` (replacing those of an earlier build of the same name and version)."""
    import tempfile

    with tempfile.TemporaryDirectory(dir=out, prefix=".build-") as tmp:
        proc = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", tmp, str(folder)],
                              capture_output=True, text=True, cwd=folder)
        for junk in [folder / "build", *folder.glob("*.egg-info")]:
            shutil.rmtree(junk, ignore_errors=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise GraderError(f"building the kit's wheel and sdist failed (python -m build; the `instructor` "
                              f"extra installs it):\n{tail}")
        built = sorted(Path(tmp).iterdir())
        wheels = [p for p in built if p.suffix == ".whl"]
        sdists = [p for p in built if p.name.endswith(".tar.gz")]
        if len(wheels) != 1 or len(sdists) != 1:
            raise GraderError(f"python -m build wrote {[p.name for p in built]}; expected one wheel and one sdist")
        return Path(shutil.move(wheels[0], out / wheels[0].name)), Path(shutil.move(sdists[0], out / sdists[0].name))


# -- what `grade kit` calls ----------------------------------------------------------------------------
MAX_SEEDS = 100


def kit_exercises(only: Sequence[str] = ()) -> list[Exercise]:
    """The exercises of the search path that a kit can hold (those with their ``instructor/`` part), or
    the ones named in ``only`` (each must have it)."""
    from grader.exercises import all_exercises, get_exercise

    if only:
        return [get_exercise(name) for name in dict.fromkeys(only)]
    return [ex for ex in all_exercises() if ex.has_instructor_data]


def public_seeds(count: int) -> list[int]:
    """The kit's seeds: 0 … count-1 (public, below :data:`grader.seeds.PUBLIC_LIMIT`, never used for marks)."""
    if not 1 <= count <= MAX_SEEDS:
        raise GraderError(f"--seeds {count}: choose between 1 and {MAX_SEEDS}")
    return list(range(count))


def summary(kit: BuiltKit) -> list[str]:
    """What was built, one line each, with sizes (for the CLI)."""
    from grader.format import plural

    lines = [f"Kit with {plural(len(kit.exercises), 'exercise')} ({', '.join(kit.exercises)}), fixtures at "
             f"{plural(len(kit.seeds), 'seed')} ({', '.join(map(str, kit.seeds))}):"]
    lines += [f"  {what:<28} {human_size(size):>9}  {path}" for what, path, size in kit.sizes()]
    lines.append(f"Hand out the wheel (pip install {kit.wheel.name}) or the folder; the exercises' instructor/ "
                 "parts are not in it.")
    return lines


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    return f"{n / 1024:.1f} KiB" if n < 1024 ** 2 else f"{n / 1024 ** 2:.1f} MiB"
