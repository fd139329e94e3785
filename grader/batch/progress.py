"""What a batch shows while it runs: a rich progress bar with counts and an ETA, and one live line per
slot (the submission it is grading, and for how long). When the output is not a terminal nothing is
shown while it runs; the final summary (:func:`render_summary`) is all that is written.
"""

from __future__ import annotations

import time

from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from grader.batch.batch import BatchSummary
from grader.batch.task import GradeTask
from grader.format import plural


class LiveProgress:
    """The terminal display of :func:`grader.batch.batch.run_batch` (its ``Progress`` protocol)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bar = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), TextColumn("ETA"),
                            TimeRemainingColumn(), console=console)
        self.slots: dict[int, tuple[GradeTask, float] | None] = {}
        self.summary = BatchSummary()
        self.live: Live | None = None
        self.task_id: TaskID | None = None

    def _counts(self) -> str:
        s = self.summary
        return (f"{s.graded} graded · {s.full_marks} full marks · {plural(s.errors, 'error')} · "
                f"{plural(s.grader_faults, 'grader fault')}")

    def _slot_lines(self) -> Table:
        table = Table.grid(padding=(0, 1))
        now = time.monotonic()
        for slot in sorted(self.slots):
            running = self.slots[slot]
            if running is None:
                table.add_row(Text(f"slot {slot + 1}", style="dim"), Text("idle", style="dim"))
            else:
                task, since = running
                table.add_row(Text(f"slot {slot + 1}", style="dim"),
                              Text(f"{task.exercise} · {task.student} ({now - since:.0f} s)"))
        return table

    def _render(self) -> Group:
        return Group(self.bar, self._slot_lines())

    def start(self, total: int, slots: int, summary: BatchSummary) -> None:
        self.summary = summary
        self.slots = dict.fromkeys(range(slots))
        self.task_id = self.bar.add_task("grading", total=total, counts=self._counts())
        self.live = Live(get_renderable=self._render, console=self.console, refresh_per_second=4, transient=True)
        self.live.start()

    def started(self, slot: int, task: GradeTask) -> None:
        self.slots[slot] = (task, time.monotonic())

    def done(self, slot: int, task: GradeTask, state: str) -> None:
        self.slots[slot] = None
        if self.task_id is not None:
            self.bar.update(self.task_id, advance=1, counts=self._counts())
            if self.bar.finished:  # the display ends now, not after the workers have shut down
                self.close()

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def render_summary(summary: BatchSummary, console: Console, db: str) -> None:
    """The final summary: what was graded this run, what was already committed, and every entry that
    could not be graded with its reason (never left out)."""
    s = summary
    console.print(Text.assemble(
        ("batch: ", "bold"), f"{plural(s.entries, 'entry', 'entries')} · {s.graded} graded ({s.full_marks} full "
        f"marks, {s.errors} with errors) · {plural(s.grader_faults, 'grader fault')} · {len(s.unreadable)} unreadable"
        f" · {s.up_to_date} already graded · {s.duration:.1f} s"), soft_wrap=True)
    for note in s.notes:
        console.print(Text(f"  note: {note}", style="yellow"), soft_wrap=True)
    for exercise, student, reason in s.unreadable:
        console.print(Text.assemble(("  unreadable ", "yellow"), f"{exercise} · {student}: {reason}"), soft_wrap=True)
    for exercise, student, why in s.faults:
        console.print(Text.assemble(("  grader fault ", "red"), f"{exercise} · {student}: {why} "
                                    "(not charged to the student; the next run grades it again)"), soft_wrap=True)
    console.print(Text(f"gradebook: {db} (run {s.run_id})", style="dim"), soft_wrap=True)
