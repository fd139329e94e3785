"""Hidden checks of `derivatives`: graded by the instructor, never copied into a student kit (docs/KIT.md).

They use the public checks' helpers through the exercise's package (``from ..checks import ...``),
as :mod:`grader.loader` loads this file as ``<exercise namespace>.instructor.checks``.
"""

from __future__ import annotations

from collections.abc import Callable

from grader.checks import CheckContext, check
from grader.symbolic import matrix, scalar

from ..checks import Symbols, expect_derivative

CANARY = "dlg-canary-hidden-checks-derivatives-5e542ff1095a99b5"  # never in a kit (tests/kit)


# The same functions with other names and concrete sizes (a string answer that hard-codes "x" fails).
RENAMED: dict[str, Callable[[], Symbols]] = {
    "d_sigmoid": lambda: (scalar("u"),),
    "d_tanh": lambda: (scalar("u"),),
    "d_relu": lambda: (scalar("u"),),
    "d_softplus": lambda: (scalar("u"),),
    "grad_affine": lambda: (matrix("a", 4, 1), matrix("v", 4, 1), scalar("c")),
    "grad_sq_norm": lambda: (matrix("v", 3, 1),),
    "grad_least_squares": lambda: (matrix("A", 5, 2), matrix("p", 2, 1), matrix("r", 5, 1)),
    "d_bce_logit": lambda: (scalar("s"), scalar("t")),
}


@check("other_names_and_sizes")
def other_names_and_sizes(ctx: CheckContext) -> None:
    for fn, make in RENAMED.items():
        expect_derivative(ctx, fn, make())
