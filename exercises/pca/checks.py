"""Checks for `pca`: the covariance, the principal axes, projection, reconstruction, explained variance.

The data are built with a prescribed covariance (``_data``): X = √N Q diag(√λ) Bᵀ + m with Q orthonormal,
centred columns and B orthonormal, so the covariance of X is exactly B diag(λ) Bᵀ. The spectra keep a clear
gap after the P-th eigenvalue, so the principal subspace is well defined in float32 too, and each check
asks only for what the spectrum defines:

* distinct eigenvalues: each axis, up to its sign (the columns are compared after a sign convention that
  does not depend on how the eigenvectors were computed, so an SVD with flipped signs is as good as eigh);
* equal or nearly equal eigenvalues: only the subspace, through the projector V Vᵀ, which every
  orthonormal basis of the same span shares.
"""

from __future__ import annotations

from typing import Any

import torch

from grader.checks import CheckContext, check
from grader.format import dtype_name, num

SEPARATED = (5.0, 3.0, 2.0, 1.0, 0.5)
EQUAL = (3.0, 3.0, 1.0, 0.5, 0.25)
FAR = 1e3  # "far from the origin": the mean's entries are about this large


def _data(ctx: CheckContext, N: int, D: int, spectrum: tuple[float, ...], dtype: torch.dtype,
          offset: float = 0.0) -> torch.Tensor:
    """N samples in R^D whose covariance (1/N) is exactly B diag(spectrum) Bᵀ, B a random orthonormal basis."""
    r = len(spectrum)
    assert r <= min(N - 1, D)
    Z = ctx.randn(N, r).cpu()
    Q = _orthonormal(Z - Z.mean(0))  # orthonormal columns, orthogonal to the all-ones vector
    B = _orthonormal(ctx.randn(D, r).cpu())
    mean = offset * (1 + ctx.rand(D).cpu())
    X = N ** 0.5 * Q @ torch.diag(torch.tensor(spectrum, dtype=torch.float64).sqrt()) @ B.T + mean
    return X.to(ctx.device, dtype)


def _orthonormal(Z: torch.Tensor) -> torch.Tensor:
    """Z (ZᵀZ)^(−1/2): orthonormal columns spanning the columns of Z (symmetric orthogonalisation).

    eigh of the small r×r Gram matrix, not torch.linalg.qr, which takes ~20 ms per call in a busy
    multi-threaded parent process."""
    lam, U = torch.linalg.eigh(Z.T @ Z)
    return Z @ (U * lam.rsqrt()) @ U.T


def _part(value: Any, i: int) -> Any:
    """Item i of a returned tuple; anything else as it is (the comparison then reports its type)."""
    return value[i] if isinstance(value, tuple | list) and len(value) > i else value


def _signs_fixed(V: Any) -> Any:
    """V with each column's sign chosen by a fixed random direction r: r·v ≥ 0.

    The same rule applied to the student's and the reference's axes makes them comparable column by
    column whatever sign each method produced (r·v = 0 has probability zero).
    """
    if not isinstance(V, torch.Tensor) or V.dim() != 2 or not V.is_floating_point():
        return V
    r = torch.randn(V.shape[0], generator=torch.Generator().manual_seed(20_240_611), dtype=torch.float64)
    s = torch.where(r.to(V.device) @ V.detach().double() < 0, -1.0, 1.0)
    return V * s.to(V.dtype)


def _projector(V: Any) -> Any:
    if not isinstance(V, torch.Tensor) or V.dim() != 2:
        return V
    return V @ V.T


def axes_up_to_sign(api, X, P):
    return _signs_fixed(_part(api.principal_axes(X, P), 0))


def eigenvalues(api, X, P):
    return _part(api.principal_axes(X, P), 1)


def reconstruction_with_own_axes(api, X, mu, P):
    """X̂ = (X − μ) V Vᵀ + μ through project and reconstruct: the same for any orthonormal basis V of the
    principal subspace, so it is compared with the reference's although the axes may differ."""
    V = _part(api.principal_axes(X, P), 0)
    return api.reconstruct(api.project(X, V, mu), V, mu)


def _cases(ctx: CheckContext, dtype: torch.dtype):
    yield "N = 40, D = 5", _data(ctx, 40, 5, SEPARATED, dtype), 3
    yield "D > N: N = 6, D = 9", _data(ctx, 6, 9, SEPARATED, dtype), 3


