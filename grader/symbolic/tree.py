"""Sympy expressions as JSON-able trees, to cross the sandbox boundary without pickles.

The student's process calls :func:`to_tree` on what the student returns; the grader calls
:func:`from_tree`, which rebuilds only whitelisted node types through the same size-limited
:class:`~grader.symbolic.build.Builder` as the string parser. A tree is a nested list whose first item
names the node::

    ["Symbol", "x"]   ["Integer", "2"]   ["Rational", "1", "2"]   ["Float", "1.5"]   ["E"]   ["Pi"]
    ["Add", a, b, ...]   ["Mul", ...]   ["Pow", base, exp]   ["Function", "sigma", arg, ...]
    ["Piecewise", [value, cond], ...]   ["StrictLessThan", a, b]   ["True"]   ["And", ...]
    ["MatrixSymbol", "W", rows, cols]   ["Transpose", m]   ["MatMul", ...]   ["MatAdd", ...]
    ["ZeroMatrix", rows, cols]   ["Identity", n]

Strings are not trees: a student's string answer travels as a string and is parsed in the grader.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from grader.symbolic.errors import TreeError

MAX_TREE_NODES = 5000
MAX_TREE_DEPTH = 100
_FLOAT = re.compile(r"^-?(\d{1,40}(\.\d{0,40})?|\.\d{1,40})([eE][-+]?\d{1,3})?$")
_INT = re.compile(r"^-?\d{1,300}$")
_MAX_BITS = 1000  # about 300 decimal digits, the builder's limit for any constant
_RELATIONS = ("StrictLessThan", "LessThan", "StrictGreaterThan", "GreaterThan", "Equality", "Unequality")
_BOOLEANS = ("And", "Or", "Not")

Tree = list


# -- encoding (runs in the student's process too: only sympy and this package) ---------------------------
def to_tree(expr: Any, *, max_nodes: int = MAX_TREE_NODES, max_depth: int = MAX_TREE_DEPTH) -> Tree:
    """The tree of a sympy expression. Raises :class:`TreeError` for unsupported or oversized ones.

    The tree is rebuilt once here, with the grader's limits, so that an answer the grader would refuse
    (``x**(10**5)``) is refused in the student's own call, with the reason, and not on arrival.
    """
    budget = [max_nodes]
    tree = _encode(expr, 0, budget, max_depth)
    from_tree(tree, max_nodes=max_nodes, max_depth=max_depth)
    return tree


def symbols_to_tree(symbols: Iterable[Any]) -> Tree:
    """The trees of the input symbols (``Symbol`` and ``MatrixSymbol``), to send them to the student."""
    return [to_tree(s) for s in symbols]


def _encode(e: Any, depth: int, budget: list[int], max_depth: int) -> Tree:
    import sympy
    from sympy.core.function import AppliedUndef

    budget[0] -= 1
    if budget[0] < 0:
        raise TreeError("expression too large to send")
    if depth > max_depth:
        raise TreeError("expression nested too deeply to send")

    def sub(x: Any) -> Tree:
        return _encode(x, depth + 1, budget, max_depth)

    if not isinstance(e, sympy.Basic):
        raise TreeError(f"not a sympy expression: {kind_of(type(e).__name__)}")
    if isinstance(e, sympy.Dummy):
        raise TreeError("dummy symbols cannot be sent")
    if isinstance(e, sympy.Symbol):
        return ["Symbol", e.name]
    if isinstance(e, sympy.Rational) and max(int(e.p).bit_length(), int(e.q).bit_length()) > _MAX_BITS:
        raise TreeError("number too large (more than 300 digits)")  # before str(): Python's digit limit
    if isinstance(e, sympy.Integer):
        return ["Integer", str(e.p)]
    if isinstance(e, sympy.Rational):
        return ["Rational", str(e.p), str(e.q)]
    if isinstance(e, sympy.Float):
        return ["Float", repr(float(e))]
    if e is sympy.E:
        return ["E"]
    if e is sympy.pi:
        return ["Pi"]
    if e is sympy.true or e is sympy.false:
        return [str(e)]
    name = type(e).__name__
    if isinstance(e, sympy.MatrixSymbol):
        return ["MatrixSymbol", e.name, sub(e.shape[0]), sub(e.shape[1])]
    if isinstance(e, sympy.ZeroMatrix):
        return ["ZeroMatrix", sub(e.shape[0]), sub(e.shape[1])]
    if isinstance(e, sympy.Identity):
        return ["Identity", sub(e.shape[0])]
    if isinstance(e, sympy.Piecewise):
        return ["Piecewise", *[[sub(v), sub(c)] for v, c in e.args]]
    if isinstance(e, AppliedUndef | sympy.Function | sympy.Max | sympy.Min):
        return _function(name, [sub(a) for a in e.args])
    if name in ("Add", "Mul", "Pow", "Transpose", "MatMul", "MatAdd", *_RELATIONS, *_BOOLEANS):
        return [name, *[sub(a) for a in e.args]]
    raise TreeError(f"unsupported sympy object: {kind_of(name)}")


def kind_of(type_name: str) -> str:
    """What a student would call an object of this type: "a sympy Matrix", not "ImmutableDenseMatrix"."""
    name = type_name[:60]
    if "Matrix" in name and name not in ("MatrixSymbol", "MatrixExpr"):
        return f"a sympy Matrix ({name})"
    kinds = {"ImaginaryUnit": "the imaginary unit I", "Infinity": "infinity (oo)",
             "NegativeInfinity": "minus infinity (-oo)", "ComplexInfinity": "complex infinity (zoo)",
             "NaN": "nan", "Derivative": "an unevaluated Derivative (derive by hand)",
             "Integral": "an Integral", "Subs": "an unevaluated Subs", "Lambda": "a sympy Lambda (a function)",
             "Tuple": "a tuple", "FiniteSet": "a set", "list": "a Python list", "tuple": "a Python tuple",
             "dict": "a Python dict", "function": "a Python function", "NoneType": "None"}
    return kinds.get(name, f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}")


def _function(name: str, args: list[Tree]) -> Tree:
    """Refused here already, so that the student hears "unsupported function erf" from their own call."""
    from grader.symbolic.functions import TREE_FUNCTIONS

    if name not in TREE_FUNCTIONS:
        raise TreeError(f"unsupported function {name[:40]!r} (use exp, log, tanh, sech, sigma, Heaviside, Max, ...)")
    return ["Function", name, *args]


# -- decoding (runs in the grader: the input is hostile) -------------------------------------------------
def from_tree(tree: Any, allowed_symbols: Mapping[str, Any] | Iterable[Any] | None = None, *,
              max_nodes: int = MAX_TREE_NODES, max_depth: int = MAX_TREE_DEPTH) -> Any:
    """Rebuild a sympy expression from a tree, accepting only whitelisted nodes.

    ``allowed_symbols`` (names → ``Symbol``/``MatrixSymbol``, or the symbols themselves) restricts the
    names to the exercise's variables and returns the caller's own symbol objects. ``None`` builds
    symbols from the names (real scalars, positive-integer dimensions): for the student's process,
    which rebuilds the inputs the grader sent, and for a caller that checks names later.
    """
    from grader.symbolic.build import Builder
    from grader.symbolic.parser import symbol_table

    table = None if allowed_symbols is None else symbol_table(allowed_symbols)
    return _Decoder(table, Builder(max_nodes), max_depth).node(tree, 0)


def symbols_from_tree(tree: Any) -> list[Any]:
    """The input symbols sent by :func:`symbols_to_tree`."""
    import sympy

    if not isinstance(tree, list) or len(tree) > 100:
        raise TreeError("expected a list of symbols")
    out = [from_tree(t) for t in tree]
    if not all(isinstance(s, sympy.Symbol | sympy.MatrixSymbol) for s in out):
        raise TreeError("expected only symbols")
    return out


class _Decoder:
    def __init__(self, table: dict[str, Any] | None, builder: Any, max_depth: int) -> None:
        self.table = table
        self.b = builder
        self.max_depth = max_depth

    def node(self, t: Any, depth: int) -> Any:
        from grader.symbolic.errors import SymbolicError

        if depth > self.max_depth:
            raise TreeError("expression nested too deeply")
        if not isinstance(t, list) or not t or not isinstance(t[0], str):
            raise TreeError("malformed expression tree")
        head, args = t[0], t[1:]
        handler = getattr(self, "_" + head, None) if head.isidentifier() and not head.startswith("_") else None
        if handler is None:
            raise TreeError(f"unsupported node {head[:40]!r}")
        try:
            return handler(args, depth + 1)
        except TreeError:
            raise
        except SymbolicError as e:
            raise TreeError(str(e)) from None
        except RecursionError:
            raise TreeError("expression nested too deeply") from None
        except Exception as e:  # noqa: BLE001 - sympy refusing a combination, whatever it raises
            raise TreeError(f"cannot rebuild {head}: {type(e).__name__}: {str(e)[:200]}") from None

    def kids(self, args: Sequence[Any], depth: int, n: int | None = None) -> list[Any]:
        if n is not None and len(args) != n:
            raise TreeError(f"wrong number of arguments ({len(args)}, expected {n})")
        return [self.node(a, depth) for a in args]

    @staticmethod
    def text(args: Sequence[Any], n: int) -> list[str]:
        if len(args) != n or not all(isinstance(a, str) for a in args):
            raise TreeError("malformed leaf")
        return list(args)

    # -- leaves -----------------------------------------------------------------------------------
    def _Symbol(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802 - named after the node
        from grader.symbolic.build import is_matrix
        from grader.symbolic.symbols import NAME, scalar

        (name,) = self.text(args, 1)
        if self.table is None:
            if not NAME.match(name):
                raise TreeError(f"not a valid symbol name: {name[:40]!r}")
            return scalar(name)
        s = self.table.get(name)
        if s is None or is_matrix(s):
            raise TreeError(f"unknown symbol {name[:40]!r} (the variables are {', '.join(sorted(self.table))})")
        return s

    def _MatrixSymbol(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        import sympy

        from grader.symbolic.build import is_matrix
        from grader.symbolic.symbols import NAME

        if len(args) != 3 or not isinstance(args[0], str):
            raise TreeError("malformed MatrixSymbol")
        name = args[0]
        shape = tuple(self.dimension(d) for d in args[1:])
        if self.table is None:
            if not NAME.match(name):
                raise TreeError(f"not a valid symbol name: {name[:40]!r}")
            return sympy.MatrixSymbol(name, *shape)
        s = self.table.get(name)
        if s is None or not is_matrix(s):
            raise TreeError(f"unknown matrix {name[:40]!r} (the variables are {', '.join(sorted(self.table))})")
        if tuple(s.shape) != shape:
            raise TreeError(f"matrix {name} has shape {s.shape}, not {shape}")
        return s

    def dimension(self, t: Any) -> Any:
        import sympy

        from grader.symbolic.symbols import NAME, dim

        if isinstance(t, list) and len(t) == 2 and t[0] == "Integer" and isinstance(t[1], str) \
                and t[1].isdigit() and len(t[1]) <= 7:
            return sympy.Integer(int(t[1]))
        if isinstance(t, list) and len(t) == 2 and t[0] == "Symbol" and isinstance(t[1], str) \
                and NAME.match(t[1]):
            return dim(t[1])
        raise TreeError("a matrix dimension must be a small integer or a name")

    def _Integer(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        (text,) = self.text(args, 1)
        if not _INT.match(text):
            raise TreeError("malformed or too large integer")
        return self.b.integer(text)

    def _Rational(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        p, q = self.text(args, 2)
        return self.b.div(self._Integer([p], depth), self._Integer([q], depth))

    def _Float(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        import sympy

        (text,) = self.text(args, 1)
        if not _FLOAT.match(text):
            raise TreeError("malformed float")
        self.b._tick()
        return self.b._done(sympy.Float(text))

    def _E(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        import sympy

        self.kids(args, depth, 0)
        return sympy.E

    def _Pi(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        import sympy

        self.kids(args, depth, 0)
        return sympy.pi

    def _True(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        import sympy

        self.kids(args, depth, 0)
        return sympy.true

    def _False(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        import sympy

        self.kids(args, depth, 0)
        return sympy.false

    # -- operations -------------------------------------------------------------------------------
    def _Add(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        return self.b.add(self.nonempty(args, depth))

    def _MatAdd(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        return self.b.add(self.nonempty(args, depth))

    def _Mul(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        return self.b.mul(self.nonempty(args, depth))

    def _MatMul(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        return self.b.mul(self.nonempty(args, depth))

    def nonempty(self, args: Sequence[Any], depth: int) -> list[Any]:
        if not args:
            raise TreeError("an operation without operands")
        return self.kids(args, depth)

    def _Pow(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        base, exponent = self.kids(args, depth, 2)
        return self.b.power(base, exponent)

    def _Transpose(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        return self.b.transpose(*self.kids(args, depth, 1))

    def _ZeroMatrix(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        import sympy

        if len(args) != 2:
            raise TreeError("malformed ZeroMatrix")
        self.b._tick()
        return sympy.ZeroMatrix(*(self.dimension(d) for d in args))

    def _Identity(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        import sympy

        if len(args) != 1:
            raise TreeError("malformed Identity")
        self.b._tick()
        return sympy.Identity(self.dimension(args[0]))

    def _Function(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        from grader.symbolic.functions import TREE_FUNCTIONS

        if not args or not isinstance(args[0], str):
            raise TreeError("malformed function")
        name = args[0]
        ctor = TREE_FUNCTIONS.get(name)
        if ctor is None:
            raise TreeError(f"unsupported function {name[:40]!r}")
        self.b._tick()
        return self.b.apply(ctor, name, self.kids(args[1:], depth))

    def _Piecewise(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        pairs = []
        for a in args:
            if not isinstance(a, list) or len(a) != 2:
                raise TreeError("malformed Piecewise")
            pairs.append(tuple(self.kids(a, depth, 2)))
        return self.b.piecewise(pairs)

    def relation(self, op: str, args: Sequence[Any], depth: int) -> Any:
        a, b = self.kids(args, depth, 2)
        return self.b.relation(op, a, b)

    def _StrictLessThan(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        return self.relation("<", args, depth)

    def _LessThan(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        return self.relation("<=", args, depth)

    def _StrictGreaterThan(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        return self.relation(">", args, depth)

    def _GreaterThan(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        return self.relation(">=", args, depth)

    def _Equality(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        return self.relation("==", args, depth)

    def _Unequality(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        import sympy

        return sympy.Not(self.relation("==", args, depth))

    def _And(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        return self.b.boolean("And", self.nonempty(args, depth))

    def _Or(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        return self.b.boolean("Or", self.nonempty(args, depth))

    def _Not(self, args: Sequence[Any], depth: int) -> Any:  # noqa: N802
        return self.b.boolean("Not", self.kids(args, depth, 1))
