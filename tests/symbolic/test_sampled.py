"""The `derivatives` exercise graded against sampled expected answers (what the student kit stores,
grader/symbolic/sampled.py) gives the same verdicts as against the formulas: same status, same message
(a correct answer's "(checked numerically)" aside, see docs/SYMBOLIC.md), same named mistake, for the
reference, every mistake variant, the hand-written buggy files, the corpus and tricky equivalent forms,
with the contract's symbols and with the renamed ones. And the record does not print the answer.

Both sides run the seed-dependent part of the engine in process (``decide_numerically``): the full
grading with the exact proof, through the checks' ``grade``, is compared on a few answers only (it forks
a child per answer). A run of the full comparison on every answer is in docs/SYMBOLIC.md."""

from __future__ import annotations

import importlib.util
import inspect
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sympy as sp

from exercises.derivatives import checks
from exercises.derivatives.instructor.checks import RENAMED
from grader.errors import GraderFault
from grader.mistakes import load_book
from grader.symbolic import decide_numerically, read_answer
from grader.symbolic.sampled import SampledExpression, decode_expression, encode_expression
from reference import derivatives as reference
from tests.symbolic.corpus import CORRECT, HOSTILE, WRONG

BOOK = load_book("derivatives")
BUGGY_DIR = Path(__file__).resolve().parents[1] / "buggy" / "derivatives"
BUILDERS = {"SYMBOLS": checks.SYMBOLS, "RENAMED": RENAMED}
CASES = [(b, fn) for b in BUILDERS for fn in checks.SYMBOLS]
NUMERIC = " (checked numerically)"


def _round_trip(expr: Any, args: tuple[Any, ...]) -> SampledExpression:
    return decode_expression(json.loads(json.dumps(encode_expression(expr, args))))


@pytest.fixture(scope="session")
def kit() -> dict[tuple[str, str], dict[str, Any]]:
    """Per (builder, function): the symbols, the record of the reference's answer and the sampled
    reference and mistake variants, as the kit's replay would hand them to the checks."""
    out = {}
    for b, fn in CASES:
        args = BUILDERS[b][fn]()
        expected = getattr(reference, fn)(*args)
        record = encode_expression(expected, args)
        mistakes = []
        for m in BOOK:
            if fn in m.overrides:
                sampled = _round_trip(read_answer(m.overrides[fn](*args), args), args)
                mistakes.append(SimpleNamespace(id=m.id, name=m.name, hint=m.hint,
                                                overrides={fn: lambda *a, s=sampled: s}))
        out[b, fn] = {"args": args, "expected": expected, "record": record,
                      "sampled": decode_expression(json.loads(json.dumps(record))), "mistakes": mistakes}
    return out


def _buggy() -> list[tuple[str, Any]]:
    modules = []
    for p in sorted(BUGGY_DIR.glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"buggy_{p.stem}", p)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append((p.stem, module))
    return modules


BUGGY = _buggy()


def _tricky(fn: str, args: tuple[Any, ...]) -> list[Any]:
    """Equivalent forms far from the reference's (and two wrong ones), built on the symbols passed."""
    a = args[0]
    if fn == "d_sigmoid":
        return [sp.exp(a) / (1 + sp.exp(a)) ** 2, sp.sech(a / 2) ** 2 / 4, 1 / (2 + 2 * sp.cosh(a)),
                (1 - sp.tanh(a / 2) ** 2) / 4, sp.exp(-a) / (1 + sp.exp(-a)) ** 2 + sp.Heaviside(a - 70)]
    if fn == "d_tanh":
        return [sp.sech(a) ** 2, 1 / sp.cosh(a) ** 2, 4 / (sp.exp(a) + sp.exp(-a)) ** 2,
                4 * sp.exp(2 * a) / (sp.exp(2 * a) + 1) ** 2, sp.cosh(a) ** 2 - sp.sinh(a) ** 2 - sp.tanh(a) ** 2,
                sp.sech(a) ** 2 + sp.Heaviside(-a - 5) / 1000]
    if fn == "d_relu":
        return [sp.Piecewise((0, a < 0), (1, True)), sp.Piecewise((1, a > 0), (0, True)), (sp.sign(a) + 1) / 2,
                sp.Heaviside(a, sp.Rational(1, 2)), sp.Max(0, sp.sign(a)), sp.Heaviside(a - sp.Rational(1, 1000)),
                sp.Piecewise((0, a < -1), (1, True))]
    if fn == "d_softplus":
        return [sp.exp(a) / (1 + sp.exp(a)), (1 + sp.tanh(a / 2)) / 2, 1 - 1 / (1 + sp.exp(a)), sp.exp(a)]
    if fn == "grad_affine":
        w, x, b = args
        return [w.T.T, 2 * w - w, w + 0 * x, b * w, x]
    if fn == "grad_sq_norm":
        (x,) = args
        return [x + x, (2 * x.T).T, 4 * x / 2, x.T, -2 * x]
    if fn == "grad_least_squares":
        W, t, y = args
        return [2 * W.T * W * t - 2 * W.T * y, (2 * (W * t - y).T * W).T, -2 * W.T * (y - W * t),
                W.T * (2 * W * t) - W.T * (2 * y), 2 * W.T * W * t, 2 * (W * t - y).T * W]
    z, y = args
    return [1 / (1 + sp.exp(-z)) - y, (1 + sp.tanh(z / 2)) / 2 - y, -y * (1 - 1 / (1 + sp.exp(-z))) +
            (1 - y) / (1 + sp.exp(-z)), sp.exp(z) / (1 + sp.exp(z)) - y + sp.Rational(1, 10 ** 10)]


