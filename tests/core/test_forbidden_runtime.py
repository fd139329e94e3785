"""Forbidden APIs at run time: each route around a Python-level guard meets the same rule.

The record of what a call ran (grader.sandbox.oprecord) is decided in the parent: ``torch.ops.aten._softmax``,
``exec``'d code, ``__wrapped__``, ``torch.autograd.functional`` and finite differences in place of a
backward pass each lose the checks of the function that used them, with a message naming the API, the
function and the line. Correct solutions, the layer style of CS231n and slow honest loops among them,
keep full marks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.exercises import get_exercise
from grader.grading import GradeOptions, grade

ROOT = Path(__file__).resolve().parents[2]
# inputs_unchanged calls backward too, so it is charged with the other checks that call backward.
MLP_BACKWARD_CHECKS = {"backward_output_layer", "backward_hidden_layers", "backward_input",
                       "backward_square_layers", "backward_batch_sizes", "backward_gradcheck", "inputs_unchanged"}


def reference_text(exercise: str) -> str:
    """The reference solution as a submission's own text (a submission may not import it)."""
    return (ROOT / "reference" / f"{exercise}.py").read_text(encoding="utf-8")


def grade_text(write_submission, sandbox, exercise: str, source: str):
    path = write_submission(source, f"{exercise}.py")
    return grade(exercise, path, GradeOptions(), sandbox=sandbox)


def zeroed(result) -> dict:
    return {c.id: c for c in result.checks if c.score == 0}


# -- mlp_backprop: the layer style, honest loops, finite differences, autograd ---------------------------
LAYERS = '''"""A 4-layer sigmoid MLP in the layer style of CS231n: each layer caches what its backward needs."""
import torch


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return x @ self.W.T + self.b

    def backward(self, dout):
        self.dW = dout.T @ self.x
        self.db = dout.sum(dim=0)
        return dout @ self.W


class Sigmoid:
    def forward(self, a):
        self.out = torch.sigmoid(a)
        return self.out

    def backward(self, dout):
        return dout * self.out * (1 - self.out)


class Net:
    def __init__(self, params):
        self.layers = []
        for i in range(1, 5):
            self.layers += [Affine(params[f"W{i}"], params[f"b{i}"]), Sigmoid()]

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout


def forward(params, X):
    net = Net(params)
    return net.forward(X), net


def loss(out, Y):
    return ((out - Y) ** 2).sum() / out.shape[0]


def backward(params, cache, Y):
    net = cache
    out = net.layers[-1].out
    dx = net.backward(2 * (out - Y) / out.shape[0])
    grads = {"X": dx}
    for i, layer in enumerate(net.layers[0::2], start=1):
        grads[f"W{i}"], grads[f"b{i}"] = layer.dW, layer.db
    return grads
'''

LAYER_FUNCTIONS = '''import torch


def sigmoid_forward(a):
    out = torch.sigmoid(a)
    return out, out


def sigmoid_backward(dout, cache):
    return dout * cache * (1 - cache)


def affine_forward(x, W, b):
    return x @ W.T + b, (x, W)


def affine_backward(dout, cache):
    x, W = cache
    return dout @ W, dout.T @ x, dout.sum(0)


def forward(params, X):
    caches, x = [], X
    for i in range(1, 5):
        a, c1 = affine_forward(x, params[f"W{i}"], params[f"b{i}"])
        x, c2 = sigmoid_forward(a)
        caches.append((c1, c2))
    return x, (caches, x)


def loss(out, Y):
    return ((out - Y) ** 2).mean(0).sum()


def backward(params, cache, Y):
    caches, out = cache
    grad = 2 * (out - Y) / Y.shape[0]
    grads = {}
    for i in range(4, 0, -1):
        c1, c2 = caches[i - 1]
        grad = sigmoid_backward(grad, c2)
        grad, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(grad, c1)
    grads["X"] = grad
    return grads
'''

LOOPS = '''"""An honest backward with explicit loops over every entry: slow, correct, and a backward pass."""
import torch


def forward(params, X):
    xs = [X]
    for i in range(1, 5):
        xs.append(torch.sigmoid(xs[-1] @ params[f"W{i}"].T + params[f"b{i}"]))
    return xs[-1], xs


def loss(out, Y):
    return ((out - Y) ** 2).sum() / out.shape[0]


def backward(params, cache, Y):
    xs = cache
    T = Y.shape[0]
    G = 2 * (xs[-1] - Y) / T
    grads = {}
    for i in range(4, 0, -1):
        W = params[f"W{i}"]
        Ga = torch.zeros_like(G)
        for t in range(T):
            for j in range(G.shape[1]):
                Ga[t, j] = G[t, j] * xs[i][t, j] * (1 - xs[i][t, j])
        GW = torch.zeros_like(W)
        for r in range(W.shape[0]):
            for c in range(W.shape[1]):
                s = 0.0
                for t in range(T):
                    s = s + Ga[t, r] * xs[i - 1][t, c]
                GW[r, c] = s
        Gx = torch.zeros_like(xs[i - 1])
        for t in range(T):
            for c in range(W.shape[1]):
                s = 0.0
                for r in range(W.shape[0]):
                    s = s + Ga[t, r] * W[r, c]
                Gx[t, c] = s
        grads[f"W{i}"], grads[f"b{i}"], G = GW, Ga.sum(0), Gx
    grads["X"] = G
    return grads
'''

