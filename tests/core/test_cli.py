"""The `grade` command, through a real subprocess: output, JSON schema and exit codes."""

from __future__ import annotations

import json
import os
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
    r = grade("least_squares", "reference/least_squares.py")
    assert r.returncode == 0, r.stdout + r.stderr
    for part in ("Exercise", "least_squares", "Device", "cpu", "Seed", "✓", "Score:"):
        assert part in r.stdout
    assert "\x1b[" not in r.stdout  # NO_COLOR honoured


def test_json_output_is_the_documented_schema():
    r = grade("least_squares", "reference/least_squares.py", "--format", "json", "--seed", "7")
    assert r.returncode == 0
    doc = json.loads(r.stdout)
    assert {"exercise", "submission", "score", "max_score", "checks", "environment"} <= set(doc)
    assert {"python", "torch", "device", "dtype", "seed"} <= set(doc["environment"])
    assert doc["environment"]["seed"] == 7
    for c in doc["checks"]:
        assert {"id", "title", "status", "score", "max_score", "message", "diagnosis"} <= set(c)
        assert c["status"] == "passed"
    assert doc["score"] == doc["max_score"]


def test_failure_panel_names_the_mistake(tmp_path):
    src = "from reference.least_squares import *\ndef ls_grad(W, theta, y):\n    return W.T @ (W @ theta - y)\n"
    (tmp_path / "least_squares.py").write_text(src)
    r = grade("least_squares", cwd=tmp_path)
    assert r.returncode == 1
    assert "ls_grad" in r.stdout and "Mismatched elements" in r.stdout and "Likely mistake" in r.stdout


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


def test_missing_default_file_suggests_init(tmp_path):
    r = grade("least_squares", cwd=tmp_path)
    assert r.returncode == 2 and "grade init least_squares" in r.stderr.replace("\n", " ")
