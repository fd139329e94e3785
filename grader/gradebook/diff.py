"""Compare two states of a class: who gained or lost points, on which check, and why.

A state is the gradebook as it was after a run (``RUN`` is a run id of ``--db``; negative counts from the
newest, ``-1`` being the latest run) or the latest state of another gradebook file. The typical use is
after changing a check: regrade everyone (``--regrade-all``), then diff the run before with the new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.text import Text

from grader.errors import GraderError
from grader.format import num
from grader.gradebook.store import CheckRow, Gradebook, Row


@dataclass(frozen=True)
class CheckChange:
    check_id: str
    before: CheckRow | None
    after: CheckRow | None

    @property
    def delta(self) -> float:
        return (self.after.score if self.after else 0.0) - (self.before.score if self.before else 0.0)

    @property
    def why(self) -> str:
        """The new state's reason: its named mistake or its message (or what it was, if the check is gone)."""
        row = self.after or self.before
        if row is None:
            return ""
        if self.after is None:
            return "check removed"
        if self.before is None:
            return "new check"
        if row.status == "passed":
            return "now passes"
        return f"mistake {row.mistake}: {row.message}" if row.mistake else row.message


@dataclass(frozen=True)
class EntryChange:
    student: str
    exercise: str
    before: Row | None
    after: Row | None
    checks: list[CheckChange] = field(default_factory=list)

    @property
    def delta(self) -> float:
        return (self.after.score if self.after else 0.0) - (self.before.score if self.before else 0.0)


def resolve_state(spec: str, db: Path | None) -> dict[tuple[str, str], tuple[Row, list[CheckRow]]]:
    """``spec`` as a state: a gradebook file's latest state, or run ``spec`` of ``db``."""
    path = Path(spec)
    if path.suffix == ".db" or (path.exists() and not spec.lstrip("-").isdigit()):
        if not path.is_file():
            raise GraderError(f"no gradebook {spec}")
        with Gradebook(path) as book:
            return {k: (r, book.checks(r.id)) for k, r in book.latest().items()}
    if not spec.lstrip("-").isdigit():
        raise GraderError(f"{spec!r} is neither a run number nor a gradebook file")
    if db is None or not db.is_file():
        raise GraderError(f"no gradebook {db} to take run {spec} from (use --db)")
    with Gradebook(db) as book:
        ids = [r.id for r in book.runs()]
        n = int(spec)
        if n < 0:
            if -n > len(ids):
                raise GraderError(f"run {spec}: the gradebook has only {len(ids)} runs")
            n = ids[n]
        elif n not in ids:
            raise GraderError(f"no run {n} in {db}: runs are {', '.join(map(str, ids)) or 'none'}")
        return {k: (r, book.checks(r.id)) for k, r in book.latest(upto_run=n).items()}


def diff_states(a: dict[tuple[str, str], tuple[Row, list[CheckRow]]],
                b: dict[tuple[str, str], tuple[Row, list[CheckRow]]]) -> list[EntryChange]:
    """The entries whose score or checks differ between ``a`` and ``b``, biggest change first."""
    changes = []
    for key in sorted(set(a) | set(b)):
        ra, ca = a.get(key, (None, []))
        rb, cb = b.get(key, (None, []))
        by_a = {c.check_id: c for c in ca}
        by_b = {c.check_id: c for c in cb}
        checks = [CheckChange(i, by_a.get(i), by_b.get(i)) for i in dict.fromkeys([*by_a, *by_b])
                  if _differs(by_a.get(i), by_b.get(i))]
        state_changed = (ra.state if ra else None) != (rb.state if rb else None)
        if checks or state_changed or (ra and rb and ra.score != rb.score):
            changes.append(EntryChange(key[0], key[1], ra, rb, checks))
    return sorted(changes, key=lambda c: (-abs(c.delta), c.exercise, c.student))


def _differs(x: CheckRow | None, y: CheckRow | None) -> bool:
    if x is None or y is None:
        return x is not y
    return (x.status, x.score, x.mistake) != (y.status, y.score, y.mistake)


def render_diff(changes: list[EntryChange], console: Console, label_a: str, label_b: str) -> None:
    if not changes:
        console.print(f"no differences between {label_a} and {label_b}")
        return
    gained = sum(1 for c in changes if c.delta > 0)
    lost = sum(1 for c in changes if c.delta < 0)
    console.print(Text(f"{label_a} → {label_b}: {len(changes)} entries changed, {gained} gained points, "
                       f"{lost} lost points", style="bold"))
    for c in changes:
        before = _score(c.before)
        after = _score(c.after)
        sign = "+" if c.delta > 0 else ""
        style = "green" if c.delta > 0 else "red" if c.delta < 0 else ""
        console.print(Text.assemble(f"{c.exercise} · {c.student}: {before} → {after} ",
                                    (f"({sign}{num(c.delta)})", style)))
        for ch in c.checks:
            was = f"{ch.before.status} {num(ch.before.score)}" if ch.before else "absent"
            now = f"{ch.after.status} {num(ch.after.score)}" if ch.after else "absent"
            console.print(Text(f"    {ch.check_id}: {was} → {now}: {ch.why}"))


def _score(row: Row | None) -> str:
    if row is None:
        return "absent"
    if row.state != "graded":
        return row.state.replace("_", " ")
    return f"{num(row.score)}/{num(row.max_score)}"
