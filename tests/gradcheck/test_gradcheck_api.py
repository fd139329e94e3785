"""VJPs, the file convention, serialisation, rendering, and errors in f."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from gradcheck_models import gen, mlp, replace
from rich.console import Console

from grader.errors import GraderError
from grader.gradcheck import GradcheckResult, check_gradients, check_vjp
from grader.report.gradient_map import error_map, render_error_maps, summary_table
from grader.targets import check_file_function, load_target

# -- vector-Jacobian products -------------------------------------------------------------------------
W = torch.randn(4, 3, generator=gen(0), dtype=torch.float64)
X = torch.randn(5, 3, generator=gen(1), dtype=torch.float64)


def layer(p: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.tanh(p["X"] @ p["W"].T)


def layer_vjp(p: dict[str, torch.Tensor], v: torch.Tensor) -> dict[str, torch.Tensor]:
    a = p["X"] @ p["W"].T
    da = v * (1 - torch.tanh(a) ** 2)
    return {"W": da.T @ p["X"], "X": da @ p["W"]}


def test_vjp_function_checked_for_several_cotangents() -> None:
    r = check_vjp(layer, {"W": W, "X": X}, vjp=layer_vjp, cotangents=3)
    assert r.passed, r.details()
    assert "3 cotangent(s)" in r.notes[-1]


def test_wrong_vjp_is_located() -> None:
    def wrong(p: dict[str, torch.Tensor], v: torch.Tensor) -> dict[str, torch.Tensor]:
        out = layer_vjp(p, v)
        return {"W": out["W"], "X": out["X"].T.reshape(5, 3)}

    r = check_vjp(layer, {"W": W, "X": X}, vjp=wrong)
    assert r.status == "failed" and [t.name for t in r.failed_tensors] == ["X"]
    d = r.tensor("X").diagnosis
    assert d is not None and d.id == "reshaped_not_transposed"


def test_vjp_for_a_given_cotangent() -> None:
    v = torch.randn(5, 4, generator=gen(2), dtype=torch.float64)
    p = {"W": W, "X": X}
    assert check_vjp(layer, p, layer_vjp(p, v), cotangent=v).passed
    bad = layer_vjp(p, v)
    bad["W"] = bad["W"] * 2
    assert check_vjp(layer, p, bad, cotangent=v).tensor("W").diagnosis.factor == 2.0  # type: ignore[union-attr]


# -- files ---------------------------------------------------------------------------------------------
GOOD = """
import torch

def loss(params):
    return (torch.sin(params["w"]) * params["a"]).sum()

def loss_grad(params):
    return {"w": torch.cos(params["w"]) * params["a"], "a": torch.sin(params["w"])}

def make_params(seed):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(50, generator=g, dtype=torch.float64)
    return {"w": w, "a": torch.randn(50, generator=g, dtype=torch.float64)}