FINITE_DIFFERENCES = '''import torch


def forward(params, X):
    x = X
    for i in range(1, 5):
        x = torch.sigmoid(x @ params[f"W{i}"].T + params[f"b{i}"])
    return x, (params, X)


def loss(out, Y):
    return ((out - Y) ** 2).sum() / out.shape[0]


def backward(params, cache, Y):
    _, X = cache
    point = {**{k: v.double() for k, v in params.items()}, "X": X.double()}

    def f(p):
        return loss(forward({k: v for k, v in p.items() if k != "X"}, p["X"])[0], Y.double())

    grads = {}
    for k, v in point.items():
        g = torch.zeros_like(v)
        for i in range(v.numel()):
            old = v.view(-1)[i].item()
            v.view(-1)[i] = old + 1e-6
            up = f(point)
            v.view(-1)[i] = old - 1e-6
            down = f(point)
            v.view(-1)[i] = old
            g.view(-1)[i] = (up - down) / 2e-6
        grads[k] = g.to(params["W1"].dtype)
    return grads
'''


@pytest.mark.parametrize("source", [LAYERS, LAYER_FUNCTIONS, LOOPS], ids=["layer-classes", "layer-functions",
                                                                          "loops"])
def test_correct_mlp_solutions_keep_full_marks(write_submission, sandbox, source):
    result = grade_text(write_submission, sandbox, "mlp_backprop", source)
    assert result.score == result.max_score == get_exercise("mlp_backprop").spec.max_score, [(c.id, c.message) for c in result.checks if not c.passed]
    assert result.problems == []


def test_finite_differences_are_not_a_backward_pass(write_submission, sandbox):
    result = grade_text(write_submission, sandbox, "mlp_backprop", FINITE_DIFFERENCES)
    lost = zeroed(result)
    assert set(lost) == MLP_BACKWARD_CHECKS
    assert result.score == 3  # forward and loss are honest and keep their marks
    message = lost["backward_gradcheck"].message
    assert message.startswith("backward is not a backward pass: it did ")
    assert message.endswith(" times the work of forward (at most 40 times)")
    assert "finite differences" in lost["backward_gradcheck"].advice
    assert len([p for p in result.problems if "not a backward pass" in p]) == 1


FD_IN_FORWARD = '''import torch


def _net(params, X):
    x = X
    for i in range(1, 5):
        x = torch.sigmoid(x @ params[f"W{i}"].T + params[f"b{i}"])
    return x


def forward(params, X):
    """The output, and its finite-difference Jacobian for every variable hidden in the cache."""
    point = {k: v.double() for k, v in {**params, "X": X}.items()}
    jac = {}
    for k, v in point.items():
        rows = []
        for i in range(v.numel()):
            up, down = v.clone(), v.clone()
            up.view(-1)[i] += 1e-4
            down.view(-1)[i] -= 1e-4
            outs = [_net({a: b for a, b in {**point, k: w}.items() if a != "X"}, {**point, k: w}["X"])
                    for w in (up, down)]
            rows.append((outs[0] - outs[1]) / 2e-4)
        jac[k] = torch.stack(rows)
    out = _net(params, X)
    return out, (out, jac, {k: tuple(v.shape) for k, v in point.items()})


def loss(out, Y):
    return ((out - Y) ** 2).sum() / out.shape[0]


def backward(params, cache, Y):
    out, jac, shapes = cache
    g = (2 * (out - Y) / out.shape[0]).double()
    return {k: (J * g).sum(dim=(1, 2)).reshape(shapes[k]).to(out.dtype) for k, J in jac.items()}
'''


def test_finite_differences_hidden_in_forward_are_caught_by_the_reference_cost(write_submission, sandbox):
    result = grade_text(write_submission, sandbox, "mlp_backprop", FD_IN_FORWARD)
    lost = zeroed(result)
    assert "forward_output" in lost, [(c.id, c.message) for c in result.checks]
    message = lost["forward_output"].message
    assert message.startswith("forward did ") and message.endswith(
        " times the work of the reference solution on the same input (at most 40 times)")
    assert "gradients are backward's job" in lost["forward_output"].advice


