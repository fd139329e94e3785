"""Hidden checks of `mlp_backprop`: graded by the instructor, never copied into a student kit (docs/KIT.md).

They use the public checks' helpers through the exercise's package (``from ..checks import ...``),
as :mod:`grader.loader` loads this file as ``<exercise namespace>.instructor.checks``.
"""

from __future__ import annotations

from grader.checks import CheckContext, check

from ..checks import _expect_gradients

CANARY = "dlg-canary-hidden-checks-mlp_backprop-1f1ddedde547bafd"  # never in a kit (tests/kit)


SQUARE = (5, 5, 5, 5, 5)


@check("backward_square_layers")
def backward_square_layers(ctx: CheckContext) -> None:
    _expect_gradients(ctx, SQUARE, None)


@check("backward_batch_sizes")
def backward_batch_sizes(ctx: CheckContext) -> None:
    _expect_gradients(ctx, (3, 8, 2, 6, 1), None, batches=(17, 2, 1))
