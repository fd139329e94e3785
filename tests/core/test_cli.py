"""The `grade` command, through a real subprocess: output, JSON schema and exit codes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GRADE = shutil.which("grade")


def grade(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [GRADE, *args] if GRADE else [sys.executable, str(ROOT / "cli.py"), *args]
    full_env = dict(os.environ, NO_COLOR="1", COLUMNS="120", **(env or {}))
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd or ROOT, env=full_env, timeout=300)


def test_list_shows_titles_and_points():
    r = grade("list")
    assert r.returncode == 0
    assert "least_squares" in r.stdout and "Points" in r.stdout


def test_show_renders_the_statement():
    r = grade("show", "least_squares")
    assert r.returncode == 0
    assert "ls_grad" in r.stdout and "Checks" in r.stdout


def test_init_writes_the_template_and_refuses_to_overwrite(tmp_path):
    r = grade("init", "least_squares", cwd=tmp_path)
    assert r.returncode == 0
    text = (tmp_path / "least_squares.py").read_text()
    assert "def ls_grad(" in text and "NotImplementedError" in text
    again = grade("init", "least_squares", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_template_as_is_scores_zero_with_exit_1(tmp_path):
    grade("init", "least_squares", cwd=tmp_path)
    r = grade("least_squares", cwd=tmp_path)
    assert r.returncode == 1
    assert "NotImplementedError" in r.stdout
    assert "Score: 0 /" in r.stdout


def test_reference_full_marks_exit_0_with_report():
    r = grade("least_squares", "reference/least_squares.py", "--seed", "4")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(grade("least_squares", "reference/least_squares.py", "--format", "json").stdout)
    total = f"{doc['max_score']:g}"
    checks = len(doc["checks"])
    assert f"Score: {total} / {total}   ({checks} of {checks} checks passed)" in r.stdout
    assert r.stdout.count("✓") == checks and "✗" not in r.stdout
    assert re.search(r"Exercise\s+Least squares \(least_squares\)", r.stdout)
    assert re.search(r"File\s+reference/least_squares\.py", r.stdout)
    assert re.search(r"Seed\s+4\b", r.stdout) and re.search(r"Device\s+cpu\b", r.stdout)
    assert "\x1b[" not in r.stdout  # NO_COLOR honoured


def documented_json() -> dict:
    """The JSON example of README's "JSON output" section."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## JSON output", 1)[1]
    return json.loads(section.split("```json", 1)[1].split("```", 1)[0])


def test_json_output_is_the_documented_schema():
    r = grade("least_squares", "reference/least_squares.py", "--format", "json", "--seed", "7")
    assert r.returncode == 0
    doc, documented = json.loads(r.stdout), documented_json()
    assert set(doc) == set(documented)
    assert doc["schema"] == documented["schema"] == 1 and doc["audience"] == "student"
    assert set(doc["environment"]) == set(documented["environment"])
    assert doc["environment"]["seed"] == 7 and doc["environment"]["dtype"] == "float64+float32"
    assert doc["checks"] and doc["complete"] is True
    for c in doc["checks"]:
        assert set(c) == set(documented["checks"][0]), c["id"]
        assert c["status"] == "passed" and c["score"] == c["max_score"] and c["mistake"] is None
    assert doc["score"] == doc["max_score"] == doc["graded_max_score"] == sum(c["max_score"] for c in doc["checks"])


def test_an_exercise_without_tensors_is_graded_once(tmp_path):
    """`dtypes: []` in a spec (derivatives: sympy answers): one pass, whatever --dtype asks for."""
    r = grade("derivatives", "reference/derivatives.py", "--format", "json", "--dtype", "float32")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["environment"]["dtype"] == "none"


def test_failure_panel_names_the_mistake(tmp_path):
    src = "from reference.least_squares import *\ndef ls_grad(W, theta, y):\n    return W.T @ (W @ theta - y)\n"
    (tmp_path / "least_squares.py").write_text(src)
    r = grade("least_squares", cwd=tmp_path)
    assert r.returncode == 1
    assert re.search(r"╭─ ✗ ls_grad", r.stdout)  # a failure panel for ls_grad, not only its row in the table
    assert "Mismatched elements" in r.stdout and "→ Likely mistake: factor 2 missing." in r.stdout


@pytest.mark.parametrize("args, text", [
    (["least_sqares", "x.py"], "Did you mean 'least_squares'?"),
    (["least_squares", "does/not/exist.py"], "submission file not found"),
    (["least_squares", "--device", "cuda"], "no usable CUDA device"),
])
def test_usage_errors_exit_2(args, text):
    if "cuda" in args:
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
    r = grade(*args)
    assert r.returncode == 2
    assert text in r.stderr.replace("\n", " ")


def test_student_text_is_never_markup(tmp_path):
    """File names and printed output are shown as they are, whatever brackets they contain."""
    folder = tmp_path / "hw[/bold]"
    folder.mkdir(parents=True)  # "hw[" holding "bold]"
    src = ("from reference.least_squares import *\nfrom reference.least_squares import ls_loss as _loss\n"
           "def ls_loss(W, theta, y):\n    print('[bold red]x[/] [/bold]')\n    return _loss(W, theta, y)\n")
    (folder / "least_squares.py").write_text(src)
    r = grade("least_squares", "hw[/bold]/least_squares.py", "-v", cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "hw[/bold]/least_squares.py" in r.stdout and "[bold red]x[/] [/bold]" in r.stdout
    missing = grade("least_squares", "hw[/bold]/nope[x].py", cwd=tmp_path)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "error: submission file not found: hw[/bold]/nope[x].py" in missing.stderr.replace("\n", "")


def test_missing_default_file_suggests_init(tmp_path):
    r = grade("least_squares", cwd=tmp_path)
    assert r.returncode == 2 and "grade init least_squares" in r.stderr.replace("\n", " ")


def test_isolation_none_is_said_once_and_recorded():
    r = grade("least_squares", "reference/least_squares.py", "--format", "json", "--isolation", "none")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["environment"]["isolation"] == "none"
    assert r.stderr.count("runs without isolation") == 1


def test_isolation_bwrap_where_it_cannot_run_is_a_usage_error():
    from grader.sandbox import bwrap

    if bwrap.available()[0]:
        pytest.skip("bwrap works here")
    r = grade("least_squares", "reference/least_squares.py", "--isolation", "bwrap")
    assert r.returncode == 2 and "--isolation bwrap was asked for" in r.stderr


def test_load_timeout_limits_the_import(tmp_path):
    f = tmp_path / "least_squares.py"
    f.write_text((ROOT / "reference" / "least_squares.py").read_text() + "\nwhile True:\n    pass\n")
    r = grade("least_squares", str(f), "--load-timeout", "1", "--dtype", "float64", "--format", "json")
    assert r.returncode == 1, r.stderr
    data = json.loads(r.stdout)
    assert data["score"] == 0 and data["complete"]
    assert data["checks"][0]["message"] == "importing your file did not finish within 1 s"
