"""The gradient check: which tensor is wrong, which entries, what kind of mistake, or "unresolved".

Cost model. All tensors are first probed together along one joint direction
(:func:`grader.gradcheck.locate.joint_probe`): 4 evaluations of ``f`` (two step sizes) decide a correct
model, whatever its size. When that probe cannot decide, each tensor is probed along one seeded
direction per block of similar magnitudes (usually one block): about ``4·(number of tensors)`` more.
Blocks the first probe leaves undecided are split (:mod:`grader.gradcheck.locate`), which is also how
wrong entries are located. A failing tensor costs three more measured directions to test hypotheses (factor, transpose,
reshape...) and one to confirm what is named; located entries are confirmed by three checks of the corrected claim
(:func:`_confirm`).

Guarantee (docs/GRADCHECK.md): a claim right up to its dtype's rounding except for one entry off by
more than twice its tolerance is never passed (probability ≥ 1 − 1e-6), and with the default budget it
fails with the entry located. A tensor the finite differences cannot decide is ``"inconclusive"``,
never passed.
"""

from __future__ import annotations

import functools
import math
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch

from grader.gradcheck import diagnose as dg
from grader.gradcheck.fd import EPS64, Evaluator, FDSettings, FunctionError, Probe, entry_scale
from grader.gradcheck.locate import (
    JOINT_SPREAD,
    Node,
    Resolution,
    Target,
    joint_probe,
    localisation,
    magnitude_bands,
    resolve,
    unravel,
)
from grader.gradcheck.result import (
    DirectionCheck,
    EntryError,
    GradcheckResult,
    Localisation,
    TensorVerdict,
)
from grader.tolerances import Tolerance, tolerance

__all__ = ["check_gradients", "check_vjp"]

ScalarFunction = Callable[[dict[str, torch.Tensor]], torch.Tensor]
VJPFunction = Callable[[dict[str, torch.Tensor], torch.Tensor], Mapping[str, torch.Tensor]]
LocateMode = Literal["auto", "fd", "off"]


def check_gradients(
    f: ScalarFunction,
    params: Mapping[str, torch.Tensor],
    claimed: Mapping[str, torch.Tensor],
    *,
    true_grads: Mapping[str, torch.Tensor] | None = None,
    mistakes: Mapping[str, dg.KnownMistake] | None = None,
    factors: Mapping[str, float] | None = None,
    seed: int = 0,
    tol: Tolerance | None = None,
    directions: int = 1,
    locate_mode: LocateMode = "auto",
    label: Callable[[str], str] | None = None,
    fd: FDSettings | None = None,
    per_entry_limit: int = 16,
    max_blocks: int = 64,
    sample_entries: int = 24,
    error_map_limit: int = 1024,
) -> GradcheckResult:
    """Check ``claimed[name] == ∂f/∂params[name]`` for every tensor of ``params``.

    ``f`` maps a dict of float64 tensors (the params, cast) to a scalar; it is only ever called on
    copies. ``claimed`` holds the gradients to check, in any floating dtype: each is held to the
    tolerance of its own dtype (``grader.tolerances``) unless ``tol`` is given. ``true_grads``
    (trusted, optional) makes localisation exact and free and names the pattern precisely; the verdict
    still comes from finite differences. ``mistakes`` maps a mistake id to ``(name, hint, gradients)``
    of an exercise's known wrong answers; a claim equal to one is reported as that mistake.
    ``factors`` names sizes a wrong constant may come from (``{"T": 32}``). ``locate_mode="fd"``
    localises by finite differences even when ``true_grads`` is given; ``"off"`` skips localisation.
    ``label(name)`` is how hints name a gradient (default ``"d" + name``: ``dW3``).
    """
    start = time.perf_counter()
    settings = fd or _DEFAULT_FD
    opts = _Options(
        true_grads or {},
        mistakes or {},
        dict(factors or {}),
        seed,
        tol,
        max(1, directions),
        locate_mode,
        label or (lambda n: f"d{n}"),
        settings,
        per_entry_limit,
        max_blocks,
        sample_entries,
        error_map_limit,
    )
    x64 = {k: _as_float64(v) for k, v in params.items()}
    with torch.no_grad():  # for every evaluation of f at once
        try:
            ev = Evaluator(f, x64)
        except FunctionError as e:
            return _error_result(str(e), seed, start, settings)
        if not math.isfinite(ev.f0):
            return _error_result(f"f is not finite at the given point (f = {ev.f0})", seed, start, settings)
        verdicts = []
        try:
            joints, passed, targets = _joint(ev, claimed, opts)
            for name in x64:
                verdicts.append(_check_tensor(name, ev, claimed.get(name), opts, passed.get(name), targets.get(name)))
        except FunctionError as e:
            return _error_result(str(e), seed, start, settings, ev.count)
    for joint, first in joints:  # a joint probe's evaluations, counted once, with the first tensor it covered
        next(v for v in verdicts if v.name == first).evaluations += joint.evaluations
    notes = [f"{k!r} is not a parameter of f: ignored" for k in claimed if k not in x64]
    return _finish(verdicts, ev, opts, notes, start)


