"""Exercises outside the package: found via --exercises, $DL_GRADER_EXERCISES and entry points; loaded by
path; clashes, missing files and spec errors; the catalogue commands import no torch; an unwritten
template is reported once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader import exercises
from grader.api import GradeOptions, grade
from grader.errors import GraderError, SpecError
from grader.exercises import ENTRY_POINT_GROUP, ENV_VAR, Exercise, _entry_point_collections, discover, get_exercise
from grader.mistakes import load_book, mutant_source

ROOT = Path(__file__).resolve().parents[2]

SPEC = """\
title: {title}
functions: [double, apply]
checks:
  - {{id: double_random, title: double on random vectors, points: 1}}
  - {{id: apply_trusted, title: apply calls the function it is given, points: 1}}
"""
REFERENCE = """\
def double(x):
    return 2 * x


def apply(f, x):
    return f(x)
"""
TEMPLATE = """\
def double(x):
    raise NotImplementedError


def apply(f, x):
    raise NotImplementedError
"""
CHECKS = """\
from grader.checks import CheckContext, check, trusted


def square(x, shift):  # handed to the student's apply: the child loads this file by path to rebuild it
    return x * x + shift


@check("double_random")
def double_random(ctx: CheckContext) -> None:
    ctx.expect_close("double", ctx.randn(5))


@check("apply_trusted")
def apply_trusted(ctx: CheckContext) -> None:
    ctx.expect_close("apply", trusted(square, shift=1.0), ctx.randn(4))
"""
MISTAKES = """\
from grader.mistakes import MistakeBook

from ..reference import double as _double  # the exercise's files import each other as in a package

MISTAKES = MistakeBook("twice")


@MISTAKES.add("double", name="tripled", hint="double multiplies by 2, not 3.")
def double_tripled(x):
    return _double(x) * 1.5