AUTOGRAD_BACKWARD = LAYER_FUNCTIONS.split("def backward")[0] + '''def backward(params, cache, Y):
    p = {k: v.detach().clone() for k, v in params.items()}
    p["X"] = cache[0][0][0][0].detach().clone()
    weights = lambda q: {k: v for k, v in q.items() if k != "X"}
    {body}
'''
AUTOGRAD_BODIES = {
    # the receiver of .backward() is the student's own loss(): not provably a tensor, so the runtime decides
    "Tensor.backward": "for v in p.values():\n        v.requires_grad_(True)\n"
                       "    loss(forward(weights(p), p['X'])[0], Y).backward()\n"
                       "    return {k: v.grad for k, v in p.items()}",
    # torch.autograd.functional reached without naming it
    "autograd.functional": "import sys\n    AF = sys.modules['torch.autograd.functional']\n"
                           "    f = lambda *vs: loss(forward(weights(dict(zip(p, vs))), vs[-1])[0], Y)\n"
                           "    ones = torch.ones((), dtype=Y.dtype)\n"
                           "    return dict(zip(p, AF.vjp(f, tuple(p.values()), ones)[1]))",
}


@pytest.mark.parametrize("how", sorted(AUTOGRAD_BODIES))
def test_autograd_at_run_time_zeroes_backward(write_submission, sandbox, how):
    source = AUTOGRAD_BACKWARD.replace("{body}", AUTOGRAD_BODIES[how])
    result = grade_text(write_submission, sandbox, "mlp_backprop", source)
    lost = zeroed(result)
    assert set(lost) == MLP_BACKWARD_CHECKS, [(c.id, c.message) for c in result.checks]
    message = lost["backward_output_layer"].message
    assert message.startswith("backward ran the autograd engine"), message
    assert "mlp_backprop.py, line" in message
    assert message.endswith("which this exercise forbids (torch.autograd); Tensor.backward, torch.autograd.grad, "
                            "torch.autograd.functional and torch.func.grad/vjp/jacrev all run it")
    assert lost["backward_output_layer"].advice == "Write the backward pass by hand, with the chain rule."


# -- softmax_ce: aten._softmax, exec, __wrapped__ ------------------------------------------------------------
SOFTMAX_ROUTES = {
    "torch.ops.aten._softmax": "return torch.ops.aten._softmax(z, -1, False)",
    "exec with the submission's file name": (
        "import builtins, inspect\n"
        "    g = {'torch': torch}\n"
        "    run, comp = getattr(builtins, 'ex' + 'ec'), getattr(builtins, 'comp' + 'ile')\n"
        "    run(comp('def s(z):\\n    return torch.softmax(z, -1)', inspect.getfile(softmax), 'ex' + 'ec'), g)\n"
        "    return g['s'](z)"),
    "__wrapped__": "f = getattr(torch, 'soft' + 'max')\n    f = getattr(f, '__wrap' + 'ped__', f)\n"
                   "    return f(z, dim=-1)",
    "alias": "s = getattr(torch.nn.functional, 'soft' + 'max')\n    return s(z, dim=-1)",
}


@pytest.mark.parametrize("route", sorted(SOFTMAX_ROUTES))
def test_every_route_to_the_library_softmax_meets_the_same_rule(write_submission, sandbox, route):
    source = reference_text("softmax_ce") + (
        "\n\ndef softmax(z):\n    " + SOFTMAX_ROUTES[route] + "\n")
    result = grade_text(write_submission, sandbox, "softmax_ce", source)
    lost = zeroed(result)
    assert "softmax_values" in lost, [(c.id, c.message) for c in result.checks]
    message = lost["softmax_values"].message
    assert message.startswith("softmax ran aten._softmax"), message
    assert message.endswith("which this exercise forbids (torch.softmax)")
    assert lost["softmax_values"].advice == "Write the softmax yourself."
    if route.startswith("exec"):  # the exec'd string's lines are not the file's: no location rather than a wrong one
        assert message == "softmax ran aten._softmax, which this exercise forbids (torch.softmax)"
    assert "log_softmax_values" not in lost and "bce_values" not in {c for c in lost if c.startswith("bce")}


def test_the_runtime_message_names_the_line(write_submission, sandbox):
    source = reference_text("softmax_ce") + "\n\ndef softmax(z):\n    return torch.ops.aten._softmax(z, -1, False)\n"
    result = grade_text(write_submission, sandbox, "softmax_ce", source)
    line = source.splitlines().index("    return torch.ops.aten._softmax(z, -1, False)") + 1
    assert zeroed(result)["softmax_values"].message == (
        f"softmax ran aten._softmax (softmax_ce.py, line {line}), which this exercise forbids (torch.softmax)")
    assert any(p.startswith("softmax ran aten._softmax") for p in result.problems)