def check_vjp(
    f: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    params: Mapping[str, torch.Tensor],
    claimed: Mapping[str, torch.Tensor] | None = None,
    *,
    cotangent: torch.Tensor | None = None,
    vjp: VJPFunction | None = None,
    cotangents: int = 1,
    seed: int = 0,
    **kwargs: object,
) -> GradcheckResult:
    """Check vector-Jacobian products of a tensor-valued ``f``: ``claimed = vᵀ ∂f/∂params``.

    Pass the claimed VJP for ``cotangent``, or a function ``vjp(params, v)`` computing it for any
    ``v``: then ``cotangents`` seeded random ones are tried (``cotangent``, if given, first). The
    VJP for ``v`` is the gradient of the scalar ``<v, f(params)>``, which is what is checked.
    The first failing cotangent is reported; evaluations add up.
    """
    if claimed is None and vjp is None:
        raise TypeError("check_vjp needs the claimed VJP or a vjp function")
    x64 = {k: _as_float64(v) for k, v in params.items()}
    with torch.no_grad():
        out_shape = torch.as_tensor(f({k: v.clone() for k, v in x64.items()})).shape
    vs = _cotangents(out_shape, cotangent, cotangents if vjp is not None else 1, seed)
    total, t0, result = 0, time.perf_counter(), None
    for i, v in enumerate(vs):
        claim = claimed if claimed is not None and i == 0 else _call_vjp(vjp, params, v)
        result = check_gradients(_dot(f, v), params, claim, seed=seed + i, **kwargs)  # type: ignore[arg-type]
        total += result.evaluations + (1 if i == 0 else 0)
        if not result.passed:
            break
    assert result is not None
    result.evaluations = total
    result.duration = time.perf_counter() - t0
    result.notes.append(f"vector-Jacobian products checked for {i + 1} cotangent(s)")
    return result


# --------------------------------------------------------------------------------------------------
# one tensor
# --------------------------------------------------------------------------------------------------
@dataclass
class _Options:
    """The settings of one ``check_gradients`` call, passed down to every tensor."""

    true_grads: Mapping[str, torch.Tensor]
    mistakes: Mapping[str, dg.KnownMistake]
    factors: dict[str, float]
    seed: int
    tol: Tolerance | None
    directions: int
    locate_mode: LocateMode
    label: Callable[[str], str]
    settings: FDSettings
    per_entry_limit: int
    max_blocks: int
    sample_entries: int
    error_map_limit: int


def _joint(
    ev: Evaluator, claimed: Mapping[str, torch.Tensor], o: _Options
) -> tuple[list[tuple[Probe, str]], dict[str, Probe], dict[str, Target]]:
    """Probe every checkable tensor along one joint direction (:func:`locate.joint_probe`). A pass
    decides them all at once (4 evaluations for a correct model instead of 4 per tensor). Anything else
    decides nothing. When precision stood in the way (the bound too wide against the smallest room), the
    largest tensor, whose many entries make most of the truncation, is left to its own probes and the
    others are probed jointly once more. Tensors no joint probe passed are probed on their own.

    Returns the joint probes (each with the first tensor it covered, whose count its evaluations join),
    the passing probe of each tensor decided that way, and the targets built, reused by each tensor's
    own check."""
    targets = []
    for name, x in ev.x.items():
        raw = claimed.get(name)
        if raw is None or x.numel() == 0:
            continue
        claim_t = raw if isinstance(raw, torch.Tensor) else torch.as_tensor(raw)
        g = _as_float64(claim_t, copy=False)
        if g.shape != x.shape or not bool(np.isfinite(g.numpy()).all()):
            continue
        targets.append(_target(name, ev, g, o.tol or engine_tolerance(claim_t), _rounding(claim_t.dtype), o, 0))
    probes: list[tuple[Probe, str]] = []
    passed: dict[str, Probe] = {}
    group = targets
    for _ in range(_JOINT_ROUNDS):
        p = joint_probe(group)
        if p is None:
            break
        probes.append((p, group[0].name))
        if p.status == "pass":
            passed.update((t.name, p) for t in group)
            break
        if p.status not in ("gray", "unresolved"):
            break  # a kink or a failure: the largest tensor is no likelier to hold it than the others
        out = _left_out(group)
        group = [t for t in group if t is not out]
    return probes, passed, {t.name: t for t in targets}