"""


def make_exercise(collection: Path, name: str = "twice", *, title: str = "Twice", skip: tuple[str, ...] = (),
                  **files: str) -> Path:
    """An exercise folder: the public part, and instructor/ with an empty exercise.yaml (the reference is
    then instructor/reference.py), the reference and the mistakes."""
    folder = collection / name
    (folder / "instructor").mkdir(parents=True)
    contents = {"exercise.yaml": SPEC.format(title=title), "statement.md": f"# {title}\n", "template.py": TEMPLATE,
                "checks.py": CHECKS, "reference.py": REFERENCE, "mistakes.py": MISTAKES, "instructor.yaml": ""}
    contents.update({".".join(k.rsplit("_", 1)): v for k, v in files.items()})  # checks_py= -> checks.py
    where = {"reference.py": "instructor/reference.py", "mistakes.py": "instructor/mistakes.py",
             "instructor.yaml": "instructor/exercise.yaml"}
    for filename, text in contents.items():
        if filename not in skip:
            (folder / where.get(filename, filename)).write_text(text, encoding="utf-8")
    return folder


def cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "PYTHONPATH": str(ROOT), **(env or {})}
    if ENV_VAR not in (env or {}):
        full_env.pop(ENV_VAR, None)
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True, cwd=cwd,
                          env=full_env, timeout=300)


@pytest.fixture(autouse=True)
def clean_search_path(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    _entry_point_collections.cache_clear()
    yield
    _entry_point_collections.cache_clear()


# -- finding ------------------------------------------------------------------------------------------
def test_found_via_dirs_before_the_built_in_ones(tmp_path):
    make_exercise(tmp_path / "course")
    found = {e.name: e for e in discover([tmp_path / "course"])}
    assert found["twice"].origin == "--exercises" and found["twice"].folder == tmp_path / "course" / "twice"
    assert found["least_squares"].origin == "built-in"
    assert list(found)[0] == "twice"


def test_found_via_the_environment_variable(tmp_path, monkeypatch):
    make_exercise(tmp_path / "a", "one")
    make_exercise(tmp_path / "b", "two")
    monkeypatch.setenv(ENV_VAR, os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
    found = {e.name: e for e in discover([])}
    assert found["one"].origin == found["two"].origin == f"${ENV_VAR}"


def test_a_folder_that_is_one_exercise_is_a_collection_of_it(tmp_path):
    folder = make_exercise(tmp_path, "solo")
    assert get_exercise("solo", [folder]).folder == folder


def test_a_missing_folder_on_the_path_is_named_with_its_origin(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nope"))
    with pytest.raises(GraderError, match=rf"{tmp_path / 'nope'} \(from \${ENV_VAR}\) does not exist"):
        discover([])


def test_found_via_an_entry_point_of_an_installed_distribution(tmp_path, monkeypatch):
    site = tmp_path / "site"
    make_exercise(site / "course_pkg", "twice")
    (site / "course_pkg" / "__init__.py").write_text("raise RuntimeError('finding the folder must not import it')\n")
    info = site / "course_pkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: course-pkg\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nmy_course = course_pkg\n")
    monkeypatch.syspath_prepend(str(site))
    ex = get_exercise("twice", [])
    assert ex.folder == site / "course_pkg" / "twice"
    assert ex.origin == "entry point my_course (course-pkg)"
    r = cli("list", cwd=tmp_path, env={"PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])})
    assert r.returncode == 0, r.stderr
    assert "entry point my_course (course-pkg)" in r.stdout


def test_an_entry_point_may_name_a_path_object(tmp_path, monkeypatch):
    import importlib.metadata as md

    make_exercise(tmp_path / "course")
    (tmp_path / "course_paths.py").write_text(f"FOLDER = {str(tmp_path / 'course')!r}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = md.EntryPoints([md.EntryPoint("c", "course_paths:FOLDER", ENTRY_POINT_GROUP)])
    monkeypatch.setattr(md, "entry_points", lambda group=None: eps if group == ENTRY_POINT_GROUP else [])
    monkeypatch.setattr(exercises, "_may_have_entry_points", lambda: True)  # no dist-info declares it
    assert get_exercise("twice", []).origin == "entry point c"


def test_a_broken_entry_point_is_named(monkeypatch):
    import importlib.metadata as md

    eps = md.EntryPoints([md.EntryPoint("bad", "no_such_course_module", ENTRY_POINT_GROUP)])
    monkeypatch.setattr(md, "entry_points", lambda group=None: eps if group == ENTRY_POINT_GROUP else [])
    monkeypatch.setattr(exercises, "_may_have_entry_points", lambda: True)
    with pytest.raises(GraderError, match="entry point bad = 'no_such_course_module'.*no module named"):
        discover([])


def test_name_clash_first_on_the_path_wins_and_list_says_so(tmp_path):
    make_exercise(tmp_path / "a", "least_squares", title="First")
    make_exercise(tmp_path / "b", "least_squares", title="Second")
    ex = get_exercise("least_squares", [tmp_path / "a", tmp_path / "b"])
    assert ex.spec.title == "First"
    assert [s.spec.title for s in ex.shadows] == ["Second", "Least squares"]
    r = cli("--exercises", "a", "list", "--exercises", "b", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "First" in r.stdout and "Second" not in r.stdout
    assert "least_squares from --exercises: b is hidden by the one from --exercises: a" in " ".join(r.stdout.split())
    assert "least_squares from built-in is hidden" in " ".join(r.stdout.split())


def test_same_file_names_in_two_collections_are_different_modules(tmp_path):
    a = Exercise.at(make_exercise(tmp_path / "a"))
    b = Exercise.at(make_exercise(tmp_path / "b", reference_py=REFERENCE.replace("2 * x", "x + x")))
    assert a.reference is not b.reference
    assert a.reference.__name__ != b.reference.__name__
    assert "2 * x" in Path(a.reference.__file__).read_text() and "x + x" in Path(b.reference.__file__).read_text()
    assert a.mistakes is not b.mistakes and a.mistakes.reference() is a.reference
    assert set(a.checks) == set(b.checks) == {"double_random", "apply_trusted"}


# -- what is wrong with a folder ---------------------------------------------------------------------
def test_a_missing_file_is_listed(tmp_path):
    folder = make_exercise(tmp_path, skip=("checks.py", "reference.py"))
    ex = Exercise.at(folder)
    with pytest.raises(GraderError) as e:
        ex.checks  # noqa: B018
    msg = str(e.value)
    assert str(folder) in msg and "lacks checks.py, instructor/reference.py (the reference: key of " \
        "instructor/exercise.yaml)" in msg


def test_a_reference_named_by_the_spec_that_does_not_exist(tmp_path):
    folder = make_exercise(tmp_path, instructor_yaml="reference: ../solutions/twice.py\n")
    with pytest.raises(GraderError, match=r"lacks \.\./solutions/twice\.py \(the reference: key"):
        Exercise.at(folder).reference  # noqa: B018


def test_the_functions_key_is_checked_against_reference_and_template(tmp_path):
    spec = SPEC.format(title="T").replace("[double, apply]", "[double, apply, halve]")
    folder = make_exercise(tmp_path, exercise_yaml=spec)
    with pytest.raises(SpecError) as e:
        Exercise.at(folder).checks  # noqa: B018
    assert str(e.value) == (f"{folder / 'exercise.yaml'}: functions: the reference instructor/reference.py does "
                            "not define halve; template.py does not define halve")


def test_a_bad_functions_entry_names_file_and_key(tmp_path):
    folder = make_exercise(tmp_path, exercise_yaml=SPEC.format(title="T").replace("[double, apply]", "[double, 3x]"))
    with pytest.raises(SpecError) as e:
        Exercise.at(folder).spec  # noqa: B018
    assert str(folder / "exercise.yaml") in str(e.value) and "functions: not Python function names: " \
        "['3x']" in str(e.value)


def test_an_error_in_checks_py_names_the_file_and_line(tmp_path):
    folder = make_exercise(tmp_path, checks_py="import torch\n\nx = 1 / 0\n")
    with pytest.raises(GraderError) as e:
        Exercise.at(folder).checks  # noqa: B018
    assert f"loading {folder / 'checks.py'} raised ZeroDivisionError: division by zero at " \
           f"{folder / 'checks.py'}:3" in str(e.value)


# -- grading ------------------------------------------------------------------------------------------
def test_external_exercise_grades_the_reference_with_a_trusted_function(tmp_path, sandbox):
    ex = Exercise.at(make_exercise(tmp_path / "course"))
    result = grade(ex, ex.folder / "instructor" / "reference.py", GradeOptions(seed=1), sandbox=sandbox)
    assert result.full_marks, [(c.id, c.message, c.details) for c in result.checks]


def test_mutant_of_an_external_exercise_is_diagnosed(tmp_path, sandbox):
    ex = Exercise.at(make_exercise(tmp_path / "course"))
    assert load_book(ex.folder) is not None and [m.id for m in load_book(ex)] == ["double_tripled"]
    sub = tmp_path / "twice.py"
    sub.write_text(mutant_source(ex, "double_tripled"))
    result = grade(ex, sub, sandbox=sandbox)
    bad = {c.id: c for c in result.checks if not c.passed}
    assert list(bad) == ["double_random"] and bad["double_random"].mistake == "double_tripled"


def test_the_template_is_reported_once_as_not_written(tmp_path, sandbox):
    ex = Exercise.at(make_exercise(tmp_path / "course"))
    result = grade(ex, ex.folder / "template.py", sandbox=sandbox)
    assert result.score == 0
    assert result.problems == ["not written yet (they raise NotImplementedError): double, apply; the checks "
                               "that call them score 0"]
    assert [(c.status, c.message, c.traceback) for c in result.checks] == [
        ("error", "not written yet: double", ""), ("error", "not written yet: apply", "")]


def test_an_unwritten_function_called_by_a_written_one_is_named(tmp_path, sandbox):
    ex = Exercise.at(make_exercise(tmp_path / "course"))
    sub = tmp_path / "twice.py"
    sub.write_text(TEMPLATE.replace("def apply(f, x):\n    raise NotImplementedError",
                                    "def apply(f, x):\n    return double(f(x))"))
    result = grade(ex, sub, sandbox=sandbox)
    assert [c.message for c in result.checks] == ["not written yet: double",
                                                  "not written yet: double (called by apply)"]
    assert result.problems == ["not written yet (they raise NotImplementedError): double; the checks that call it "
                               "score 0"]


def test_a_missing_api_function_is_one_problem_line(tmp_path, sandbox):
    ex = Exercise.at(make_exercise(tmp_path / "course"))
    sub = tmp_path / "twice.py"
    sub.write_text("def double(x):\n    return 2 * x\n")
    result = grade(ex, sub, sandbox=sandbox)
    assert result.problems == ["your file does not define apply; the checks that call it score 0 (`grade init "
                               "twice` writes a template with every function)"]
    assert [c.status for c in result.checks] == ["passed", "error"]


# -- the catalogue commands ---------------------------------------------------------------------------
def test_list_show_init_do_not_import_torch(tmp_path):
    make_exercise(tmp_path / "course")
    probe = textwrap.dedent("""\
        import sys
        import cli
        try:
            cli.main(sys.argv[1:])
        except SystemExit as e:
            assert not e.code, e.code
        print("torch" in sys.modules, "grader.checks" in sys.modules)
    """)
    for args in (["list"], ["show", "least_squares"], ["init", "least_squares"], ["show", "twice"],
                 ["init", "twice"]):
        env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
        r = subprocess.run([sys.executable, "-c", probe, "--exercises", "course", *args], capture_output=True,
                           text=True, cwd=tmp_path, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[-1] == "False False", args
    assert (tmp_path / "twice.py").read_text() == TEMPLATE


def test_list_shows_a_broken_exercise_and_names_file_and_key(tmp_path):
    make_exercise(tmp_path / "course", "good")
    bad = make_exercise(tmp_path / "course", "bad", exercise_yaml="title: Bad\ntimout: 3\nchecks: []\n")
    r = cli("list", "--exercises", "course", cwd=tmp_path)
    assert r.returncode == 2
    assert "good" in r.stdout and "broken" in r.stdout and "least_squares" in r.stdout
    err = " ".join(r.stderr.split())
    assert "course/bad/exercise.yaml: " in err and "timout: unknown key" in err
    assert bad.is_dir()


def test_trusted_functions_know_the_loader_prefix():
    """grader.trusted repeats grader.loader's prefix (the child has no grader.loader): they must agree."""
    from grader.loader import PREFIX
    from grader.trusted import LOADER_PREFIX

    assert LOADER_PREFIX == PREFIX