# -- covariance -------------------------------------------------------------------------------------
@check("covariance_random")
def covariance_random(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for N, D in ((20, 5), (6, 9)):
            X = ctx.randn(N, D, dtype=dtype) + 2.0
            ctx.expect_close("covariance", X, label=f"covariance (X {N}×{D}, {dtype_name(dtype)})",
                             factors={"N": N})


@check("covariance_far_from_origin")
def covariance_far_from_origin(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        X = _data(ctx, 30, 4, (4.0, 2.0, 1.0, 0.5), dtype, offset=FAR)
        ctx.expect_close("covariance", X, factors={"N": 30},
                         label=f"covariance of data about {FAR:g} from the origin (X 30×4, {dtype_name(dtype)})")


# -- principal axes ---------------------------------------------------------------------------------
@check("eigenvalues_decreasing")
def eigenvalues_decreasing(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for what, X, P in _cases(ctx, dtype):
            lam = ctx.expect_close(eigenvalues, X, P, label=f"principal_axes(X, {P})[1] ({what}, {dtype_name(dtype)})",
                                   factors={"N": X.shape[0]})
            steps = lam[1:] - lam[:-1]
            ctx.expect(bool((steps <= 0).all()), f"principal_axes(X, {P})[1] is not in decreasing order",
                       details=f"eigenvalues: {', '.join(num(float(v)) for v in lam)}")


@check("axes_up_to_sign")
def axes_up_to_sign_check(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for what, X, P in _cases(ctx, dtype):
            ctx.expect_close(axes_up_to_sign, X, P,
                             label=f"principal_axes(X, {P})[0], each column up to its sign ({what}, "
                                   f"{dtype_name(dtype)})")


@check("axes_orthonormal")
def axes_orthonormal(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for what, X, P in _cases(ctx, dtype):
            V = _part(ctx.student.principal_axes(X, P), 0)
            if not isinstance(V, torch.Tensor) or tuple(V.shape) != (X.shape[1], P):
                ctx.expect_close(lambda api, X, P: _part(api.principal_axes(X, P), 0), X, P,
                                 label=f"principal_axes(X, {P})[0] ({what})")
                continue
            gram = (V.T @ V).detach().to("cpu", torch.float64)
            error = float((gram - torch.eye(P, dtype=torch.float64)).abs().max())
            tol = ctx.tolerance(dtype)
            ctx.expect(error <= 10 * (tol.atol + tol.rtol),
                       f"the columns of principal_axes(X, {P})[0] are not orthonormal ({what}, {dtype_name(dtype)})",
                       details=f"Greatest entry of |VᵀV − I|: {num(error)}. Each axis must have unit length and "
                               "be orthogonal to the others.")


# -- project and reconstruct ------------------------------------------------------------------------
@check("project_reconstruct")
def project_reconstruct(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        X = _data(ctx, 12, 5, SEPARATED, dtype, offset=3.0)
        V, _ = ctx.reference.principal_axes(X, 3)
        mu = X.mean(0)
        Z = ctx.expect_close("project", X, V, mu, label=f"project(X, V, mu) (P = 3, {dtype_name(dtype)})")
        ctx.expect_close("reconstruct", Z, V, mu, label=f"reconstruct(Z, V, mu) (P = 3, {dtype_name(dtype)})")


@check("reconstruction_own_axes")
def reconstruction_own_axes(ctx: CheckContext) -> None:
    """project and reconstruct with the student's own axes give (X − μ) V Vᵀ + μ, whatever basis they chose."""
    for dtype in ctx.dtypes:
        for what, spectrum in (("distinct eigenvalues", SEPARATED), ("λ₁ = λ₂", EQUAL)):
            X = _data(ctx, 15, 5, spectrum, dtype, offset=3.0)
            ctx.expect_close(reconstruction_with_own_axes, X, X.mean(0), 2,
                             label=f"reconstruct(project(X, V, μ), V, μ) with your V = principal_axes(X, 2)[0] "
                                   f"({what}, {dtype_name(dtype)})")


# -- explained variance -----------------------------------------------------------------------------
@check("explained_variance_ratio")
def explained_variance_ratio(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for what, X, P in _cases(ctx, dtype):
            ctx.expect_close("explained_variance_ratio", X, P,
                             label=f"explained_variance_ratio(X, {P}) ({what}, {dtype_name(dtype)})")
