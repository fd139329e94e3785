"""The class report: one self-contained HTML page about a whole class's submissions.

``grade report --db grades.db OUT.html`` calls :func:`write_class_report`. The page needs no network: the
CSS is inline, the charts are inline SVG (:mod:`grader.report.class_charts`), and it has no script at all;
the lists of students open with ``<details>``. The figures come from :func:`grader.report.class_stats.class_stats`.

Every string that came from a submission (student names, messages, hints, reasons) is HTML-escaped here,
through :func:`_e`, even though the grader sanitised it already: a student may name a file
``<script>…``. The reports are meant for instructors (``Submission.report`` redacted for that audience).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from html import escape
from pathlib import Path

from grader import __version__
from grader.format import plural
from grader.report import class_charts as charts
from grader.report.class_stats import ClassStats, Incident, class_stats
from grader.submissions import Submission

STUDENTS_INLINE = 8  # longer lists of students fold into <details>
MESSAGE_CHARS = 400
MISTAKES_CHARTED = 12

SECTIONS = (
    ("scores", "Scores"),
    ("checks", "Pass rate per check"),
    ("mistakes", "Common mistakes"),
    ("errors", "Errors and timeouts"),
    ("faults", "Grader faults"),
    ("unreadable", "Unreadable entries"),
    ("time", "Time per submission"),
)


def write_class_report(submissions: Sequence[Submission], out: Path, *, title: str = "") -> None:
    """Write the class report for ``submissions`` (each student's latest entry per exercise) to ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_class_report(submissions, title=title), encoding="utf-8")


def render_class_report(submissions: Sequence[Submission], *, title: str = "",
                        now: datetime | None = None) -> str:
    """The page as a string (see :func:`write_class_report`)."""
    charts.require_matplotlib()
    stats = class_stats(submissions)
    title = title or "Class report"
    when = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        _header(stats, title, when, len(submissions)),
        _scores(stats), _checks(stats), _mistakes(stats), _errors(stats), _faults(stats),
        _unreadable(stats), _time(stats),
    ]
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n'
            + "\n".join(body) + "\n</main>\n</body>\n</html>\n")


# -- helpers ---------------------------------------------------------------------------------------------
def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _num(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "–"
    return f"{x:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{x:.0f}"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def _clip(text: str, limit: int = MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], *, cls: str = "") -> str:
    """A table from already-escaped cells (callers escape with :func:`_e`)."""
    th = "".join(f"<th>{h}</th>" for h in head)
    trs = "\n".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (f'<div class="scroll"><table class="{cls}">\n<thead><tr>{th}</tr></thead>\n<tbody>\n{trs}\n'
            "</tbody></table></div>")


def _section(anchor: str, heading: str, count: int | None, content: str, lead: str = "") -> str:
    badge = "" if count is None else f' <span class="count">{count}</span>'
    lead_html = f'<p class="lead">{lead}</p>' if lead else ""
    return (f'<section id="{anchor}">\n<h2><a href="#{anchor}">{heading}</a>{badge}</h2>\n{lead_html}\n'
            f"{content}\n</section>")


def _empty(text: str) -> str:
    return f'<p class="empty">{text}</p>'


def _students(names: Sequence[str]) -> str:
    shown = ", ".join(_e(n) for n in names)
    if len(names) <= STUDENTS_INLINE:
        return shown
    return f"<details><summary>{plural(len(names), 'student')}</summary>{shown}</details>"


def _count(n: int) -> str:
    return str(n) if n else '<span class="zero">0</span>'


def _status(status: str) -> str:
    return f'<span class="badge {_e(status)}">{_e(status.replace("_", " "))}</span>'


def _hidden(hidden: bool) -> str:
    return ' <span class="badge hidden">hidden</span>' if hidden else ""


