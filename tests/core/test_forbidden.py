"""Static scan for forbidden APIs: aliases are followed, each finding has a file and line, and a rule
fires only on the forbidden thing itself (a layer's own ``backward`` is not ``torch.Tensor.backward``)."""

import pytest

from grader.forbidden import RUNTIME_SIGNS, SourceRefused, function_spans, read_source, runtime_violation, scan
from grader.oprecords import RecordUnreadable, read_record

FORBIDDEN = ["torch.autograd", "torch.func", "torch.Tensor.backward", "functorch"]


def lines(src, forbidden=FORBIDDEN):
    return [(f.line, f.used, f.function) for f in scan(src, forbidden)]


def test_aliases_and_from_imports_are_resolved():
    src = ("import torch\nimport torch.autograd as ag\nfrom torch import func\n"
           "def backward(p):\n    a = ag.grad(p, p)\n    b = func.vjp\n    return torch.autograd.grad\n")
    found = lines(src)
    assert (2, "torch.autograd", None) in found
    assert (5, "torch.autograd.grad", "backward") in found
    assert (6, "torch.func.vjp", "backward") in found
    assert (7, "torch.autograd.grad", "backward") in found


def test_dynamic_lookups_with_constant_names():
    src = ("import torch\ndef backward(p):\n    g = getattr(torch, 'autograd')\n"
           "    h = __import__('functorch')\n    import importlib\n"
           "    k = importlib.import_module('torch.func')\n")
    found = lines(src)
    assert (3, "torch.autograd", "backward") in found
    assert (4, "functorch", "backward") in found
    assert (6, "torch.func", "backward") in found


def test_backward_is_flagged_only_on_a_provable_tensor():
    src = ("import torch\nimport torch.nn.functional as F\n"
           "def backward(p, out, Y):\n"
           "    loss = F.mse_loss(out, Y)\n"
           "    loss.backward()\n"
           "    torch.ones(3).sum().backward()\n"
           "    z = torch.zeros(2) * 3\n    w = z.exp()\n    w.backward()\n"
           "    torch.Tensor.backward(loss)\n"
           "    out.backward()\n"  # a parameter: unknown, the runtime record decides
           "    p.sum().backward()\n"
           "    own_loss(out, Y).backward()\n")
    found = lines(src)
    assert [line for line, *_ in found] == [5, 6, 9, 10]
    assert found[0] == (5, ".backward() of a torch Tensor", "backward")


LAYER_STYLE = '''import torch


class Linear:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return x @ self.W.T + self.b

    def backward(self, dout):
        self.dW = dout.T @ self.x
        return dout @ self.W


class Model:
    def __init__(self, params):
        self.layers = [Linear(params["W1"], params["b1"])]

    def backward(self, grad):
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad


def backward(params, cache, Y):
    model = cache
    layer = model.layers[0]
    g = layer.backward(2 * (Y - Y))
    return model.backward(g), super_backward(cache)


def super_backward(net):
    return net.backward(torch.zeros(1))
'''


def test_layer_style_backward_methods_are_not_tensor_backward():
    assert lines(LAYER_STYLE) == []


def test_no_grad_is_not_autograd_use():
    src = ("import torch\nfrom torch.autograd import no_grad\n"
           "def forward(x):\n    with torch.autograd.no_grad():\n        return torch.sigmoid(x)\n"
           "def f(x):\n    with torch.no_grad():\n        return x\n")
    assert lines(src) == []


def test_clean_code_and_lookalikes_are_not_reported():
    src = ("import torch\ndef forward(x):\n    with torch.no_grad():\n        return torch.sigmoid(x)\n"
           "def backward(p, cache, Y):\n    autograd = 3\n    return {'X': cache}\n")
    assert lines(src) == []


def test_code_the_grader_cannot_read_is_flagged_where_anything_is_forbidden():
    src = ("import torch, importlib, builtins, threading\n"
           "def softmax(z):\n"
           "    exec('r = 1')\n"
           "    eval('1')\n"
           "    code = compile('1', 'softmax_ce.py', 'eval')\n"
           "    m = importlib.import_module('tor' + 'ch')\n"
           "    f = helper.__wrapped__\n"
           "    g = getattr(f, '__wrapped__')\n"
           "    builtins.exec('1')\n"
           "    return __import__(name)\n")
    found = scan(src, ["torch.softmax"])
    assert [(f.line, f.kind) for f in found] == [(1, "dynamic"), (3, "dynamic"), (4, "dynamic"), (5, "dynamic"),
                                                 (6, "dynamic"), (7, "dynamic"), (8, "dynamic"), (9, "dynamic"),
                                                 (10, "dynamic")]
    assert found[1].describe("softmax_ce.py") == ("softmax_ce.py:3 in softmax: exec() runs code the grader cannot "
                                                  "check, which is not allowed in an exercise that forbids APIs")
    assert found[1].sentence("softmax", "softmax_ce.py") == (
        "softmax uses exec() (softmax_ce.py, line 3), which runs code the grader cannot check")
    assert "without exec" in found[1].hint()
    assert scan(src, []) == []  # an exercise that forbids nothing does not care


