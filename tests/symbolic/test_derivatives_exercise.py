"""The `derivatives` exercise graded through the sandbox: the reference and other correct submissions
(sympy or strings) get full marks, every mistake of mistakes.py loses marks and is named, and hostile
or malformed answers are reported clearly."""

from __future__ import annotations

from pathlib import Path

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


def test_reference_gets_full_marks(sandbox):  # at 50 seeds: tests/exercises/test_every_exercise.py
    result = grade(EXERCISE, REFERENCE, GradeOptions(seed=1), sandbox=sandbox)
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


def test_every_mistake_is_named_at_other_seeds():
    """What the seed changes is the probe points: at two more seeds every mistake of mistakes.py is still
    named (numeric decision only; the sandbox path for every mistake is tests/exercises/test_every_exercise.py,
    the proof does not depend on the seed)."""
    from exercises.derivatives import checks
    from grader.symbolic import decide_numerically
    from reference import derivatives as ref

    for seed in (4, 5):
        for m in BOOK:
            for fn, variant in m.overrides.items():
                args = checks.SYMBOLS[fn]()
                v = decide_numerically(variant(*args), getattr(ref, fn)(*args), args,
                                       names=checks.parameter_names(ref, fn),
                                       primitive=checks.PRIMITIVES[fn](*args) if fn in checks.PRIMITIVES else None,
                                       variable=args[0], candidates=checks.known_mistakes(BOOK, fn, args), seed=seed,
                                       domains=checks.DOMAINS[fn](args) if fn in checks.DOMAINS else None)
                assert (v.status, v.mistake) == ("wrong", m.id), (seed, fn, v)


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


def test_other_correct_forms_get_full_marks(sandbox, tmp_path):
    result = run(sandbox, tmp_path, SYMPY_FORMS)
    assert result.full_marks, explain(result)


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
    assert failed["grad_affine"].status == "failed"  # an invalid answer is the student's, not a grader error
    assert msg["grad_sq_norm"].startswith("grad_sq_norm: could not read your answer: unknown name 'y' "
                                          "(your variables: x)")
    assert failed["grad_least_squares"].mistake == "missing_transpose"
    assert msg["d_bce_logit"] == "d_bce_logit: could not read your answer: unexpected ')' at column 13"
    assert failed["d_bce_logit"].details == "  sigma(z) - y)\n              ^"


def test_a_strings_names_are_the_functions_parameters(sandbox, tmp_path):
    """shared/CONVENTIONS.md: in a string, a name is the function's parameter of that name, whatever symbol
    the grader passes (the hidden check passes u, s, t, A, ...). (A name that is no parameter is refused:
    tests/symbolic/test_grade.py.)"""
    source = STRING_FORMS.replace('f"σ({x})(1 − σ({x}))"', '"σ(x)(1 − σ(x))"').replace(
        'f"sigmoid({z}) - {y}"', '"sigmoid(z) - y"').replace('f"2 {W}ᵀ({W} {theta} − {y})"', '"2 Wᵀ(W θ − y)"')
    result = run(sandbox, tmp_path, source)
    assert result.full_marks, explain(result)  # the f-strings of STRING_FORMS are graded in the same run


def test_sympy_diff_is_forbidden(sandbox, tmp_path):
    source = SYMPY_FORMS.replace("return sp.sech(x) ** 2", "return sp.diff(sp.tanh(x), x)")
    result = run(sandbox, tmp_path, source)
    assert "d_tanh" in failures(result)
    assert any("sympy.diff" in p for p in result.problems), result.problems