_JOINT_ROUNDS = 2  # joint probes tried: all tensors, then all but one (see _left_out)


def _left_out(group: list[Target]) -> Target:
    """The tensor a second joint probe leaves to its own probes: one whose least room ``min τ_i·|w_i|`` is more
    than ``JOINT_SPREAD`` times below every other's (a claim of 0 beside gradients of 1e5: the joint probe
    could shrink the others only that far, and its room set the pass limit of all), else the largest, whose many
    entries make most of the truncation."""
    by_room = sorted(group, key=lambda t: t.least_room())
    if len(by_room) > 1 and by_room[0].least_room() * JOINT_SPREAD < by_room[1].least_room():
        return by_room[0]
    return max(group, key=lambda t: t.n)


def _check_tensor(
    name: str, ev: Evaluator, raw: object, o: _Options, joint: Probe | None = None, target: Target | None = None
) -> TensorVerdict:
    count0 = ev.count
    x = ev.x[name]
    shape = list(x.shape)
    if raw is None:
        return TensorVerdict(name, shape, "", "missing", notes=[f"no gradient was given for {name}"])
    claim_t = raw if isinstance(raw, torch.Tensor) else torch.as_tensor(raw)
    ctol = o.tol or engine_tolerance(claim_t)
    g = target.g if target is not None else _as_float64(claim_t, copy=False)  # (a target: the claim, finite, float64)
    verdict = TensorVerdict(name, shape, _dtype_name(claim_t.dtype), "passed")
    if g.shape != x.shape:
        _wrong_shape(verdict, ev, g, ctol, claim_t.dtype, o)
    elif x.numel() > 0:
        _check_values(verdict, ev, g, ctol, claim_t.dtype, o, joint if target is not None else None, target)
    verdict.evaluations = ev.count - count0
    return verdict


@functools.lru_cache(maxsize=16)
def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def _check_values(
    verdict: TensorVerdict,
    ev: Evaluator,
    g: torch.Tensor,
    ctol: Tolerance,
    dtype: torch.dtype,
    o: _Options,
    joint: Probe | None = None,
    target: Target | None = None,
) -> None:
    name = verdict.name
    if target is None and not bool(torch.isfinite(g).all()):
        _non_finite(verdict, g, ctol, o)
        return
    t = target if target is not None else _target(name, ev, g, ctol, _rounding(dtype), o, 0)
    if joint is not None:  # passed with the other tensors along one joint direction
        res = Resolution(top=joint)
    else:
        res = resolve(t, [Node(idx) for idx in t.blocks], localise=False, max_probes=_budget(t.n, o),
                      max_blocks=o.max_blocks)
    for j in range(1, o.directions):  # extra independent directions, on request
        if res.failed or not res.complete:
            break
        tj = _target(name, ev, g, ctol, t.rho, o, j)
        res = resolve(tj, [Node(idx) for idx in tj.blocks], localise=False, max_probes=_budget(t.n, o),
                      max_blocks=o.max_blocks)
    top = res.top
    verdict.checks = [_direction(top)] if top is not None else []
    if top is not None:
        verdict.rel_error = _rel(top)
    if not res.failed:
        _kink_note(verdict, t, res)
        verdict.notes.extend(res.notes)
        if not res.complete:
            verdict.status = "inconclusive"
            verdict.notes.append(
                f"unresolved: finite differences could not decide {res.undecided_entries} of {t.n} entries "
                "(kinks or a step error too large against the tolerance); this is not a pass"
            )
        else:
            _known_truth(verdict, g, ctol, o)
        return
    verdict.status = "failed"
    _explain(verdict, t, res, ctol, o)


def engine_tolerance(claim: torch.Tensor) -> Tolerance:
    """The per-entry tolerance the engine holds a claim to: its dtype's entry in the one table,
    widened for float64 by ``FLOAT64_FD_SCALE``: finite differences run in float64 themselves and
    resolve a derivative to about 1e-9 of ``|f|`` (round-off ``eps_f/h``), not to float64's 1e-9
    absolute. Lower precisions keep the table's value."""
    return _engine_tolerance(claim.dtype, claim.device)


@functools.lru_cache(maxsize=64)
def _engine_tolerance(dtype: torch.dtype, device: torch.device) -> Tolerance:
    base = _claim_tolerance(dtype, device)
    return base.scaled(FLOAT64_FD_SCALE) if dtype == torch.float64 else base


_DEFAULT_FD = FDSettings()  # (frozen: one instance serves every call)

# See engine_tolerance: 100 × (rtol 1e-7, atol 1e-9) = (1e-5, 1e-7).
FLOAT64_FD_SCALE = 100.0


