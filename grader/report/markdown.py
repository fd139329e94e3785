"""A Markdown summary for ``$GITHUB_STEP_SUMMARY`` (GitHub-flavoured Markdown).

One submission: a heading with the score, a table of checks, then each check that did not pass with its
message, its details in a code block and the likely mistake. Several submissions: a table per exercise
(submissions, mean score, full marks, unreadable, grader faults), the class table (one row per student and
exercise) and the checks failed most often.

Text from submissions is escaped: Markdown and HTML characters are backslash-escaped or written as
entities in prose and table cells, and a code block's fence is longer than any run of backticks inside it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import TextIO

from grader.report.check_text import gradable, points, pts, state_text, summary_line
from grader.report.registry import ReportOptions, exporter
from grader.results import GRADER_FAULT_NOTE, CheckResult, ExerciseResult
from grader.sanitize import clean
from grader.submissions import Submission

ICONS = {"passed": "✅", "failed": "❌", "error": "❗", "timeout": "⏱️", "grader_error": "⚙️"}
# Characters with a meaning inside a line (emphasis, code, links, tables, strikethrough, math). None of
# the escaped texts starts a line, so line-start syntax (#, -, +, 1.) cannot be triggered.
_SPECIAL = re.compile(r"([\\`*_{}\[\]|~$])")
MOST_FAILED = 10


@exporter("markdown", "a Markdown summary (for $GITHUB_STEP_SUMMARY)")
def write_markdown(submissions: Sequence[Submission], stream: TextIO, options: ReportOptions) -> None:
    if len(submissions) == 1 and submissions[0].report is not None:
        stream.write(single(submissions[0].report.result))
    else:
        stream.write(many(submissions))


def single(r: ExerciseResult) -> str:
    icon = "✅" if r.full_marks else "⚙️" if not r.complete else "❌"
    lines = [f"## {icon} {esc(r.title)} ({esc(r.exercise)}): {pts(r.score)} / {pts(r.max_score)}", "",
             esc(summary_line(r)), ""]
    if r.problems:
        lines += [*(f"- ⚠️ {esc(p)}" for p in r.problems), ""]
    lines += ["| | Check | Points |", "|---|---|---|"]
    lines += [f"| {ICONS.get(c.status, '?')} | {cell(c.title)}{' (hidden)' if c.visibility == 'hidden' else ''} "
              f"| {points(c)} |" for c in r.checks]
    failed = [c for c in r.checks if not c.passed]
    if failed:
        lines += ["", "### Checks that did not pass"]
        for c in failed:
            lines += ["", *failure(c)]
    return "\n".join(lines) + "\n"


def failure(c: CheckResult) -> list[str]:
    out = [f"#### {ICONS.get(c.status, '?')} {esc(c.title)}", ""]
    if c.message:
        out += [f"**{esc(c.message)}**", ""]
    if c.status == "grader_error":
        out += [esc(GRADER_FAULT_NOTE), ""]
    if c.details:
        out += [*code(c.details), ""]
    if c.advice:
        out += [f"→ {esc(c.advice)}", ""]
    return out[:-1]


def many(submissions: Sequence[Submission]) -> str:
    exercises = sorted({s.exercise for s in submissions})
    lines = ["## Class summary", "",
             "| Exercise | Submissions | Mean score | Full marks | Unreadable | Grader faults |",
             "|---|---|---|---|---|---|"]
    for e in exercises:
        entries = [s for s in submissions if s.exercise == e]
        graded = [s for s in entries if gradable(s)]
        best = max((s.max_score for s in entries if s.report is not None), default=0.0)
        mean = f"{pts(sum(s.score for s in graded) / len(graded))} / {pts(best)}" if graded else "—"
        full = sum(s.report is not None and s.report.result.full_marks for s in graded)
        unreadable = sum(s.state == "unreadable" for s in entries)
        faults = sum(s.state != "unreadable" and not gradable(s) for s in entries)
        lines.append(f"| {cell(e)} | {len(entries)} | {mean} | {full} | {unreadable} | {faults} |")
    lines += ["", "### Submissions", "", "| Student | Exercise | Score | Notes |", "|---|---|---|---|"]
    for s in sorted(submissions, key=lambda s: (s.student, s.exercise)):
        score = f"{pts(s.score)} / {pts(s.max_score)}" if gradable(s) else "—"
        lines.append(f"| {cell(s.student)} | {cell(s.exercise)} | {score} | {cell(_note(s))} |")
    failed: Counter[tuple[str, str]] = Counter()
    for s in submissions:
        if s.report is not None:
            failed.update((s.exercise, c.title) for c in s.report.result.checks
                          if c.status in ("failed", "error", "timeout"))
    if failed:
        lines += ["", "### Checks failed most often", "", "| Exercise | Check | Submissions |", "|---|---|---|"]
        lines += [f"| {cell(e)} | {cell(t)} | {n} |" for (e, t), n in failed.most_common(MOST_FAILED)]
    return "\n".join(lines) + "\n"


def _note(s: Submission) -> str:
    if not gradable(s):
        return state_text(s) or "incomplete: a check failed because of the grader; grade it again"
    assert s.report is not None
    mistakes = sorted({c.mistake for c in s.report.result.checks if c.mistake})
    return f"likely mistakes: {', '.join(mistakes)}" if mistakes else ""


def esc(text: str) -> str:
    """Prose from untrusted text: Markdown characters backslash-escaped, HTML characters as entities."""
    text = clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", text)


def cell(text: str) -> str:
    """A table cell: escaped prose on one line."""
    return esc(" ".join(clean(text).split()))


def code(text: str) -> list[str]:
    """A fenced code block holding ``text`` verbatim: the fence is longer than any backtick run in it."""
    text = clean(text)
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
    return [fence + "text", text.rstrip("\n"), fence]
