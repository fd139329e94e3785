"""The terminal report says a failure shared by several checks once (an import that failed fails them all)."""

from __future__ import annotations

import io

from grader.report.registry import ReportOptions, emit
from grader.results import CheckResult, ExerciseResult

LOAD = "importing your file did not finish within 10 s"


def text_of(checks: list[CheckResult]) -> str:
    result = ExerciseResult("ex", "Ex", "ex.py", checks, {"seed": 0})
    out = io.StringIO()
    emit("text", result, out, options=ReportOptions(width=200, color=False))
    return out.getvalue()


def failed(cid: str, message: str, hint: str = "Put experiments under `if __name__ == \"__main__\":`.") -> CheckResult:
    return CheckResult(cid, f"Check {cid}", "error", 0.0, 1.0, message=message, hint=hint)


def test_checks_that_failed_the_same_way_share_one_panel():
    text = text_of([failed("a", LOAD), failed("b", LOAD),
                    CheckResult("c", "Check c", "passed", 1.0, 1.0), failed("d", LOAD)])
    assert text.count(LOAD) == 1 and text.count("Put experiments") == 1
    assert "Check a (and 2 more)" in text
    assert "The same for 2 more checks: Check b; Check d" in text


def test_different_failures_keep_their_own_panels():
    text = text_of([failed("a", LOAD), failed("b", "ls_loss returned the wrong shape"),
                    failed("c", LOAD, hint="another hint")])
    assert text.count(LOAD) == 2 and "ls_loss returned the wrong shape" in text
    assert "more)" not in text and "The same for" not in text