def test_a_utf7_coding_cookie_is_refused_with_a_clear_message(write_submission, sandbox):
    text = "# -*- coding: utf-7 -*-\n" + reference_text("least_squares")
    path = write_submission("", "least_squares.py")
    path.write_bytes(text.encode("utf-7").replace(b"# +AC0AKg- coding: utf-7 +AC0AKg-", b"# -*- coding: utf-7 -*-"))
    result = grade("least_squares", path, GradeOptions(), sandbox=sandbox)
    assert result.score == 0
    assert "text encoding 'utf-7'" in result.checks[0].message
    assert "save it as UTF-8" in result.checks[0].message


# -- the other exercises ----------------------------------------------------------------------------------------
def test_torch_autograd_functional_in_jacobians(write_submission, sandbox):
    source = reference_text("jacobians") + (
        "\n\ndef jac_y_x(W, b, x):\n"
        "    import importlib\n"
        "    F = importlib.import_module('torch.autograd.functional')\n"
        "    return F.jacobian(lambda v: torch.sigmoid(W @ v + b), x)\n")
    result = grade_text(write_submission, sandbox, "jacobians", source)
    lost = zeroed(result)
    assert lost and all(c.message.startswith("jac_y_x ") for c in lost.values()), [c.message for c in lost.values()]
    assert any("torch.autograd.functional" in p for p in result.problems)  # the static scan, with the line


def test_torch_func_grad_hidden_from_the_scan_in_least_squares(write_submission, sandbox):
    source = reference_text("least_squares") + (
        "\n\ndef ls_grad(W, theta, y):\n"
        "    tf = getattr(torch, 'fu' + 'nc')\n"
        "    return tf.grad(lambda t: ls_loss(W, t, y))(theta)\n")
    result = grade_text(write_submission, sandbox, "least_squares", source)
    lost = zeroed(result)
    assert {"ls_grad_random", "ls_grad_fixed"} <= set(lost)
    assert lost["ls_grad_random"].message.startswith("ls_grad ran the autograd engine (least_squares.py, line ")
    # affine_grad calls ls_grad in this file: it ran the engine too, and the message says where
    assert all(c.message.startswith("affine_grad ran the autograd engine") and c.message.count("in ls_grad")
               for k, c in lost.items() if k.startswith("affine"))


def test_sympy_diff_through_exec_in_derivatives(write_submission, sandbox):
    source = reference_text("derivatives") + (
        "\n\ndef d_tanh(x):\n"
        "    import sympy\n"
        "    g = {'sympy': sympy, 'x': x}\n"
        "    getattr(__builtins__, 'get', lambda k: getattr(__builtins__, k))('ex' + 'ec')"
        "('r = sympy.tanh(x).diff(x)', g)\n"
        "    return g['r']\n")
    result = grade_text(write_submission, sandbox, "derivatives", source)
    lost = zeroed(result)
    assert lost and all(c.message.startswith("d_tanh ran sympy's differentiation") for c in lost.values()), \
        [(c.id, c.message) for c in result.checks if not c.passed]


# -- nothing is reported where nothing forbidden happens --------------------------------------------------------
EXERCISES = ("derivatives", "jacobians", "least_squares", "mlp_backprop", "softmax_ce")


@pytest.mark.parametrize("exercise", EXERCISES)
def test_references_are_not_flagged(write_submission, sandbox, exercise):
    result = grade_text(write_submission, sandbox, exercise, reference_text(exercise))
    assert result.full_marks, [(c.id, c.message) for c in result.checks if not c.passed]
    assert result.problems == []


# The mistake variants' mutants are graded by tests/exercises/test_every_exercise.py, which also checks
# that none of them is reported for a forbidden API or a backward pass that is not one.


def test_removing_the_recorder_loses_the_call_and_the_next_call_is_recorded_again(write_submission, sandbox):
    source = reference_text("softmax_ce") + (
        "\n\ndef softmax(z):\n"
        "    from torch.utils import _python_dispatch as pd\n"
        "    pd._pop_mode()\n"
        "    return getattr(torch, 'soft' + 'max')(z, -1)\n")
    result = grade_text(write_submission, sandbox, "softmax_ce", source)
    lost = zeroed(result)
    assert lost["softmax_values"].message == ("softmax could not be checked: your function removed the grader's "
                                              "operation recorder while it ran")
    assert "log_softmax_values" not in lost and "bce_values" not in lost  # later calls are recorded normally
