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
