"""The HTML class report: one self-contained page with the class's scores, pass rates, named mistakes,
errors, grader faults, unreadable entries and grading times; hostile text escaped; and, in headless
Chromium, charts and tables that are really there."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from grader.api import GradeOptions, grade
from grader.mistakes import mutant_source
from grader.report.class_html import write_class_report
from grader.report.class_stats import class_stats
from grader.results import redact
from grader.submissions import Submission

HOSTILE = "<script>alert(1)</script>"
HOSTILE_REASON = 'two candidate files: a.py, "<img src=x onerror=alert(2)>.py"'
HIDDEN = {"least_squares": {"inputs_unchanged", "ls_solve_ill_conditioned"},
          "softmax_ce": {"cross_entropy_large_logits"}}

# student -> (exercise, mistake id or None for the reference)
GRADED = {
    "ada": [("least_squares", None), ("softmax_ce", None)],
    "ben": [("least_squares", "ls_loss_mean"), ("softmax_ce", "labels_all_rows")],
    "cleo": [("least_squares", "ls_grad_without_two"), ("softmax_ce", "labels_all_rows")],
    "dan": [("least_squares", "ls_grad_without_two"), ("softmax_ce", None)],
    "eve": [("least_squares", "ls_grad_without_two"), ("softmax_ce", "one_hot_sign")],
    HOSTILE: [("least_squares", "ls_loss_mean"), ("softmax_ce", None)],
    "gus": [("least_squares", None)],
}


def _checks_as(result, status: str, check_id: str, message: str, details: str = ""):
    checks = [replace(c, status=status, score=0.0, message=message, details=details, diagnosis=None)
              if c.id == check_id else c for c in result.checks]
    return replace(result, checks=checks)


def _sub(student: str, result, state="graded", duration: float | None = None) -> Submission:
    return Submission(student, result.exercise, state, redact(result, "instructor"), path=f"{student}.py",
                      seed=0, duration=result.duration if duration is None else duration)


@pytest.fixture(scope="module")
def submissions(sandbox, tmp_path_factory) -> list[Submission]:
    """A small class: real grades of references and mistakes, plus hand-made errors, a timeout, grader
    faults and unreadable entries."""
    d = tmp_path_factory.mktemp("class")
    subs, references = [], {}
    for i, (student, entries) in enumerate(GRADED.items()):
        for exercise, mistake in entries:
            f = d / f"{i}_{exercise}.py"
            f.write_text(mutant_source(exercise, mistake) if mistake else f"from reference.{exercise} import *\n")
            r = grade(exercise, f, GradeOptions(seed=0), sandbox=sandbox)
            r = replace(r, checks=[replace(c, visibility="hidden") if c.id in HIDDEN[exercise] else c
                                   for c in r.checks])
            references.setdefault(exercise, r) if mistake is None else None
            subs.append(_sub(student, r, duration=0.15 + 0.07 * i + (0.3 if mistake else 0.0)))
    ls, sc = references["least_squares"], references["softmax_ce"]
    subs += [
        _sub("hal", _checks_as(ls, "error", "ls_grad_random",
                               "ls_grad raised RuntimeError: mat1 and mat2 shapes cannot be multiplied (7x3 and 7x1)",
                               "Traceback (most recent call last):\n  File \"least_squares.py\", line 12"),
             duration=0.4),
        _sub("ivy", _checks_as(ls, "timeout", "ls_solve_random", "ls_solve ran past its 2 s time limit"),
             duration=4.8),
        _sub("jon", _checks_as(sc, "grader_error", "cross_entropy_values",
                               "the grader failed: check raised KeyError('logits')"), "grader_fault", 0.9),
        Submission("kim", "softmax_ce", "grader_fault", None, reason="the sandbox did not start: bwrap exited 1",
                   path="kim/softmax_ce.py"),
        Submission("lou", "least_squares", "unreadable", None, reason="no least_squares.py in lou/", path="lou/"),
        Submission(HOSTILE, "softmax_ce", "unreadable", None, reason=HOSTILE_REASON, path="x/"),
    ]
    return subs


@pytest.fixture(scope="module")
def page(submissions, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "class.html"
    write_class_report(submissions, out, title="DL 101 — week 3")
    return out


def test_stats_count_each_student_once_and_keep_grader_faults_apart(submissions):
    stats = class_stats(submissions)
    by_id = {(m.exercise, m.id): m for m in stats.mistakes}
    assert by_id["least_squares", "ls_grad_without_two"].students == ["cleo", "dan", "eve"]
    assert by_id["least_squares", "ls_grad_without_two"].checks == ["ls_grad_random", "ls_grad_fixed"]
    assert by_id["softmax_ce", "labels_all_rows"].count == 2
    assert stats.mistakes[0].id == "ls_grad_without_two"  # the most common first
    ls = next(e for e in stats.exercises if e.exercise == "least_squares")
    assert (ls.graded, ls.unreadable, ls.faults) == (9, 1, 0)
    assert ls.full_marks == 2
    sc = next(e for e in stats.exercises if e.exercise == "softmax_ce")
    assert (sc.graded, sc.unreadable, sc.faults) == (6, 1, 2)  # jon and kim: not in the distribution
    [rate] = [c for c in stats.checks if c.exercise == "softmax_ce" and c.id == "cross_entropy_values"]
    assert rate.counts["grader_error"] == 1 and rate.attempted == 6  # a grader fault counts neither way
    assert {(i.student, i.status) for i in stats.errors} == {("hal", "error"), ("ivy", "timeout")}
    assert {(i.student, i.check) for i in stats.faults} == {("jon", "cross_entropy_values"), ("kim", "")}


def test_page_has_every_section_chart_and_mistake(page):
    html = page.read_text(encoding="utf-8")
    for anchor in ("scores", "checks", "mistakes", "errors", "faults", "unreadable", "time"):
        assert f'<section id="{anchor}">' in html and f'href="#{anchor}"' in html
    assert html.count("<svg") == 2 + 2 + 1 + 1  # a histogram and a pass-rate chart per exercise; mistakes; times
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "element ids repeat across charts"
    mistakes = html[html.index('<section id="mistakes">'):html.index('<section id="errors">')]
    assert "factor 2 missing" in mistakes and "mean instead of sum" in mistakes
    assert re.search(r'factor 2 missing.*?<span class="big">3</span>', mistakes, re.S)
    assert "cleo, dan, eve" in mistakes
    assert "The gradient of ‖Wθ − y‖² is 2Wᵀ(Wθ − y)" in mistakes  # the hint students saw
    assert "mat1 and mat2 shapes cannot be multiplied" in html and "ran past its 2 s time limit" in html
    faults = html[html.index('<section id="faults">'):html.index('<section id="unreadable">')]
    assert "jon" in faults and "KeyError" in faults and "the sandbox did not start" in faults
    assert "no least_squares.py in lou/" in html
    assert html.count('class="badge hidden"') == 3
    assert "dl-grader" in html and "Generated " in html


def test_hostile_text_is_escaped_and_nothing_is_fetched(page):
    html = page.read_text(encoding="utf-8")
    assert HOSTILE not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower()  # the page has no script of its own either
    namespaces = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert set(re.findall(r"https?://[^\s\"'<>)]+", html)) <= namespaces
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(http" not in html


def test_page_renders_in_headless_chromium(page, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,4000"]
    shot = tmp_path / "class_report.png"
    run = subprocess.run([*flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True,
                         timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000, run.stderr[-2000:]
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert dom.count("<svg") == 6 and dom.count("<table") >= 6
    assert 'aria-label="Score distribution of least_squares"' in dom
    assert 'aria-label="Pass rate per check of softmax_ce"' in dom
    assert "<script>alert" not in dom
