"""Small rich renderables for a gradient check: a per-entry error map and a per-tensor table.

The reporter embeds them; they only read :mod:`grader.gradcheck.result` objects (or their dicts).
Each cell of the error map is one entry: ``·`` right, ``k`` on a kink (excluded), and for a wrong
entry a digit for how far outside the tolerance it is (``1``: up to 10×, ``2``: up to 100×, ...,
``9``: 10⁹× or more), in red.
"""

from __future__ import annotations

import math
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from grader.gradcheck.result import GradcheckResult, TensorVerdict

MAX_ROWS = 32
MAX_COLS = 48


def error_map(
    verdict: TensorVerdict | dict[str, Any], *, max_rows: int = MAX_ROWS, max_cols: int = MAX_COLS
) -> RenderableType | None:
    """The per-entry map of a small tensor, or None when it is unknown or too large."""
    v = verdict if isinstance(verdict, dict) else _verdict_dict(verdict)
    grid = v.get("error_map")
    if not grid or len(grid) > max_rows or len(grid[0]) > max_cols:
        return None
    kinks = {tuple(k) for k in (v.get("localisation") or {}).get("kinks", [])}
    one_d = len(v.get("shape", [])) < 2
    text = Text()
    for r, row in enumerate(grid):
        for c, ratio in enumerate(row):
            index = (c,) if one_d else (r, c)
            text.append(*_cell(ratio, index in kinks))
        if r + 1 < len(grid):
            text.append("\n")
    wrong = sum(1 for row in grid for x in row if x > 0)
    title = Text(f"{v.get('name', '')} {tuple(v.get('shape', []))}: {wrong} wrong", style="bold")
    legend = Text("· right   k kink   1-9: log10 of the error over the tolerance", style="dim")
    return Group(title, text, legend)


def render_error_maps(data: GradcheckResult | dict[str, Any], *, only_failed: bool = True) -> RenderableType | None:
    """The error maps of every (failing) small tensor of a result or of its ``to_dict()``, or None.

    This is what a reporter embeds under a check whose ``data["gradcheck"]`` holds the result.
    """
    d = data.to_dict() if isinstance(data, GradcheckResult) else data
    maps = []
    for t in d.get("tensors", []):
        if only_failed and t.get("status") == "passed":
            continue
        m = error_map(t)
        if m is not None:
            maps.append(m)
    return Group(*maps) if maps else None


def summary_table(result: GradcheckResult) -> Table:
    """One row per tensor: status, relative error, wrong entries, diagnosis."""
    table = Table(title=result.message, show_lines=False)
    for col in ("tensor", "status", "rel. error", "wrong entries", "diagnosis"):
        table.add_column(col)
    for t in result.tensors:
        style = "green" if t.passed else ("yellow" if t.status == "inconclusive" else "red")
        rel = "" if t.rel_error is None else f"{t.rel_error:.1e}"
        loc = t.localisation
        wrong = ""
        if loc is not None and loc.mismatched:
            wrong = f"{'' if loc.complete else '~'}{loc.mismatched}/{loc.total}"
            if loc.entries:
                wrong += f" e.g. {tuple(loc.entries[0].index)}"
        diag = t.diagnosis.hint if t.diagnosis is not None else ""
        table.add_row(t.name, Text(t.status, style=style), rel, wrong, diag)
    return table


def _cell(ratio: float, kink: bool) -> tuple[str, str]:
    if kink:
        return "k", "yellow"
    if ratio <= 0:
        return "·", "green"
    level = 9 if not math.isfinite(ratio) else min(9, max(1, int(math.log10(ratio)) + 1))
    return str(level), "bold red"


def _verdict_dict(t: TensorVerdict) -> dict[str, Any]:
    loc = t.localisation
    return {
        "name": t.name,
        "shape": t.shape,
        "error_map": t.error_map,
        "localisation": {"kinks": loc.kinks} if loc is not None else None,
    }
