"""Checks for `gmm_em`: the log-density, the E- and M-steps, the log-likelihood, and EM as a whole.

Values are compared with the reference on shared inputs; on top of that the checks test what must hold
whatever the numbers (responsibilities ≥ 0 summing to 1 per point, π summing to 1, symmetric positive
definite covariances, a log-likelihood history that never decreases), and stability: points far from
every component, where exp(log-density) underflows to 0 and a naive E-step divides 0 by 0.

Far points are placed so that one component is nearer than the others by hundreds of nats: their
responsibilities are (1, 0, 0) to every precision, so float32 and float64 agree on them although their
log-densities are of order −10⁴.
"""

from __future__ import annotations

from typing import Any

import torch

from grader.checks import CheckContext, check
from grader.format import dtype_name, num

MEANS = ((0.0, 0.0), (6.0, 0.0), (0.0, 6.0))
FAR_POINTS = ((-60.0, -60.0), (200.0, 1.0), (2.0, 150.0))


def _spd(ctx: CheckContext, D: int) -> torch.Tensor:
    """A random symmetric positive definite matrix with eigenvalues between about 0.3 and 3."""
    A = ctx.randn(D, D).cpu()
    return (A @ A.T / D + 0.3 * torch.eye(D, dtype=torch.float64)).to(ctx.device)


def _mixture(ctx: CheckContext, dtype: torch.dtype, K: int = 3, D: int = 2, spread: float = 1.0):
    """(pi, means, covs) with components near MEANS (D = 2) or random (other D)."""
    pi = ctx.rand(K, low=0.5, high=1.5)
    pi = pi / pi.sum()
    if D == 2 and K <= len(MEANS):
        means = torch.tensor(MEANS[:K], dtype=torch.float64, device=ctx.device) + 0.3 * ctx.randn(K, D)
    else:
        means = 3 * ctx.randn(K, D)
    covs = torch.stack([spread * _spd(ctx, D) for _ in range(K)])
    return pi.to(dtype), means.to(dtype), covs.to(dtype)


def _sample(ctx: CheckContext, pi, means, covs, N: int) -> torch.Tensor:
    """N points drawn from the mixture (components assigned round-robin by π, for a fixed count)."""
    K, D = means.shape
    counts = torch.round(pi.double().cpu() * N).long()
    counts[-1] = N - counts[:-1].sum()
    points = []
    for k in range(K):
        lam, U = torch.linalg.eigh(covs[k].double())
        L = U * lam.sqrt()  # L Lᵀ = Σ_k (eigh: torch.linalg.cholesky is slow in a busy multi-threaded parent)
        z = ctx.randn(int(counts[k]), D)
        points.append(means[k].double() + z @ L.T)
    return torch.cat(points).to(means.dtype)


def _responsibilities(ctx: CheckContext, N: int, K: int, dtype: torch.dtype) -> torch.Tensor:
    r = ctx.rand(N, K, low=0.05, high=1.0) ** 2
    return (r / r.sum(1, keepdim=True)).to(dtype)


def _far(ctx: CheckContext, X: torch.Tensor) -> torch.Tensor:
    far = torch.tensor(FAR_POINTS, dtype=X.dtype, device=X.device)
    return torch.cat([X[:5], far, X[5:10]])


def _fail_with_diagnosis(ctx: CheckContext, fn: str, args: tuple, actual: Any, message: str, details: str) -> None:
    """Fail a custom (invariant) check, naming the known mistake whose variant gives the same value, if any."""
    expected = getattr(ctx.reference, fn)(*[a.double() if isinstance(a, torch.Tensor) else a for a in args])
    run = lambda api, *a: getattr(api, fn)(*a)  # noqa: E731
    dtype = next(a.dtype for a in args if isinstance(a, torch.Tensor))
    diagnosis = ctx.match_mistake(run, args, {}, actual, expected, ctx.tolerance(dtype))
    ctx.fail(message, details=details, diagnosis=diagnosis)