def _budget(n: int, o: _Options) -> int:
    """Probes allowed to decide one tensor: enough to follow a few doubtful blocks to single entries."""
    return 8 * o.max_blocks + 16 * max(1, math.ceil(math.log2(max(n, 2))))


def _kink_note(verdict: TensorVerdict, t: Target, res: Resolution) -> None:
    if res.kinks:
        k = len(res.kinks)
        verdict.localisation = localisation(t, res, "bisection", 0)
        verdict.notes.append(
            f"{k} {'entry is' if k == 1 else 'entries are'} at a non-differentiable point (a kink), or closer to one "
            "than finite differences can tell: the claim lies between the one-sided derivatives there, which is a "
            "valid subgradient"
        )


def _explain(verdict: TensorVerdict, t: Target, res: Resolution, ctol: Tolerance, o: _Options) -> None:
    """A failing tensor: name the mistake only on evidence, and locate the wrong entries."""
    label = o.label(t.name)
    truth = o.true_grads.get(t.name)
    tr = _as_float64(truth, copy=False) if truth is not None and tuple(truth.shape) == tuple(t.g.shape) else None
    mistake = dg.match_mistake(t.name, t.g, o.mistakes, ctol, tr)
    if tr is not None:
        verdict.diagnosis = mistake or dg.pattern_for(label, t.g, tr, ctol, o.factors)
        _with_truth(verdict, t, tr, ctol, "reference", o)
        if o.locate_mode == "fd":
            _locate(verdict, t, res, ctol, o, name_it=False)
        return
    zero = dg.zero_claim(label, t.g, ctol)
    if zero is not None:
        verdict.diagnosis = mistake or zero
        verdict.localisation = _all_entries(t)
        return
    verdict.diagnosis = mistake
    if o.locate_mode == "off":
        return
    if mistake is None and not res.kink_wrong:
        implied = _hypotheses(t, res.top, t.g, ctol, o)
        named = dg.pattern_for(label, t.g, implied, ctol, o.factors) if implied is not None else None
        if named is not None:  # a hypothesis that names no pattern (a factor ≈ 1) explains nothing
            verdict.diagnosis = named
            _with_truth(verdict, t, implied, ctol, "hypothesis", o)  # type: ignore[arg-type]
            return
    _locate(verdict, t, res, ctol, o, name_it=verdict.diagnosis is None)


def _locate(verdict: TensorVerdict, t: Target, res: Resolution, ctol: Tolerance, o: _Options, *, name_it: bool) -> None:
    """Search the failing blocks down to single entries; name "right except for …" only when the
    located entries account for the whole measured mismatch (see :func:`_confirm`)."""
    start = t.ev.count
    region, probes = _search_limits(t.n, o)
    more = resolve(t, res.failing, localise=True, max_probes=probes, max_blocks=o.max_blocks, region=region)
    more.wrong = {**res.wrong, **more.wrong}
    more.kinks = sorted(set(res.kinks) | set(more.kinks))
    more.kink_wrong = res.kink_wrong + more.kink_wrong
    more.notes = res.notes + more.notes
    more.undecided = res.undecided + more.undecided
    confirmed = _confirm(t, more, ctol, o) if more.wrong and more.complete else ""
    loc = localisation(t, more, "bisection" if t.n > 1 else "per_entry", t.ev.count - start)
    verdict.localisation = loc
    verdict.notes.extend(more.notes)
    if not more.wrong:
        return
    implied = _implied(t, more.wrong)
    verdict.rel_error_full = _rel_full(t.g, implied) if loc.complete else None
    if not loc.complete:
        verdict.notes.append("the wrong entries were not all located: no pattern is named")
        return
    if confirmed != "pass":
        verdict.notes.append(_unaccounted(loc.mismatched, confirmed))
        return
    verdict.error_map = _error_map(t.g, implied, ctol, o.error_map_limit)
    if name_it:
        verdict.diagnosis = dg.pattern_for(o.label(t.name), t.g, implied, ctol, o.factors)


def _implied(t: Target, wrong: dict[int, float]) -> torch.Tensor:
    """The claim with its located entries replaced by their finite-difference values."""
    implied = t.g.clone().reshape(-1)
    for i, v in wrong.items():
        implied[i] = v
    return implied.reshape(t.g.shape)


