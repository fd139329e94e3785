"""The `derivatives` exercise graded through the sandbox: the reference and other correct submissions
(sympy or strings) get full marks, every mistake of mistakes.py loses marks and is named, and hostile
or malformed answers are reported clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.api import GradeOptions, grade
from grader.mistakes import load_book, mutant_source

EXERCISE = "derivatives"
ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "reference" / f"{EXERCISE}.py"
BOOK = load_book(EXERCISE)
MAX_SCORE = 14


def run(sandbox, tmp_path: Path, source: str, seed: int = 0):
    p = tmp_path / f"{EXERCISE}.py"
    p.write_text(source, encoding="utf-8")
    return grade(EXERCISE, p, GradeOptions(seed=seed), sandbox=sandbox)


def failures(result) -> dict:
    return {c.id: c for c in result.checks if not c.passed}


def explain(result) -> str:
    return "\n".join(f"{c.id}: {c.status} {c.message} | {c.details} | {c.advice} {c.traceback}"
                     for c in result.checks if not c.passed)


@pytest.mark.parametrize("seed", [0, 1])
def test_reference_gets_full_marks(sandbox, seed):
    result = grade(EXERCISE, REFERENCE, GradeOptions(seed=seed), sandbox=sandbox)
    assert result.full_marks, explain(result)
    assert result.max_score == MAX_SCORE


def _load(source: str, tmp_path: Path, name: str):
    import importlib.util

    p = tmp_path / f"{name}.py"
    p.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, p)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fifty_seeds_in_process(tmp_path):
    """What the seed changes is the sample points: for 50 seeds, the reference and the other correct
    forms pass and every mistake is named (numeric check only, timeout=0: the exact proof does not
    depend on the seed and is covered above)."""
    from exercises.derivatives import checks
    from grader.symbolic import Candidate, grade_answer, read_answer
    from reference import derivatives as ref

    forms = [ref, _load(SYMPY_FORMS, tmp_path, "sympy_forms"), _load(STRING_FORMS, tmp_path, "string_forms")]
    for seed in range(50):
        for fn, make in checks.SYMBOLS.items():
            args = make()
            expected = getattr(ref, fn)(*args)
            primitive = checks.PRIMITIVES[fn](*args) if fn in checks.PRIMITIVES else None
            domains = checks.DOMAINS[fn](args) if fn in checks.DOMAINS else None
            known = [Candidate(m.id, m.name, m.hint, read_answer(m.overrides[fn](*args), args))
                     for m in BOOK if fn in m.overrides]
            for module in forms:
                v = grade_answer(getattr(module, fn)(*args), expected, args, seed=seed, timeout=0,
                                 domains=domains)
                assert v.correct, (seed, fn, module.__name__, v)
            for c in known:
                v = grade_answer(c.expr, expected, args, seed=seed, timeout=0, candidates=known,
                                 primitive=primitive, domains=domains)
                assert (v.status, v.mistake) == ("wrong", c.id), (seed, fn, v)


SYMPY_FORMS = '''
import sympy as sp

def d_sigmoid(x):
    return sp.exp(-x) / (1 + sp.exp(-x)) ** 2

def d_tanh(x):
    return sp.sech(x) ** 2

def d_relu(x):
    return sp.Piecewise((0, x < 0), (1, True))

def d_softplus(x):
    return sp.exp(x) / (1 + sp.exp(x))

def grad_affine(w, x, b):
    return w

def grad_sq_norm(x):
    return x + x

def grad_least_squares(W, theta, y):
    return 2 * W.T * W * theta - 2 * W.T * y

def d_bce_logit(z, y):
    sigma = sp.Function("sigma")
    return sigma(z) - y
'''

STRING_FORMS = '''
def d_sigmoid(x):
    return f"σ({x})(1 − σ({x}))"

def d_tanh(x):
    return f"1 - tanh({x})²"

def d_relu(x):
    return f"H({x})"

def d_softplus(x):
    return f"1/(1 + e^-{x})"

def grad_affine(w, x, b):
    return str(w)

def grad_sq_norm(x):
    return f"2{x}"

def grad_least_squares(W, theta, y):
    return f"2 {W}ᵀ({W} {theta} − {y})"

def d_bce_logit(z, y):
    return f"sigmoid({z}) - {y}"
'''


@pytest.mark.parametrize("source", [SYMPY_FORMS, STRING_FORMS], ids=["sympy", "strings"])
def test_other_correct_forms_get_full_marks(sandbox, tmp_path, source):
    result = run(sandbox, tmp_path, source)
    assert result.full_marks, explain(result)


@pytest.mark.parametrize("mistake", [m.id for m in BOOK])
def test_every_mistake_loses_marks_and_is_named(sandbox, tmp_path, mistake):
    result = run(sandbox, tmp_path, mutant_source(EXERCISE, mistake), seed=3)
    failed = failures(result)
    assert failed and result.score < MAX_SCORE
    fn = next(iter(BOOK[mistake].overrides))
    check = failed[fn]
    assert check.mistake == mistake, explain(result)
    assert check.advice == f"Likely mistake: {BOOK[mistake].name}. {BOOK[mistake].hint}"
    assert "other_names_and_sizes" in failed


def test_failure_shows_the_students_expression_and_keeps_the_expected_one_apart(sandbox, tmp_path):
    result = run(sandbox, tmp_path, mutant_source(EXERCISE, "tanh_slide_004"))
    check = failures(result)["d_tanh"]
    assert check.message == "d_tanh: your answer is not equivalent to the expected derivative"
    assert check.details.startswith("your answer: (1 - tanh(x))*tanh(x)\nat x = ")
    assert "tanh(x)**2" not in check.details
    assert check.attachment("expected_answer").answer.split("\n")[1] == "1 - tanh (x)"
    assert check.attachment("symbolic_answer").answer == "(1 - tanh(x))⋅tanh(x)"


HOSTILE = '''
import sympy as sp

def d_sigmoid(x):
    return "__import__('os').system('touch /tmp/dl-grader-pwned')"

def d_tanh(x):
    return "x" * 1_000_000

def d_relu(x):
    return "2**2**2**2**2**2"

def d_softplus(x):
    return sp.erf(x)

def grad_affine(w, x, b):
    return None

def grad_sq_norm(x):
    return "2 y"

def grad_least_squares(W, theta, y):
    return "2 W (W theta - y)"

def d_bce_logit(z, y):
    return "sigma(z) - y)"
'''


def test_hostile_and_malformed_answers(sandbox, tmp_path):
    result = run(sandbox, tmp_path, HOSTILE)
    assert not Path("/tmp/dl-grader-pwned").exists()
    failed = failures(result)
    assert result.score == 0
    msg = {k: c.message for k, c in failed.items()}
    assert msg["d_sigmoid"] == ("d_sigmoid: could not read your answer: '__import__' is Python, not a formula: "
                                "write the expression only at column 1")
    assert msg["d_tanh"] == ("d_tanh: could not read your answer: answer too long: 1,000,000 characters "
                             "(the limit is 2,000)")
    assert msg["d_relu"].startswith("d_relu: could not read your answer: exponent too large (the limit is 1000)")
    assert "unsupported function 'erf'" in msg["d_softplus"]
    assert msg["grad_affine"] == ("grad_affine: answer refused: the function returned None: return a sympy "
                                  "expression or a string")
    assert msg["grad_sq_norm"].startswith("grad_sq_norm: could not read your answer: unknown name 'y' "
                                          "(your variables: x)")
    assert failed["grad_least_squares"].mistake == "missing_transpose"
    assert msg["d_bce_logit"] == "d_bce_logit: could not read your answer: unexpected ')' at column 13"
    assert failed["d_bce_logit"].details == "  sigma(z) - y)\n              ^"


def test_hard_coded_names_fail_the_hidden_check(sandbox, tmp_path):
    source = STRING_FORMS.replace('f"σ({x})(1 − σ({x}))"', '"σ(x)(1 − σ(x))"')
    failed = failures(run(sandbox, tmp_path, source))
    assert list(failed) == ["other_names_and_sizes"]
    assert failed["other_names_and_sizes"].message.startswith(
        "d_sigmoid: could not read your answer: unknown name 'x' (your variables: u)")


def test_sympy_diff_is_forbidden(sandbox, tmp_path):
    source = SYMPY_FORMS.replace("return sp.sech(x) ** 2", "return sp.diff(sp.tanh(x), x)")
    result = run(sandbox, tmp_path, source)
    assert "d_tanh" in failures(result)
    assert any("sympy.diff" in p for p in result.problems), result.problems
