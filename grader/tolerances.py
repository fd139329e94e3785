"""The one table of tolerances, keyed by dtype (and device where it matters).

Every numeric comparison in the grader takes its tolerance from :func:`tolerance`. A check may scale
a tolerance by a documented factor (for example a condition number), never replace it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float

    def scaled(self, factor: float) -> Tolerance:
        return Tolerance(self.rtol * factor, self.atol * factor)


# Loose enough that a correct float32 solution passes for every seed, tight enough that a wrong
# factor, sign or transpose is always caught (those are O(1) relative errors).
_TABLE: dict[tuple[torch.dtype, str], Tolerance] = {
    (torch.float64, "cpu"): Tolerance(rtol=1e-7, atol=1e-9),
    (torch.float32, "cpu"): Tolerance(rtol=1e-4, atol=1e-5),
    (torch.float16, "cpu"): Tolerance(rtol=1e-2, atol=1e-3),
    (torch.bfloat16, "cpu"): Tolerance(rtol=3e-2, atol=1e-2),
    # GPU kernels may reorder reductions and use fused multiply-adds: allow a little more.
    (torch.float64, "cuda"): Tolerance(rtol=1e-7, atol=1e-9),
    (torch.float32, "cuda"): Tolerance(rtol=3e-4, atol=3e-5),
    (torch.float16, "cuda"): Tolerance(rtol=1e-2, atol=1e-3),
    (torch.bfloat16, "cuda"): Tolerance(rtol=3e-2, atol=1e-2),
}

# Finite differences always run in float64; this is the agreement asked of a gradient check
# (relative to the error model's own bound, see grader.gradcheck).
FINITE_DIFFERENCE_DTYPE = torch.float64


def tolerance(dtype: torch.dtype, device: str | torch.device = "cpu", scale: float = 1.0) -> Tolerance:
    """Tolerance for comparing a result of ``dtype`` computed on ``device``.

    ``scale`` widens it for a documented reason (ill-conditioning, long reductions).
    """
    kind = torch.device(device).type
    key = (dtype, "cuda" if kind == "cuda" else "cpu")
    if key not in _TABLE:
        raise KeyError(f"no tolerance for dtype {dtype} on {kind}")
    return _TABLE[key].scaled(scale) if scale != 1.0 else _TABLE[key]


def central_difference_tolerance(dtype: torch.dtype, device: str | torch.device, eps: float, *,
                                 third: float, size: float) -> Tolerance:
    """Tolerance for a numerical derivative by central differences with step ``eps`` (the points
    x ± ε·e_j), compared with the analytic derivative.

    A correct central difference is off by its truncation, at most ε²/6·max|f'''| (``third``: a bound of
    the third derivatives along the coordinate axes over the stencil), and by round-off, about u·|f|/ε for
    the two evaluations and u·|x|·|f'|/ε for the rounding of x ± ε (``size``: a bound of |f| + |x|·|f'|).
    Both are added, with a safety factor, to the dtype's own tolerance. A step of ε/2 on each side, also
    a valid central difference, has a quarter of that truncation and passes too.
    """
    base = tolerance(dtype, device)
    u = float(torch.finfo(dtype).eps)
    truncation = 2.0 * eps**2 / 6.0 * third
    roundoff = 8.0 * u * size / eps
    return Tolerance(base.rtol, base.atol + truncation + roundoff)


# -- the symbolic engine (grader.symbolic) -------------------------------------------------------------
# A formula is not a result of some dtype: the engine evaluates both formulas itself. Two precisions:
# * "float64": both formulas on probe points in float64 (the float64 row above). This catches every wrong
#   answer that differs by more than rounding noise, and every equivalent form passes it.
# * "digits30": the difference of the two formulas evaluated once more with 30 significant digits (mpmath),
#   relative to the derivative's value. Equivalent forms leave ~1e-30 there, and decimal literals such as
#   0.1 (binary, ~1e-17 off) pass; a difference of 1e-10 or 1e-10·x is then a *wrong answer*, deliberately:
#   a formula is either the derivative or it is not.
SYMBOLIC_DIGITS = 30
_SYMBOLIC: dict[str, Tolerance] = {
    "digits30": Tolerance(rtol=1e-13, atol=1e-13),
}


def symbolic_tolerance(precision: str = "float64") -> Tolerance:
    """Tolerance of the symbolic engine's comparison at ``precision`` ("float64" or "digits30")."""
    if precision == "float64":
        return tolerance(torch.float64)
    if precision not in _SYMBOLIC:
        raise KeyError(f"no symbolic tolerance for precision {precision!r}")
    return _SYMBOLIC[precision]