def _confirm(t: Target, res: Resolution, ctol: Tolerance, o: _Options) -> str:
    """Whether the entries a complete search located (``res.wrong``) account for the whole error.

    The search held the blocks it split to the fail rule only (a block that a right claim could show was not
    searched), so entries whose errors cancelled inside such a block, or were too small to make it fail, may be
    left; and the blocks that passed in the first place can hold several wrong entries that cancelled along the
    first direction. The claim corrected at the located entries is therefore checked again as a claim of its own:
    the whole tensor, under the pass rule and its per-entry guarantee, along fresh seeded directions, searching what
    fails down to single entries (``resolve(strict=True)``). What that check finds wrong is added to ``res.wrong``
    and the corrected claim is checked again. It is a pass only when ``_CONFIRM_CLEAN`` checks in a row, each on its
    own direction, pass everything.

    Two wrong entries left in one block cancel along a direction when their signs along it differ and their rooms
    are close (with ``|v|`` in ``U(1, 2)``: entries 20τ off, about one block of two in eight; 3τ off, one in two).
    When several entries were located (an error over many entries, where more may hide in pairs), the checks draw
    ``|v|`` log-uniform in ``[1, _CONFIRM_SPREAD]`` instead (3τ: about one in five), unless such a check is held by
    precision (a float32 claim over many entries: the wider weights widen its rounding against the smallest room);
    the checks then go on with ``U(1, 2)``.

    The checks together may make as many probes as the search could (:func:`_search_limits`): a check that runs
    out is left incomplete, like any search.

    Returns ``"pass"``, ``"fail"`` when an error is still left over after ``_CONFIRM_ROUNDS`` checks (or could not
    be located), or the status that kept a block from being decided (``"kink"``, ``"unresolved"``)."""
    region, budget = _search_limits(t.n, o)  # the probes of all the checks together: a search's worth
    clean = 0
    spread = _CONFIRM_SPREAD if len(res.wrong) > 1 else _SPREAD
    for k in range(_CONFIRM_ROUNDS):
        c = _target(t.name, t.ev, _implied(t, res.wrong), ctol, t.rho, o, _CONFIRM_SEED + k, spread)
        check = resolve(c, [Node(idx) for idx in c.blocks], localise=True, strict=True, max_probes=budget,
                        max_blocks=o.max_blocks, region=region)
        budget -= check.probes
        res.kinks = sorted(set(res.kinks) | (set(check.kinks) - set(res.wrong)))  # (not the corrected entries')
        res.wrong.update(check.wrong)
        if not check.complete:
            if check.failed:
                return "fail"
            if spread != _SPREAD:
                spread, clean = _SPREAD, 0
                continue
            return "kink" if any(nd.probe is not None and nd.probe.status == "kink" for nd in check.undecided) \
                else "unresolved"
        clean = 0 if check.failed else clean + 1
        if clean == _CONFIRM_CLEAN:
            return "pass"
    return "fail"


_CONFIRM_ROUNDS = 8  # checks of a corrected claim, at most (see _confirm)
_CONFIRM_CLEAN = 3  # checks in a row that must pass
_CONFIRM_SEED = 300  # the index of their first seeded direction (the search's is 0; hypotheses use 100-250)
_CONFIRM_SPREAD = 8.0  # their largest |v| when several entries were located
_SPREAD = 2.0  # the largest |v| of every other direction


# A failing region of at most this many entries (a wrong row of a large matrix) is searched to single entries
# however many blocks that takes: about two probes per entry. A larger one (an error spread over the tensor) stops
# at ``max_blocks`` blocks and is reported as a lower bound. The region counts every entry still in play, undecided
# blocks too: a float32 row of 784 entries of the conv net's 7,840 once held 1,053 (doubled from 1,024 for it).
_LOCALISE_REGION = 2048


def _search_limits(n: int, o: _Options) -> tuple[int, int]:
    """The region (entries in play searched past ``max_blocks``) and the probe budget of a search for the wrong
    entries of a tensor of ``n`` entries: about two probes per entry of the region on top of :func:`_budget`."""
    region = min(n, _LOCALISE_REGION)
    return region, _budget(n, o) + 2 * region


def _unaccounted(located: int, residual: str) -> str:
    """Why no pattern is named after a complete search: the claim corrected at the ``located`` entries did
    not pass its checks on fresh directions (``residual``, their outcome, see :func:`_confirm`). Only a failure
    measures an error left over; anything else says the checks could not confirm it, and why."""
    which = f"{located} located {'entry' if located == 1 else 'entries'}"
    if residual == "fail":
        verb = "does" if located == 1 else "do"
        return f"the {which} {verb} not account for the whole measured error: no pattern is named"
    why = "it crosses a kink" if residual == "kink" else "finite differences could not resolve it"
    return (f"whether the {which} account{'s' if located == 1 else ''} for the whole error could not be confirmed "
            f"along fresh directions ({why}): no pattern is named")


