"""Hidden checks of `gmm_em`: graded by the instructor, never copied into a student kit (docs/KIT.md).

They use the public checks' helpers through the exercise's package (``from ..checks import ...``),
as :mod:`grader.loader` loads this file as ``<exercise namespace>.instructor.checks``.
"""

from __future__ import annotations

import torch

from grader.checks import CheckContext, check
from grader.format import dtype_name

from ..checks import _sample, _spd

CANARY = "dlg-canary-hidden-checks-gmm_em-de557375e349758f"  # never in a kit (tests/kit)


def _sorted_parameters(api, X, pi, means, covs):
    """fit's (pi, means, covs), components sorted by the first coordinate of their mean: EM may return
    them in any order, and the clusters of this check are far apart along that coordinate."""
    out = api.fit(X, pi, means, covs, n_iter=100, tol=1e-9)
    if not (isinstance(out, tuple | list) and len(out) >= 3 and all(isinstance(t, torch.Tensor) for t in out[:3])
            and out[1].dim() == 2 and out[1].shape[0] == out[0].shape[0] == out[2].shape[0]):
        return out[:3] if isinstance(out, tuple | list) else out
    order = torch.argsort(out[1][:, 0])
    return tuple(t[order] for t in out[:3])


@check("fit_reaches_reference")
def fit_reaches_reference(ctx: CheckContext) -> None:
    """Three clusters more than 10 standard deviations apart: once the covariances have shrunk to the
    clusters', every responsibility is 0 or 1 to within e^-50, so EM lands on the clusters' own sample
    statistics in a few iterations and the result depends on
    the start only, not on the stopping rule (with overlapping clusters EM converges linearly, and a float32
    run stops wherever its log-likelihood stops changing in float32). The tolerance is 10× the table's:
    the sums over a cluster's points round differently in float32."""
    for dtype in ctx.dtypes:
        true = (torch.tensor([0.3, 0.3, 0.4], dtype=torch.float64, device=ctx.device),
                torch.tensor([[-14.0, 0.0], [0.0, 12.0], [14.0, -6.0]], dtype=torch.float64, device=ctx.device),
                torch.stack([0.5 * _spd(ctx, 2) for _ in range(3)]))
        X = _sample(ctx, *(t.to(dtype) for t in true), 60)
        # wide start covariances: the first responsibilities are soft (a point sends about e^-6 of itself
        # to a wrong cluster), so one E-step is not enough; from the second on they are hard
        start = (torch.full((3,), 1 / 3, dtype=dtype, device=ctx.device), (true[1] + 1.0).to(dtype),
                 16 * torch.eye(2, dtype=dtype, device=ctx.device).expand(3, 2, 2).clone())
        ctx.expect_close(_sorted_parameters, X, *start, scale=10.0,
                         label=f"fit(X, pi, means, covs)[:3] from a given start, components sorted "
                               f"({dtype_name(dtype)})")