"""


def _write(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "student.py"
    path.write_text(textwrap.dedent(source))
    return path


def test_file_function_passes(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    r = check_file_function(f"{path}:loss", seed=3)
    assert r.passed, r.details()
    assert check_file_function(f"{path}:loss", dtype=torch.float32).passed


def test_file_function_with_a_bug(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace('"a": torch.sin(params["w"])', '"a": -torch.sin(params["w"])'))
    r = check_file_function(f"{path}:loss")
    assert r.status == "failed" and r.tensor("a").diagnosis.id == "sign_flipped"  # type: ignore[union-attr]


def test_file_vjp_convention(tmp_path: Path) -> None:
    src = """
    import torch
    def act(params):
        return torch.tanh(params["z"])
    def act_vjp(params, v):
        return {"z": v * (1 - torch.tanh(params["z"]) ** 2)}
    def act_params():
        return {"z": torch.linspace(-2, 2, 9, dtype=torch.float64)}
    """
    assert check_file_function(f"{_write(tmp_path, src)}:act").passed


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(GraderError, match="expected FILE.py:FUNCTION"):
        load_target("nofunction")
    with pytest.raises(GraderError, match="no such file"):
        load_target(str(tmp_path / "x.py") + ":f")
    path = _write(tmp_path, "def loss(p):\n    return p['w'].sum()\n")
    with pytest.raises(GraderError, match="loss_grad"):
        load_target(f"{path}:loss")
    broken = GOOD.replace('return {"w": torch.cos', "raise ValueError('boom')\n    return {\"w\": torch.cos")
    path = _write(tmp_path, broken)
    r = check_file_function(f"{path}:loss")
    assert r.status == "error" and "loss_grad raised ValueError: boom" in r.message


def test_one_loader_for_both_ways_of_running_the_file(tmp_path: Path) -> None:
    """The in-process path words failures like the sandbox: import errors, a params function without a
    seed argument, a gradient that is not a dict."""
    path = _write(tmp_path, "raise RuntimeError('at import')\n")
    r = check_file_function(f"{path}:loss")
    assert r.status == "error" and r.message == "importing student.py raised RuntimeError: at import"
    no_seed = GOOD.replace("def make_params(seed):\n    g = torch.Generator().manual_seed(seed)",
                           "def make_params():\n    g = torch.Generator().manual_seed(0)")
    assert check_file_function(f"{_write(tmp_path, no_seed)}:loss", seed=5).passed
    not_a_dict = GOOD.replace('return {"w": torch.cos(params["w"]) * params["a"], "a": torch.sin(params["w"])}',
                              'return [torch.cos(params["w"])]')
    r = check_file_function(f"{_write(tmp_path, not_a_dict)}:loss")
    assert r.status == "error" and r.message == "loss_grad must return a dict of tensors, got list"


def test_the_engine_is_a_pure_library() -> None:
    """Importing and running the gradient engine loads neither the sandbox, the CLI nor a reporter."""
    code = ("import sys, torch\nfrom grader.gradcheck import check_gradients\n"
            "w = torch.ones(3, dtype=torch.float64)\n"
            "assert check_gradients(lambda p: (p['w'] ** 2).sum(), {'w': w}, {'w': 2 * w}).passed\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('rich', 'click', 'cli', 'psutil')\n"
            "       or m.startswith(('grader.sandbox', 'grader.report', 'grader.grading', 'grader.targets',\n"
            "                        'grader.results', 'grader.exercises'))]\n"
            "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2], env={**os.environ, "PYTHONPATH": "."}).stdout
    assert out.strip() == "[]"


# -- results -------------------------------------------------------------------------------------------
def test_result_roundtrip_is_json() -> None:
    f, p, g = mlp(0)
    b = g["b1"].clone()
    b[3] = float("nan")
    r = check_gradients(f, p, replace(g, W2=-g["W2"], b1=b))
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    back = GradcheckResult.from_dict(d)
    assert back.status == r.status and back.tensor("W2").diagnosis == r.tensor("W2").diagnosis
    assert back.tensor("W2").localisation == r.tensor("W2").localisation


def test_to_check_result() -> None:
    f, p, g = mlp(1)
    cr = check_gradients(f, p, replace(g, W1=2 * g["W1"])).to_check_result("grad_check", "Gradients", 3.0)
    assert cr.status == "failed" and cr.score == 0.0 and cr.max_score == 3.0
    assert cr.mistake == "scaled" and cr.advice.startswith("dW1 is off by a factor of 2")
    assert cr.attachment("gradient") is not None and "W1: failed" in cr.details
    ok = check_gradients(f, p, g).to_check_result("grad_check", "Gradients")
    assert ok.passed and ok.score == 1.0


def test_render_error_map_and_table() -> None:
    f, p, g = mlp(2)
    b = g["b2"].clone()
    b[1] += 1.0
    r = check_gradients(f, p, replace(g, b2=b))
    console = Console(width=100, record=True, color_system=None)
    m = error_map(r.tensor("b2"))
    assert m is not None
    console.print(m)
    console.print(summary_table(r))
    out = console.export_text()
    # the map's row: entry 1 wrong (a digit: log10 of its error over the tolerance), the other six right
    assert any(re.fullmatch(r"·[1-9]·····", line) for line in out.splitlines()), out
    assert "b2 (7,): 1 wrong" in out
    assert error_map(r.tensor("W1")) is None  # passed without a known truth: no map
    maps = render_error_maps(r.to_dict())  # what the reporter embeds, from the serialised result
    assert maps is not None
    console.print(maps)
    assert console.export_text().count("b2 (7,): 1 wrong") == 1
    assert render_error_maps(check_gradients(f, p, g).to_dict()) is None


# -- errors in f ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "f,message",
    [
        (lambda p: p["w"], "f must return a scalar"),
        (lambda p: 1 / 0, "f raised ZeroDivisionError"),
        (lambda p: p["w"].sum() * float("nan"), "f is not finite"),
        (lambda p: "x", "f must return a scalar tensor, got str"),
    ],
)
def test_bad_function(f, message: str) -> None:  # noqa: ANN001
    r = check_gradients(f, {"w": torch.ones(3)}, {"w": torch.ones(3)})
    assert r.status == "error" and message in r.message


def test_inputs_modified_in_place_do_not_corrupt_the_check() -> None:
    w = torch.randn(6, generator=gen(4), dtype=torch.float64)

    def f(p: dict[str, torch.Tensor]) -> torch.Tensor:
        out = (p["w"] ** 2).sum()
        p["w"].mul_(10)
        return out

    assert check_gradients(f, {"w": w}, {"w": 2 * w}).passed


@pytest.mark.parametrize("wrong", [False, True])
def test_the_callers_tensors_are_left_as_they_were(wrong: bool) -> None:
    """Claims and reference gradients are read without a copy: no path may write to them (nor to the point)."""
    f, p, g = mlp(2)
    name = next(iter(g))
    claimed = replace(g, **{name: g[name] * 2}) if wrong else dict(g)
    before = {k: v.clone() for k, v in [*p.items(), *((f"claim {k}", v) for k, v in claimed.items())]}
    check_gradients(f, p, claimed)
    check_gradients(f, p, claimed, true_grads=g)
    after = {**p, **{f"claim {k}": v for k, v in claimed.items()}}
    assert all(torch.equal(before[k], after[k]) for k in before)