def _residual(t: Target, implied: torch.Tensor, ctol: Tolerance, fresh: int) -> str:
    """The status of a probe of ``implied`` on a fresh direction over the whole tensor: ``"pass"`` when it is
    within twice its tolerance everywhere, as far as one probe can tell (the residual test of a named pattern)."""
    tau = ctol.atol + ctol.rtol * implied.abs()
    corrected = Target(t.name, t.x, implied, t.v, t.scale, tau, t.rho, t.ev, t.settings, t.seed)
    return corrected.probe(torch.arange(t.n), fresh=fresh).status


def _passes(t: Target, implied: torch.Tensor, ctol: Tolerance, fresh: int) -> bool:
    return _residual(t, implied, ctol, fresh) == "pass"


def _measure(t: Target, first: int, count: int) -> list[dg.Measurement]:
    """``count`` measured directions over the whole tensor (fresh seeds from ``first``)."""
    out = []
    everything = torch.arange(t.n)
    for j in range(first, first + count):
        w = t.direction(everything, fresh=j)
        p = t.probe(everything, min_steps=2, fresh=j)
        if not p.reliable:
            return []
        out.append(dg.Measurement(w, p.estimate, p.bound))
    return out


def _hypotheses(t: Target, top: Probe | None, claim: torch.Tensor, ctol: Tolerance, o: _Options) -> torch.Tensor | None:
    """Fit factor / transpose / reshape / batch hypotheses on two measured directions, confirm on a third."""
    ms = _measure(t, 100, 3)
    if len(ms) < 3:
        return None
    implied = dg.implied_truth(claim, t.x.shape, ms[:2], ms[2:], ctol, o.factors)
    if implied is None or not _passes(t, implied, ctol, 250):
        return None  # the residual after applying the hypothesis is not within tolerance
    return implied


def _wrong_shape(
    verdict: TensorVerdict, ev: Evaluator, g: torch.Tensor, ctol: Tolerance, dtype: torch.dtype, o: _Options
) -> None:
    verdict.status = "wrong_shape"
    verdict.claimed_shape = list(g.shape)
    label, name = o.label(verdict.name), verdict.name
    shape = ev.x[name].shape
    truth = o.true_grads.get(name)
    implied = None
    if truth is not None:
        implied = _as_float64(truth, copy=False)
    elif o.locate_mode != "off" and bool(torch.isfinite(g).all()):
        t = _target(name, ev, torch.zeros_like(ev.x[name]), ctol, _rounding(dtype), o, 0)
        implied = _hypotheses(t, None, g, ctol, o)
    mistake = dg.match_mistake(name, g, o.mistakes, ctol)
    diag = dg.pattern_for(label, g, implied, ctol, o.factors) if implied is not None else None
    verdict.diagnosis = mistake or diag or dg.shape_diagnosis(label, g.shape, shape)


def _non_finite(verdict: TensorVerdict, g: torch.Tensor, ctol: Tolerance, o: _Options) -> None:
    verdict.status = "failed"
    bad = ~torch.isfinite(g)
    flat = bad.reshape(-1).nonzero().flatten().tolist()
    entries = [
        EntryError(unravel(i, g.shape), float(g.reshape(-1)[i]), math.nan, "finite_differences", math.inf, math.inf)
        for i in flat[:10]
    ]
    verdict.localisation = Localisation("per_entry", True, len(flat), g.numel(), entries)
    verdict.diagnosis = dg.pattern_for(o.label(verdict.name), g, torch.zeros_like(g), ctol, o.factors)


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
def _target(
    name: str, ev: Evaluator, g: torch.Tensor, ctol: Tolerance, rho: float, o: _Options, j: int, spread: float = _SPREAD
) -> Target:
    """The target of tensor ``name`` for claim ``g`` (float64; ``rho``: the relative rounding of its dtype, see
    :func:`_rounding`), with its ``j``-th seeded direction (``j = 0``: signs that follow the claim's)."""
    x = ev.x[name]
    shape = x.shape
    a = np.abs(x.numpy().reshape(-1))  # ev.x: float64 on the CPU (see _as_float64)
    tau = np.abs(g.numpy().reshape(-1))
    tau *= ctol.rtol
    tau += ctol.atol
    bands = magnitude_bands(a)
    scale = _weighted_scale(a, tau, bands)
    v = _direction_vector(x.numel(), o.seed, name, j, g if j == 0 else None, spread)
    return Target(
        name,
        x,
        g,
        torch.from_numpy(v.reshape(shape)),
        torch.from_numpy(scale.reshape(shape)),
        torch.from_numpy(tau.reshape(shape)),
        rho,
        ev,
        o.settings,
        o.seed * 1_000_003 + zlib.crc32(name.encode()) + j,
        bands,
    )


