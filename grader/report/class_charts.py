"""The class report's charts: matplotlib figures rendered to inline SVG.

Why SVG from matplotlib: the page must open with no network (no JavaScript library, no web font), and a
vector chart stays sharp when printed or zoomed. Text is drawn as paths, so a chart looks the same in every
browser whatever fonts it has. Figures are built with :class:`matplotlib.figure.Figure` directly, never
through ``pyplot``, so making a report changes no global state (no backend switch, no open figures).

Several SVGs share one HTML document, and matplotlib names their parts ``patch_1``, ``DejaVuSans-14`` and so
on in every chart: :func:`inline_svg` prefixes every id, and every reference to one, with the chart's own
name, so the ids are unique on the page. Labels come from exercise specs (check ids, exercise names), never
from submissions.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from grader.errors import GraderError
from grader.report.class_stats import CheckStats, ExerciseSummary, MistakeStats, Timing

# One palette for the page and its charts (the CSS in class_html uses the same colours).
INK = "#1f2933"
MUTED = "#7b8794"
GRID = "#e4e7eb"
BLUE = "#2f6fde"
GREEN = "#2e9e5b"
AMBER = "#e0a100"
RED = "#d64545"
SERIES = ("#2f6fde", "#e07b39", "#2e9e5b", "#8e59c9", "#d64545", "#1fa2a8", "#b8860b", "#5f6b7a")

RC: Any = {  # matplotlib types its keys as Literals: Any keeps this one table simple
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "text.parse_math": False,  # a label is text, never mathtext
    "svg.fonttype": "path",
    "svg.hashsalt": "dl-grader",  # deterministic ids: the same data gives the same page
    "axes.edgecolor": MUTED,
    "axes.labelcolor": INK,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlecolor": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
NO_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}

_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(url\(#|href="#)([^")]+)')
_SIZE = re.compile(r'<svg([^>]*?)\swidth="([0-9.]+)pt"\sheight="[^"]*"')


def inline_svg(svg: str, name: str, label: str) -> str:
    """``svg`` (matplotlib's output) as an element to put in HTML: no XML prolog or doctype, ids prefixed
    with ``name``, as wide as its box up to its natural width (the viewBox keeps the aspect), and labelled for
    screen readers."""
    svg = svg[svg.index("<svg"):]
    svg = _ID.sub(lambda m: f'id="{name}-{m.group(1)}"', svg)
    svg = _REF.sub(lambda m: f"{m.group(1)}{name}-{m.group(2)}", svg)
    # CSS sizes the chart: at most its natural width (1pt = 4/3 px, so text reads at its point size)
    svg = _SIZE.sub(lambda m: f'<svg{m.group(1)} style="max-width: {float(m.group(2)) * 4 / 3:.0f}px"', svg, count=1)
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.S)  # matplotlib's comments repeat every label
    from html import escape

    return svg.replace("<svg", f'<svg class="chart" role="img" aria-label="{escape(label)}"', 1).strip()


def require_matplotlib() -> None:
    """Fail early and clearly where matplotlib is missing: it is an optional dependency (the ``instructor``
    extra), and a student installing the grader never needs it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise GraderError("the class report draws its charts with matplotlib, which is not installed: "
                          "pip install 'dl-grader[instructor]'") from e


def _render(fig: Any, name: str, label: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", pad_inches=0.08, metadata=NO_METADATA)
    return inline_svg(buf.getvalue(), name, label)


@contextmanager
def _axes(width: float, height: float, *, grid_axis: Literal["x", "y"] = "y") -> Iterator[tuple[Any, Any]]:
    """A figure with one styled axes, under the report's style (which must still hold at save time)."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width, height), layout="constrained")
        ax = fig.add_subplot()
        ax.grid(axis=grid_axis, color=GRID, linewidth=0.8)
        ax.set_axisbelow(True)
        ax.tick_params(length=3)
        yield fig, ax


def _bars(ax: Any, labels: Sequence[str], values: Sequence[float], colors: Sequence[str],
          texts: Sequence[str]) -> list[Any]:
    """Horizontal bars, the first at the top, each with its text just past its end."""
    ys = list(range(len(values)))[::-1]
    bars = list(ax.barh(ys, values, color=colors, height=0.66))
    for y, v, t in zip(ys, values, texts, strict=True):
        ax.text(v, y, "  " + t, va="center", fontsize=7.5, color=INK)
    ax.set_yticks(ys, labels)
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    return bars


def _tall(n: int) -> float:
    return 0.7 + 0.21 * max(n, 1)


def score_histogram(summary: ExerciseSummary, name: str) -> str:
    """The scores of one exercise, one bar per point when the scale is small, else 20 bins."""
    with _axes(3.4, 2.1) as (fig, ax):
        top = max(summary.max_score, max(summary.scores, default=0.0), 1.0)
        per_point = top <= 30 and float(top).is_integer()
        edges = [x - 0.5 for x in range(int(top) + 2)] if per_point else [top * i / 20 for i in range(21)]
        if summary.scores:
            _, _, bars = ax.hist(summary.scores, bins=edges, color=BLUE, edgecolor="white", linewidth=0.6)
            if per_point:  # the last bar is exactly full marks
                list(bars)[-1].set_facecolor(GREEN)
        else:
            ax.text(0.5, 0.5, "no graded submission", transform=ax.transAxes, ha="center", color=MUTED)
        ax.set_xlim(edges[0], edges[-1])
        ax.set_xlabel(f"score (of {top:g})")
        ax.set_ylabel("submissions")
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.xaxis.get_major_locator().set_params(integer=True)
        return _render(fig, name, f"Score distribution of {summary.exercise}")


def pass_rate_chart(checks: Sequence[CheckStats], name: str, exercise: str) -> str:
    """One horizontal bar per check (in the exercise's order), coloured by pass rate; hidden checks hatched."""
    with _axes(7.6, _tall(len(checks)), grid_axis="x") as (fig, ax):
        rates = [(c.pass_rate or 0.0) * 100 for c in checks]
        bars = _bars(ax, [c.id + ("  (hidden)" if c.hidden else "") for c in checks], rates,
                     [GREEN if r >= 80 else AMBER if r >= 50 else RED for r in rates],
                     ["no attempt" if c.pass_rate is None else f"{r:.0f}%  ({c.passed}/{c.attempted})"
                      for r, c in zip(rates, checks, strict=True)])
        for bar, c in zip(bars, checks, strict=True):
            if c.hidden:
                bar.set_hatch("////")
                bar.set_edgecolor("white")
        ax.set_xlim(0, 122)
        ax.set_xticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"])
        ax.set_xlabel("submissions that pass")
        return _render(fig, name, f"Pass rate per check of {exercise}")


def mistakes_chart(mistakes: Sequence[MistakeStats], name: str) -> str:
    """The most common named mistakes (already ordered), one bar per mistake: how many students made it,
    coloured by exercise."""
    with _axes(7.6, _tall(len(mistakes)), grid_axis="x") as (fig, ax):
        exercises = sorted({m.exercise for m in mistakes})
        colour = {e: SERIES[i % len(SERIES)] for i, e in enumerate(exercises)}
        _bars(ax, [_short(f"{m.exercise}: {m.name}") for m in mistakes], [m.count for m in mistakes],
              [colour[m.exercise] for m in mistakes], [str(m.count) for m in mistakes])
        ax.set_xlabel("students")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlim(0, max((m.count for m in mistakes), default=1) * 1.12 + 0.5)
        if len(exercises) > 1:
            from matplotlib.patches import Patch

            ax.legend(handles=[Patch(color=colour[e], label=e) for e in exercises], frameon=False, fontsize=8,
                      loc="lower right")
        return _render(fig, name, "Most common named mistakes")


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def time_histogram(timings: Sequence[Timing], name: str) -> str:
    """Seconds spent grading each submission, stacked by exercise (log-spaced bins when they span >10×)."""
    with _axes(7.6, 2.4) as (fig, ax):
        secs = [t.seconds for t in timings if t.seconds > 0]
        if not secs:
            ax.text(0.5, 0.5, "no timing recorded", transform=ax.transAxes, ha="center", color=MUTED)
            return _render(fig, name, "Time per submission")
        lo, hi = min(secs), max(secs)
        log = hi > 10 * lo
        if log:
            a, b = math.log10(lo), math.log10(hi)
            edges = [10 ** (a + (b - a) * i / 24) for i in range(25)]
            edges[0], edges[-1] = lo * 0.98, hi * 1.02
            ax.set_xscale("log")
        else:
            pad = max((hi - lo) * 0.02, 1e-3)
            edges = [lo - pad + (hi - lo + 2 * pad) * i / 24 for i in range(25)]
        exercises = sorted({t.exercise for t in timings})
        data = [[t.seconds for t in timings if t.exercise == e and t.seconds > 0] for e in exercises]
        ax.hist(data, bins=edges, stacked=True, label=exercises, color=[SERIES[i % len(SERIES)]
                                                                         for i in range(len(exercises))],
                edgecolor="white", linewidth=0.4)
        if log:  # plain tick labels (mathtext is off, and "10^0" reads worse than "1 s" anyway)
            from matplotlib.ticker import NullFormatter

            ticks = [m * 10.0 ** k for k in range(math.floor(a) - 1, math.ceil(b) + 1) for m in (1, 2, 5)]
            shown = [t for t in ticks if edges[0] <= t <= edges[-1]]
            ax.set_xticks(shown, [f"{t:g}" for t in shown])
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("seconds per submission" + (" (log scale)" if log else ""))
        ax.set_ylabel("submissions")
        ax.yaxis.get_major_locator().set_params(integer=True)
        if len(exercises) > 1:
            ax.legend(frameon=False, fontsize=8)
        return _render(fig, name, "Time per submission")
