"""`grade gradescope-bundle`: the zip's content, and its run_autograder run on a fake /autograder tree
($DL_GRADER_AUTOGRADER_ROOT): the reference gets full marks at its official seed, a missing file is the
student's zero, and a grader that cannot run still leaves a results.json marked as a grader fault."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.exercises import get_exercise
from grader.gradescope_bundle import ROOT_ENV, TORCH_VERSION, autograde, build_bundle
from grader.seeds import official_seed

ROOT = Path(__file__).resolve().parents[2]
SECRET = "0123456789abcdef0123456789abcdef"
EMAIL = "ada@example.edu"


@pytest.fixture(scope="module")
def autograder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fake /autograder: the bundle (with a secret) unpacked into source/, and an empty submission/."""
    root = tmp_path_factory.mktemp("autograder")
    secret = root / "secret.txt"
    secret.write_text(SECRET + "\n")
    bundle = root / "bundle.zip"
    build_bundle(get_exercise("least_squares"), bundle, secret_file=secret)
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "source")
        for info in zf.infolist():  # zipfile does not restore the permissions
            os.chmod(root / "source" / info.filename, (info.external_attr >> 16) & 0o777)
    (root / "submission").mkdir()
    return root


def test_bundle_content(autograder: Path) -> None:
    with zipfile.ZipFile(autograder / "bundle.zip") as zf:
        infos = {i.filename: i for i in zf.infolist()}
        names = set(infos)
        setup = zf.read("setup.sh").decode()
        config = json.loads(zf.read("config.json"))
    assert {"setup.sh", "run_autograder", "config.json", "secret", "dl-grader/cli.py", "dl-grader/pyproject.toml",
            "dl-grader/grader/grading.py", "dl-grader/grader/report/gradescope.py", "dl-grader/exercises/__init__.py",
            "course/exercises/least_squares/exercise.yaml", "course/exercises/least_squares/instructor/mistakes.py",
            "course/reference/least_squares.py"} <= names
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "dl-grader/tests/"))]
    assert not [n for n in names if "softmax_ce" in n or n.startswith("dl-grader/reference/")]  # one exercise only
    for script in ("setup.sh", "run_autograder"):
        assert (infos[script].external_attr >> 16) & stat.S_IXUSR
    assert (infos["secret"].external_attr >> 16) & 0o777 == 0o600
    assert f"pip install torch=={TORCH_VERSION} --index-url https://download.pytorch.org/whl/cpu" in setup
    assert "apt-get install -y" in setup and "bubblewrap" in setup
    assert "pip install /autograder/source/dl-grader" in setup
    assert config == {"exercise": "least_squares", "seed": 0, "student_file": "least_squares.py", "secret": "secret"}


def run_autograder(root: Path, **env: str) -> dict:
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], capture_output=True, text=True,
                          timeout=300, env={**os.environ, ROOT_ENV: str(root), "DL_GRADER_PYTHON": sys.executable,
                                            "DL_GRADER_ISOLATION": "none", **env})
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_run_autograder_grades_the_reference_at_the_official_seed(autograder: Path) -> None:
    folder = autograder / "submission" / "work"
    folder.mkdir(parents=True)
    (folder / "least_squares.py").write_bytes((ROOT / "reference" / "least_squares.py").read_bytes())
    (autograder / "submission_metadata.json").write_text(json.dumps({"users": [{"email": EMAIL, "name": "Ada"}]}))
    try:
        results = run_autograder(autograder)
    finally:
        (folder / "least_squares.py").unlink()
        (autograder / "submission_metadata.json").unlink()
    assert results["score"] == 17 and all(t["status"] == "passed" for t in results["tests"])
    assert results["extra_data"]["student"] == EMAIL
    assert results["extra_data"]["seed"] == official_seed(SECRET.encode(), "least_squares", EMAIL)


def test_run_autograder_always_leaves_a_results_json(autograder: Path) -> None:
    broken = run_autograder(autograder, DL_GRADER_PYTHON="false")  # the interpreter itself fails
    assert broken["score"] == 0 and broken["extra_data"]["grader_fault"] is True
    assert "not your code" in broken["output"]


def test_a_missing_or_ambiguous_file_is_the_students_zero(autograder: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "submission").mkdir(parents=True)
    os.symlink(autograder / "source", root / "source")
    autograde(root)
    nothing = json.loads((root / "results" / "results.json").read_text())
    assert nothing["score"] == 0 and not nothing["extra_data"]["grader_fault"]
    assert "no least_squares.py (and no other .py file) was submitted" in nothing["output"]
    for name in ("a.py", "b.py"):
        (root / "submission" / name).write_text("x = 1\n")
    autograde(root)
    two = json.loads((root / "results" / "results.json").read_text())
    assert "2 candidate files (a.py, b.py): submit one least_squares.py" in two["output"]
    (root / "submission" / "b.py").unlink()
    (root / "submission_metadata.json").write_text("{not json")  # a grader-side failure: a fault, never a zero
    autograde(root)
    fault = json.loads((root / "results" / "results.json").read_text())
    assert fault["extra_data"]["grader_fault"] is True and "JSONDecodeError" in fault["output"]


def test_the_cli_writes_the_bundle(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), "gradescope-bundle", "least_squares",
                           str(tmp_path / "ag.zip")], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert "seed 0 for every student" in done.stdout and zipfile.is_zipfile(tmp_path / "ag.zip")