def _weighted_scale(a: np.ndarray, tau: np.ndarray, bands: np.ndarray | None) -> np.ndarray:
    """Step scales (``a = |x|``, ``tau`` the entries' tolerances, ``bands`` their magnitude bands): the entry
    scale times κ, so that within a band an entry with a small ``τ_i·s_i`` weighs more and ``τ_i·|w_i|`` is
    similar across it."""
    s = entry_scale(a, bands)
    ts = tau * s
    if bands is None:
        kappa = np.divide(ts.max(), ts)
    else:
        top = np.zeros(int(bands.max()) + 1)
        np.maximum.at(top, bands, ts)
        kappa = top[bands]
        kappa /= ts
    np.minimum(kappa, _MAX_WEIGHT, out=kappa)  # ≥ 1: the largest τ·s of each band over the entry's
    kappa *= s
    return kappa


_MAX_WEIGHT = 64.0  # the largest extra weight κ of an entry with a small tolerance (its step grows as much)


@functools.lru_cache(maxsize=16)
def _rounding(dtype: torch.dtype) -> float:
    """Relative error of a right claim in ``dtype``: 8 units of its rounding (a few accumulated
    roundings of a backward pass). This is the "noise" a block's pass limit allows for."""
    if not dtype.is_floating_point:
        return 8 * EPS64
    return 8 * float(torch.finfo(dtype).eps)


def _direction_vector(
    n: int, seed: int, name: str, j: int, g: torch.Tensor | None = None, spread: float = _SPREAD
) -> np.ndarray:
    """Seeded ``±U(1, 2)`` over ``n`` entries (flat): reproducible per (seed, tensor name, index); magnitudes
    log-uniform in ``[1, spread]`` with another ``spread``.

    With ``g`` (the claim), the signs follow the claim's (random where it is zero): a claim off by a
    factor, however close to 1, then shows in full (``<g, w>`` cannot cancel), and a single wrong entry
    shows as before. A right claim's rounding is still far below the fail limit, even when coherent.
    """
    s = (seed * 1_000_003 + zlib.crc32(name.encode()) * 7919 + j * 104_729) % (2**62)
    gen = torch.Generator().manual_seed(s)
    u = torch.rand(n, generator=gen, dtype=torch.float64).numpy()
    u *= 2
    u -= 1  # in [-1, 1): its sign and |u| are independent
    signs = u  # whose signs w takes
    if g is not None:
        signs = g.numpy().reshape(-1)
        if np.count_nonzero(signs) < signs.size:
            signs = np.where(signs != 0, signs, u)
    mag = np.abs(u)
    if spread == _SPREAD:
        mag += 1.0
    else:  # log-uniform in [1, spread] (see _confirm)
        mag *= math.log(spread)
        np.exp(mag, out=mag)
    return np.copysign(mag, signs, out=mag)


def _with_truth(
    verdict: TensorVerdict, t: Target, truth: torch.Tensor, ctol: Tolerance, source: str, o: _Options
) -> None:
    """Exact localisation from a known (or implied) true gradient: no evaluation needed."""
    wrong = ~torch.isclose(t.g, truth, rtol=ctol.rtol, atol=ctol.atol)
    flat = wrong.reshape(-1).nonzero().flatten()
    err = (t.g - truth).abs().reshape(-1)
    order = flat[torch.argsort(err[flat], descending=True)][:10].tolist()
    entries = [
        EntryError(
            unravel(i, t.g.shape),
            float(t.g.reshape(-1)[i]),
            float(truth.reshape(-1)[i]),
            source,
            float(err[i]),
            float(err[i]) / max(abs(float(truth.reshape(-1)[i])), 1e-300),
        )
        for i in order
    ]
    verdict.localisation = Localisation(source, True, int(flat.numel()), t.g.numel(), entries)
    verdict.rel_error_full = _rel_full(t.g, truth)
    verdict.error_map = _error_map(t.g, truth, ctol, o.error_map_limit)


def _known_truth(verdict: TensorVerdict, g: torch.Tensor, ctol: Tolerance, o: _Options) -> None:
    truth = o.true_grads.get(verdict.name)
    if truth is not None and tuple(truth.shape) == tuple(g.shape):
        tr = _as_float64(truth, copy=False)
        verdict.rel_error_full = _rel_full(g, tr)
        verdict.error_map = _error_map(g, tr, ctol, o.error_map_limit)


def _all_entries(t: Target) -> Localisation:
    n = t.g.numel()
    return Localisation("hypothesis", True, n, n, note="every entry is zero")


def _error_map(g: torch.Tensor, truth: torch.Tensor, ctol: Tolerance, limit: int) -> list[list[float]] | None:
    if g.numel() > limit or g.dim() > 2 or g.shape != truth.shape:
        return None
    ratio = (g - truth).abs() / (ctol.atol + ctol.rtol * truth.abs())
    ratio = torch.where(ratio <= 1.0, torch.zeros_like(ratio), ratio)
    return ratio.reshape(1, -1).tolist() if g.dim() < 2 else ratio.tolist()


