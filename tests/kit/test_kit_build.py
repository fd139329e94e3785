"""The student kit (`grade kit`, grader/kit/build.py) holds no answer, installs, and lists its exercises;
the instructor/ layout keeps the answers apart.

One kit is built per session (every built-in exercise, one seed). Its fixtures are written by a stand-in
recorder: what this file proves is what the builder copies and packs (the recorded fixtures are
grader.kit.record's, tested with it). The wheel and the sdist are unpacked, and every file in them, and in
the plain folder, is searched for:

* the canary strings planted in every reference and every instructor file;
* the body of every reference function and of every mistake variant (source lines, normalised);
* every hidden check: its id, and the body of its function;
* any instructor/ path or mistakes.py.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from grader.errors import GraderError
from grader.exercises import Exercise, all_exercises
from grader.kit.build import CANARY, PUBLIC_FILES, answer_imports, build_kit, canaries, kit_exercises, summary

ROOT = Path(__file__).resolve().parents[2]
HIDDEN = {"conv": ["conv2d_gradcheck"], "derivatives": ["other_names_and_sizes"], "gmm_em": ["fit_reaches_reference"],
          "mlp_backprop": ["backward_square_layers", "backward_batch_sizes"],
          "pca": ["subspace_equal_eigenvalues", "axes_far_from_origin"]}


def stub_recorder(ex: Exercise, seeds, out: Path) -> None:
    """Stands in for grader.kit.record.record_fixtures: a fixtures folder that names what it was asked."""
    out.mkdir()
    (out / "index.json").write_text(json.dumps({"exercise": ex.name, "seeds": list(seeds)}))


@pytest.fixture(scope="session")
def kit(tmp_path_factory):
    return build_kit(tmp_path_factory.mktemp("kit"), kit_exercises(), seeds=[0], record=stub_recorder)


@pytest.fixture(scope="session")
def unpacked(kit, tmp_path_factory) -> dict[str, dict[str, bytes]]:
    """{"wheel" | "sdist" | "folder": {relative path: content}}."""
    with zipfile.ZipFile(kit.wheel) as z:
        wheel = {n: z.read(n) for n in z.namelist() if not n.endswith("/")}
    with tarfile.open(kit.sdist) as t:
        sdist = {m.name.split("/", 1)[1]: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}
    folder = {p.relative_to(kit.folder).as_posix(): p.read_bytes() for p in kit.folder.rglob("*") if p.is_file()}
    return {"wheel": wheel, "sdist": sdist, "folder": folder}


def texts(unpacked) -> list[tuple[str, str]]:
    return [(f"{where}:{name}", data.decode("utf-8", "replace")) for where, files in unpacked.items()
            for name, data in files.items()]


def normalised(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        line = line.split("  #", 1)[0].strip()
        if line and not line.startswith("#"):
            out.append(" ".join(line.split()))
    return out


def bodies(path: Path, min_chars: int = 60) -> dict[str, list[str]]:
    """Each function of ``path`` (nested ones too): its body's normalised source lines, the docstring left
    out; only bodies long enough to be an answer (short ones, `return x`, are in any file)."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    out = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                body = body[1:]
            if body:
                code = normalised(lines[body[0].lineno - 1:body[-1].end_lineno])
                if len("".join(code)) >= min_chars:
                    out[f"{path.relative_to(ROOT)}:{node.name}"] = code
    return out


def contains(haystack: list[str], block: list[str]) -> bool:
    n = len(block)
    return any(haystack[i:i + n] == block for i in range(len(haystack) - n + 1))


# -- nothing of the answers is in the kit ------------------------------------------------------------------
def test_the_kit_holds_every_exercise_and_only_public_files(kit, unpacked):
    names = sorted(ex.name for ex in all_exercises() if ex.has_instructor_data)
    assert list(kit.exercises) == names and len(names) == 8
    for where, files in unpacked.items():
        exercise_files = {n for n in files if n.startswith(f"{kit.package}/") and n.count("/") >= 2}
        for name in names:
            assert {f"{kit.package}/{name}/{f}" for f in PUBLIC_FILES} <= exercise_files, where
            assert f"{kit.package}/{name}/fixtures/index.json" in exercise_files
        extra = [n for n in exercise_files if n.split("/")[2] not in PUBLIC_FILES + ("fixtures",)]
        assert extra == [], where
        assert not [n for n in files if "instructor" in n.split("/") or n.endswith("mistakes.py")
                    and not n.endswith("grader/mistakes.py")], where
        assert not [n for n in files if n.startswith(("reference/", "exercises/"))], where


def test_the_folder_and_the_wheel_hold_the_same_files(unpacked):
    meta = ("pyproject.toml", "MANIFEST.in", "README.md")
    wheel = {n: d for n, d in unpacked["wheel"].items() if ".dist-info/" not in n}
    folder = {n: d for n, d in unpacked["folder"].items() if n not in meta}
    assert wheel == folder
    generated = ("PKG-INFO", "setup.cfg")  # written by setuptools into every sdist
    assert {n for n in unpacked["sdist"] if ".egg-info/" not in n and n not in generated} == set(unpacked["folder"])


def test_no_canary_string_is_in_the_kit(unpacked):
    planted = canaries([ex for ex in all_exercises() if ex.has_instructor_data])
    # one per reference, per mistakes.py, per instructor/checks.py
    assert len(planted) == 8 + 8 + len(HIDDEN), sorted(planted)
    for name, text in texts(unpacked):
        assert not [c for c in planted if c.decode() in text], name
        assert not CANARY.search(text.encode()) or name.endswith("grader/kit/build.py"), name


