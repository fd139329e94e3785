"""Verification and localisation over blocks of entries: one search that both decides and locates.

A block ``S`` (a set of flat indices) is probed along ``w_S`` (the seeded direction restricted to
``S``), which measures ``<δ, w_S>``, the claim's error seen through the block. The limits of a probe
(:class:`grader.gradcheck.fd.Limits`) come from the per-entry tolerances ``τ_i`` of the block:

* *pass* needs ``|mismatch| + bound + noise ≤ 2·min_i τ_i|w_i|``: then no single entry of the block is
  off by more than ``2τ_i`` (it would show at least that much, minus the others' rounding ``noise``,
  which holds with probability ≥ 1 − 1e-6);
* *fail* needs ``|mismatch| − bound > 5.4·‖τ·w‖₂`` (a claim within its tolerance shows that with
  probability < 1e-6), or ``> τ_i|w_i|`` for a single entry;
* anything else (``gray``, ``kink``, ``unresolved``) splits the block in two: smaller blocks have a
  smaller noise and bound against the same per-entry limits, so the question resolves further down,
  at worst at single entries. A budget caps the search; what is left undecided is reported as such.

When localising the entries of a tensor already proved wrong, a doubtful block that shows no more than
a claim within tolerance could is not searched: it does not hold what made the tensor fail. Whether the
located entries explain the whole error is then checked by the caller (``engine._confirm``), which searches the
claim corrected at those entries again under the pass rule (``resolve(strict=True)``) on fresh directions.

Bisection: only the left half of a failing block is measured when the right half's mismatch can be
inferred (parent minus left: directional derivatives are linear in the direction) and shows it wrong.
Every entry reported wrong is confirmed by its own single-entry probe.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from grader import compare
from grader.format import fmt_index
from grader.gradcheck.fd import (
    EPS64,
    HOEFFDING_K,
    Evaluator,
    FDSettings,
    Limits,
    Probe,
    entry_scale,
    one_sided,
    probe,
)
from grader.gradcheck.kinks import count_kinks
from grader.gradcheck.result import EntryError, Localisation

_BAND_DECADES = 3.0  # entries within this many decades of each other share a block's step scale
_MIN_BAND = 0.05  # a band holding fewer entries than this fraction joins the next larger one


def magnitude_bands(a: np.ndarray) -> np.ndarray | None:
    """Entries of a tensor grouped by their magnitudes ``a = |x|`` (flat, float64): ``None`` for an ordinary
    tensor (one group), else each entry's band ``0…k−1`` (largest first) when it holds entries many decades
    apart (1e-4 and 1e4). Zeros and non-finite entries join the largest. (In numpy: a handful of operations
    on one small tensor cost less there than torch's dispatch.)"""
    n = a.size
    if n < 2:
        return None  # one entry (or none): one group
    top = float(a.max())
    finite = math.isfinite(top)
    if not finite:  # a non-finite entry: the largest finite one is the top
        fin = a[np.isfinite(a)]
        top = float(fin.max()) if fin.size else 0.0
    if not top > 0:
        return None
    below = int(np.count_nonzero(a * 10.0**_BAND_DECADES <= top))  # zeros included
    if below < _MIN_BAND * n:
        return None  # the usual case: the entries below the top band all join it
    zeros = int(np.count_nonzero(a == 0)) if not a.min() > 0 else 0
    if below - zeros < _MIN_BAND * n:
        return None
    if finite and not zeros:  # every entry in (0, top]
        d = np.divide(top, a)  # in place from here: fewer arrays (not //: 5× slower than floor(/))
        np.log10(d, out=d)
        d /= _BAND_DECADES
        band = d.astype(np.intp)  # truncation is floor here: d ≥ 0 (a ≤ top)
    else:
        ok = (a > 0) & (a <= top)  # finite and not zero; the others join band 0
        band = np.zeros(n, dtype=np.intp)
        band[ok] = np.floor(np.log10(top / a[ok]) / _BAND_DECADES).astype(np.intp)
    counts = np.bincount(band).tolist()
    lut, k = [0] * len(counts), -1
    for b, size in enumerate(counts):
        if b == 0 or size >= _MIN_BAND * n:
            k += 1  # a band of its own (an empty one is never looked up)
        lut[b] = k  # else too few to be worth their own probe: they join the larger band
    return band if lut == list(range(len(counts))) else np.asarray(lut)[band]


def magnitude_blocks(bands: np.ndarray | None, n: int) -> list[torch.Tensor]:
    """The flat indices of each band of :func:`magnitude_bands` (``n`` entries): the blocks a tensor's search
    starts from."""
    if bands is None:
        return [torch.arange(n)]
    return [torch.from_numpy(np.flatnonzero(bands == b)) for b in range(int(bands.max()) + 1)]


_ROOM_SPREAD = 16.0  # entries whose rooms τ_i·|w_i| differ by more than this start in separate blocks
_ROOM_BANDS = 3  # at most this many such blocks per magnitude band


def room_blocks(t: Target, blocks: list[torch.Tensor]) -> list[torch.Tensor]:
    """``blocks`` split by each entry's room ``τ_i·|w_i|`` (bands of a factor 16, at most 3): how an
    undecided block is split when its rooms are that far apart (else it is halved).

    A block passes only when its whole mismatch and noise fit in twice its *smallest* room; entries
    whose tolerance is far below their peers' even after the weight κ (a gradient of exactly 0 beside
    entries of 60, in float32: ``atol`` against ``rtol·60``) would otherwise keep every block holding
    them from passing, and the search would split them all the way down.
    """
    room = t.room()
    room_np = room.numpy()
    out: list[torch.Tensor] = []
    for idx in blocks:
        if idx.numel() < 2:
            out.append(idx)
            continue
        rn = room_np[idx.numpy()]
        low, top = float(rn.min()), float(rn.max())
        if not top > 0 or top < _ROOM_SPREAD * low:  # one band (the common case): nothing to split
            out.append(idx)
            continue
        r = room[idx]
        band = torch.floor(torch.log(top / r.clamp(min=top * 1e-300)) / math.log(_ROOM_SPREAD)).long()
        band = band.clamp(0, _ROOM_BANDS - 1)
        present = torch.bincount(band, minlength=_ROOM_BANDS).tolist()
        out.extend(idx[band == b] for b in range(_ROOM_BANDS) if present[b])
    return out


@dataclass
class Target:
    """One tensor under test: point, claim (float64), seeded direction, step scales and tolerances."""

    name: str
    x: torch.Tensor
    g: torch.Tensor
    v: torch.Tensor  # seeded ±U(1, 2) direction, unscaled
    scale: torch.Tensor  # per-entry step scale (see fd.entry_scale)
    tau: torch.Tensor  # per-entry tolerance atol + rtol·|g|
    rho: float  # relative rounding of the claim's dtype (its noise when the claim is right)
    ev: Evaluator
    settings: FDSettings
    seed: int = 0
    bands: np.ndarray | None = None  # magnitude_bands(|x|), computed once
    flat: tuple[torch.Tensor, ...] | None = None  # see _flat
    vs: np.ndarray | None = None  # see whole_direction (computed once)
    room_min: float | None = None  # see least_room (computed once)

    @property
    def n(self) -> int:
        return self.g.numel()

    @property
    def blocks(self) -> list[torch.Tensor]:
        """The flat indices of each magnitude band: where the tensor's own search starts."""
        return magnitude_blocks(self.bands, self.n)

    def direction(self, idx: torch.Tensor, fresh: int = 0) -> torch.Tensor:
        """``w`` on ``idx`` (zero elsewhere); ``fresh > 0`` draws other seeded signs and magnitudes."""
        if not fresh and idx.numel() == self.n:  # the whole tensor (idx is then arange(n)): no scatter
            return self.v * self.scale
        out = torch.zeros(self.n, dtype=torch.float64)
        if fresh:
            gen = torch.Generator().manual_seed((self.seed * 1_000_003 + fresh * 7919 + idx.numel()) % (2**62))
            u = torch.rand(idx.numel(), generator=gen, dtype=torch.float64) * 2 - 1
            vv = torch.sign(u) * (1.0 + u.abs())
        else:
            vv = self.v.reshape(-1)[idx]
        out[idx] = vv * self.scale.reshape(-1)[idx]
        return out.reshape(self.g.shape)

    def limits(self, w: torch.Tensor, g: torch.Tensor | None = None) -> Limits:
        wf = w.reshape(-1)
        sup = wf != 0
        tw = (self.tau.reshape(-1) * wf.abs())[sup]
        gw = ((self.g if g is None else g).reshape(-1) * wf)[sup]
        noise = HOEFFDING_K * self.rho * float(gw.norm())
        if tw.numel() == 1:
            return Limits(2 * float(tw[0]), float(tw[0]), noise)
        return Limits(2 * float(tw.min()), HOEFFDING_K * float(tw.norm()), noise)

    def xerr(self, w: torch.Tensor) -> float:
        return EPS64 * float((self.g.abs() * self.x.abs() * (w != 0)).sum())

    def _flat(self) -> tuple[torch.Tensor, ...]:
        """Flat views used by every block probe (built once): ``v·scale``, each entry's room ``|τ·scale|``
        (see :func:`room_blocks`), and the rows ``v·scale``, ``g·v·scale``, ``τ·|v·scale|``, ``|g·x|``
        stacked, so that a block gathers all four in one indexing."""
        if self.flat is None:
            vs = torch.from_numpy(self.whole_direction())
            tau, g = self.tau.reshape(-1), self.g.reshape(-1)
            rows = torch.stack([vs, g * vs, tau * vs.abs(), (self.g * self.x).abs().reshape(-1)])
            self.flat = (vs, (self.tau * self.scale).abs().reshape(-1), rows)
        return self.flat

    def whole_direction(self) -> np.ndarray:
        """``v·scale`` (flat, numpy): the direction of the whole tensor."""
        if self.vs is None:
            self.vs = self.v.numpy().reshape(-1) * self.scale.numpy().reshape(-1)  # (flat: 0-d too)
        return self.vs

    def least_room(self) -> float:
        """``min_i τ_i·|w_i|`` over the whole tensor's direction (half its pass limit)."""
        if self.room_min is None:
            self.room_min = float((self.tau.numpy().reshape(-1) * np.abs(self.whole_direction())).min())
        return self.room_min

    def pass_limit(self, idx: torch.Tensor) -> float:
        """``limits(direction(idx)).pass_limit`` (twice the block's smallest ``τ_i·|w_i|``), from the flat rows."""
        return 2 * float(self._flat()[2][2, idx].min())

    def room(self) -> torch.Tensor:
        """``|τ_i·scale_i|`` per entry, flat: what orders entries by room (``τ_i|w_i|`` up to ``|v_i|``)."""
        return self._flat()[1]

    def _block(self, idx: torch.Tensor) -> tuple[torch.Tensor, float, Limits, float]:
        """``direction(idx)``, the claim along it, ``limits`` and ``xerr``, computed on the block's entries
        only (the same values as those methods give, up to rounding: ``w`` is non-zero exactly on ``idx``)."""
        rows = self._flat()[2].numpy()  # (in numpy: a handful of operations on a few entries, where torch's
        at = idx.numpy()  # dispatch would cost more than the arithmetic)
        sel = rows[:, at]
        w = np.zeros(self.n)
        w[at] = sel[0]
        gw, tw = sel[1], sel[2]
        c, gx, tw_min = float(gw.sum()), float(sel[3].sum()), float(tw.min())
        noise = HOEFFDING_K * self.rho * math.sqrt(float(np.dot(gw, gw)))
        tw_norm = math.sqrt(float(np.dot(tw, tw)))
        if idx.numel() == 1:
            lim = Limits(2 * tw_min, tw_min, noise)
        else:
            lim = Limits(2 * tw_min, HOEFFDING_K * tw_norm, noise)
        return torch.from_numpy(w).reshape(self.g.shape), c, lim, EPS64 * gx

    def probe(
        self, idx: torch.Tensor, *, min_steps: int = 1, fresh: int = 0, quick: bool = False, below: float = 0.0
    ) -> Probe:
        """A probe of the block ``idx`` (see :func:`grader.gradcheck.fd.probe`); ``below``: a first step other
        than the settings' (below a crossing seen near the point)."""
        if fresh or idx.numel() == self.n:
            w = self.direction(idx, fresh)
            c, lim, xerr = float((self.g * w).sum()), self.limits(w), self.xerr(w)
        else:
            w, c, lim, xerr = self._block(idx)
        if quick:  # localising: the only question is whether the block holds an error a right claim cannot show
            lim = Limits(lim.fail_limit, lim.fail_limit, 0.0)
        settings = dataclasses.replace(self.settings, step=below) if below else self.settings
        return probe(self.ev, self.name, w, c, lim, xerr, settings, min_steps=min_steps,
                     quick=quick, kink_patience=5, split_hopeless=not fresh and idx.numel() >= _HOPELESS_MIN,
                     entry=idx.numel() == 1)


# Blocks this large that could not pass for their claim's own rounding are split without a probe (see fd.probe):
# a smaller block's probe is cheap, and it tells whether the block is on a kink, which orders the search below it
_HOPELESS_MIN = 64

JOINT_SPREAD = 64.0  # a tensor's part of a joint direction is shrunk by at most this factor
_JOINT_REFINEMENTS = 2  # step pairs a joint probe may try before the tensors are probed one by one


def joint_probe(targets: list[Target]) -> Probe | None:
    """One probe along every tensor at once: 4 evaluations for a whole correct model.

    The joint direction is each tensor's seeded direction ``w_T``, shrunk by
    ``c_T = max(m/m_T, 1/64)`` (``m_T = min_i τ_i|w_i|`` over the tensor, ``m`` the smallest of them),
    so that no tensor dominates the sum while the smallest per-entry room ``m`` is unchanged. The
    probe passes under the same rule as any block (``|mismatch| + bound + noise ≤ 2·min_i τ_i|w_i|``
    over the union of the entries, the noise bounded entry by entry with each claim's own rounding),
    so the guarantee holds for every entry of every tensor. It never fails a claim: anything but a
    pass (a kink, a large mismatch, a bound too wide) sends every tensor to its own probes, after at
    most two step pairs. ``None`` when there is one tensor of one magnitude band (the joint probe would be
    the tensor's own); a lone tensor of several bands, which its own search probes band by band, is probed
    whole first.
    """
    if not targets or (len(targets) == 1 and targets[0].bands is None):
        return None
    # in numpy: a few operations per tensor, where torch's dispatch would cost more than the arithmetic
    ws = {t.name: t.whole_direction() for t in targets}
    mins = {t.name: t.least_room() for t in targets}
    m = min(mins.values())
    if not m > 0:
        return None
    claim = gx = noise2 = 0.0
    room = math.inf
    for t in targets:
        shrink = max(m / mins[t.name], 1 / JOINT_SPREAD)
        w = ws[t.name] = ws[t.name] * shrink
        g = t.g.numpy().reshape(-1)
        gw = g * w
        claim += float(gw.sum())
        gx += float(np.dot(np.abs(g), np.abs(t.x.numpy().reshape(-1))))  # Σ|g·x| (w ≠ 0 everywhere)
        noise2 += (t.rho * math.sqrt(float(np.dot(gw, gw)))) ** 2
        room = min(room, shrink * mins[t.name])  # = min τ·|w| (a positive factor keeps the minimum)
    xerr = EPS64 * gx
    lim = Limits(2 * room, math.inf, HOEFFDING_K * math.sqrt(noise2))
    settings = _joint_settings(targets[0].settings)
    w_joint = {t.name: torch.from_numpy(ws[t.name].reshape(t.x.shape)) for t in targets}
    return probe(targets[0].ev, "", w_joint, claim, lim, xerr, settings, kink_patience=1,
                 split_hopeless=sum(t.n for t in targets) >= _HOPELESS_MIN)


@functools.lru_cache(maxsize=16)
def _joint_settings(settings: FDSettings) -> FDSettings:
    return dataclasses.replace(settings, max_refinements=_JOINT_REFINEMENTS)


@dataclass
class Node:
    idx: torch.Tensor  # flat indices
    probe: Probe | None = None
    inferred: bool = False  # the probe was inferred from the parent minus the left half
    kink_single: bool = False  # a single entry split off a small block on a kink (see _KINK_SINGLES)
    dense: bool = False  # its parent and its parent's left half were both on a kink (see _KINK_SINGLES)
    start: float = 0.0  # the first step of its probe (0: the settings'), see _start


@dataclass
class Resolution:
    """What the search learnt about one tensor."""

    failed: bool = False  # some block (or entry) is proved wrong
    top: Probe | None = None  # the first failing probe
    wrong: dict[int, float] = field(default_factory=dict)  # flat index -> true value (FD)
    kinks: list[int] = field(default_factory=list)  # entries on a kink, claim between one-sided derivatives
    kink_wrong: list[int] = field(default_factory=list)  # entries on one kink, claim outside its one-sided derivatives
    kink_outside: list[int] = field(default_factory=list)  # entries on a kink, claim outside them: undecided
    failing: list[Node] = field(default_factory=list)  # failing blocks not searched further
    undecided: list[Node] = field(default_factory=list)  # blocks (or entries) nothing could decide
    probes: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.failing and not self.undecided

    @property
    def undecided_entries(self) -> int:
        return sum(nd.idx.numel() for nd in self.undecided)


def resolve(
    t: Target, nodes: list[Node], *, localise: bool, max_probes: int, max_blocks: int = 64, region: int = 0,
    strict: bool = False,
) -> Resolution:
    """Decide every block of ``nodes``: pass, fail (searched down to single entries when ``localise``).

    A search (``localise``) asks of each block only whether it holds an error a right claim could not show (the
    fail rule), and does not search a block that shows less; with ``strict`` it holds every block to the pass
    rule instead, as deciding does, so that every entry off by more than ``2τ`` is found, not only those that
    made the tensor fail (see ``engine._confirm``).

    The search stops when its frontier holds more than ``max_blocks`` blocks (an error spread over the tensor is
    not searched entry by entry), unless, when localising, those blocks hold ``region`` entries or fewer in all:
    an error confined to a small region (a wrong row) is searched to single entries however many blocks that
    takes, within ``max_probes``."""
    res = Resolution()
    search = localise and not strict  # held to the fail rule only
    frontier = list(nodes)
    while frontier:
        nxt: list[Node] = []
        for k, node in enumerate(frontier):
            if res.probes >= max_probes:
                _leave(res, frontier[k:])
                return res
            quick = search and node.idx.numel() > 1
            p = node.probe if node.probe is not None else _count(res, t.probe(node.idx, quick=quick, below=node.start))
            if p.status == "pass":
                continue
            if p.status == "fail":
                res.failed = True
                res.top = res.top or (None if node.inferred else p)
            if search and p.status in ("gray", "unresolved") and abs(p.mismatch) + p.bound <= p.tolerance:
                continue  # the tensor is known wrong; this block does not hold what made it fail
            if node.idx.numel() == 1:  # decided on the probe just made (an inferred one is confirmed there)
                _classify_leaf(t, res, node if node.probe is not None else Node(node.idx, p))
            elif p.status == "fail" and not localise:
                res.failing.append(Node(node.idx, p, node.inferred))
            else:
                nxt.extend(_split(t, res, dataclasses.replace(node, probe=p), quick=search))
        if sum(not nd.kink_single for nd in nxt) > max_blocks and not (
                localise and sum(nd.idx.numel() for nd in nxt) <= region):
            _leave(res, nxt)
            return res
        frontier = nxt
    return res


def _count(res: Resolution, p: Probe) -> Probe:
    res.probes += 1
    return p


def _leave(res: Resolution, nodes: list[Node]) -> None:
    for nd in nodes:
        if nd.probe is not None and nd.probe.status == "fail":
            res.failed = True
            res.failing.append(nd)
        else:
            res.undecided.append(nd)


# A block this small on a kink, in a region where kinks are dense (its parent and the parent's left half were both
# on one), is split into single entries at once, each probed as any leaf is: one ReLU or max tie moves a whole row,
# and halving would first probe every half of it. Where kinks are sparse, halving stays cheaper. This only chooses
# what to probe. Such single entries do not count against ``max_blocks`` (the breadth of the search): each is one
# probe, within ``max_probes``
_KINK_SINGLES = 8


def _split(t: Target, res: Resolution, node: Node, *, quick: bool) -> list[Node]:
    if node.dense and node.probe is not None and node.probe.status == "kink" and node.idx.numel() <= _KINK_SINGLES:
        start = _start(t, node)
        return [Node(node.idx[i : i + 1], kink_single=True, start=start) for i in range(node.idx.numel())]
    if node.probe is None or node.probe.status != "fail":
        bands = room_blocks(t, [node.idx])
        if len(bands) > 1:  # undecided and the rooms far apart: separate them first (see room_blocks)
            return [_band(t, node, idx) for idx in bands]
    mid = node.idx.numel() // 2
    idx = node.idx
    q = node.probe
    if q is not None and (q.status in ("gray", "unresolved") or (q.status == "kink" and not q.persistent_kink)):
        # undecided for precision: halve by room (the smaller rooms together), so that the half holding the
        # smallest rooms also holds the smallest claims (a smaller rounding allowance, a smaller estimate to
        # resolve) and the other half has a larger smallest room. A block on a kink keeps index order: the
        # entries one kink moves (a row, a channel) are usually neighbours, and scattering them would put
        # the kink in more blocks.
        idx = idx[torch.argsort(t.room()[idx], stable=True)]
    elif q is not None and q.status == "fail":
        # A failed block is halved in index order, whatever order its ancestors' halving left it in (room order,
        # when they were undecided for precision): the wrong entries of a row or a channel are neighbours, so they
        # stay in few blocks (its right half's mismatch is still inferred below: any two halves sum to the block).
        idx = torch.sort(idx).values
    li, ri = idx[:mid], idx[mid:]
    start = _start(t, node)
    lp = _count(res, t.probe(li, quick=quick and li.numel() > 1 and parent_failed(node), below=start))
    dense = node.probe is not None and node.probe.status == "kink" and lp.status == "kink"
    left = Node(li, lp, dense=dense, start=start)
    right = Node(ri, dense=dense, start=start)
    parent = node.probe
    if parent is not None and parent.status == "fail" and lp.status in ("pass", "fail", "gray"):
        m = parent.mismatch - lp.mismatch
        b = parent.bound + lp.bound
        w = t.direction(ri)
        lim = t.limits(w)
        if abs(m) - b > lim.fail_limit:
            c = float((t.g * w).sum())
            right = Node(ri, Probe("fail", c, c - m, b, lim.fail_limit, parent.step, 0), inferred=True)
    elif parent is not None and parent.status == "kink" and parent.persistent_kink and ri.numel() > 1 and (
            lp.status in ("pass", "fail", "gray")):
        # The parent is on a kink and its left half is smooth there: the right half holds the kink (for f
        # piecewise smooth, the slopes of its pieces along w_L + w_R differ exactly as they do along w_R
        # when they agree along w_L), so it is split without a probe of its own. This only chooses what to
        # probe: a right half that was smooth after all is split needlessly, never decided.
        kink = Probe("kink", 0.0, 0.0, math.inf, 0.0, parent.step, 0, note="inferred", on_point=parent.on_point)
        right = Node(ri, kink, inferred=True, start=start)
    return [left, right]


def _start(t: Target, parent: Node) -> float:
    """The first step of the probes below ``parent`` (0: the settings'). A block on a kink at every step it tried,
    down to ``h`` (a crossing near the point, not on it), has the search below it start at ``_START_ABOVE·h``
    (never above the settings' step): the crossings that kinked it at the larger steps would most likely kink
    its halves there too, and each step pair spent finding that again costs two evaluations. Further down,
    blocks start where their parent did, unless a kink at every step moves the start lower again.

    This only chooses where probes start. A probe that starts lower is an ordinary probe with a smaller first
    step: it measures its own truncation and round-off, steps up when round-off dominates (to at most
    ``_MAX_STEP_UP`` times its first step), follows its own kinks down, and decides by the same limits."""
    q = parent.probe
    if q is not None and q.status == "kink" and q.persistent_kink and not q.on_point:
        return min(t.settings.step, q.step * _START_ABOVE)
    return parent.start


_START_ABOVE = 16.0


_NEARLY_ALL = 0.9  # a room band holding this much of its block is probed about as the block was


def _band(t: Target, node: Node, idx: torch.Tensor) -> Node:
    """A room band of ``node``, a block left undecided. A band holding nearly all of the block, whose pass limit
    is still below the block's measured bound less its round-off part, would be undecided the same way (its
    truncation is about the block's): it is marked undecided (inferred) and halved without a probe of its own.
    This only chooses what to probe."""
    q = node.probe
    start = _start(t, node)
    if q is None or q.status not in ("gray", "unresolved") or idx.numel() < _NEARLY_ALL * node.idx.numel():
        return Node(idx, start=start)
    pass_limit = t.pass_limit(idx)
    if not (q.bound if q.measured_noise else q.bound - q.roundoff) > pass_limit:  # (a measured noise may shrink it)
        return Node(idx, start=start)
    return Node(idx, Probe("unresolved", 0.0, 0.0, q.bound, q.tolerance, q.step, 0, note="inferred"), inferred=True,
                start=start)


def parent_failed(node: Node) -> bool:
    return node.probe is not None and node.probe.status == "fail"


def _classify_leaf(t: Target, res: Resolution, node: Node) -> None:
    """A single entry: wrong (with its FD value), on a kink (claim checked against the one-sided
    derivatives), right, or undecided. An inferred verdict is confirmed by the entry's own probe."""
    i = int(node.idx[0])
    p = node.probe
    if p is None or node.inferred:
        p = _count(res, t.probe(node.idx))
    w = float(t._flat()[0][i])  # direction(node.idx) at its one entry
    gi = float(t.g.reshape(-1)[i])
    if p.status == "kink" and not p.on_point and p.step > 0:
        # a crossing near the point, not on it (smooth at the smallest steps, or the central differences moved
        # with the step). Decided again from the smallest step down, where f is smooth or nearly so, and held to
        # its tolerance there; if that cannot decide, the claim is compared with the one-sided derivatives below
        q = _count(res, t.probe(node.idx, below=p.step))
        p = q if q.status in ("pass", "fail") else p
    if p.status == "pass":
        return
    if p.status == "fail":
        res.failed = True
        res.top = res.top or p
        res.wrong[i] = gi - p.mismatch / w
    elif p.status == "kink" and any(fp == fm == t.ev.f0 for _, fp, fm in p.samples[-2:]):
        res.undecided.append(Node(node.idx, p))  # f did not move at the smallest steps: nothing to compare
    elif p.status == "kink":
        left, right = one_sided(p, t.ev.f0)
        lo, hi = sorted((left / w, right / w))
        bound = p.bound if math.isfinite(p.bound) else 0.0
        slack = float(t.tau.reshape(-1)[i]) + bound / abs(w) + 1e-6 * max(abs(lo), abs(hi))
        out = max(lo - gi, gi - hi, 0.0)
        near = p.persistent_kink and not p.on_point  # kinked at every step, but the kink is not on the point
        if near and min(abs(gi - lo), abs(gi - hi)) > slack:
            # Next to a kink the derivative is the slope of the piece the point lies on: one of the one-sided
            # derivatives, not a value between them. Never a pass; undecided, said plainly
            res.undecided.append(Node(node.idx, p))
            res.notes.append(
                f"{t.name}{fmt_index(unravel(i, t.g.shape))} is next to a kink, not on it, that finite differences "
                f"could not get past; the claim {gi:.6g} is neither one-sided derivative ({lo:.6g}, {hi:.6g})"
            )
        elif out <= slack:
            res.kinks.append(i)
        else:
            _outside_kink(t, res, node, p, w, gi, lo, hi, out, slack)
    else:
        res.undecided.append(Node(node.idx, p))


def _outside_kink(t: Target, res: Resolution, node: Node, p: Probe, w: float, gi: float, lo: float, hi: float,
                  out: float, slack: float) -> None:
    """A claim outside the one-sided derivatives ``[lo, hi]`` of an entry on a kink, by ``out > slack``. With one
    kink through the point that is wrong; conventions at several kinks meeting there (ReLU'(0) = 0 at one sample,
    max's pick at a tie in another) can land outside, which one axis cannot tell. Lines beside the axis count them
    (:func:`grader.gradcheck.kinks.count_kinks`): one kink, and the claim is outside ``[lo, hi]`` by more than its
    slack plus the bound within which the pieces were read, is a failure; anything else is undecided, said
    plainly (never a pass). ``w``: the entry's direction, ``gi`` its claim."""
    i = int(node.idx[0])
    where = f"{t.name}{fmt_index(unravel(i, t.g.shape))}"
    seen = f"the claim {gi:.6g} lies outside the one-sided derivatives [{lo:.6g}, {hi:.6g}]"
    count = None
    if p.on_point and len(p.samples) >= 2:
        count = count_kinks(t.ev, t.settings, t.name, i, p, w, t.seed, 0.5 * (out - slack))
        res.probes += count.lines
    if count is not None and count.verdict == "one" and out > slack + count.epsilon:
        res.failed = True
        res.wrong[i] = lo if gi < lo else hi
        res.kink_wrong.append(i)
        res.notes.append(f"{where} is on a kink, and only one kink meets there (read on {count.lines} lines beside "
                         f"the entry's axis); {seen}: wrong")
        return
    res.undecided.append(Node(node.idx, p))
    res.kink_outside.append(i)
    several = count is not None and count.verdict == "several"
    res.notes.append(f"{where} is on a kink; {seen}: " + (
        "lines beside the entry's axis show several kinks meeting there, where conventions can give such a claim"
        if several else "wrong, unless several kinks meet at this entry"))


def entries(t: Target, wrong: dict[int, float], max_report: int = 10) -> list[EntryError]:
    out = []
    for i, true in wrong.items():
        gi = float(t.g.reshape(-1)[i])
        err = abs(gi - true)
        out.append(EntryError(unravel(i, t.g.shape), gi, true, "finite_differences", err, err / max(abs(true), 1e-300)))
    out.sort(key=lambda e: -e.abs_error)
    return out[:max_report]


def localisation(t: Target, res: Resolution, method: str, evaluations: int) -> Localisation:
    """The record of a search. The count is exact when the search is complete, else a lower bound
    (each failing block holds at least one wrong entry); it never exceeds the tensor's size."""
    count = len(res.wrong) + len(res.failing)
    note = "; ".join(res.notes)
    if not res.complete:
        extra = "at least " if res.failing else ""
        note = "; ".join(filter(None, [note, f"{extra}{count} wrong: the search stopped before every entry was "
                                             "decided"]))
    return Localisation(
        method=method,
        complete=res.complete,
        mismatched=min(count, t.n),
        total=t.n,
        entries=entries(t, res.wrong),
        kinks=[unravel(i, t.g.shape) for i in sorted(res.kinks)],
        evaluations=evaluations,
        note=note,
    )


def unravel(flat: int, shape: torch.Size) -> list[int]:
    """The index of entry ``flat`` as a list (the JSON form of :class:`EntryError`)."""
    return list(compare.unravel(flat, shape))


__all__ = [
    "joint_probe", "room_blocks", "Target", "Node", "Resolution", "resolve", "magnitude_blocks", "magnitude_bands",
    "entry_scale", "localisation",
    "unravel",
]
