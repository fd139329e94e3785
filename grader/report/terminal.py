"""The rich terminal report: header, table of checks, a panel per failure, the total.

Every string that reaches the console is a ``rich.text.Text`` (never markup), so file names, messages and
printed output are shown as they are, whatever brackets they contain.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from grader.report.registry import ReportOptions, reporter
from grader.results import (
    GRADER_FAULT_NOTE,
    UNCOUNTED,
    CheckResult,
    ExerciseResult,
    ExpectedAnswer,
    GradientVerdict,
    Report,
    SymbolicAnswer,
)

ICONS = {"passed": ("✓", "green"), "failed": ("✗", "red"), "error": ("!", "red"), "timeout": ("⏱", "yellow"),
         "grader_error": ("⚙", "magenta"), "skipped": ("–", "dim")}


@reporter("text", "the rich terminal report (default)")
def write_text(report: Report, stream: TextIO, options: ReportOptions) -> None:
    console = Console(file=stream, highlight=False, force_terminal=options.color, no_color=options.color is False,
                      width=options.width)
    render(report, console, verbose=options.verbose)


def render(report: Report, console: Console, *, verbose: bool = False) -> None:
    shown = report.result
    console.print(header(shown))
    for p in shown.problems:
        console.print(Text("⚠ " + p, style="yellow"))
    console.print(check_table(shown, verbose))
    same = _same_failures(shown.checks)
    for c in shown.checks:
        if not c.passed:
            if id(c) in same:
                console.print(failure_panel(c, verbose, report.audience == "instructor", also=same[id(c)]))
        elif verbose and (c.notes or c.output):
            console.print(notes_panel(c))
    console.print(total_line(shown))


def _same_failures(checks: list[CheckResult]) -> dict[int, list[str]]:
    """The failed checks that get a panel (by ``id``), each with the titles of the later checks that failed
    the very same way (an import that failed fails every check alike): one panel says it once."""
    first: dict[tuple, CheckResult] = {}
    out: dict[int, list[str]] = {}
    for c in checks:
        if c.passed:
            continue
        key = (c.status, c.message, c.details, c.advice, c.traceback, c.output) if not c.attachments else (id(c),)
        if key in first:
            out[id(first[key])].append(c.title)
        else:
            first[key] = c
            out[id(c)] = []
    return out


def seed_text(env: dict) -> str:
    """"3", or "4837291735 (official, for alice)": an official seed says so, and whose it is."""
    seed = str(env.get("seed", "?"))
    if env.get("seed_source") != "official":
        return seed
    student = env.get("student")
    return f"{seed} (official" + (f", for {student})" if student else ")")


def header(r: ExerciseResult) -> RenderableType:
    env = r.environment
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    rows = [("Exercise", f"{r.title} ({r.exercise})"), ("File", r.submission), ("Device", env.get("device", "?")),
            ("Dtype", env.get("dtype", "?")), ("Seed", seed_text(env)), ("torch", env.get("torch", "?"))]
    if env.get("isolation"):
        rows.append(("Isolation", env["isolation"]))
    for key, value in rows:
        grid.add_row(Text(key), Text(str(value)))
    return Panel(grid, title="grade", expand=False)


def check_table(r: ExerciseResult, verbose: bool) -> Table:
    t = Table(show_header=True, header_style="bold", expand=False)
    t.add_column("", width=2)
    t.add_column("Check")
    t.add_column("Points", justify="right")
    t.add_column("Time", justify="right")
    for c in r.checks:
        icon, style = ICONS.get(c.status, ("?", "white"))
        title = Text(c.title)
        if c.visibility == "hidden":
            title.append(" (hidden)", style="dim")
        if verbose:
            title.append(f" {c.id}", style="dim")
        points = "—" if c.status in UNCOUNTED else f"{_pts(c.score)}/{_pts(c.max_score)}"
        t.add_row(Text(icon, style=style), title, Text(points), Text(f"{c.duration:.2f} s"))
    return t


def failure_panel(c: CheckResult, verbose: bool, instructor: bool = False, also: list[str] | None = None) -> Panel:
    icon, style = ICONS.get(c.status, ("?", "white"))
    parts: list[RenderableType] = [Text(c.message, style="bold")]
    if c.status == "grader_error":
        parts.append(Text(GRADER_FAULT_NOTE, style="magenta"))
    if c.details and (c.status != "grader_error" or instructor):
        parts.append(Text(c.details))
    if c.advice:
        parts.append(Text("→ " + c.advice, style="yellow"))
    if c.traceback:
        parts.append(Text(c.traceback.rstrip(), style="dim"))
    for a in c.attachments:
        drawn = _attachment(a)
        if drawn is not None:
            parts.append(drawn)
    if c.output and verbose:
        parts.append(Text("Your code printed:\n" + c.output[:4000].rstrip(), style="dim"))
    if also:
        parts.append(Text(f"The same for {len(also)} more check{'s' if len(also) > 1 else ''}: " + "; ".join(also),
                          style="dim"))
    title = f"{icon} {c.title}" + (f" (and {len(also)} more)" if also else "")
    return Panel(Group(*parts), title=Text(title), title_align="left", border_style=style)


def _attachment(a: object) -> RenderableType | None:
    if isinstance(a, SymbolicAnswer) and a.answer:
        return Text("Your answer:\n" + a.answer)
    if isinstance(a, ExpectedAnswer) and a.answer:
        return Text("Expected (instructors only):\n" + a.answer, style="cyan")
    if isinstance(a, GradientVerdict) and a.verdict:
        from grader.report.gradient_map import render_error_maps

        return render_error_maps(a.verdict)
    return None


def notes_panel(c: CheckResult) -> Panel:
    lines = list(c.notes)
    if c.output:
        lines.append("Your code printed:\n" + c.output[:2000].rstrip())
    return Panel(Text("\n".join(lines), style="dim"), title=Text(f"✓ {c.title}"), title_align="left",
                 border_style="green")


def total_line(r: ExerciseResult) -> Text:
    style = "bold green" if r.full_marks else "bold red" if r.score == 0 else "bold yellow"
    passed = sum(c.passed for c in r.checks)
    text = Text(f"Score: {_pts(r.score)} / {_pts(r.max_score)}   ({passed} of {len(r.checks)} checks passed)",
                style=style)
    faults = r.grader_faults
    if faults:
        text.append(f"\nIncomplete: {len(faults)} check(s) failed because of the grader, not your code "
                    f"({_pts(sum(c.max_score for c in faults))} points not graded). Run it again.", style="magenta")
    skipped = [c for c in r.checks if c.status == "skipped"]
    if skipped:
        text.append(f"\n{len(skipped)} check(s) run only in official grading "
                    f"({_pts(sum(c.max_score for c in skipped))} points not graded here).", style="dim")
    return text


def _pts(x: float) -> str:
    return f"{x:g}"
