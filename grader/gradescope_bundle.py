"""A Gradescope autograder bundle: the zip a course uploads so that Gradescope runs this grader.

``grade gradescope-bundle EXERCISE OUT.zip`` writes (Gradescope unpacks it into ``/autograder/source``):

* ``setup.sh``: run once when Gradescope builds the image. Installs Python, bubblewrap, torch (the CPU
  wheel of :data:`TORCH_VERSION`) and this grader into the virtual environment ``/autograder/venv``;
* ``run_autograder``: run for every submission. It calls :func:`autograde` and, whatever happens to it,
  leaves a ``/autograder/results/results.json`` (a last-resort one, marked as a grader fault, if Python
  itself could not run);
* ``dl-grader/``: the grader's source (``grader/``, ``cli.py``, ``pyproject.toml``), without the built-in
  exercises and references;
* ``course/exercises/EXERCISE/``: the exercise folder with its instructor side, and its reference at the
  same relative place (``course/reference/...`` for the built-in ones);
* ``config.json``: the exercise, the public seed, and whether a secret is bundled;
* ``secret``: the instructor secret, when ``--secret-file`` is given. Each student's seed is then the
  official one (:func:`grader.seeds.official_seed`) for the identity in ``submission_metadata.json``.

The root is ``$DL_GRADER_AUTOGRADER_ROOT`` (default ``/autograder``), so the bundle can be tried on a fake
tree; ``$DL_GRADER_PYTHON`` names the interpreter (default: the venv's, else ``python3``).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import zipfile
from pathlib import Path
from typing import Any

from grader.errors import GraderError
from grader.exercises import Exercise

TORCH_VERSION = "2.13.0"
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
ROOT_ENV = "DL_GRADER_AUTOGRADER_ROOT"
PROJECT = Path(__file__).resolve().parent.parent
PROJECT_FILES = ("cli.py", "pyproject.toml", "README.md", "LICENSE")
SKIP = ("__pycache__", ".pyc", ".pyo")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image (written by `grade gradescope-bundle`).
set -euxo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip bubblewrap
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --upgrade pip
/autograder/venv/bin/pip install torch=={torch} --index-url {index}
/autograder/venv/bin/pip install /autograder/source/dl-grader
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission (written by `grade gradescope-bundle`). It grades the file under
# $ROOT/submission and ALWAYS leaves $ROOT/results/results.json, even if the grader itself fails.
ROOT="${{{root_env}:-/autograder}}"
SOURCE="$ROOT/source"
RESULTS="$ROOT/results/results.json"
PYTHON="${{DL_GRADER_PYTHON:-}}"
if [ -z "$PYTHON" ]; then
  if [ -x "$ROOT/venv/bin/python" ]; then PYTHON="$ROOT/venv/bin/python"; else PYTHON=python3; fi
fi
mkdir -p "$ROOT/results"
rm -f "$RESULTS"
cd "$SOURCE" && PYTHONPATH="$SOURCE/dl-grader${{PYTHONPATH:+:$PYTHONPATH}}" \\
  "$PYTHON" -m grader.gradescope_bundle "$ROOT"
if [ ! -s "$RESULTS" ]; then
  cat > "$RESULTS" <<'JSON'
{fallback}
JSON
fi
exit 0
"""


def build_bundle(exercise: Exercise, out: str | Path, *, secret_file: str | Path | None = None,
                 seed: int = 0, torch_version: str = TORCH_VERSION) -> list[str]:
    """Write the autograder zip of ``exercise`` to ``out``; returns the names it holds."""
    from grader.report.gradescope import fault_results
    from grader.seeds import load_secret

    exercise.require_files()
    files: dict[str, bytes] = {}
    for path in sorted((PROJECT / "grader").rglob("*")):
        if path.is_file() and not _skipped(path):
            files[f"dl-grader/{path.relative_to(PROJECT).as_posix()}"] = path.read_bytes()
    for name in PROJECT_FILES:
        if (PROJECT / name).is_file():
            files[f"dl-grader/{name}"] = (PROJECT / name).read_bytes()
    files["dl-grader/exercises/__init__.py"] = b""  # the built-in collection, empty: only this exercise ships
    folder = f"course/exercises/{exercise.name}"
    for path in sorted(exercise.folder.rglob("*")):
        if path.is_file() and not _skipped(path):
            files[f"{folder}/{path.relative_to(exercise.folder).as_posix()}"] = path.read_bytes()
    instructor = exercise.instructor_spec
    if instructor is None or exercise.reference_path is None:
        raise GraderError(f"a Gradescope bundle grades for marks, so it needs the instructor side: exercise "
                          f"{exercise.name!r} has no instructor/ folder (a student kit never has one)")
    reference = os.path.normpath(f"{folder}/{instructor.reference}").replace(os.sep, "/")
    if reference.startswith("../") or not reference.startswith("course/"):
        raise GraderError(f"the reference {instructor.reference} of {exercise.name} lies too far outside its "
                          "folder to be bundled (at most two levels up)")
    files.setdefault(reference, exercise.reference_path.read_bytes())
    config: dict[str, Any] = {"exercise": exercise.name, "seed": seed, "student_file": exercise.spec.student_file,
                              "secret": None}
    if secret_file is not None:
        secret = load_secret(secret_file)
        assert secret is not None
        files["secret"] = secret + b"\n"
        config["secret"] = "secret"
    files["config.json"] = json.dumps(config, indent=2).encode()
    fallback = json.dumps(fault_results("run_autograder: the grader could not run (see the autograder output)",
                                        exercise=exercise.name))
    scripts = {"setup.sh": SETUP_SH.format(torch=torch_version, index=TORCH_INDEX),
               "run_autograder": RUN_AUTOGRADER.format(root_env=ROOT_ENV, fallback=fallback)}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in scripts.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o100755 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text)
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o100600 if name == "secret" else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return [*scripts, *files]


