"""Hidden checks of `pca`: graded by the instructor, never copied into a student kit (docs/KIT.md).

They use the public checks' helpers through the exercise's package (``from ..checks import ...``),
as :mod:`grader.loader` loads this file as ``<exercise namespace>.instructor.checks``.
"""

from __future__ import annotations

from grader.checks import CheckContext, check
from grader.format import dtype_name

from ..checks import EQUAL, FAR, _data, _part, _projector, axes_up_to_sign, eigenvalues

CANARY = "dlg-canary-hidden-checks-pca-665a37723854f0cb"  # never in a kit (tests/kit)


NEARLY_EQUAL = (3.0, 3.0 * (1 + 1e-6), 1.0, 0.5, 0.25)


def subspace(api, X, P):
    return _projector(_part(api.principal_axes(X, P), 0))


@check("subspace_equal_eigenvalues")
def subspace_equal_eigenvalues(ctx: CheckContext) -> None:
    """λ₁ = λ₂ (or nearly): any orthonormal basis of their plane is right, only the span is compared."""
    for dtype in ctx.dtypes:
        for what, spectrum in (("λ₁ = λ₂", EQUAL), ("λ₁ ≈ λ₂", NEARLY_EQUAL)):
            X = _data(ctx, 25, 5, spectrum, dtype)
            ctx.expect_close(subspace, X, 2, label=f"V Vᵀ, the projector onto the span of principal_axes(X, 2)[0] "
                                                   f"({what}, {dtype_name(dtype)})")
            ctx.expect_close(eigenvalues, X, 2, label=f"principal_axes(X, 2)[1] ({what}, {dtype_name(dtype)})",
                             factors={"N": 25})


@check("axes_far_from_origin")
def axes_far_from_origin(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        X = _data(ctx, 30, 4, (4.0, 2.0, 1.0, 0.5), dtype, offset=FAR)
        ctx.expect_close(axes_up_to_sign, X, 2, label=f"principal_axes(X, 2)[0] up to sign, data about {FAR:g} "
                                                      f"from the origin ({dtype_name(dtype)})")
