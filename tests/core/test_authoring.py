"""docs/AUTHORING.md is a test: its files are written into a temporary folder, its `grade` commands are
run there (real subprocesses), and its course test is executed. The guide names no file the project
does not contain."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "AUTHORING.md"
FENCE = re.compile(r"^```(\w+)(?:[ \t]+file=(\S+))?[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


def blocks() -> list[tuple[str, str | None, str]]:
    return [(m.group(1), m.group(2), m.group(3)) for m in FENCE.finditer(GUIDE.read_text(encoding="utf-8"))]


def write_files(into: Path) -> dict[str, Path]:
    written = {}
    for _, name, text in blocks():
        if name:
            p = into / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
            written[name] = p
    return written


def commands() -> list[list[str]]:
    out = []
    for lang, _, text in blocks():
        if lang == "console":
            out += [shlex.split(line[2:]) for line in text.splitlines() if line.startswith("$ ")]
    return out


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    assert args[0] == "grade"
    env = dict(os.environ, NO_COLOR="1", COLUMNS="160", PYTHONPATH=str(ROOT))
    env.pop("DL_GRADER_EXERCISES", None)
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args[1:]], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def test_the_guide_has_the_whole_exercise_and_the_commands():
    names = {name for _, name, _ in blocks() if name}
    folder = {"exercise.yaml", "statement.md", "template.py", "checks.py", "instructor/exercise.yaml",
              "instructor/reference.py", "instructor/checks.py", "instructor/mistakes.py"}
    assert {f"course/mse/{f}" for f in folder} <= names
    assert [c[1:3] for c in commands()] == [["--exercises", "course"]] * 5


def test_walk_through(tmp_path):
    write_files(tmp_path)
    results = {" ".join(c[3:]): run(c, tmp_path) for c in commands()}
    out = {k: r.stdout + r.stderr for k, r in results.items()}

    listed = results["list"]
    assert listed.returncode == 0, out["list"]
    row = next(line for line in listed.stdout.splitlines() if line.startswith("│ mse"))
    assert "Mean squared error" in row and " 4 " in row and "--exercises: course" in row
    assert "least_squares" in listed.stdout  # the built-in ones are still there, after the course's

    assert results["show mse"].returncode == 0 and "(1/N) Σ (pred − target)²" in out["show mse"]
    assert results["init mse --dir work"].returncode == 0, out["init mse --dir work"]
    assert (tmp_path / "work" / "mse.py").read_text() == (tmp_path / "course/mse/template.py").read_text()

    template = results["mse work/mse.py"]
    assert template.returncode == 1, out["mse work/mse.py"]
    assert "Score: 0 / 4" in template.stdout
    assert template.stdout.count("not written yet (they raise NotImplementedError): mse, mse_grad") == 1
    assert "Traceback" not in template.stdout

    reference = results["mse course/mse/instructor/reference.py"]
    assert reference.returncode == 0, out["mse course/mse/instructor/reference.py"]
    assert "Score: 4 / 4" in reference.stdout
    # the hidden check of instructor/ runs right after the check its `after:` names
    order = [reference.stdout.index(t) for t in ("mse on random", "mse_grad on random", "mse_grad is zero")]
    assert order == sorted(order), reference.stdout


def test_the_course_test_of_the_guide_passes(tmp_path, monkeypatch):
    written = write_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    spec = importlib.util.spec_from_file_location("guide_course_test", written["course/test_mse.py"])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "mutants").mkdir()
    module.test_every_mistake_loses_marks(tmp_path / "mutants")


def test_the_guide_names_only_files_that_exist():
    text = GUIDE.read_text(encoding="utf-8")
    written = {name for _, name, _ in blocks() if name}
    paths = set(re.findall(r"`((?:[\w.]+/)+[\w.]+\.(?:py|md|yaml|toml))`", text))
    assert paths, "the guide names files of the project"
    for p in paths - written:  # a path inside an exercise folder (instructor/checks.py) is one the guide writes
        assert (ROOT / p).is_file() or f"course/mse/{p}" in written, \
            f"docs/AUTHORING.md names {p}, which the project does not contain"
    for p in re.findall(r"\((\.\./[^)]+|[\w/]+\.md)\)", text):
        pytest.fail(f"docs/AUTHORING.md links to {p}")