def _skipped(path: Path) -> bool:
    return any(part == "__pycache__" for part in path.parts) or path.suffix in (".pyc", ".pyo")


# -- inside Gradescope -------------------------------------------------------------------------------------
def autograde(root: str | Path) -> None:
    """Grade the submission under ``root`` and write ``root/results/results.json``, whatever happens: a
    missing or ambiguous file is the student's (score 0, with the reason); anything else that goes wrong is
    the grader's (a fault, never charged)."""
    from grader.report.gradescope import fault_results, results_json
    from grader.submissions import Submission

    root = Path(root)
    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {}
    student = ""
    try:
        config = json.loads((root / "source" / "config.json").read_text(encoding="utf-8"))
        student = identity(root / "submission_metadata.json")
        file, reason = find_submission(root / "submission", config["student_file"])
        if file is None:
            document = results_json(Submission(student, config["exercise"], "unreadable", None, reason=reason))
            results.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
            return
        _grade(root, config, file, student, results)
    except BaseException as e:  # noqa: BLE001 - whatever it is, Gradescope gets a results.json
        detail = "".join(traceback.format_exception_only(type(e), e)).strip()
        print(traceback.format_exc(), file=sys.stderr)
        document = fault_results(f"The grader failed: {detail}", exercise=config.get("exercise", ""), student=student)
        results.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")


def _grade(root: Path, config: dict[str, Any], file: Path, student: str, results: Path) -> None:
    from grader.grading import GradeOptions, grade
    from grader.report.files import write_exports
    from grader.sandbox.client import Sandbox
    from grader.seeds import load_secret, official_seed

    seed = int(config.get("seed", 0))
    if config.get("secret"):
        secret = load_secret(root / "source" / config["secret"])
        if not student:
            raise GraderError("a secret is bundled but submission_metadata.json names no student: no official seed")
        assert secret is not None
        seed = official_seed(secret, config["exercise"], student)
    exercise = Exercise.at(root / "source" / "course" / "exercises" / config["exercise"])
    with Sandbox() as sandbox:
        result = grade(exercise, file, GradeOptions(seed=seed), sandbox=sandbox)
    write_exports(result, {"gradescope": results}, "student", student=student or file.stem)


def identity(metadata: Path) -> str:
    """The student's identity from Gradescope's ``submission_metadata.json``: the submitter's email (the
    emails of a group, sorted and joined by commas); empty when there is no such file."""
    if not metadata.is_file():
        return ""
    users = json.loads(metadata.read_text(encoding="utf-8")).get("users") or []
    emails = sorted(str(u.get("email") or u.get("id") or "") for u in users if isinstance(u, dict))
    return ",".join(e for e in emails if e)


def find_submission(folder: Path, student_file: str) -> tuple[Path | None, str]:
    """The file to grade under ``folder``: the one named ``student_file`` (at any depth), else the only
    ``.py`` file. Returns (None, reason) when there is none, or more than one."""
    if not folder.is_dir():
        return None, "nothing was submitted"
    named = sorted(p for p in folder.rglob(student_file) if p.is_file())
    candidates = named or sorted(p for p in folder.rglob("*.py") if p.is_file())
    if len(candidates) == 1:
        return candidates[0], ""
    if not candidates:
        return None, f"no {student_file} (and no other .py file) was submitted"
    listed = ", ".join(str(p.relative_to(folder)) for p in candidates[:6])
    return None, f"{len(candidates)} candidate files ({listed}): submit one {student_file}"


if __name__ == "__main__":
    autograde(sys.argv[1] if len(sys.argv) > 1 else os.environ.get(ROOT_ENV, "/autograder"))
