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
