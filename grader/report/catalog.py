"""Rendering the list of exercises and an exercise's statement.

Titles and statements come from exercise folders that may not be ours: they are escaped, not read
as rich markup."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.errors import GraderError
from grader.exercises import Exercise


def render_list(exercises: list[Exercise], console: Console) -> list[str]:
    """Print the table; return the errors of the exercises whose spec is broken (each also has a row)."""
    errors: list[str] = []
    t = Table(title="Exercises", header_style="bold")
    t.add_column("Name", style="cyan")
    t.add_column("Title")
    t.add_column("Points", justify="right")
    t.add_column("Checks", justify="right")
    t.add_column("From")
    for ex in exercises:
        try:
            spec = ex.spec
        except GraderError as e:
            errors.append(str(e))
            t.add_row(escape(ex.name), "[red]broken: see below[/red]", "", "", escape(ex.where))
            continue
        title = escape(spec.title) + (f"\n[dim]{escape(spec.summary)}[/dim]" if spec.summary else "")
        t.add_row(escape(ex.name), title, f"{spec.max_score:g}", str(len(spec.checks)), escape(ex.where))
    console.print(t)
    for ex in exercises:
        for hidden in ex.shadows:
            console.print(f"[dim]{escape(ex.name)} from {escape(hidden.where)} is hidden by the one from "
                          f"{escape(ex.where)} (the first on the search path wins).[/dim]")
    console.print("[dim]grade show NAME[/dim] for a statement, [dim]grade init NAME[/dim] for a starter file, "
                  "[dim]grade NAME[/dim] to grade it.")
    return errors


def render_statement(ex: Exercise, console: Console) -> None:
    from rich.markdown import Markdown  # markdown-it: a tenth of a second that `grade list` need not pay

    console.print(Markdown(ex.statement))
    spec = ex.spec
    t = Table(title="Checks", header_style="bold")
    t.add_column("Check")
    t.add_column("Points", justify="right")
    for c in spec.checks:
        t.add_row(escape(c.title) + (" [dim](hidden)[/dim]" if c.visibility == "hidden" else ""), f"{c.points:g}")
    console.print(t)
    if spec.forbidden:
        console.print("[bold]Forbidden:[/bold] " + escape(", ".join(f.name for f in spec.forbidden)))