def _answers(b: str, fn: str, args: tuple[Any, ...]) -> list[tuple[str, Any, list[str] | None]]:
    out: list[tuple[str, Any, list[str] | None]] = [("reference", getattr(reference, fn)(*args), None)]
    out += [(f"mistake {m.id}", m.overrides[fn](*args), None) for m in BOOK if fn in m.overrides]
    for stem, module in BUGGY:
        if hasattr(module, fn):
            f = getattr(module, fn)
            out.append((f"buggy {stem}", f(*args), list(inspect.signature(f).parameters)))
    out += [(f"tricky {i}", e, None) for i, e in enumerate(_tricky(fn, args))]
    if b == "SYMBOLS":  # the corpus is written with the contract's names
        out += [(f"corpus {c.label}", c.build(args), None) for c in (*CORRECT, *WRONG, *HOSTILE) if c.fn == fn]
    return out


def _verdict(answer: Any, expected: Any, fn: str, args: tuple[Any, ...], names: list[str] | None,
             candidates: Any) -> Any:
    return decide_numerically(
        answer, expected, args, names=names or checks.parameter_names(reference, fn),
        primitive=checks.PRIMITIVES[fn](*args) if fn in checks.PRIMITIVES else None, variable=args[0],
        candidates=candidates, seed=0, domains=checks.DOMAINS[fn](args) if fn in checks.DOMAINS else None)


def _same(live: Any, sampled: Any) -> tuple[Any, ...]:
    """What must agree: the status, the message (a correct verdict's method suffix aside), the mistake."""
    return (live.status, live.message.removesuffix(NUMERIC), live.mistake), \
        (sampled.status, sampled.message.removesuffix(NUMERIC), sampled.mistake)


@pytest.mark.parametrize(("builder", "fn"), CASES, ids=[f"{b}-{fn}" for b, fn in CASES])
def test_sampled_verdicts_are_the_live_verdicts(kit, builder, fn):
    k = kit[builder, fn]
    args = k["args"]
    live_candidates = checks.known_mistakes(BOOK, fn, args)
    kit_candidates = checks.known_mistakes(k["mistakes"], fn, args)
    assert all(isinstance(c.expr, SampledExpression) for c in kit_candidates)
    named = set()
    for label, answer, names in _answers(builder, fn, args):
        live = _verdict(answer, k["expected"], fn, args, names, live_candidates)
        sampled = _verdict(answer, k["sampled"], fn, args, names, kit_candidates)
        a, b = _same(live, sampled)
        assert a == b, (label, a, b, live.details, sampled.details)
        named.add(live.mistake)
        if label == "reference":
            assert sampled.correct and sampled.message == "equivalent to the expected derivative"
            assert sampled.method == "sampled"
    assert {m.id for m in BOOK if fn in m.overrides} <= named  # every mistake variant is named


