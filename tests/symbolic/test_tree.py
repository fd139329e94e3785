"""Trees: what crosses the sandbox boundary. Round trips are exact and JSON-safe; the decoder rebuilds
only whitelisted nodes over the allowed symbols, within the size limits."""

from __future__ import annotations

import json

import pytest
import sympy as sp

from grader.symbolic import (
    TreeError,
    from_tree,
    matrix,
    scalar,
    sigma,
    symbols_from_tree,
    symbols_to_tree,
    to_tree,
)

x, z = scalar("x"), scalar("z")
W, theta, y = matrix("W", "T", "D"), matrix("theta", "D", 1), matrix("y", "T", 1)
ALLOWED = [x, z, W, theta, y]

ROUND_TRIPS = [
    sigma(x) * (1 - sigma(x)), sp.exp(-x) / (1 + sp.exp(-x)) ** 2, sp.sech(x) ** 2, 1 - sp.tanh(x) ** 2,
    sp.Piecewise((0, x < 0), (1, True)), sp.Heaviside(x, 0), sp.Max(0, x), sp.Rational(1, 2) * x + 1.5,
    sp.log(1 + sp.exp(z)) * sp.E * sp.pi, sp.Abs(x) + sp.sign(x), sp.And(x < 1, x > 0),
    2 * W.T * (W * theta - y), W.T @ W @ theta, theta.T * theta, sp.Identity(3) * 2,
]


@pytest.mark.parametrize("expr", ROUND_TRIPS, ids=str)
def test_round_trip_through_json(expr):
    tree = json.loads(json.dumps(to_tree(expr)))
    assert from_tree(tree, ALLOWED) == expr


def test_tree_format():
    assert to_tree(2 * x + sp.Rational(1, 2)) == ["Add", ["Rational", "1", "2"], ["Mul", ["Integer", "2"],
                                                                                   ["Symbol", "x"]]]
    assert to_tree(W.T) == ["Transpose", ["MatrixSymbol", "W", ["Symbol", "T"], ["Symbol", "D"]]]
    assert to_tree(sigma(x)) == ["Function", "sigma", ["Symbol", "x"]]


def test_undefined_sigma_function_is_read_as_sigmoid():
    # A student may write sp.Function("sigma")(x) in their own file.
    assert from_tree(to_tree(sp.Function("sigma")(x)), ALLOWED) == sigma(x)


def test_symbols_cross_and_come_back_equal():
    back = symbols_from_tree(json.loads(json.dumps(symbols_to_tree(ALLOWED))))
    assert back == ALLOWED


def test_allowed_symbols_are_the_callers_objects():
    other = sp.Symbol("x")  # no assumptions: a different sympy object
    assert from_tree(to_tree(other), ALLOWED) is x


@pytest.mark.parametrize("tree, message", [
    (["Symbol", "q"], "unknown symbol 'q' (the variables are W, theta, x, y, z)"),
    (["MatrixSymbol", "W", ["Integer", "3"], ["Integer", "3"]], "matrix W has shape (T, D), not (3, 3)"),
    (["Function", "eval", ["Symbol", "x"]], "unsupported function 'eval'"),
    (["__class__"], "unsupported node '__class__'"),
    (["node", ["Symbol", "x"]], "unsupported node 'node'"),
    (["Integer", "9" * 400], "malformed or too large integer"),
    (["Float", "1e999"], "number too large for a float"),
    (["Float", "1" * 100], "malformed float"),
    (["Pow", ["Integer", "2"], ["Pow", ["Integer", "2"], ["Integer", "65536"]]],
     "exponent too large (the limit is 1000)"),
    (["Pow", ["Integer", "0"], ["Integer", "-1"]], "division by zero (0 to a non-positive power)"),
    (["MatMul", ["MatrixSymbol", "W", ["Symbol", "T"], ["Symbol", "D"]],
      ["MatrixSymbol", "y", ["Symbol", "T"], ["Integer", "1"]]], "shapes do not match"),
    ("x", "malformed expression tree"),
    (["Add"], "an operation without operands"),
])
def test_hostile_trees_are_refused(tree, message):
    with pytest.raises(TreeError) as info:
        from_tree(tree, ALLOWED)
    assert message in str(info.value)


def test_deep_and_wide_trees_are_refused():
    deep = ["Symbol", "x"]
    for _ in range(300):
        deep = ["Add", deep, ["Integer", "1"]]
    wide = ["Add"] + [["Mul", ["Integer", str(i)], ["Symbol", "x"]] for i in range(5000)]
    for tree, message in ((deep, "nested too deeply"), (wide, "too large")):
        with pytest.raises(TreeError, match=message):
            from_tree(tree, ALLOWED)


@pytest.mark.parametrize("expr, message", [
    (sp.Derivative(sp.Function("f")(x), x), "unsupported sympy object: an unevaluated Derivative"),
    (sp.erf(x), "unsupported function 'erf'"),
    (sp.I * x, "unsupported sympy object: the imaginary unit I"),
    (sp.oo, r"unsupported sympy object: infinity \(oo\)"),
    (3, "not a sympy expression: an int"),
    (sp.ImmutableMatrix([[x]]), r"unsupported sympy object: a sympy Matrix \(ImmutableDenseMatrix\)"),
    (sp.Integer(10) ** 5000, "number too large"),
])
def test_to_tree_refuses_what_we_cannot_read(expr, message):
    with pytest.raises(TreeError, match=message):
        to_tree(expr)


def test_to_tree_applies_the_graders_limits_in_the_students_process():
    # Refused where the student's call happens, with the reason, instead of on arrival in the grader.
    with pytest.raises(TreeError, match=r"exponent too large \(the limit is 1000\)"):
        to_tree(x ** (10**5))
    with pytest.raises(TreeError, match="not a valid symbol name"):
        to_tree(sp.Symbol("x y"))