def _details(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    return f"<details><summary>details</summary><pre>{_e(_clip(text, 4000))}</pre></details>"


# -- sections --------------------------------------------------------------------------------------------
def _header(stats: ClassStats, title: str, when: str, entries: int) -> str:
    graded = sum(e.graded for e in stats.exercises)
    full = sum(e.full_marks for e in stats.exercises)
    tiles = [
        (str(len(stats.students)), "students"),
        (str(len(stats.exercises)), "exercises"),
        (str(graded), "graded"),
        (str(full), "full marks"),
        (str(len({(i.student, i.exercise) for i in stats.errors})), "with errors"),
        (str(len({(i.student, i.exercise) for i in stats.faults})), "grader faults"),
        (str(len(stats.unreadable)), "unreadable"),
    ]
    tile_html = "".join(f'<div class="tile"><b>{v}</b><span>{k}</span></div>' for v, k in tiles)
    nav = " ".join(f'<a href="#{a}">{h}</a>' for a, h in SECTIONS)
    return (f'<header>\n<h1>{_e(title)}</h1>\n<p class="meta">Generated {when} by dl-grader {_e(__version__)} '
            f'from {plural(entries, "entry", "entries")}.</p>\n<div class="tiles">{tile_html}</div>\n'
            f"<nav>{nav}</nav>\n</header>")


def _scores(stats: ClassStats) -> str:
    if not stats.exercises:
        return _section("scores", "Scores", None, _empty("No submission."))
    cards = []
    for i, ex in enumerate(stats.exercises):
        numbers = (f"<dl><dt>graded</dt><dd>{ex.graded}</dd><dt>mean</dt><dd>{_num(ex.mean)}</dd>"
                   f"<dt>median</dt><dd>{_num(ex.median)}</dd>"
                   f"<dt>full marks</dt><dd>{ex.full_marks} ({_pct(ex.full_marks, ex.graded)})</dd>"
                   f"<dt>unreadable</dt><dd>{ex.unreadable}</dd><dt>grader faults</dt><dd>{ex.faults}</dd></dl>")
        chart = charts.score_histogram(ex, f"score{i}")
        out_of = _num(ex.max_score) if ex.max_score else "–"
        cards.append(f'<figure class="card" id="score-{_e(ex.exercise)}">\n<figcaption><b>{_e(ex.exercise)}</b>'
                     f' <span class="muted">out of {out_of}</span></figcaption>\n{chart}\n{numbers}\n</figure>')
    lead = ("Submissions graded completely. Unreadable entries and submissions the grader failed on are counted "
            "apart, never as zeros. The green bar is full marks.")
    return _section("scores", "Scores", None, f'<div class="cards">{"".join(cards)}</div>', lead)


def _checks(stats: ClassStats) -> str:
    parts = []
    for i, ex in enumerate(stats.exercises):
        checks = [c for c in stats.checks if c.exercise == ex.exercise]
        if not checks:
            continue
        top: dict[str, str] = {}
        for m in stats.mistakes:  # the most common named mistake of each check
            if m.exercise == ex.exercise:
                for cid in m.checks:
                    top.setdefault(cid, m.name)
        rows = [(f"<code>{_e(c.id)}</code>{_hidden(c.hidden)}", _e(c.title),
                 f'<span class="rate">{_pct(c.passed, c.attempted)}</span>',
                 *(_count(c.counts.get(s, 0)) for s in ("passed", "failed", "error", "timeout", "grader_error")),
                 _e(top.get(c.id, "")))
                for c in checks]
        table = _table(("check", "title", "pass rate", "passed", "failed", "error", "timeout", "grader fault",
                        "most common mistake"), rows, cls="num")
        parts.append(f'<h3 id="checks-{_e(ex.exercise)}">{_e(ex.exercise)}</h3>\n<figure class="wide">'
                     f"{charts.pass_rate_chart(checks, f'rate{i}', ex.exercise)}</figure>\n{table}")
    lead = ("Share of submissions that pass each check; grader faults count neither way. Hidden checks "
            "(hatched) show students only their title and points.")
    return _section("checks", "Pass rate per check", None, "\n".join(parts) or _empty("No check ran."), lead)


def _mistakes(stats: ClassStats) -> str:
    if not stats.mistakes:
        return _section("mistakes", "Common mistakes", 0, _empty("No named mistake."))
    graded = {e.exercise: e.graded for e in stats.exercises}
    rows = []
    for m in stats.mistakes:
        hint = _e(m.hint) + (' <span class="muted">(hidden check: not shown to students)</span>'
                             if m.hidden_only else "")
        share = _pct(m.count, graded.get(m.exercise, 0))
        rows.append((f'<b>{_e(m.name)}</b><br><code class="muted">{_e(m.id)}</code>', _e(m.exercise),
                     f'<span class="big">{m.count}</span><br><span class="muted">{share}</span>',
                     "".join(f"<code>{_e(c)}</code>" for c in m.checks),
                     f'<span class="hint">{hint}</span>', _students(m.students)))
    lead = ("Mistakes the grader named with confirming evidence, most common first; a student counts once per "
            "mistake however many checks show it (the share is of the exercise's graded submissions).")
    chart = charts.mistakes_chart(stats.mistakes[:MISTAKES_CHARTED], "mistakes")
    table = _table(("mistake", "exercise", "students", "checks", "hint students saw", "who"), rows, cls="mistakes")
    return _section("mistakes", "Common mistakes", len(stats.mistakes), f'<figure class="wide">{chart}</figure>\n'
                    f"{table}", lead)


def _incident_rows(items: Sequence[Incident], *, status: bool = True) -> list[tuple[str, ...]]:
    rows = []
    for i in items:
        where = f"<code>{_e(i.check)}</code>" if i.check else '<span class="muted">whole submission</span>'
        more = _details(i.details) if i.details.strip() != i.message.strip() else ""
        rows.append((_e(i.student), _e(i.exercise), where, *([_status(i.status)] if status else []),
                     _e(_clip(i.message)) + more))
    return rows


def _errors(stats: ClassStats) -> str:
    if not stats.errors:
        return _section("errors", "Errors and timeouts", 0, _empty("No check raised or ran out of time."))
    lead = "The student's code raised an exception or ran past its time limit in these checks."
    return _section("errors", "Errors and timeouts", len(stats.errors),
                    _table(("student", "exercise", "check", "status", "message"), _incident_rows(stats.errors)),
                    lead)


def _faults(stats: ClassStats) -> str:
    if not stats.faults:
        return _section("faults", "Grader faults", 0, _empty("None: the grader did not fail on any submission."))
    lead = ("The grader failed here, not the student: these points were neither given nor taken. Grade these "
            "submissions again (<code>--regrade</code>) once the cause is fixed.")
    return _section("faults", "Grader faults", len(stats.faults),
                    _table(("student", "exercise", "check", "what failed"), _incident_rows(stats.faults, status=False),
                           cls="faults"), lead)


def _unreadable(stats: ClassStats) -> str:
    if not stats.unreadable:
        return _section("unreadable", "Unreadable entries", 0, _empty("None."))
    rows = [(_e(s.student), _e(s.exercise), f"<code>{_e(s.path)}</code>" if s.path else "",
             _e(_clip(s.reason or "unreadable"))) for s in stats.unreadable]
    lead = "Entries of the submissions folder that could not be graded: nothing was run; fix the entry and run again."
    return _section("unreadable", "Unreadable entries", len(stats.unreadable),
                    _table(("student", "exercise", "path", "reason"), rows), lead)


def _time(stats: ClassStats) -> str:
    if not stats.timings:
        return _section("time", "Time per submission", None, _empty("No timing recorded."))
    secs = sorted(t.seconds for t in stats.timings)
    total = sum(secs)
    median = secs[len(secs) // 2] if len(secs) % 2 else (secs[len(secs) // 2 - 1] + secs[len(secs) // 2]) / 2
    lead = (f"{plural(len(secs), 'submission')} graded in {total:.1f} s of grading time in all; "
            f"median {median:.2f} s, slowest {secs[-1]:.2f} s.")
    rows = [(_e(t.student), _e(t.exercise), f"{t.seconds:.2f} s") for t in stats.slowest]
    slowest = f"<h3>Slowest submissions</h3>\n{_table(('student', 'exercise', 'time'), rows, cls='num compact')}"
    return _section("time", "Time per submission", None,
                    f'<figure class="wide">{charts.time_histogram(stats.timings, "time")}</figure>\n{slowest}', lead)


CSS = """
:root { --ink: #1f2933; --muted: #7b8794; --line: #e4e7eb; --bg: #f5f7fa; --blue: #2f6fde;
        --green: #2e9e5b; --amber: #b07d00; --red: #d64545; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 20px 64px; }
header { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 20px 24px; }
h1 { margin: 0 0 4px; font-size: 24px; }
h2 { font-size: 19px; margin: 0 0 8px; }
h2 a { color: inherit; text-decoration: none; }
h2 a:hover::after { content: " #"; color: var(--muted); }
h3 { font-size: 15px; margin: 20px 0 6px; }
.meta, .muted, .empty { color: var(--muted); }
.lead { margin: 0 0 12px; color: #52606d; }
.tiles { display: flex; flex-wrap: wrap; gap: 10px; margin: 14px 0; }
.tile { background: var(--bg); border-radius: 8px; padding: 8px 14px; min-width: 96px; }
.tile b { display: block; font-size: 22px; }
.tile span { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
nav { display: flex; flex-wrap: wrap; gap: 6px 16px; font-size: 13px; }
nav a, td a { color: var(--blue); text-decoration: none; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 18px 24px;
          margin-top: 18px; }
.count { display: inline-block; min-width: 24px; padding: 0 8px; margin-left: 6px; border-radius: 12px;
         background: var(--bg); color: #52606d; font-size: 13px; text-align: center; vertical-align: middle; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 14px; }
figure { margin: 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
figcaption { margin-bottom: 4px; }
svg.chart { display: block; width: 100%; height: auto; }
dl { display: grid; grid-template-columns: repeat(2, max-content 1fr); gap: 2px 10px; margin: 8px 0 0;
     font-size: 13px; }
dt { color: var(--muted); }
dd { margin: 0; font-weight: 600; white-space: nowrap; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 4px; font-size: 13px; }
th { text-align: left; font-weight: 600; color: #52606d; border-bottom: 2px solid var(--line);
     padding: 6px 8px; white-space: nowrap; }
td { border-bottom: 1px solid var(--line); padding: 5px 8px; vertical-align: top; }
td .zero { color: #c1c7cd; }
tbody tr:nth-child(even) { background: #fafbfc; }
tbody tr:hover { background: #f0f4fa; }
table.compact { width: auto; min-width: 50%; }
table.num td:nth-child(n+3):not(:last-child) { font-variant-numeric: tabular-nums; width: 1%; white-space: nowrap; }
table.mistakes td:nth-child(3) { text-align: center; white-space: nowrap; }
table.mistakes td:nth-child(6) { min-width: 150px; }
.big { font-size: 18px; font-weight: 700; }
table.mistakes td:nth-child(5) { min-width: 240px; }
table.mistakes td:nth-child(4) code { display: block; font-size: 11px; }
code { font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; }
pre { white-space: pre-wrap; word-break: break-word; background: var(--bg); padding: 8px; border-radius: 6px;
      font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; margin: 4px 0; }
details summary { cursor: pointer; color: var(--blue); }
.badge { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 11px; font-weight: 600;
         background: var(--bg); color: #52606d; white-space: nowrap; }
.badge.error { background: #fde8e8; color: var(--red); }
.badge.timeout { background: #fff4d6; color: var(--amber); }
.badge.grader_error { background: #e8eefc; color: var(--blue); }
.badge.hidden { background: #ece6f7; color: #6b3fa0; margin-left: 4px; }
.rate { font-weight: 600; }
@media print { body { background: #fff; } section, header { border: none; } }
"""
