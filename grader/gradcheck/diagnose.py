"""Name the mistake behind a wrong gradient, with or without the true gradient.

With the true gradient the claim is compared with it directly (:func:`grader.patterns.name_pattern`).
Without it, finite differences give a few exact linear measurements of the truth, ``y_j = <∇f, v_j>``.
A hypothesis "the truth is ``c·R(claim)``" (``R`` a rearrangement: identity, transpose, reshape, sum
over a batch axis) is tested against them: ``c`` is fitted on ``v_1`` and must then predict ``y_2``.
Two random directions make a coincidence essentially impossible. The hypothesis that survives gives
an *implied* true gradient, which names the pattern in the same words as with a real one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch

from grader.format import fmt_shape
from grader.gradcheck.fd import claim_tolerance
from grader.gradcheck.result import Diagnosis
from grader.patterns import Pattern, describe_factor, name_pattern
from grader.tolerances import Tolerance

# A known mistake: (short name, hint for the student, its gradients by tensor name)
KnownMistake = tuple[str, str, Mapping[str, torch.Tensor]]


@dataclass(frozen=True)
class Measurement:
    """``<true gradient, v> = estimate ± bound``."""

    v: torch.Tensor
    estimate: float
    bound: float


def from_pattern(p: Pattern) -> Diagnosis:
    return Diagnosis(p.id, "", p.hint, "pattern", p.factor)


def match_mistake(
    name: str, claim: torch.Tensor, mistakes: Mapping[str, KnownMistake] | None, tol: Tolerance
) -> Diagnosis | None:
    """The first known mistake whose gradient for ``name`` equals the claim (within ``tol``)."""
    for mid, (mname, hint, grads) in (mistakes or {}).items():
        cand = grads.get(name)
        if cand is None or tuple(cand.shape) != tuple(claim.shape):
            continue
        c = cand.detach().to(torch.float64)
        if bool(torch.isclose(claim, c, rtol=tol.rtol, atol=tol.atol, equal_nan=False).all()):
            return Diagnosis(mid, mname, hint, "mistake")
    return None


def candidates(claim: torch.Tensor, shape: torch.Size) -> Iterator[torch.Tensor]:
    """Rearrangements of the claim into the variable's shape: what the truth might be."""
    a = claim
    if a.shape == shape:
        yield a
        if a.dim() >= 2 and a.shape[-1] == a.shape[-2] and a.shape[-1] > 1:
            yield a.transpose(-1, -2)
        if a.dim() == 2 and a.shape[0] != a.shape[1] and min(a.shape) > 1:
            yield a.reshape(a.shape[1], a.shape[0]).T  # claim = truth.T reshaped to truth's shape
        return
    if a.dim() == 2 and len(shape) == 2 and a.shape == torch.Size(reversed(shape)):
        yield a.T
        yield a.reshape(shape)
    if a.dim() == len(shape) + 1 and a.shape[1:] == shape and a.shape[0] > 0:
        yield a.sum(0)
        yield a.mean(0)
    if a.numel() == math.prod(shape) and a.numel() > 0:
        yield a.reshape(shape)


def implied_truth(
    claim: torch.Tensor,
    shape: torch.Size,
    ms: list[Measurement],
    tol: Tolerance,
    factors: Mapping[str, float],
) -> torch.Tensor | None:
    """A rearrangement of the claim, times a constant, that agrees with every measurement."""
    if len(ms) < 2 or not bool(torch.isfinite(claim).all()):
        return None
    for r in candidates(claim, shape):
        found = _fit(r, ms, tol, factors)
        if found is not None:
            return found
    return None


def _fit(r: torch.Tensor, ms: list[Measurement], tol: Tolerance, factors: Mapping[str, float]) -> torch.Tensor | None:
    m1 = ms[0]
    p1 = float((r * m1.v).sum())
    if p1 == 0.0 or m1.estimate == 0.0:
        return None
    c = m1.estimate / p1
    if not math.isfinite(c):
        return None
    nice = describe_factor(c, factors)
    trials: list[tuple[float, bool]] = [(nice[0], False)] if nice else []
    trials.append((c, True))
    for cc, fitted in trials:
        if all(_agrees(cc * r, m, tol, rel=_fit_error(m1, tol, r) if fitted else 0.0) for m in ms):
            return cc * r
    return None


def _fit_error(m1: Measurement, tol: Tolerance, r: torch.Tensor) -> float:
    """Relative uncertainty of a factor fitted on ``m1``."""
    t1 = claim_tolerance(r, m1.v, tol.rtol, tol.atol)
    return (m1.bound + t1) / abs(m1.estimate)


def _agrees(t: torch.Tensor, m: Measurement, tol: Tolerance, rel: float) -> bool:
    pred = float((t * m.v).sum())
    room = claim_tolerance(t, m.v, tol.rtol, tol.atol)
    return abs(pred - m.estimate) <= room + m.bound + rel * abs(pred)


def pattern_for(
    label: str,
    claim: torch.Tensor,
    truth: torch.Tensor,
    tol: Tolerance,
    factors: Mapping[str, float],
) -> Diagnosis | None:
    p = name_pattern(claim, truth, name=label, tol=tol, factors=factors)
    return from_pattern(p) if p is not None else None


def zero_claim(label: str, claim: torch.Tensor, tol: Tolerance) -> Diagnosis | None:
    """A claim of zeros where finite differences see a slope: nothing was computed."""
    if claim.numel() == 0 or not bool((claim.abs() <= tol.atol).all()):
        return None
    p = name_pattern(claim, torch.ones_like(claim), name=label, tol=tol)
    return from_pattern(p) if p is not None else None


def shape_diagnosis(label: str, claim_shape: torch.Size, shape: torch.Size) -> Diagnosis:
    return Diagnosis(
        "wrong_shape", "wrong shape",
        f"{label} has shape {fmt_shape(claim_shape)} but its variable has shape {fmt_shape(shape)}: a gradient "
        "has the shape of its variable.", "pattern",
    )
