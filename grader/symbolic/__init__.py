"""The symbolic engine: read, compare and diagnose derivatives written by students.

Public API (imported lazily: ``import grader.symbolic`` does not import sympy)::

    parse(text, symbols) -> sympy expression             # safe: no eval, whitelisted names only
    grade_answer(answer, expected, symbols, ...) -> SymbolicVerdict   # in a killable child, always a verdict
    decide_numerically(answer, expected, symbols, ...)   # the seed-dependent part, in process (tests, benchmarks)
    compare_values(values, expected, inputs, ...) -> SymbolicVerdict   # code derivative vs formula
    to_tree(expr) / from_tree(tree, allowed_symbols)     # crossing the sandbox boundary
    symbols_to_tree(symbols) / symbols_from_tree(tree)
    scalar(name), matrix(name, rows, cols), dim(name)    # input symbols
    sigma                                                 # σ as a sympy function
    encode_expression(expr, args) -> dict / decode_expression(d) -> SampledExpression   # the student kit
    Candidate, SymbolicVerdict, SymbolicError, ParseError, ShapeError, TreeError

See docs/SYMBOLIC.md.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "parse": "parser", "tokenize": "parser", "MAX_CHARS": "parser",
    "grade_answer": "grade", "compare_values": "grade", "read_answer": "grade", "decide_numerically": "grade",
    "SymbolicVerdict": "grade", "string_table": "grade", "BUDGET": "grade",
    "Candidate": "candidates", "generic_candidates": "candidates",
    "to_tree": "tree", "from_tree": "tree", "symbols_to_tree": "tree", "symbols_from_tree": "tree",
    "scalar": "symbols", "matrix": "symbols", "dim": "symbols",
    "sigma": "functions", "sigmoid": "functions", "pretty": "functions",
    "evaluate": "numeric", "prove_equal": "exact",
    "encode_expression": "sampled", "decode_expression": "sampled", "SampledExpression": "sampled",
    "SymbolicError": "errors", "ParseError": "errors", "ShapeError": "errors", "TreeError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'grader.symbolic' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"grader.symbolic.{module}"), name)
    globals()[name] = value
    return value