def test_own_function_named_like_a_builtin_is_not_flagged():
    src = "def compile(x):\n    return x\ndef softmax(z):\n    return compile(z)\n"
    assert scan(src, ["torch.softmax"]) == []


def test_imports_of_the_grader_are_reported_with_file_and_line_but_zero_nothing():
    src = "import torch\nfrom reference.least_squares import *\ndef f():\n    import grader.checks\n"
    found = scan(src, [])
    assert [(f.line, f.used, f.kind) for f in found] == [(2, "reference.least_squares", "grader"),
                                                         (4, "grader.checks", "grader")]
    assert found[0].describe("ls.py") == ("ls.py:2: imports reference.least_squares, the grader's own code, which "
                                          "a submission may not use")
    assert not any(f.zeroes for f in found)  # the sandbox refuses the import itself


def test_description_names_file_line_and_function():
    f = scan("import torch\ndef backward(x):\n    return torch.autograd.grad(x, x)\n", FORBIDDEN)[0]
    assert f.describe("mlp.py") == ("mlp.py:3 in backward: torch.autograd.grad is forbidden in this exercise "
                                    "(torch.autograd)")
    assert f.zeroes


def test_a_method_of_a_class_is_reported_but_left_to_the_runtime():
    src = "import torch\nclass Net:\n    def backward(self, x):\n        return torch.autograd.grad(x, x)\n"
    f = scan(src, FORBIDDEN)[0]
    assert (f.line, f.function, f.zeroes) == (4, "Net.backward", False)


def test_unparsable_and_deeply_nested_source_give_no_finding():
    assert scan("def f(:\n", FORBIDDEN) == []
    assert scan("x = " + "(" * 5000 + ")" * 5000 + "\n", FORBIDDEN) == []


# -- reading the source as Python does ----------------------------------------------------------------------------
def test_a_latin1_cookie_is_honoured():
    assert read_source("# -*- coding: latin-1 -*-\nx = 'é'\n".encode("latin-1")).endswith("x = 'é'\n")


def test_utf7_is_refused():
    data = b"# -*- coding: utf-7 -*-\nimport torch\nx = 1 +AC0- 2\n"
    with pytest.raises(SourceRefused, match="text encoding 'utf-7'.*save it as UTF-8"):
        read_source(data)


def test_unknown_cookie_and_invalid_bytes_are_refused():
    with pytest.raises(SourceRefused, match="cannot use"):
        read_source(b"# coding: no-such-codec\nx = 1\n")
    with pytest.raises(SourceRefused, match="not valid UTF-8 text; save it as UTF-8"):
        read_source(b"x = '\xff'\n")


# -- the runtime table and the record ---------------------------------------------------------------------------
def test_every_spec_entry_with_runtime_signs_is_in_the_table():
    from grader.exercises import get_exercise

    for name in ("softmax_ce", "mlp_backprop", "jacobians", "least_squares", "derivatives"):
        for entry in get_exercise(name).spec.forbidden:
            assert entry.name in RUNTIME_SIGNS, (name, entry.name)


def test_runtime_violation_takes_the_spec_order_and_the_location():
    counts = {"aten::_log_softmax": 1, "aten::nll_loss_forward": 1, "aten::add": 3}
    v = runtime_violation(counts, {"aten::_log_softmax": "helper:12"},
                          ["torch.softmax", "torch.log_softmax", "torch.nn.functional.cross_entropy"])
    assert v is not None and (v.entry, v.op) == ("torch.log_softmax", "aten::_log_softmax")
    assert v.describe("cross_entropy", "softmax_ce.py") == (
        "cross_entropy ran aten._log_softmax (softmax_ce.py, line 12, in helper), which this exercise forbids "
        "(torch.log_softmax)")
    assert runtime_violation({"aten::add": 1, "aten::exp": 2}, {}, ["torch.softmax", "torch.autograd"]) is None


def test_a_location_outside_the_files_functions_is_dropped():
    """Code exec'd under the submission's file name reports lines of a string: no wrong line is shown."""
    source = "import torch\n\ndef softmax(z):\n    return helper(z)\n"
    spans = function_spans(source)
    counts = {"aten::_softmax": 1}
    assert runtime_violation(counts, {"aten::_softmax": "softmax:4"}, ["torch.softmax"], spans).where == "softmax:4"
    assert runtime_violation(counts, {"aten::_softmax": "s:2"}, ["torch.softmax"], spans).where == ""
    assert runtime_violation(counts, {"aten::_softmax": "softmax:9"}, ["torch.softmax"], spans).where == ""


