"""What the export tests share (imported by name: a test module cannot import a conftest reliably):
a hand-built result with every status, a hidden check and hostile strings."""

from __future__ import annotations

from pathlib import Path

from grader.diagnosis import Diagnosis
from grader.results import CheckResult, ExerciseResult, ExpectedAnswer

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "reference" / "least_squares.py"

# What a hostile submission could make the grader repeat: control characters, an escape sequence, markup of
# every export format, a spreadsheet formula.
HOSTILE = "x\x00\x1b[2J\x07 <script>alert(1)</script> ]]> </failure> | `code` *bold* $x$ & \"q\""


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
