"""Hidden checks of `conv`: graded by the instructor, never copied into a student kit (docs/KIT.md).

They use the public checks' helpers through the exercise's package (``from ..checks import ...``),
as :mod:`grader.loader` loads this file as ``<exercise namespace>.instructor.checks``.
"""

from __future__ import annotations

from grader.checks import CheckContext, check
from grader.format import dtype_name

from ..checks import CONV2D, _conv_inputs, _setting

CANARY = "dlg-canary-hidden-checks-conv-10cc131226d9ec65"  # never in a kit (tests/kit)


@check("conv2d_gradcheck")
def conv2d_gradcheck(ctx: CheckContext) -> None:
    """dx, dw and db against finite differences of Σ dout ⊙ conv2d_forward (the reference), with the wrong
    entries located by the gradient engine."""
    xs, ws, s, p, d = CONV2D[2]
    for dtype in ctx.dtypes:
        x, w, b, dout = _conv_inputs(ctx, xs, ws, s, p, d, dtype, 2)
        claimed = ctx.student.conv2d_backward(dout, x, w, b, s, p, d)
        if not (isinstance(claimed, tuple | list) and len(claimed) == 3):
            ctx.fail("conv2d_backward should return a tuple (dx, dw, db)", details=f"got {type(claimed).__name__}")
        point = {"x": x.double(), "w": w.double(), "b": b.double()}
        g = dout.double()

        def loss(params, g=g):
            return (g * ctx.reference.conv2d_forward(params["x"], params["w"], params["b"], s, p, d)).sum()

        def gradients_of(api, g=g, point=point):
            return dict(zip(point, api.conv2d_backward(g, point["x"], point["w"], point["b"], s, p, d), strict=True))

        ctx.expect_gradients(loss, point, dict(zip(point, claimed, strict=True)), gradients_of=gradients_of,
                             label=f"conv2d_backward ({_setting(s, p, d)}, {dtype_name(dtype)})")