def test_the_checks_grade_against_a_replayed_reference(kit):
    """Through the checks' entry point, in a forked child: the kit's reference is no module (its
    functions take *args), so the contract's names come from the checks' symbols."""
    for fn in ("d_tanh", "grad_least_squares", "d_bce_logit"):
        k = kit["SYMBOLS", fn]
        replay = SimpleNamespace(**{fn: lambda *a, s=k["sampled"]: s})
        assert checks.parameter_names(replay, fn) == checks.parameter_names(reference, fn)
        assert checks.parameter_names(SimpleNamespace(parameters={fn: ["p", "q"]}), fn) == ["p", "q"]
        answers = [getattr(reference, fn)(*k["args"])] + [m.overrides[fn](*k["args"]) for m in BOOK
                                                           if fn in m.overrides]
        for answer in answers:
            live = checks.grade(answer, reference, BOOK, fn, k["args"], 0, timeout=10.0)
            sampled = checks.grade(answer, replay, k["mistakes"], fn, k["args"], 0, timeout=10.0)
            a, b = _same(live, sampled)
            assert a == b, (fn, a, b)
            assert "not readable" in sampled.expected  # the instructor-only attachment has no formula


def _depth(e: Any) -> int:
    """1 for a symbol or a number (an answer such as ``w`` is a name the record must carry)."""
    if not isinstance(e, sp.Basic) or isinstance(e, sp.Symbol | sp.MatrixSymbol | sp.Number) or not e.args:
        return 1
    return 1 + max(_depth(a) for a in e.args)


@pytest.mark.parametrize(("builder", "fn"), CASES, ids=[f"{b}-{fn}" for b, fn in CASES])
def test_the_record_does_not_print_the_answer(kit, builder, fn):
    k = kit[builder, fn]
    expected, text = k["expected"], json.dumps(k["record"], ensure_ascii=False)
    forbidden = {sp.srepr(expected)}
    for node in sp.preorder_traversal(expected):
        if _depth(node) >= 2:
            forbidden |= {str(node), sp.srepr(node), sp.pretty(node, use_unicode=True)}
    for s in forbidden:
        assert s not in text, (fn, s)
    for word in ("exp", "tanh", "Heaviside", "sigma", "Transpose", "MatMul", "Add", "Mul", "Pow"):
        assert word not in text, (fn, word)
    assert "not readable" in str(k["sampled"]) and "not readable" in repr(-k["sampled"])


def _tampered() -> list[tuple[str, Any]]:
    x = sp.Symbol("x", real=True)
    good = encode_expression(1 - sp.tanh(x) ** 2, (x,))

    def edit(f: Any) -> Any:
        d = json.loads(json.dumps(good))
        f(d)
        return d

    return [
        ("not a dict", [good]),
        ("wrong format", edit(lambda d: d.update(format="pickle"))),
        ("wrong version", edit(lambda d: d.update(version=99))),
        ("bad name", edit(lambda d: d["args"][0].__setitem__(0, "__import__('os')"))),
        ("too many points", edit(lambda d: d["batches"][0].update(n=10 ** 7))),
        ("short values", edit(lambda d: d["batches"][0]["values"].pop())),
        ("infinite point", edit(lambda d: d["batches"][0]["points"][0].__setitem__(0, 1e400))),
        ("missing point", edit(lambda d: d["batches"][0]["points"][0].__setitem__(0, None))),
        ("bool value", edit(lambda d: d["batches"][0]["values"].__setitem__(0, True))),
        ("string value", edit(lambda d: d["batches"][0]["values"].__setitem__(0, "1"))),
        ("bad precise", edit(lambda d: d["batches"][0]["precise"].__setitem__(0, "exp(1)"))),
        ("matrix shape", edit(lambda d: d.update(shape=["D", 10 ** 6]))),
        ("bad hash", edit(lambda d: d.update(form=["x", "y"]))),
        ("no probes", edit(lambda d: d.update(batches=[b for b in d["batches"] if b["role"] != "probe"]))),
        ("unknown role", edit(lambda d: d["batches"][0].update(role="exec"))),
        ("dims of a scalar", edit(lambda d: d["batches"][0].update(dims={"D": 3}))),
    ]


@pytest.mark.parametrize(("why", "record"), _tampered(), ids=[w for w, _ in _tampered()])
def test_a_damaged_record_is_a_grader_fault_not_a_crash(why, record):
    with pytest.raises(GraderFault, match="damaged"):
        decode_expression(record)
