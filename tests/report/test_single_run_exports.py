"""`grade EXERCISE FILE --junit PATH --gradescope PATH --summary PATH`: the one result exported as a batch of
one, redacted for students unless --show-hidden, and `--summary -` appending to $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from export_fixtures import hand_built

from grader.errors import GraderError
from grader.report.files import STEP_SUMMARY_VAR, submission_of, write_exports
from grader.results import HIDDEN_NOTE

ROOT = Path(__file__).resolve().parents[2]


def test_the_cli_writes_every_export(tmp_path: Path, mutant) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    junit, results = tmp_path / "out" / "junit.xml", tmp_path / "results.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), STEP_SUMMARY_VAR: str(summary), "DL_GRADER_ISOLATION": "none",
           "DL_GRADER_SECRET": "an instructor secret of 32 bytes"}  # --student: official grading
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), "least_squares", str(mutant("least_squares",
                           "ls_loss_mean")), "--format", "json", "--junit", str(junit), "--gradescope", str(results),
                           "--summary", "-", "--student", "mallory"], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 1, done.stderr  # graded, not full marks
    score = json.loads(done.stdout)["score"]
    assert json.loads(results.read_text())["score"] == score
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("name") == "least_squares" and int(suite.get("failures")) >= 1
    assert suite.find("properties/property[@name='student']").get("value") == "mallory"
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n## ❌ Least squares (least\\_squares): ")  # appended, not replaced
    assert "Likely mistake: mean instead of sum." in text


def test_write_exports_redacts_for_the_audience(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = hand_built()
    entry = submission_of(result, "student")
    assert entry.student == "demo" and entry.state == "grader_fault" and entry.seed == 3  # the file's stem
    paths = write_exports(result, {"gradescope": tmp_path / "s.json"}, "student", student="eve")
    doc = json.loads(paths[0].read_text())
    assert doc["extra_data"]["student"] == "eve"
    assert next(t for t in doc["tests"] if t["extra_data"]["id"] == "secret")["output"] == HIDDEN_NOTE
    write_exports(result, {"gradescope": tmp_path / "i.json"}, "instructor")
    assert "xyzzy" in (tmp_path / "i.json").read_text()
    monkeypatch.delenv(STEP_SUMMARY_VAR, raising=False)
    with pytest.raises(GraderError, match=r"\$GITHUB_STEP_SUMMARY, which is not set"):
        write_exports(result, {"markdown": "-"})