GOOD = {"counts": {"aten::mm": 2}, "where": {"aten::mm": "forward:3"}, "work": 10, "intact": True}


@pytest.mark.parametrize("bad", [
    None, [], {"counts": {}}, {**GOOD, "counts": {"aten::mm": -1}}, {**GOOD, "counts": {"aten::mm": True}},
    {**GOOD, "counts": {"\x1b[2J": 1}}, {**GOOD, "work": 1.5}, {**GOOD, "where": {"aten::mm": "x\ny"}},
    {**GOOD, "where": {"aten::mm": "f:1\n"}}, {**GOOD, "counts": {"aten::mm\n": 1}},
    {**GOOD, "counts": {f"aten::op{i}": 1 for i in range(5000)}}, {**GOOD, "intact": False},
])
def test_a_malformed_record_is_refused(bad):
    with pytest.raises(RecordUnreadable):
        read_record(bad)


def test_a_good_record_is_read():
    r = read_record(GOOD)
    assert (r.counts, r.where, r.work) == ({"aten::mm": 2}, {"aten::mm": "forward:3"}, 10)


# -- grading: the static finding zeroes the checks of its function ----------------------------------------------
AUTOGRAD_BACKWARD = '''import torch


def forward(params, X):
    x = X
    for i in range(1, 5):
        x = torch.sigmoid(x @ params[f"W{{i}}"].T + params[f"b{{i}}"])
    return x, X


def loss(out, Y):
    return ((out - Y) ** 2).sum() / out.shape[0]


def backward(params, cache, Y):
    {how}
'''


def _grade_mlp(write_submission, sandbox, body):
    from grader.grading import GradeOptions, grade

    path = write_submission(AUTOGRAD_BACKWARD.format(how=body), "mlp_backprop.py")
    return grade("mlp_backprop", path, GradeOptions(), sandbox=sandbox)


def test_static_finding_zeroes_the_checks_of_that_function(write_submission, sandbox):
    r = _grade_mlp(write_submission, sandbox, "return torch.autograd.grad(cache, list(params.values()))")
    assert any("mlp_backprop.py:16 in backward: torch.autograd.grad is forbidden" in p for p in r.problems)
    hit = [c for c in r.checks if "backward" in c.message and "forbids" in c.message]
    assert hit and all(c.score == 0 for c in hit)
    assert hit[0].message == ("backward uses torch.autograd.grad (mlp_backprop.py, line 16), which this exercise "
                              "forbids")
    assert "by hand" in hit[0].advice
    assert any(c.passed for c in r.checks)  # forward and loss are still graded


def test_runtime_record_catches_what_the_scan_cannot_see(write_submission, sandbox):
    body = ("ag = getattr(torch, 'auto' + 'grad')\n"
            "    p = {k: v.detach().requires_grad_(True) for k, v in params.items()}\n"
            "    out, _ = forward(p, cache.detach())\n"
            "    return dict(zip(p, ag.grad(loss(out, Y), list(p.values()))))")
    r = _grade_mlp(write_submission, sandbox, body)
    hit = [c for c in r.checks if c.score == 0 and c.message.startswith("backward ran the autograd engine")]
    assert hit and "(mlp_backprop.py, line 19)" in hit[0].message
    assert r.problems and r.problems[0].startswith("backward ran the autograd engine")


def test_locations_in_functions_with_unicode_names_are_accepted():
    raw = {**GOOD, "where": {"aten::mm": "σ_backward:12", "aten::add": "<lambda>:3", "aten::exp": ""}}
    assert read_record(raw).where["aten::mm"] == "σ_backward:12"


def test_cost_rules_are_validated(tmp_path):
    from grader.errors import SpecError
    from grader.spec import load_spec

    base = "title: T\nchecks:\n  - id: a\n    title: A\n    points: 1\n"
    spec = tmp_path / "ex" / "exercise.yaml"
    spec.parent.mkdir()
    spec.write_text(base + "cost:\n  - function: backward\n    relative_to: forward\n    at_most: 40\n")
    rule = load_spec(spec).cost[0]
    assert (rule.function, rule.relative_to, rule.at_most, rule.reason) == ("backward", "forward", 40, "")
    spec.write_text(base + "cost:\n  - function: backward\n    relative_to: forward\n    at_most: 1\n")
    with pytest.raises(SpecError, match=r"cost\[0\]\.at_most"):
        load_spec(spec)
    spec.write_text(base + "cost:\n  - function: backward\n    relative: forward\n    at_most: 4\n")
    with pytest.raises(SpecError, match=r"cost\[0\]\.relative: unknown key"):
        load_spec(spec)
