"""Rendering the list of exercises and an exercise's statement."""

from __future__ import annotations

from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from grader.exercises import Exercise


def render_list(exercises: list[Exercise], console: Console) -> None:
    t = Table(title="Exercises", header_style="bold")
    t.add_column("Name", style="cyan")
    t.add_column("Title")
    t.add_column("Points", justify="right")
    t.add_column("Checks", justify="right")
    for ex in exercises:
        spec = ex.spec
        t.add_row(ex.name, spec.title + (f"\n[dim]{spec.summary}[/dim]" if spec.summary else ""),
                  f"{spec.max_score:g}", str(len(spec.checks)))
    console.print(t)
    console.print("[dim]grade show NAME[/dim] for a statement, [dim]grade init NAME[/dim] for a starter file, "
                  "[dim]grade NAME[/dim] to grade it.")


def render_statement(ex: Exercise, console: Console) -> None:
    console.print(Markdown(ex.statement))
    spec = ex.spec
    t = Table(title="Checks", header_style="bold")
    t.add_column("Check")
    t.add_column("Points", justify="right")
    for c in spec.checks:
        t.add_row(c.title + (" [dim](hidden)[/dim]" if c.visibility == "hidden" else ""), f"{c.points:g}")
    console.print(t)
    if spec.forbidden:
        console.print("[bold]Forbidden:[/bold] " + ", ".join(f.name for f in spec.forbidden))