def test_no_reference_function_body_and_no_mistake_variant_is_in_the_kit(unpacked):
    answers = {}
    for ref in sorted((ROOT / "reference").glob("*.py")):
        answers.update(bodies(ref))
    for mistakes in sorted((ROOT / "exercises").glob("*/instructor/mistakes.py")):
        answers.update(bodies(mistakes))
    assert len(answers) > 100  # not vacuous: every reference and every variant of substance
    kit_lines = [(name, normalised(text.splitlines())) for name, text in texts(unpacked) if name.endswith(".py")]
    leaked = [(answer, name) for answer, block in answers.items() for name, lines in kit_lines
              if contains(lines, block)]
    assert leaked == []


def test_no_hidden_check_is_in_the_kit(unpacked):
    hidden_bodies = {}
    for checks in sorted((ROOT / "exercises").glob("*/instructor/checks.py")):
        hidden_bodies.update(bodies(checks, min_chars=20))
    assert sorted(p.parent.parent.name for p in (ROOT / "exercises").glob("*/instructor/checks.py")) == sorted(HIDDEN)
    ids = [i for ids in HIDDEN.values() for i in ids]
    for name, text in texts(unpacked):
        assert not [i for i in ids if i in text], name
        lines = normalised(text.splitlines())
        assert not [h for h, block in hidden_bodies.items() if contains(lines, block)], name


def test_the_framework_imports_no_answer(unpacked):
    for name, data in unpacked["wheel"].items():
        if name.endswith(".py"):
            assert answer_imports(data.decode()) == [], name


def test_the_summary_gives_sizes(kit):
    lines = summary(kit)
    assert lines[0].startswith("Kit with 8 exercises (conv, derivatives,") and "1 seed (0)" in lines[0]
    assert any(line.strip().startswith("wheel") and "KiB" in line for line in lines)
    assert kit.wheel.stat().st_size > 0 and kit.sdist.stat().st_size > 0


# -- the kit installs and works ---------------------------------------------------------------------------
def test_the_wheel_installs_and_grade_list_finds_the_exercises(kit, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", "--target",
                    str(target), str(kit.wheel)], check=True, capture_output=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DL_GRADER_EXERCISES")}
    env.update(PYTHONPATH=str(target), NO_COLOR="1", COLUMNS="200")
    where = subprocess.run([sys.executable, "-c", "import grader, cli; print(grader.__file__); print(cli.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(target)) for line in where.stdout.split()), where.stdout
    grade = [sys.executable, "-c", "from cli import main; main()"]
    listed = subprocess.run([*grade, "list"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    for name in kit.exercises:
        assert f"│ {name} " in listed.stdout
    assert f"entry point {kit.package}" in " ".join(listed.stdout.split()) and "built-in" not in listed.stdout
    shown = subprocess.run([*grade, "show", "pca"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert shown.returncode == 0 and "Principal component" in shown.stdout, shown.stdout + shown.stderr


# -- the instructor/ layout ------------------------------------------------------------------------------
def test_a_kit_exercise_has_no_hidden_check_and_no_instructor_data(kit):
    for name, hidden in HIDDEN.items():
        ex = Exercise.at(kit.folder / kit.package / name)
        assert not ex.has_instructor_data and ex.is_kit and ex.reference_path is None
        assert ex.spec is ex.public_spec and not set(hidden) & {c.id for c in ex.spec.checks}
        assert all(c.visibility == "public" for c in ex.spec.checks)
        assert ex.missing_files() == []


def test_the_instructor_side_merges_hidden_checks_where_they_were():
    from grader.exercises import get_exercise

    pca = get_exercise("pca")
    ids = [c.id for c in pca.spec.checks]
    assert ids[4:8] == ["axes_orthonormal", "subspace_equal_eigenvalues", "axes_far_from_origin", "project_reconstruct"]
    assert list(pca.checks) == ids and pca.has_instructor_data
    assert [c.id for c in pca.public_spec.checks] == [i for i in ids if i not in HIDDEN["pca"]]
    assert pca.checks["axes_far_from_origin"].__module__.endswith(".instructor.checks")
    assert pca.mistakes is not None and len(pca.mistakes) > 0


def test_a_leak_is_refused(tmp_path):
    from tests.core.test_exercise_paths import CHECKS, make_exercise

    leaky = Exercise.at(make_exercise(tmp_path / "course", checks_py="from reference.pca import covariance\n" + CHECKS))
    with pytest.raises(GraderError, match=r"would give answers away:\n  .*twice/checks.py: imports from reference.pca"):
        build_kit(tmp_path / "out", [leaky], record=stub_recorder, build=False)
    canary = 'CANARY = "dlg-canary-reference-twice-0123456789abcdef"\n'
    (leaky.folder / "instructor" / "reference.py").write_text(canary + "def double(x):\n    return 2 * x\n")
    (leaky.folder / "statement.md").write_text("# Twice\n" + canary)
    (leaky.folder / "checks.py").write_text(CHECKS)
    with pytest.raises(GraderError, match="statement.md holds dlg-canary-reference-twice-0123456789abcdef"):
        build_kit(tmp_path / "out2", [Exercise.at(leaky.folder)], record=stub_recorder, build=False)
    bare = make_exercise(tmp_path / "bare", skip=("instructor.yaml", "reference.py", "mistakes.py"))
    (bare / "instructor").rmdir()
    with pytest.raises(GraderError, match="twice: no instructor/ part"):
        build_kit(tmp_path / "out3", [Exercise.at(bare)], record=stub_recorder, build=False)
