"""The rich terminal report: header, table of checks, a panel per failure, the total."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from grader.report.redact import for_students
from grader.results import CheckResult, ExerciseResult

ICONS = {"passed": ("✓", "green"), "failed": ("✗", "red"), "error": ("!", "red"), "timeout": ("⏱", "yellow")}


def render_result(result: ExerciseResult, console: Console, *, verbose: bool = False,
                  show_hidden: bool = False) -> None:
    shown = result if show_hidden else for_students(result)
    console.print(header(shown))
    for p in shown.problems:
        console.print(Text("⚠ " + p, style="yellow"))
    console.print(check_table(shown, verbose))
    for c in shown.checks:
        if not c.passed:
            console.print(failure_panel(c, verbose))
        elif verbose and (c.data.get("notes") or c.output):
            console.print(notes_panel(c))
    console.print(total_line(shown))


def header(r: ExerciseResult) -> RenderableType:
    env = r.environment
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Exercise", f"{r.title} ({r.exercise})")
    grid.add_row("File", r.submission)
    grid.add_row("Device", str(env.get("device", "?")))
    grid.add_row("Dtype", str(env.get("dtype", "?")))
    grid.add_row("Seed", str(env.get("seed", "?")))
    grid.add_row("torch", str(env.get("torch", "?")))
    return Panel(grid, title="grade", expand=False)


def check_table(r: ExerciseResult, verbose: bool) -> Table:
    t = Table(show_header=True, header_style="bold", expand=False)
    t.add_column("", width=2)
    t.add_column("Check")
    t.add_column("Points", justify="right")
    t.add_column("Time", justify="right")
    for c in r.checks:
        icon, style = ICONS.get(c.status, ("?", "white"))
        title = c.title + (" [dim](hidden)[/dim]" if c.visibility == "hidden" else "")
        if verbose:
            title += f" [dim]{c.id}[/dim]"
        t.add_row(Text(icon, style=style), title, f"{_pts(c.score)}/{_pts(c.max_score)}", f"{c.duration:.2f} s")
    return t


def failure_panel(c: CheckResult, verbose: bool) -> Panel:
    icon, style = ICONS.get(c.status, ("?", "white"))
    parts: list[RenderableType] = [Text(c.message, style="bold")]
    if c.details:
        parts.append(Text(c.details))
    if c.diagnosis:
        parts.append(Text("→ " + c.diagnosis, style="yellow"))
    if c.traceback:
        parts.append(Text(c.traceback.rstrip(), style="dim"))
    if c.data.get("student_expr"):
        parts.append(Text("Your answer:\n" + str(c.data["student_expr"])))
    if c.data.get("expected_expr"):
        parts.append(Text("Expected (instructors only):\n" + str(c.data["expected_expr"]), style="cyan"))
    extra = _gradcheck_map(c)
    if extra is not None:
        parts.append(extra)
    if c.output and verbose:
        parts.append(Text("Your code printed:\n" + c.output[:4000].rstrip(), style="dim"))
    return Panel(Group(*parts), title=f"{icon} {c.title}", title_align="left", border_style=style)


def notes_panel(c: CheckResult) -> Panel:
    lines = list(c.data.get("notes", []))
    if c.output:
        lines.append("Your code printed:\n" + c.output[:2000].rstrip())
    return Panel(Text("\n".join(lines), style="dim"), title=f"✓ {c.title}", title_align="left",
                 border_style="green")


def _gradcheck_map(c: CheckResult) -> RenderableType | None:
    data = c.data.get("gradcheck")
    if not data:
        return None
    try:
        from grader.gradcheck.render import render_error_maps
    except ImportError:
        return None
    return render_error_maps(data)


def total_line(r: ExerciseResult) -> Text:
    style = "bold green" if r.full_marks else "bold red" if r.score == 0 else "bold yellow"
    passed = sum(c.passed for c in r.checks)
    return Text(f"Score: {_pts(r.score)} / {_pts(r.max_score)}   ({passed} of {len(r.checks)} checks passed)",
                style=style)


def _pts(x: float) -> str:
    return f"{x:g}"
