"""The plain-text pieces every export format shares: a check's explanation, points, the entry's state.

Each format (Gradescope, JUnit, Markdown, CSV) escapes these for its own syntax; the words are decided here
once, so a failure reads the same in every export: first line what failed, then the details in the style
of ``torch.testing.assert_close``, then the likely mistake (or the hint when nothing is named).
"""

from __future__ import annotations

from grader.results import GRADER_FAULT_NOTE, CheckResult, ExerciseResult
from grader.submissions import Submission

UNGRADED = "not graded"  # what an export shows in place of a score the grader could not give


def pts(x: float) -> str:
    """Points as a report shows them: ``2``, ``1.5`` (no trailing zeros, at most 4 decimals)."""
    text = f"{round(x, 4):.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def explanation(c: CheckResult) -> str:
    """What a reader of an export needs about ``c``: the message, the details and the advice, one
    paragraph each; for a grader fault, the note that it is not the student's fault. Empty when passed
    with nothing to say."""
    parts = [c.message]
    if c.status == "grader_error":
        parts.append(GRADER_FAULT_NOTE)
    parts += [c.details, c.advice]
    return "\n\n".join(p.strip("\n") for p in parts if p and p.strip())


def points(c: CheckResult) -> str:
    """``1/2``, or ``—/2`` for a grader fault (neither given nor taken)."""
    return f"{'—' if c.status == 'grader_error' else pts(c.score)}/{pts(c.max_score)}"


def summary_line(r: ExerciseResult) -> str:
    """``Score: 7 / 16 (5 of 9 checks passed)`` plus, when incomplete, how many points were not graded."""
    passed = sum(c.passed for c in r.checks)
    line = f"Score: {pts(r.score)} / {pts(r.max_score)} ({passed} of {len(r.checks)} checks passed)"
    faults = r.grader_faults
    if faults:
        line += (f". Incomplete: {len(faults)} check(s) failed because of the grader, not your code "
                 f"({pts(sum(c.max_score for c in faults))} points not graded); it must be graded again.")
    return line


def state_text(s: Submission) -> str:
    """One line on an entry that has no complete grade: why (unreadable, or a grader fault)."""
    if s.state == "unreadable":
        return f"unreadable submission: {s.reason}" if s.reason else "unreadable submission"
    if s.state == "grader_fault":
        return "grader fault (not the student's fault; grade it again)" + (f": {s.reason}" if s.reason else "")
    return ""


def gradable(s: Submission) -> bool:
    """True when ``s`` has a grade that counts: graded, with a report, and no check lost to a grader fault."""
    return s.state == "graded" and s.report is not None and s.report.result.complete
