"""Which entries of a failing gradient are wrong: group testing over blocks of entries.

A directional derivative restricted to a block ``S`` measures ``<δ, v_S>``, the error ``δ`` of the
claim seen through the block. Bisection keeps only the halves whose measure is off, so one wrong
entry among ``n`` is found with about ``log2(n)`` probes. Only the left half is measured: the right
half's mismatch is the parent's minus the left's (directional derivatives are linear in the
direction), which halves the cost. When errors are dense (too many failing blocks) the search stops
and a random sample of single entries estimates how many are wrong. Tiny tensors are checked entry
by entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from grader.gradcheck.fd import EPS64, Evaluator, FDSettings, Probe, claim_tolerance, one_sided, probe
from grader.gradcheck.result import EntryError, Localisation

_DEEP_BLOCKS = 4  # blocks searched entry by entry to extrapolate a count when errors are many
_RECHECK_SIZE = 1024  # a passing block this large is probed along a second direction


@dataclass
class Target:
    """One tensor under test: point, claim (float64), seeded direction and claim tolerance."""

    name: str
    x: torch.Tensor
    g: torch.Tensor
    v: torch.Tensor
    rtol: float
    atol: float
    h0: float
    ev: Evaluator
    settings: FDSettings
    seed: int = 0

    def restricted(self, lo: int, hi: int) -> torch.Tensor:
        out = torch.zeros_like(self.v)
        out.view(-1)[lo:hi] = self.v.reshape(-1)[lo:hi]
        return out

    def fresh(self, lo: int, hi: int) -> torch.Tensor:
        """Another seeded ``±U(1, 2)`` direction on entries ``lo:hi``, independent of ``v``."""
        gen = torch.Generator().manual_seed((self.seed * 1_000_003 + lo * 7919 + hi) % (2**62))
        u = torch.rand(hi - lo, generator=gen, dtype=torch.float64) * 2 - 1
        out = torch.zeros_like(self.v)
        out.view(-1)[lo:hi] = torch.sign(u) * (1.0 + u.abs())
        return out

    def claim(self, v: torch.Tensor) -> float:
        return float((self.g * v).sum())

    def tolerance(self, v: torch.Tensor) -> float:
        """How far ``<g, v>`` may be off when every entry of g is within (rtol, atol) of the truth."""
        return claim_tolerance(self.g, v, self.rtol, self.atol)

    def xerr(self, v: torch.Tensor) -> float:
        return EPS64 * float((self.g.abs() * self.x.abs() * (v != 0)).sum())

    def probe(self, v: torch.Tensor, *, min_steps: int = 1, claim: torch.Tensor | None = None) -> Probe:
        g = self.g if claim is None else claim
        c = float((g * v).sum())
        return probe(
            self.ev, self.name, v, c, self.tolerance(v), self.xerr(v), self.h0, self.settings, min_steps=min_steps
        )


@dataclass
class _Node:
    lo: int
    hi: int
    mismatch: float | None  # <claim − truth, v_S>, None when unknown (a kink in the block)
    bound: float  # error bound of ``mismatch``
    probe: Probe | None = None  # the probe that measured it, if any


@dataclass
class Found:
    """What localisation learnt: the localisation record, and per located entry its true value."""

    localisation: Localisation
    true_values: dict[int, float] = field(default_factory=dict)  # flat index -> estimate

    @property
    def complete(self) -> bool:
        return self.localisation.complete


def locate(
    t: Target,
    top: Probe,
    *,
    per_entry_limit: int = 16,
    max_blocks: int = 64,
    sample_entries: int = 24,
    max_report: int = 10,
    seed: int = 0,
) -> Found:
    """Locate the wrong entries of ``t`` given its failing (or kinked) whole-tensor probe ``top``."""
    start = t.ev.count
    n = t.g.numel()
    if n <= per_entry_limit:
        leaves = [_Node(i, i + 1, None, 0.0) for i in range(n)]
        frontier: list[_Node] = []
        method = "per_entry"
    else:
        root = _Node(0, n, top.mismatch if top.status == "fail" else None, top.bound, top)
        leaves, frontier = _bisect(t, root, max_blocks)
        method = "bisection"
    wrong, kinks, notes = _classify_leaves(t, leaves)
    count = len(wrong)
    if frontier:
        method, extra_count, note = _estimate(t, frontier, wrong, kinks, max_blocks, sample_entries, seed)
        count += extra_count
        notes.append(note)
    loc = Localisation(
        method=method,
        complete=not frontier,
        mismatched=int(count),
        total=n,
        entries=_report(t, wrong, max_report),
        kinks=[_unravel(i, t.g.shape) for i in sorted(kinks)],
        evaluations=t.ev.count - start,
        note="; ".join(notes),
    )
    return Found(loc, wrong)


def _bisect(t: Target, root: _Node, max_blocks: int) -> tuple[list[_Node], list[_Node]]:
    """Halve failing blocks down to single entries. Returns (leaves, blocks left when dense)."""
    frontier, leaves = [root], []
    while frontier:
        nxt: list[_Node] = []
        for node in frontier:
            if node.hi - node.lo == 1:
                leaves.append(node)
                continue
            nxt.extend(_split(t, node))
        if len(nxt) > max_blocks:
            return leaves, nxt
        frontier = nxt
    return leaves, []


def _split(t: Target, node: _Node) -> list[_Node]:
    """The halves of ``node`` that are (or may be) wrong."""
    mid = (node.lo + node.hi) // 2
    left = _measure(t, node.lo, mid)
    out = [left] if _suspect(t, left) else []
    right = _infer(t, node, left, mid)
    if right is None:
        right = _measure(t, mid, node.hi)
    if _suspect(t, right):
        out.append(right)
    return out


def _measure(t: Target, lo: int, hi: int) -> _Node:
    p = t.probe(t.restricted(lo, hi))
    if p.status == "kink":
        return _Node(lo, hi, None, math.inf, p)
    if p.status == "pass" and hi - lo >= _RECHECK_SIZE:
        # several errors in a large block can cancel through one direction: look again with fresh signs
        q = t.probe(t.fresh(lo, hi))
        if q.status != "pass":
            return _Node(lo, hi, None, math.inf, None)  # wrong (or kinked), in other units: measure inside
    bound = p.bound if p.status == "fail" else p.bound + p.tolerance
    return _Node(lo, hi, p.mismatch, bound, p)


def _infer(t: Target, parent: _Node, left: _Node, mid: int) -> _Node | None:
    """The right half from the parent minus the left, when that shows it wrong; else None (measure it).

    Only a failure is inferred: the bounds add up down the tree, so a small difference proves little.
    """
    if parent.mismatch is None or left.mismatch is None:
        return None
    m = parent.mismatch - left.mismatch
    b = parent.bound + left.bound
    tol = t.tolerance(t.restricted(mid, parent.hi))
    return _Node(mid, parent.hi, m, b) if abs(m) > tol + 2 * b else None


def _suspect(t: Target, node: _Node) -> bool:
    if node.mismatch is None:
        return True  # a kink: look inside
    if node.probe is not None:
        return node.probe.status == "fail"
    tol = t.tolerance(t.restricted(node.lo, node.hi))
    return abs(node.mismatch) > tol + node.bound


def _classify_leaves(t: Target, leaves: list[_Node]) -> tuple[dict[int, float], set[int], list[str]]:
    """Single entries: wrong (with the true value), on a kink (excluded), or right."""
    wrong: dict[int, float] = {}
    kinks: set[int] = set()
    notes: list[str] = []
    for leaf in leaves:
        i = leaf.lo
        vi = float(t.v.reshape(-1)[i])
        gi = float(t.g.reshape(-1)[i])
        # an inferred leaf is confirmed by its own probe: kinks elsewhere in a block can fool inference
        p = leaf.probe if leaf.probe is not None else t.probe(t.restricted(i, i + 1))
        if p.status == "fail":
            wrong[i] = gi - p.mismatch / vi
        elif p.status == "kink":
            kinks.add(i)
            inside, (lo, hi) = _subgradient(t, p, gi, vi)
            if not inside:  # several kinks at once: a convention such as ReLU'(0) = 0 can land outside
                notes.append(
                    f"{t.name}{_unravel(i, t.g.shape)} is on a kink; the claim {gi:.6g} is outside the one-sided "
                    f"derivatives [{lo:.6g}, {hi:.6g}], which conventions at several kinks at once allow"
                )
    return wrong, kinks, notes


def _subgradient(t: Target, p: Probe, gi: float, vi: float) -> tuple[bool, tuple[float, float]]:
    """Whether the claim lies between the left and right derivatives of the entry, and those.

    An entry on a kink is never failed: the derivative there is a convention (ReLU'(0) = 0, the index
    ``max`` picks on a tie), and conventions combined across several kinks need not give a value
    between the one-sided derivatives. The caller excludes it with a note.
    """
    left, right = one_sided(p, t.ev.f0)
    lo, hi = sorted((left / vi, right / vi))
    slack = (p.tolerance + abs(p.bound)) / abs(vi) if math.isfinite(p.bound) else 0.0
    slack += 1e-6 * max(abs(lo), abs(hi))
    return lo - slack <= gi <= hi + slack, (lo, hi)


def _estimate(
    t: Target,
    frontier: list[_Node],
    wrong: dict[int, float],
    kinks: set[int],
    max_blocks: int,
    sample_entries: int,
    seed: int,
) -> tuple[str, int, str]:
    """Too many wrong blocks to follow them all: locate every wrong entry in a few of them, chosen at
    random, and extrapolate (a block whose probe failed holds at least one wrong entry); when even
    that is too much the errors are dense and a sample of single entries gives their fraction."""
    gen = torch.Generator().manual_seed(seed + 104_729)
    order = torch.randperm(len(frontier), generator=gen).tolist()
    counts = []
    for k in order[:_DEEP_BLOCKS]:
        leaves, rest = _bisect(t, frontier[k], max_blocks)
        if rest:
            break
        w, kk, _ = _classify_leaves(t, leaves)
        wrong.update(w)
        kinks.update(kk)
        counts.append(len(w))
    # a block whose probe failed (not a kink) holds at least one wrong entry
    sure = sum(1 for k, nd in enumerate(frontier) if nd.mismatch is not None and k not in order[: len(counts)])
    if len(counts) == min(_DEEP_BLOCKS, len(frontier)):
        unsearched = len(frontier) - len(counts)
        est = sum(counts) + max(sure, round(sum(counts) / len(counts) * unsearched))
        return (
            "extrapolated",
            est,
            (
                f"{len(frontier)} blocks may hold wrong entries; {len(counts)} of them were searched entry by "
                "entry and the count is extrapolated to the others"
            ),
        )
    fraction, extra = _sample(t, frontier, sample_entries, seed)
    wrong.update(extra)
    est = max(sure, len(extra), round(fraction * sum(nd.hi - nd.lo for nd in frontier)))
    return "sampled", est, f"errors are dense: the count is estimated from {sample_entries} sampled entries"


def _sample(t: Target, blocks: list[_Node], k: int, seed: int) -> tuple[float, dict[int, float]]:
    """Check ``k`` random single entries of the undecided blocks; the fraction wrong and those found."""
    pool = torch.cat([torch.arange(b.lo, b.hi) for b in blocks])
    gen = torch.Generator().manual_seed(seed + 7919)
    pick = pool[torch.randperm(pool.numel(), generator=gen)[:k]]
    wrong: dict[int, float] = {}
    checked = 0
    for i in pick.tolist():
        p = t.probe(t.restricted(i, i + 1))
        if p.status == "kink":
            continue
        checked += 1
        if p.status == "fail":
            wrong[i] = float(t.g.reshape(-1)[i]) - p.mismatch / float(t.v.reshape(-1)[i])
    return (len(wrong) / checked if checked else 1.0), wrong


def _report(t: Target, wrong: dict[int, float], max_report: int) -> list[EntryError]:
    entries = []
    for i, true in wrong.items():
        gi = float(t.g.reshape(-1)[i])
        err = abs(gi - true)
        entries.append(
            EntryError(_unravel(i, t.g.shape), gi, true, "finite_differences", err, err / max(abs(true), 1e-300))
        )
    entries.sort(key=lambda e: -e.abs_error)
    return entries[:max_report]


def _unravel(flat: int, shape: torch.Size) -> list[int]:
    idx = []
    for size in reversed(shape):
        idx.append(flat % size)
        flat //= size
    return list(reversed(idx))
