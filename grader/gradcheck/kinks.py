"""One kink or several: what decides a claim outside an entry's one-sided derivatives.

Near a point ``x`` where ``f`` is piecewise smooth, each kink through ``x`` is a surface (a hyperplane, to first
order): a ReLU's pre-activation at zero for one sample, two tied arguments of a max. Along the axis of entry
``i`` every such surface is crossed at ``x`` itself, so the entry's probe sees one slope jump whatever their
number. With **one** kink, ``f`` has two pieces near ``x`` and their slopes along the axis are the one-sided
derivatives ``L`` and ``R``: a claim outside ``[L, R]`` (beyond its tolerance) is no derivative of ``f`` at
``x`` in any sense, and is wrong. With **several**, the pieces between the surfaces have other slopes along
the axis, and conventions (``ReLU'(0) = 0`` at one sample, the index ``max`` picks at a tie in another) can give
any of them: autograd's own gradient lies outside ``[L, R]`` at such points.

To tell them apart, ``f`` is read along lines parallel to the axis, offset from ``x`` by ``±a·z`` (``z`` a seeded
move of every entry of every tensor, ``a`` small). A kink surface with normal ``n`` crosses such a line at its
own place, ``b = ∓a·(n·z)/n_i``, so several surfaces show as several slope changes, with the slopes of the pieces
between them. A line is sampled at ``b = 0, ±B/64, ±B/16, ±B/4, ±B`` (``B``: the probe's smallest step, within
which it saw no other crossing); the segment holding the change is halved until the change sits at one point or
round-off stops the halving. A line shows *one* kink when its segments read ``L`` up to the change and ``R``
after it. A segment is read as ``L`` or ``R`` within a bound ``ε``: its round-off, the curvature measured by the
probe (its one-sided differences at its two smallest steps) times ``|b|``, and twice the shift that moving off the
axis causes in every piece's slope (the line's outer segments against the axis' own). A line whose outer segments
are not each inside one piece, or whose shift is not small against the jump, is read again 16× and 256× closer to
the axis, where crossings and shifts shrink with the offset; the bound is never widened to fit a line.

The verdict is *one* only when all four lines (two directions ``z``, each at ``+a`` and ``−a``) show one kink.
For two surfaces this is sound whatever their geometry: the ``+a`` line crosses them in one order and the ``−a``
line in the other, so both pieces between them are read (a surface whose crossing falls outside the window leaves
that piece at the window's end, where it must read as ``L`` or ``R``). Every piece read is then within ``ε`` of
``L`` or ``R``, so a claim outside ``[L − ε, R + ε]`` is none of their slopes. With three or more surfaces the
two directions read most pieces between them, not provably all; their slopes must still agree with one kink on
every line. A surface whose crossings coincide on every line of both random directions is the same surface.

Cost: 9 evaluations per line and one per halving (at most ``MAX_HALVINGS``), 4 on the axis: 60–110 for an entry
on one kink; the first line showing several kinks stops the count (9–60 evaluations).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from grader.gradcheck.fd import (
    Evaluator,
    FDSettings,
    Probe,
    entry_scale,
    evaluation_error,
    one_sided,
    one_sided_curvature,
    relative_direction,
)

Verdict = Literal["one", "several", "unknown"]

GRID = (1.0, 1 / 4, 1 / 16, 1 / 64)  # |b| / B of the points sampled on each side of a line
OFFSET = 1 / 16  # the offset's relative size, against the window's (see _offset_direction)
SHRINK = 16.0  # a line whose outer segments do not read L and R is read again this much closer to the axis
CLOSER = 3  # at most this many offsets per line: a, a/16, a/256
SHIFT_SHARE = 1 / 8  # the largest shift of the slopes accepted on a line, against the jump and cap
MAX_HALVINGS = 8
CURVATURE_SAFETY = 4.0  # on the curvature measured by the probe (fd.one_sided_curvature)
ROUNDOFF_SAFETY = 2.0


@dataclass(frozen=True)
class KinkCount:
    """How many kinks meet at an entry, and within what the pieces read agree with ``L`` or ``R``."""

    verdict: Verdict
    epsilon: float  # the largest bound within which a segment was read as L or R (x units)
    lines: int  # lines read (each 9 evaluations and one per halving; 4 more on the axis, once)


Label = Literal["L", "R", "T", "X", "?"]


def count_kinks(
    ev: Evaluator, settings: FDSettings, name: str, i: int, p: Probe, w: float, seed: int, cap: float
) -> KinkCount:
    """Count the kinks through the point along entry ``i`` of tensor ``name`` (flat), whose probe ``p`` (along the
    direction ``w`` at that entry) stopped on a kink on the point. ``cap``: the largest ``ε`` worth reading with (a
    finer segment whose bound exceeds it stops the halving, and the grid's own segments must stay below it)."""
    left, right = one_sided(p, ev.f0)
    lo, hi = (left / w, right / w) if w > 0 else (right / w, left / w)  # along +e_i (x units)
    window = p.samples[-1][0] * abs(w)
    curvature = CURVATURE_SAFETY * one_sided_curvature(p, ev.f0) / (w * w)
    if not (math.isfinite(curvature) and window > 0 and math.isfinite(lo) and math.isfinite(hi)):
        return KinkCount("unknown", math.inf, 0)
    line = _Line(ev, name, i, window, lo, hi, curvature, evaluation_error(ev, settings), cap)
    eps = 0.0
    lines = 0
    for k in (1, 2):
        z, a = _offset_direction(ev, name, i, seed, k, window)
        for sign in (1.0, -1.0):
            verdict, e = "closer", 0.0
            for closer in range(CLOSER):
                verdict, e = line.read(z, sign * a / SHRINK**closer)
                lines += 1
                if verdict != "closer":
                    break
            eps = max(eps, e)
            if verdict != "one":
                return KinkCount("several" if verdict == "several" else "unknown", eps, lines)
    return KinkCount("one", eps, lines)


def _offset_direction(
    ev: Evaluator, name: str, i: int, seed: int, k: int, window: float
) -> tuple[dict[str, torch.Tensor], float]:
    """``z``: a seeded relative move of every entry of every tensor (:func:`~grader.gradcheck.fd.relative_direction`,
    none on entry ``i`` itself), and the offset ``a`` at which the largest of those relative moves is ``OFFSET`` times
    the window's relative size ``window / scale_i``. (A kink's crossing then lands at about ``OFFSET·√m`` of the
    window for a surface whose normal spans ``m`` entries of similar weight; one spanning many more lands outside,
    and the line is read again closer.)"""
    z = relative_direction(ev.x, (seed * 1_000_003 + i * 7919 + k * 104_729 + 17) % (2**62))
    z[name] = z[name].clone()
    z[name].view(-1)[i] = 0.0
    scale_i = float(entry_scale(np.abs(ev.x[name].numpy().reshape(-1)))[i])
    return z, OFFSET * window / (2 * scale_i)


@dataclass
class _Line:
    """Reads ``f(x + a·z + b·e_i)`` along ``b`` (see the module docstring)."""

    ev: Evaluator
    name: str
    i: int
    window: float
    lo: float  # slope left of the kink (L)
    hi: float  # slope right of it (R)
    curvature: float  # bounds how fast a piece's slope moves along b (fd.one_sided_curvature)
    err: Callable[[float], float]
    cap: float
    axis: tuple[float, float] | None = None  # see _axis

    def _at(self, moved: dict[str, torch.Tensor], b: float) -> float:
        m = dict(moved)
        t = moved[self.name].clone()
        t.view(-1)[self.i] += b
        m[self.name] = t
        return self.ev.at("", m, 1.0)

    def _axis(self) -> tuple[float, float]:
        """The slopes of the axis itself over its outer segments ``[−B, −B/4]`` and ``[B/4, B]`` (4 evaluations,
        once): what a line's outer segments are compared with to measure how far moving off the axis shifted
        the pieces' slopes."""
        if self.axis is None:
            zero = {k: torch.zeros_like(v) for k, v in self.ev.x.items()}
            b = self.window
            f = [self._at(zero, q) for q in (-b, -b * GRID[1], b * GRID[1], b)]
            width = b * (1 - GRID[1])
            self.axis = ((f[1] - f[0]) / width, (f[3] - f[2]) / width)
        return self.axis

    def read(self, z: dict[str, torch.Tensor], a: float) -> tuple[str, float]:
        """``("one" | "several" | "closer" | "unknown", ε used)`` for the line at offset ``a·z``.

        Moving off the axis shifts every piece's slope by about the same amount (the cross-curvature of ``f``),
        measured on the line's outer segments against the axis' own. Those must each lie within one piece (an
        outer segment agrees with its neighbour, which no shift can fake) and the shift must be small against
        the jump and ``cap``: else a crossing falls in an outer segment or beyond the window, or the offset is too
        large, and the answer is ``"closer"``: the caller reads the line again nearer the axis, where crossings
        and shifts shrink with the offset. A shift that an intermediate piece beyond the window would make is
        bounded the same way, and twice the shift joins every segment's bound."""
        moved = {k: a * v for k, v in z.items()}
        bs = sorted({s * self.window * g for g in GRID for s in (1.0, -1.0)} | {0.0})
        vals = [self._at(moved, b) for b in bs]
        slopes = [(vals[k + 1] - vals[k]) / (bs[k + 1] - bs[k]) for k in range(len(bs) - 1)]
        for k, j in ((0, 1), (-1, -2)):  # an outer segment and its neighbour: one piece?
            tol = (ROUNDOFF_SAFETY * 2 * (self.err(vals[k]) + self.err(vals[j])) / abs(bs[j] - bs[k])
                   + self.curvature * self.window)  # (the outer segment reaches |b| = B)
            if abs(slopes[k] - slopes[j]) > tol:
                return "closer", 0.0
        al, ar = self._axis()
        shift = max(abs(slopes[0] - al), abs(slopes[-1] - ar))
        if shift > SHIFT_SHARE * min(abs(self.hi - self.lo), self.cap):
            return "closer", 0.0
        shift *= 2  # (joins every segment's bound)
        eps = 0.0
        labels: list[Label] = []
        for k in range(len(bs) - 1):
            lab, e = self._label(bs[k], bs[k + 1], vals[k], vals[k + 1], shift)
            if lab == "?":
                return "unknown", max(eps, e)
            eps = max(eps, e)
            labels.append(lab)
        if labels[0] != "L" or labels[-1] != "R":
            return "several", eps  # (each end is one piece, shifted little): a piece other than L's or R's
        changes = [k for k in range(len(labels)) if labels[k] == "T"]
        order = [x for x in labels if x != "T"]
        if "X" in labels or len(changes) > 1 or order != sorted(order):  # ("L" < "R"): every L before every R
            return "several", eps
        if not changes:
            return "one", eps  # the change sits on a sampled point
        k = changes[0]
        return self._halve(moved, bs[k], bs[k + 1], vals[k], vals[k + 1], shift, eps)

    def _halve(self, moved: dict[str, torch.Tensor], b0: float, b1: float, v0: float, v1: float, shift: float,
               eps: float) -> tuple[str, float]:
        """The segment ``[b0, b1]`` holds the change: halve it until one half reads ``L`` and the other ``R``, or
        until round-off stops the halving. Two halves that both change, or a slope that is neither ``L``, ``R`` nor
        between them, are several kinks."""
        for _ in range(MAX_HALVINGS):
            mid = 0.5 * (b0 + b1)
            vm = self._at(moved, mid)
            left, el = self._label(b0, mid, v0, vm, shift)
            right, er = self._label(mid, b1, vm, v1, shift)
            if "?" in (left, right):
                return "one", eps  # the halves are below what round-off lets this read: one change, as far as seen
            eps = max(eps, el, er)
            if (left, right) == ("L", "R"):
                return "one", eps
            if left == "L" and right == "T":
                b0, v0 = mid, vm
            elif left == "T" and right == "R":
                b1, v1 = mid, vm
            else:
                return "several", eps
        return "one", eps

    def _label(self, b0: float, b1: float, v0: float, v1: float, shift: float) -> tuple[Label, float]:
        """The slope of ``[b0, b1]`` read as ``L``, ``R``, between them (``T``), outside them (``X``), or ``?``
        (its bound exceeds ``cap``, or cannot tell ``L`` from ``R``); with its bound (``shift``: twice the line's
        measured shift, see :meth:`read`)."""
        width = b1 - b0
        s = (v1 - v0) / width
        e = (ROUNDOFF_SAFETY * (self.err(v0) + self.err(v1)) / width + self.curvature * max(abs(b0), abs(b1))
             + shift)
        if e > self.cap or abs(self.hi - self.lo) <= 2 * e:
            return "?", e
        if abs(s - self.lo) <= e:
            return "L", e
        if abs(s - self.hi) <= e:
            return "R", e
        if min(self.lo, self.hi) - e <= s <= max(self.lo, self.hi) + e:
            return "T", e
        return "X", e