def _rel(p: Probe) -> float:
    denom = max(abs(p.estimate), abs(p.claim), 1e-300)
    return abs(p.claim - p.estimate) / denom


def _rel_full(g: torch.Tensor, truth: torch.Tensor) -> float:
    return float((g - truth).norm() / max(float(truth.norm()), 1e-300))


def _direction(p: Probe) -> DirectionCheck:
    return DirectionCheck(p.claim, p.estimate, p.bound, p.tolerance, p.step, p.status, p.evaluations)


def _claim_tolerance(dtype: torch.dtype, device: torch.device) -> Tolerance:
    dtype = dtype if dtype.is_floating_point else torch.float64
    try:
        return tolerance(dtype, device)
    except KeyError:
        return tolerance(torch.float64)


def _as_float64(t: object, *, copy: bool = True) -> torch.Tensor:
    """``t`` as a float64 CPU tensor, detached. ``copy=False`` (a claim or reference gradient, which the engine
    only reads) returns a float64 CPU tensor itself instead of a copy; the point of the check is always copied."""
    tt = t if isinstance(t, torch.Tensor) else torch.as_tensor(t)
    if tt.is_complex():
        raise TypeError("complex tensors are not supported")
    if tt.dtype == torch.float64 and tt.device.type == "cpu":
        return tt.detach().clone() if copy else tt.detach()
    return tt.detach().to("cpu", torch.float64)  # a copy already


def _dot(f: Callable[[dict[str, torch.Tensor]], torch.Tensor], v: torch.Tensor) -> ScalarFunction:
    def scalar(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return (torch.as_tensor(f(p)).to(torch.float64) * v).sum()

    return scalar


def _cotangents(shape: torch.Size, given: torch.Tensor | None, n: int, seed: int) -> list[torch.Tensor]:
    vs = [] if given is None else [_as_float64(given)]
    gen = torch.Generator().manual_seed(seed + 12_345)
    while len(vs) < max(n, 1):
        vs.append(torch.randn(shape, generator=gen, dtype=torch.float64))
    return vs


def _call_vjp(
    vjp: VJPFunction | None, params: Mapping[str, torch.Tensor], v: torch.Tensor
) -> Mapping[str, torch.Tensor]:
    assert vjp is not None
    dtype = next((p.dtype for p in params.values() if p.is_floating_point()), torch.float64)
    return vjp(dict(params), v.to(dtype))


# --------------------------------------------------------------------------------------------------
# the whole result
# --------------------------------------------------------------------------------------------------
def _finish(
    verdicts: list[TensorVerdict], ev: Evaluator, o: _Options, notes: list[str], start: float
) -> GradcheckResult:
    failed = [v for v in verdicts if v.status in ("failed", "missing", "wrong_shape")]
    unsure = [v for v in verdicts if v.status == "inconclusive"]
    status = "failed" if failed else ("inconclusive" if unsure else "passed")
    mistake = _whole_mistake(failed)
    if failed:
        names = ", ".join(o.label(v.name) for v in failed)
        message = f"wrong gradient{'s' if len(failed) > 1 else ''}: {names}"
        if mistake is not None:
            message += f" ({mistake.name or mistake.id})"
    elif unsure:
        message = "could not decide for " + ", ".join(o.label(v.name) for v in unsure) + " (kinks)"
    else:
        message = f"all {len(verdicts)} gradients agree with finite differences"
    return GradcheckResult(
        status=status,  # type: ignore[arg-type]
        message=message,
        tensors=verdicts,
        evaluations=ev.count,
        duration=time.perf_counter() - start,
        seed=o.seed,
        mistake=mistake,
        notes=notes,
        settings=_settings_dict(o.settings) | {"directions": o.directions},
    )


def _whole_mistake(failed: list[TensorVerdict]) -> dg.Diagnosis | None:
    """A known mistake that explains every wrong tensor."""
    ids = {v.diagnosis.id for v in failed if v.diagnosis is not None and v.diagnosis.source == "mistake"}
    if len(ids) == 1 and all(v.diagnosis is not None and v.diagnosis.source == "mistake" for v in failed):
        return failed[0].diagnosis
    return None


def _error_result(message: str, seed: int, start: float, settings: FDSettings, evals: int = 0) -> GradcheckResult:
    return GradcheckResult("error", message, [], evals, time.perf_counter() - start, seed,
                          settings=dict(_settings_dict(settings)))


@functools.lru_cache(maxsize=16)
def _settings_dict(settings: FDSettings) -> dict[str, object]:
    """The settings as the result reports them (the caller copies the dict before adding to it)."""
    return asdict(settings)
