"""A corpus of answers to the eight functions of the `derivatives` exercise, the kind a class types.

Written for issue 10, independently of ``mistakes.py``: unusual correct forms, near-miss wrong answers
(with the words their diagnosis must and must not contain) and hostile or malformed answers (with the
words of their "invalid answer" message). Names in strings are the contract's parameter names (x; w, x,
b; W, theta, y; z, y). An answer is a string, or a function of the symbols that builds a sympy
expression (what a student's function returns through the sandbox), or another Python object.

Used by tests/symbolic/test_corpus.py and benchmarks/bench_symbolic.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp


@dataclass(frozen=True)
class Case:
    fn: str
    answer: Any  # a string, or a callable of the symbols, or another object sent as is
    words: tuple[str, ...] = ()  # the diagnosis (wrong) or message (invalid) contains each of these
    not_words: tuple[str, ...] = ()  # ... and none of these
    id: str = field(default="", compare=False)

    def build(self, args: tuple[Any, ...]) -> Any:
        return self.answer(*args) if callable(self.answer) else self.answer

    @property
    def label(self) -> str:
        return self.id or f"{self.fn}:{self.answer if isinstance(self.answer, str) else type(self.answer).__name__}"


def _c(fn: str, *answers: Any) -> list[Case]:
    return [Case(fn, a) for a in answers]


def _sigma(x: Any) -> Any:
    return sp.Function("sigma")(x)


CORRECT: list[Case] = [
    *_c("d_sigmoid", "e^{-x}/(1+e^{-x})^2", "e^(-x)/(1 + e^(-x))²", "σ(x)·(1 − σ(x))", "sigmoid(x)*sigmoid(-x)",
        "1/(e^x + 2 + e^-x)", "1/(4 cosh(x/2)^2)", "sech²(x/2)/4", "0.25 sech^2(0.5x)", "σ(x) − σ(x)²",
        "exp(x)/(1+exp(x))^2", "1/(2 + 2cosh(x))", "(1 - tanh(x/2)^2)/4", "σ(x)/(1 + e^x)",
        lambda x: sp.exp(-x) / (1 + sp.exp(-x)) ** 2, lambda x: _sigma(x) * (1 - _sigma(x))),
    *_c("d_tanh", "1 − tanh²(x)", "1 - tanh^2(x)", "sech^2(x)", "sech(x)²", "1/cosh(x)^2", "4/(e^x + e^{-x})^2",
        "(1 - tanh(x))(1 + tanh(x))", "1 - (sinh(x)/cosh(x))^2", "4 σ(2x)(1 − σ(2x))", "4 e^{2x}/(e^{2x}+1)^2",
        "4e0 e^(2x)/(1 + e^(2x))^2", "{1 - tanh(x)}{1 + tanh(x)}", "1/cosh²(x)", "1 - tanh(x)**2",
        lambda x: sp.sech(x) ** 2, lambda x: 1 / sp.cosh(x) ** 2),
    *_c("d_relu", "H(x)", "Heaviside(x, 0)", "Heaviside(x, 1)", "Piecewise((0, x < 0), (1, True))",
        "Piecewise((1, x > 0), (0, True))", "(sign(x) + 1)/2", "(1 + x/|x|)/2", "(x + |x|)/(2x)",
        "Heaviside(x/300)", "max(0, sign(x))", "Heaviside(x + |x|, 0)", "Heaviside(2x, 0)",
        lambda x: sp.Heaviside(x), lambda x: sp.Piecewise((0, x <= 0), (1, True))),
    *_c("d_softplus", "σ(x)", "e^x/(1 + e^x)", "1/(1 + e^{-x})", "1/(1+exp(-x))", "(1 + tanh(x/2))/2",
        "sigmoid(x)", "exp(x)/(exp(x) + 1)", "1 - σ(-x)", "1 - 1/(1 + e^x)", lambda x: 1 / (1 + sp.exp(-x))),
    *_c("grad_affine", "w", "w + 0x", "(w.T).T", "2w - w", "(wᵀ)ᵀ", lambda w, x, b: w),
    *_c("grad_sq_norm", "2x", "x + x", "2 * x", "(2 x.T).T", "4x/2", "x·2", lambda x: x + x),
    *_c("grad_least_squares", "2 Wᵀ(Wθ − y)", "2*W.T*W*theta - 2*W.T*y", "2 W^T W theta - 2 W^T y",
        "(2(Wθ − y)ᵀW)ᵀ", "2 (W.T @ W @ theta - W.T @ y)", "W.T(2Wθ) - W.T(2y)", "-2 W.T (y - W theta)",
        "2 * W.T @ (W @ theta) - 2 * W.T @ y", lambda W, theta, y: 2 * W.T * W * theta - 2 * W.T * y),
    *_c("d_bce_logit", "σ(z) − y", "sigmoid(z) - y", "1/(1 + e^{-z}) - y", "e^z/(1+e^z) - y",
        "-(y(1 − σ(z)) − (1 − y)σ(z))", "-y σ(-z) + (1-y) σ(z)", "(1 + tanh(z/2))/2 - y",
        "σ(z)(1-y) - y(1 - σ(z))", "(1 - y) - (1 - σ(z))", lambda z, y: _sigma(z) - y),
]

SIGN, FACTOR, TINY = ("Sign error",), ("constant factor",), ("tiny amount",)
NOT_CHAIN = ("chain",)

WRONG: list[Case] = [
    # d_sigmoid
    Case("d_sigmoid", "-σ(x)(1-σ(x))", SIGN, NOT_CHAIN),
    Case("d_sigmoid", "-e^{-x}/(1+e^{-x})^2", ("e^{−x}",), ("Sign error",)),
    Case("d_sigmoid", "σ(x)", ("itself",)),
    Case("d_sigmoid", "σ(x)(1+σ(x))"),
    Case("d_sigmoid", "e^{-x}/(1+e^{-x})"),
    Case("d_sigmoid", "2σ(x)(1−σ(x))", FACTOR),
    Case("d_sigmoid", "σ(x)(1-σ(x)) + 1e-10", TINY),
    Case("d_sigmoid", "σ(x)(1 − σ(x)) + Heaviside(x − 70)"),
    Case("d_sigmoid", "e^{x}/(1+e^{-x})^2"),
    Case("d_sigmoid", "σ(x)^2"),
    # d_tanh
    Case("d_tanh", "1 + tanh(x)^2"),
    Case("d_tanh", "tanh(x)(1 − tanh(x))", ("Deck 004",), SIGN),
    Case("d_tanh", "tanh(x)^2 - 1", SIGN, ("Deck 003",)),
    Case("d_tanh", "1 - tanh(x)", ("power is missing",)),
    Case("d_tanh", "sech(x)"),
    Case("d_tanh", "1 - tanh(x)^2 + 1e-10 x", TINY),
    Case("d_tanh", "0", ("0 everywhere",)),
    Case("d_tanh", "0 tanh(x) + 1e-12", ("0 at every tested point",), ("everywhere",)),
    Case("d_tanh", "1 - tanh(x)^2 + Heaviside(-x - 5)/1000"),
    Case("d_tanh", "1 - tanh(x)^2 + Heaviside(|x| - 4)/100"),
    Case("d_tanh", "sech(x)^2 + Heaviside(x - 70)"),
    # d_relu
    Case("d_relu", "Heaviside(-x)", ("flipped",)),
    Case("d_relu", "1"),
    Case("d_relu", "Heaviside(x - 0.001)"),
    Case("d_relu", "Heaviside(x/300 - 0.005)"),
    Case("d_relu", "x Heaviside(x)"),
    Case("d_relu", "max(0, x)", ("itself",)),
    # d_softplus
    Case("d_softplus", "1/(1 + e^x)", ("inner derivative",)),
    Case("d_softplus", "log(1 + e^x)", ("itself",)),
    Case("d_softplus", "e^x/(1+e^x)^2"),
    Case("d_softplus", "σ(x) + 1e-10", TINY),
    Case("d_softplus", "-σ(x)", SIGN),
    # grad_affine
    Case("grad_affine", "w.T", ("row",)),
    Case("grad_affine", "x"),
    Case("grad_affine", "2w", FACTOR),
    Case("grad_affine", "b w"),
    # grad_sq_norm
    Case("grad_sq_norm", "x", ("power rule",)),
    Case("grad_sq_norm", "2 x.T", ("ranspose",)),
    Case("grad_sq_norm", "-2x", SIGN),
    Case("grad_sq_norm", "x.T x", ("shape 1×1",)),
    # grad_least_squares
    Case("grad_least_squares", "W.T(Wθ − y)", ("square",)),
    Case("grad_least_squares", "2W.T(y − Wθ)", ("residual",)),
    Case("grad_least_squares", "2 W (W θ - y)", ("transpose is missing",), ("too many",)),
    Case("grad_least_squares", "2 W.T (W.T θ − y)", ("transpose too many",), ("missing",)),
    Case("grad_least_squares", "2(Wθ − y)ᵀW", ("row",)),
    Case("grad_least_squares", "2 W.T W θ"),
    Case("grad_least_squares", "2.0000000001 W.T (W θ - y)", TINY),
    # d_bce_logit
    Case("d_bce_logit", "y − σ(z)", ("negative",)),
    Case("d_bce_logit", "σ(z)"),
    Case("d_bce_logit", "σ(z) − y + 1e-10", TINY),
    Case("d_bce_logit", "-y/σ(z) + (1-y)/(1-σ(z))", ("∂BCE/∂ŷ",)),
    Case("d_bce_logit", "σ(z)(1 − σ(z)) − y"),
    Case("d_bce_logit", "-y(1 - σ(z)) - (1 - y)σ(z)", ("minus sign",)),
]


class _Opaque:  # what the sandbox returns for an object it keeps in the student's process
    type_name = "MutableDenseMatrix"


HOSTILE: list[Case] = [
    Case("d_tanh", "sqrt(-1)", ("not a real number",)),
    Case("d_tanh", "log(-1)", ("not a real number",)),
    Case("d_tanh", "(-2)^0.5", ("not a real number",)),
    Case("d_tanh", "x > 0", ("condition",)),
    Case("d_relu", lambda x: sp.Piecewise((1, sp.Eq(x > 0, True)), (0, True)), ("not conditions",)),
    Case("d_relu", "Piecewise((1, (x > 0) == (x > 1)), (0, True))", ("not conditions",)),
    Case("d_relu", "Heaviside(x, x)", ("must be a number",)),
    Case("d_bce_logit", lambda z, y: sp.Heaviside(z, y), ("must be a number",)),
    Case("d_tanh", ["Symbol", "x"], ("a Python list",)),
    Case("grad_sq_norm", _Opaque(), ("a sympy Matrix",), ("Opaque",), id="grad_sq_norm:opaque-matrix"),
    Case("d_tanh", lambda x: sp.Integer(10) ** 5000 * x, ("number too large",), ("Exceeds", "4300"),
         id="d_tanh:10^5000"),
    Case("d_tanh", "max(" + ", ".join(f"x^{k}" for k in range(1, 200)) + ")", ("8 arguments",), id="d_tanh:max-199"),
    Case("d_tanh", lambda x: sp.Max(*[x ** k for k in range(1, 11)]), ("8 arguments",), id="d_tanh:Max-tree"),
    Case("d_tanh", sp.pretty(1 - sp.tanh(sp.Symbol("x")) ** 2), ("lines",), id="d_tanh:pretty"),
    Case("d_tanh", "tanh^{-1}(x)", ("inverse",)),
    Case("d_tanh", "__import__('os').system('true')", ("Python",)),
    Case("d_tanh", "9^9^9^9", ("too large",)),
    Case("d_tanh", lambda x: sp.I * x, ("imaginary",)),
    Case("d_tanh", "1/0", ("division by zero",)),
    Case("d_tanh", None, ("None",)),
]
