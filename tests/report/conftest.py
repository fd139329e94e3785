"""Results the export tests share: the reference and a mistake of least_squares graded in-process (once
per session), and a hand-built result with every status, a hidden check and hostile strings."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.diagnosis import Diagnosis
from grader.results import CheckResult, ExerciseResult, ExpectedAnswer, Report, redact
from grader.submissions import Submission

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "reference" / "least_squares.py"

# What a hostile submission could make the grader repeat: control characters, an escape sequence, markup of
# every export format, a spreadsheet formula.
HOSTILE = "x\x00\x1b[2J\x07 <script>alert(1)</script> ]]> </failure> | `code` *bold* $x$ & \"q\""


@pytest.fixture(scope="session")
def graded(sandbox) -> dict[str, ExerciseResult]:
    """The reference and the mistake `ls_loss_mean` of least_squares, graded without isolation."""
    from grader.grading import GradeOptions, grade
    from grader.mistakes import mutant_source

    folder = Path(tempfile.mkdtemp(prefix="exports-"))
    mutant = folder / "mallory.py"
    mutant.write_text(mutant_source("least_squares", "ls_loss_mean"), encoding="utf-8")
    options = GradeOptions(seed=1)
    try:
        return {"reference": grade("least_squares", REFERENCE, options, sandbox=sandbox),
                "mistake": grade("least_squares", mutant, options, sandbox=sandbox)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def hand_built() -> ExerciseResult:
    """Every status, a hidden failed check, and student strings with control characters and markup."""
    likely = Diagnosis("sign_flipped", "sign flipped", "negate the residual")
    checks = [
        CheckResult("ok", "a passing check", "passed", 1.0, 1.0),
        CheckResult("wrong", "a failing check", "failed", 0.0, 2.0, message="f returned the wrong values " + HOSTILE,
                    details="Mismatched elements: 2 / 4 (50.0%)\nGreatest absolute difference: 1.5 at index (1,)",
                    diagnosis=likely),
        CheckResult("secret", "a hidden check", "failed", 0.0, 3.0, message="hidden message: the answer is xyzzy",
                    details="hidden details", visibility="hidden", attachments=(ExpectedAnswer(answer="xyzzy"),)),
        CheckResult("boom", "an erroring check", "error", 0.0, 1.0, message="f raised ValueError: " + HOSTILE,
                    hint="Read the traceback.", traceback="Traceback ...\nValueError: bad"),
        CheckResult("slow", "a slow check", "timeout", 0.0, 1.0, message="f took longer than 10 s"),
        CheckResult("fault", "a check the grader broke", "grader_error", 0.0, 2.0,
                    message="the grader failed: worker died"),
    ]
    return ExerciseResult("demo", "Demo " + HOSTILE, "demo.py", checks, {"seed": 3}, problems=["⚠ " + HOSTILE])


@pytest.fixture(scope="session")
def entry() -> Callable[..., Submission]:
    """entry(result, student, audience="student", **fields) -> a graded Submission."""

    def make(result: ExerciseResult, student: str, audience: str = "student", **fields) -> Submission:
        report: Report = redact(result, audience)  # type: ignore[arg-type]
        state = "graded" if result.complete else "grader_fault"
        return Submission(student, result.exercise, fields.pop("state", state), report, **fields)

    return make
