"""Name the mistake behind a wrong gradient, with or without the true gradient.

With the true gradient the claim is compared with it directly (:func:`grader.patterns.name_pattern`).
Without it, finite differences give a few linear measurements of the truth, ``y_j = <∇f, w_j> ± b_j``.
A hypothesis "the truth is ``c·R(claim)``" (``R`` a rearrangement: identity, transpose, reshape, sum
over a batch axis) is fitted on some measurements (:func:`grader.diagnosis.fit_factor`, the one
constant-factor fit) and named only when it is *confirmed* on a fresh direction that took no part in
the fit: the residual ``<c·R(claim), w> − y`` there must be within what a claim inside its tolerance
can show plus the FD bound. A factor fitted from noise (1.00005 for one wrong entry among 576) predicts
nothing on a fresh direction and is never named.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch

from grader.diagnosis import Diagnosis, confirms_variant, fit_factor
from grader.format import fmt_shape
from grader.gradcheck.fd import HOEFFDING_K
from grader.patterns import Pattern, describe_factor, name_pattern
from grader.tolerances import Tolerance

# A known mistake: (short name, hint for the student, its gradients by tensor name)
KnownMistake = tuple[str, str, Mapping[str, torch.Tensor]]


@dataclass(frozen=True)
class Measurement:
    """``<true gradient, w> = estimate ± bound``."""

    v: torch.Tensor
    estimate: float
    bound: float


def from_pattern(p: Pattern) -> Diagnosis:
    return Diagnosis(p.id, "", p.hint, "pattern", p.factor)


def match_mistake(
    name: str,
    claim: torch.Tensor,
    mistakes: Mapping[str, KnownMistake] | None,
    tol: Tolerance,
    truth: torch.Tensor | None = None,
) -> Diagnosis | None:
    """The first known mistake whose gradient for ``name`` the claim reproduces (within ``tol``).

    With the true gradient, the rule of :func:`grader.diagnosis.confirms_variant` (the mistake must differ
    from the truth, and the claim agree with it where it does); without, entry-by-entry agreement.
    """
    for mid, (mname, hint, grads) in (mistakes or {}).items():
        cand = grads.get(name)
        if cand is None or tuple(cand.shape) != tuple(claim.shape):
            continue
        c = cand.detach().to(torch.float64)
        if truth is not None and tuple(truth.shape) == tuple(claim.shape):
            if confirms_variant(claim, truth, c, tol):
                return Diagnosis(mid, mname, hint, "mistake")
        elif bool(torch.isclose(claim, c, rtol=tol.rtol, atol=tol.atol, equal_nan=False).all()):
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
    fit: list[Measurement],
    confirm: list[Measurement],
    tol: Tolerance,
    factors: Mapping[str, float],
) -> torch.Tensor | None:
    """A rearrangement of the claim, times a constant fitted on ``fit``, that agrees with every
    measurement, including the fresh ones in ``confirm`` (none of which took part in the fit)."""
    if not fit or not confirm or not bool(torch.isfinite(claim).all()):
        return None
    if claim.shape == shape and not discriminates(claim, confirm, tol):
        return None
    for r in candidates(claim, shape):
        r = r.contiguous()
        p = torch.tensor([float((r * m.v).sum()) for m in fit], dtype=torch.float64)
        y = torch.tensor([m.estimate for m in fit], dtype=torch.float64)
        c = fit_factor(y, p)
        if c is None or not math.isfinite(c) or c == 0.0:
            continue
        nice = describe_factor(c, factors)
        for cc in ([nice[0]] if nice else []) + [c]:
            implied = cc * r
            if all(agrees(implied, m, tol) for m in fit + confirm):
                return implied
    return None


def discriminates(claim: torch.Tensor, confirm: list[Measurement], tol: Tolerance) -> bool:
    """The fresh measurements see the claim's error: a hypothesis that agrees with them is evidence,
    not an artefact of a measurement too coarse to tell the claim from the truth."""
    return all(not agrees(claim, m, tol) for m in confirm)


def agrees(truth: torch.Tensor, m: Measurement, tol: Tolerance) -> bool:
    """``truth`` predicts the measurement within what a claim inside its tolerance can show."""
    pred = float((truth * m.v).sum())
    room = HOEFFDING_K * float(((tol.atol + tol.rtol * truth.abs()) * m.v.abs()).norm())
    return abs(pred - m.estimate) <= room + m.bound


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