# -- log_gaussian -----------------------------------------------------------------------------------
@check("log_gaussian_values")
def log_gaussian_values(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for N, D in ((7, 3), (5, 1), (6, 4)):
            X = ctx.randn(N, D, dtype=dtype)
            mean, cov = ctx.randn(D, dtype=dtype, scale=0.5), _spd(ctx, D).to(dtype)
            ctx.expect_close("log_gaussian", X, mean, cov,
                             label=f"log_gaussian (X {N}×{D}, {dtype_name(dtype)})")


# -- E-step -----------------------------------------------------------------------------------------
@check("e_step_values")
def e_step_values(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        pi, means, covs = _mixture(ctx, dtype, spread=4.0)  # overlapping components: no responsibility is 0/1
        X = _sample(ctx, pi, means, covs, 15)
        ctx.expect_close("e_step", X, pi, means, covs, label=f"e_step (N = 15, K = 3, {dtype_name(dtype)})")


@check("responsibilities_sum_to_one")
def responsibilities_sum_to_one(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        pi, means, covs = _mixture(ctx, dtype, spread=4.0)
        X = _sample(ctx, pi, means, covs, 12)
        resp = ctx.student.e_step(X, pi, means, covs)
        if not isinstance(resp, torch.Tensor) or tuple(resp.shape) != (12, 3):
            ctx.expect_close("e_step", X, pi, means, covs, label=f"e_step (N = 12, K = 3, {dtype_name(dtype)})")
            continue
        r = resp.detach().to("cpu", torch.float64)
        tol = ctx.tolerance(dtype)
        sums = r.sum(dim=1)
        worst = int((sums - 1).abs().argmax())
        if not bool(torch.isfinite(r).all()) or float(r.min()) < -tol.atol:
            _fail_with_diagnosis(ctx, "e_step", (X, pi, means, covs), resp,
                                 f"e_step returned negative or non-finite responsibilities ({dtype_name(dtype)})",
                                 f"Smallest entry: {num(float(r.min()))}. Responsibilities are probabilities.")
        if float((sums - 1).abs().max()) > 10 * (tol.atol + tol.rtol):
            _fail_with_diagnosis(ctx, "e_step", (X, pi, means, covs), resp,
                                 f"the responsibilities of point {worst} sum to {num(float(sums[worst]))}, not 1 "
                                 f"({dtype_name(dtype)})",
                                 "For every point n, Σ_k r_nk = 1 (the sum along dim=1, over the K components).")


@check("e_step_far_points")
def e_step_far_points(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        pi, means, covs = _mixture(ctx, dtype)
        X = _far(ctx, _sample(ctx, pi, means, covs, 12))
        label = f"e_step with points far from every component ({dtype_name(dtype)})"
        resp = ctx.student.e_step(X, pi, means, covs)
        if isinstance(resp, torch.Tensor) and resp.shape == (X.shape[0], 3) and not bool(torch.isfinite(resp).all()):
            rows = sorted({int(i) for i in (~torch.isfinite(resp)).nonzero()[:, 0]})
            _fail_with_diagnosis(ctx, "e_step", (X, pi, means, covs), resp,
                                 f"{label}: NaN or inf in the responsibilities of points {rows}",
                                 "Those points are 60 to 200 units from every component: each π_k N(x_n; c_k, Σ_k) "
                                 "underflows to 0 and a division then gives 0/0. Their responsibilities are "
                                 "still well defined (almost all of it goes to the nearest component).")
        ctx.expect_close("e_step", X, pi, means, covs, label=label)


# -- M-step -----------------------------------------------------------------------------------------
@check("m_step_values")
def m_step_values(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for N, K, D in ((20, 3, 2), (15, 2, 3)):
            X = ctx.randn(N, D, dtype=dtype, scale=2.0) + 1.0
            resp = _responsibilities(ctx, N, K, dtype)
            ctx.expect_close("m_step", X, resp, label=f"m_step (N = {N}, K = {K}, D = {D}, {dtype_name(dtype)})",
                             factors={"N": N})


@check("m_step_reg")
def m_step_reg(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        X = ctx.randn(10, 3, dtype=dtype)
        resp = _responsibilities(ctx, 10, 2, dtype)
        ctx.expect_close("m_step", X, resp, 0.1, label=f"m_step(X, resp, reg=0.1) ({dtype_name(dtype)})",
                         factors={"N": 10})


@check("m_step_invariants")
def m_step_invariants(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        X = ctx.randn(16, 3, dtype=dtype, scale=2.0)
        resp = _responsibilities(ctx, 16, 3, dtype)
        out = ctx.student.m_step(X, resp)
        if not (isinstance(out, tuple | list) and len(out) == 3 and all(isinstance(t, torch.Tensor) for t in out)
                and out[0].shape == (3,) and out[2].shape == (3, 3, 3)):
            ctx.expect_close("m_step", X, resp, label=f"m_step ({dtype_name(dtype)})")
            continue
        pi, covs = out[0].detach().to("cpu", torch.float64), out[2].detach().to("cpu", torch.float64)
        tol = ctx.tolerance(dtype)
        if abs(float(pi.sum()) - 1) > 10 * (tol.atol + tol.rtol):
            _fail_with_diagnosis(ctx, "m_step", (X, resp), out, f"the mixture weights π sum to {num(float(pi.sum()))}, "
                                 f"not 1 ({dtype_name(dtype)})", "π_k = r̄_k / N, the fraction of the points.")
        asym = float((covs - covs.transpose(1, 2)).abs().max())
        scale = float(covs.abs().max())
        if not asym <= 10 * (tol.atol + tol.rtol * scale):
            ctx.fail(f"the covariances returned by m_step are not symmetric ({dtype_name(dtype)})",
                     details=f"Greatest |Σ_k − Σ_kᵀ|: {num(asym)}.")
        smallest = float(torch.linalg.eigvalsh((covs + covs.transpose(1, 2)) / 2).min())
        if not smallest > 0:
            _fail_with_diagnosis(ctx, "m_step", (X, resp), out,
                                 f"a covariance returned by m_step is not positive definite ({dtype_name(dtype)})",
                                 f"Smallest eigenvalue: {num(smallest)}. Σ_k = Σ_n r_nk (x_n − c_k)(x_n − c_k)ᵀ / r̄_k "
                                 "is a weighted sum of outer products.")


# -- log-likelihood ---------------------------------------------------------------------------------
@check("log_likelihood_values")
def log_likelihood_values(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        pi, means, covs = _mixture(ctx, dtype, spread=2.0)
        X = _sample(ctx, pi, means, covs, 15)
        ctx.expect_close("log_likelihood", X, pi, means, covs, label=f"log_likelihood (N = 15, {dtype_name(dtype)})",
                         factors={"N": 15})
        Xf = _far(ctx, X)
        ctx.expect_close("log_likelihood", Xf, pi, means, covs, factors={"N": Xf.shape[0]},
                         label=f"log_likelihood with points far from every component ({dtype_name(dtype)})")


# -- fit ----------------------------------------------------------------------------------------------
def _history(ctx: CheckContext, value: Any, n_iter: int) -> torch.Tensor:
    """The student's history as a float64 vector (a tensor, or a list of numbers or 0-dim tensors)."""
    h = value
    if isinstance(h, tuple | list):
        try:
            h = torch.tensor([float(v) for v in h], dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            ctx.fail("fit's history should be a 1-D tensor (or a list) of log-likelihoods")
    if not isinstance(h, torch.Tensor) or h.dim() != 1 or not 1 <= h.numel() <= n_iter:
        ctx.fail(f"fit's history should be a 1-D tensor of between 1 and n_iter = {n_iter} log-likelihoods",
                 details=f"got {h!r}"[:200] if not isinstance(h, torch.Tensor) else f"got shape {tuple(h.shape)}")
    return h.detach().to("cpu", torch.float64)


@check("fit_history_never_decreases")
def fit_history_never_decreases(ctx: CheckContext) -> None:
    """EM never decreases the log-likelihood. Rounding may, by about eps·Σ_n |log p(x_n)|: the slack."""
    for dtype in ctx.dtypes:
        pi, means, covs = _mixture(ctx, dtype, spread=3.0)  # overlapping: EM takes many small steps
        X = _sample(ctx, pi, means, covs, 40)
        start = (torch.full((3,), 1 / 3, dtype=dtype, device=ctx.device), means + 1.0, covs)
        out = ctx.student.fit(X, *start, n_iter=15, tol=-1.0)
        if not isinstance(out, tuple | list) or len(out) != 4:
            ctx.fail("fit should return (pi, means, covs, history)", details=f"got {type(out).__name__}")
        h = _history(ctx, out[3], 15)
        if not bool(torch.isfinite(h).all()):
            ctx.fail(f"fit's history contains NaN or inf ({dtype_name(dtype)})",
                     details=f"history: {', '.join(num(float(v)) for v in h)}")
        slack = 100 * torch.finfo(dtype).eps * (float(h.abs().max()) + X.shape[0])
        drops = h[1:] - h[:-1]
        i = int(drops.argmin()) if drops.numel() else 0
        if drops.numel() and float(drops[i]) < -slack:
            ctx.fail(f"fit's log-likelihood decreased from iteration {i + 1} to {i + 2} ({dtype_name(dtype)})",
                     details=f"history[{i}] = {num(float(h[i]))}, history[{i + 1}] = {num(float(h[i + 1]))} "
                             f"(a drop of {num(-float(drops[i]))}; rounding allows {num(slack)}). EM never "
                             "decreases the log-likelihood: look at the M-step (the exact maximiser) and at "
                             "the history (the log-likelihood after each M-step).")
