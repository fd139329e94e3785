"""Static scan for forbidden APIs: aliases are followed, and each finding has a file and line."""

from grader.forbidden import scan

FORBIDDEN = ["torch.autograd", "torch.func", "torch.Tensor.backward", "functorch"]


def lines(src):
    return [(f.line, f.used, f.function) for f in scan(src, FORBIDDEN)]


def test_aliases_and_from_imports_are_resolved():
    src = ("import torch\nimport torch.autograd as ag\nfrom torch import func\n"
           "def backward(p):\n    a = ag.grad(p, p)\n    b = func.vjp\n    return torch.autograd.grad\n")
    found = lines(src)
    assert (2, "torch.autograd", None) in found
    assert (5, "torch.autograd.grad", "backward") in found
    assert (6, "torch.func.vjp", "backward") in found
    assert (7, "torch.autograd.grad", "backward") in found


def test_backward_method_and_dynamic_lookups():
    src = ("import torch\ndef backward(p):\n    p.sum().backward()\n    g = getattr(torch, 'autograd')\n"
           "    h = __import__('functorch')\n")
    found = lines(src)
    assert (3, ".backward()", "backward") in found
    assert (4, "torch.autograd", "backward") in found
    assert (5, "functorch", "backward") in found


def test_clean_code_and_lookalikes_are_not_reported():
    src = ("import torch\ndef forward(x):\n    with torch.no_grad():\n        return torch.sigmoid(x)\n"
           "def backward(p, cache, Y):\n    autograd = 3\n    return {'X': cache}\n")
    assert lines(src) == []


def test_description_names_file_line_and_function():
    f = scan("import torch\ndef backward(x):\n    return torch.autograd.grad(x, x)\n", FORBIDDEN)[0]
    assert f.describe("mlp.py") == ("mlp.py:3 in backward: torch.autograd.grad is forbidden in this exercise "
                                    "(torch.autograd)")


AUTOGRAD_BACKWARD = '''from reference.mlp_backprop import forward, loss
import torch


def backward(params, cache, Y):
    {how}
'''


def _grade_mlp(write_submission, sandbox, body):
    from grader.grading import GradeOptions, grade

    path = write_submission(AUTOGRAD_BACKWARD.format(how=body), "mlp_backprop.py")
    return grade("mlp_backprop", path, GradeOptions(), sandbox=sandbox)


def test_static_finding_zeroes_the_checks_of_that_function(write_submission, sandbox):
    r = _grade_mlp(write_submission, sandbox, "return torch.autograd.grad(cache, list(params.values()))")
    assert any("mlp_backprop.py:6 in backward: torch.autograd.grad is forbidden" in p for p in r.problems)
    hit = [c for c in r.checks if "backward" in c.message and "forbids" in c.message]
    assert hit and all(c.score == 0 for c in hit)
    assert hit[0].message == "backward uses torch.autograd.grad (mlp_backprop.py, line 6), which this exercise forbids"
    assert "by hand" in hit[0].advice
    assert any(c.passed for c in r.checks)  # forward and loss are still graded


def test_runtime_guard_catches_what_the_scan_cannot_see(write_submission, sandbox):
    body = "ag = getattr(torch, 'auto' + 'grad')\n    return ag.grad(cache, list(params.values()))"
    r = _grade_mlp(write_submission, sandbox, body)
    hit = [c for c in r.checks if "forbidden API" in c.message]
    assert hit and "torch.autograd.grad is forbidden in this exercise (called at line 7)" in hit[0].message
