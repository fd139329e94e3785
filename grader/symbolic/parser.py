"""A safe parser for answers typed by students: a tokenizer and a Pratt (precedence-climbing) parser.

``sympy.sympify`` and ``parse_expr`` run Python ``eval`` on their input, so student text never goes
near them. This parser knows a fixed set of names (the caller's symbols, a whitelist of functions, the
constants e and π) and a fixed set of operators, and builds sympy objects through
:class:`grader.symbolic.build.Builder`, which enforces the size limits. Anything else is a
:class:`ParseError` that points at the column.

Accepted notation, with examples::

    x^2  x**2  x²  2x  2 x  x y  2(x+1)  (a)(b)        powers, implicit products
    σ(x) sigma(x) sigmoid(x) H(x) Heaviside(x) tanh sech exp log ln max Max abs sqrt relu
    Piecewise((0, x < 0), (1, True))                   conditions: < <= > >= == ≤ ≥
    W.T  W^T  Wᵀ   W @ θ   W*θ   W θ                   matrices (the caller gives the shapes)
    −  ·  ×  θ  π  e                                   unicode operators and names
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sympy

from grader.symbolic.build import Builder, is_condition
from grader.symbolic.errors import ParseError, ShapeError, SymbolicError
from grader.symbolic.functions import FUNCTIONS

MAX_CHARS = 2000  # a derivative fits in a few lines; more is a paste accident or an attack
MAX_DEPTH = 40  # nesting of brackets and operators
MAX_LITERAL_DIGITS = 30  # digits of one number as typed

GREEK = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta", "η": "eta",
         "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda_", "μ": "mu", "ν": "nu", "ξ": "xi",
         "ρ": "rho", "τ": "tau", "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega", "Θ": "Theta",
         "Σ": "Sigma", "Φ": "Phi", "Ω": "Omega"}
CONSTANTS = {"e": sympy.E, "E": sympy.E, "pi": sympy.pi, "π": sympy.pi,
             "True": sympy.true, "False": sympy.false}
_OPERATORS = {  # longest first
    "**": "^", "<=": "<=", ">=": ">=", "==": "==",
    "^": "^", "*": "*", "·": "*", "⋅": "*", "×": "*", "/": "/", "÷": "/", "+": "+", "-": "-", "−": "-",
    "–": "-", "@": "@", "(": "(", ")": ")", "[": "(", "]": ")", "{": "(", "}": ")", ",": ",", "<": "<",
    ">": ">", "≤": "<=", "≥": ">=", "ᵀ": "T", "|": "|",
}
_SUPERSCRIPTS = {"⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7",
                 "⁸": "8", "⁹": "9", "⁻": "-"}
_CLOSERS = {"(": ")", "[": "]", "{": "}"}
MAX_FUNCTION_POWER = 9  # tanh^2(x), sech²(x): a small positive power written on the function name
_DIGITS = frozenset("0123456789")
# "e" right after a number, then an optionally signed integer: scientific notation (2e-3, and 1e-3x is
# 0.001·x). "2e" alone, "2e^x", "2ex" and "2e-x" keep meaning 2·e…
_SCIENTIFIC = re.compile(r"[eE]([-+]?[0-9]{1,4})(?![0-9.])")
MAX_SCIENTIFIC_EXPONENT = 300  # str.isdigit() also accepts '²' and other scripts' digits


@dataclass(frozen=True)
class Token:
    kind: str  # "num", "name", "op", "sup" (superscript power), "end"
    text: str  # the normalised text: "^" for "**", "theta" for "θ", "2" for "²"
    column: int  # 1-based
    raw: str = ""  # as typed, for messages


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; anything outside the alphabet is an error at its column."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in _DIGITS or (c == "." and i + 1 < n and text[i + 1] in _DIGITS):
            i = _number(text, i, tokens)
        elif c.isascii() and (c.isalpha() or c == "_"):
            j = i
            while j < n and text[j].isascii() and (text[j].isalnum() or text[j] == "_"):
                j += 1
            tokens.append(Token("name", text[i:j], i + 1, text[i:j]))
            i = j
        elif c in _SUPERSCRIPTS:
            j = i
            while j < n and text[j] in _SUPERSCRIPTS:
                j += 1
            digits = "".join(_SUPERSCRIPTS[ch] for ch in text[i:j])
            if not digits.lstrip("-").isdigit() or "-" in digits[1:]:
                raise ParseError(f"unreadable superscript {text[i:j]!r}", text, i + 1)
            tokens.append(Token("sup", digits, i + 1, text[i:j]))
            i = j
        elif c == ".":
            i = _dot(text, i, tokens)
        elif not c.isascii() and c.isalpha() and c not in _OPERATORS:
            tokens.append(Token("name", GREEK.get(c, c), i + 1, c))
            i += 1
        else:
            op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
            if op is None:
                raise _bad_character(text, i, tokens)
            tokens.append(Token("op", _OPERATORS[op], i + 1, op))
            i += len(op)
    tokens.append(Token("end", "", n + 1, "end of input"))
    return tokens


def _bad_character(text: str, i: int, tokens: list[Token]) -> ParseError:
    """Python code fails on its first quote or colon; name the Python word before it if there is one."""
    for t in tokens:
        if t.kind == "name" and is_python_word(t.text):
            return ParseError(f"{t.raw!r} is Python, not a formula: write the expression only", text, t.column)
    c = text[i]
    if c in "'\"":
        return ParseError("quotes are not allowed: write the formula itself, not a string or code", text, i + 1)
    return ParseError(f"unexpected character {c!r}", text, i + 1)


def is_python_word(name: str) -> bool:
    return keyword.iskeyword(name) or name.startswith("__") or name in ("print", "eval", "exec", "open")


def _number(text: str, i: int, tokens: list[Token]) -> int:
    j = i
    while j < len(text) and (text[j] in _DIGITS or text[j] == "."):
        j += 1
    exponent = _SCIENTIFIC.match(text, j)  # 2.5e-1 is 0.25, not 2.5·e − 1
    if exponent is not None:
        j = exponent.end()
    literal = text[i:j]
    if literal.count(".") > 1:
        raise ParseError(f"malformed number {literal!r}", text, i + 1)
    if sum(ch in _DIGITS for ch in literal) > MAX_LITERAL_DIGITS:
        raise ParseError(f"number too long (more than {MAX_LITERAL_DIGITS} digits)", text, i + 1)
    if exponent is not None and abs(int(exponent.group(1))) > MAX_SCIENTIFIC_EXPONENT:
        raise ParseError(f"number out of range ({literal})", text, i + 1)
    tokens.append(Token("num", literal, i + 1, literal))
    return j


def _dot(text: str, i: int, tokens: list[Token]) -> int:
    """``.T`` is the transpose; any other attribute is Python, which we do not run."""
    j = i + 1
    while j < len(text) and text[j].isascii() and (text[j].isalnum() or text[j] == "_"):
        j += 1
    attr = text[i + 1:j]
    if attr == "T":
        tokens.append(Token("op", "T", i + 1, ".T"))
        return j
    if attr:
        raise ParseError(f"attribute access '.{attr}' is not allowed (only .T, the transpose)", text, i + 1)
    raise ParseError("unexpected '.'", text, i + 1)


# -- the parser --------------------------------------------------------------------------------------
_INFIX = {"<": 10, "<=": 10, ">": 10, ">=": 10, "==": 10, "+": 20, "-": 20, "*": 30, "/": 30, "@": 30,
          "^": 40}
_UNARY = 35  # -x*y = (-x)*y, -x^2 = -(x^2)
_POSTFIX = 50  # ᵀ, .T, ²
_IMPLICIT = 30  # 2x, x y, 2(x+1), (a)(b)


class Parser:
    def __init__(self, text: str, symbols: Mapping[str, Any], builder: Builder) -> None:
        self.text = text
        self.symbols = symbols
        self.b = builder
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0

    # -- token helpers --------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        t = self.tokens[self.pos]
        self.pos += 1
        return t

    def error(self, reason: str, token: Token | None = None) -> ParseError:
        t = token or self.tok
        return ParseError(reason, self.text, t.column)

    def unexpected(self, token: Token | None = None) -> ParseError:
        t = token or self.tok
        return self.error("unexpected end of input" if t.kind == "end" else f"unexpected {t.raw!r}", t)

    def expect(self, text: str) -> Token:
        if self.tok.kind == "op" and self.tok.text == text:
            return self.advance()
        if self.tok.kind == "end":
            raise self.error(f"missing {text!r}")
        raise self.error(f"expected {text!r}, found {self.tok.raw!r}")

    def build(self, fn: Callable[..., Any], *args: Any, at: Token) -> Any:
        """Run a builder step; its error is reported at the operator's column."""
        try:
            return fn(*args)
        except SymbolicError as e:
            raise ParseError(str(e), self.text, at.column, shape=isinstance(e, ShapeError)) from None
        except (TypeError, ValueError, ArithmeticError) as e:  # sympy refusing a combination
            raise self.error(f"cannot combine these terms ({e})", at) from None

    # -- grammar --------------------------------------------------------------------------------
    def parse(self) -> Any:
        if not self.text.strip():
            raise ParseError("the answer is empty", self.text, 1)
        expr = self.expression(0)
        if self.tok.kind != "end":
            raise self.unexpected()
        if is_condition(expr) or isinstance(expr, sympy.Tuple):
            raise ParseError("the answer must be an expression, not a condition or a tuple", self.text, 1)
        return expr

    def expression(self, rbp: int) -> Any:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"expression nested too deeply (the limit is {MAX_DEPTH} levels)")
        left = self.prefix()
        while True:
            t = self.tok
            if t.kind == "sup" or (t.kind == "op" and t.text == "T"):
                if _POSTFIX <= rbp:
                    break
                left = self.postfix(left)
            elif t.kind == "op" and t.text in _INFIX:
                bp = _INFIX[t.text]
                if bp <= rbp:
                    break
                left = self.infix(left, self.advance(), bp)
            elif t.kind in ("num", "name") or (t.kind == "op" and t.text == "(") or (
                    t.kind == "op" and t.text == "|" and not self.bar_depth):
                if _IMPLICIT <= rbp:
                    break
                right = self.expression(_IMPLICIT)
                left = self.build(self.b.mul, [left, right], at=t)
            else:
                break
        self.depth -= 1
        return left

    def prefix(self) -> Any:
        t = self.advance()
        if t.kind == "num":
            return self.number(t)
        if t.kind == "name":
            return self.name(t)
        if t.kind == "op" and t.text in ("-", "+"):
            operand = self.expression(_UNARY)
            return self.build(self.b.neg, operand, at=t) if t.text == "-" else operand
        if t.kind == "op" and t.text == "|":
            return self.bars(t)
        if t.kind == "op" and t.text == "(":
            items = self.group(t)
            if len(items) == 1:
                return items[0]
            return sympy.Tuple(*items) if self.allow_tuple else self._tuple_error(t)
        raise self.unexpected(t)

    allow_tuple = False  # only while reading Piecewise's arguments
    bar_depth = 0  # open |…| bars: inside them a "|" after an operand closes, outside it opens a product

    def bars(self, opener: Token) -> Any:
        """``|x|``: the absolute value. A bar in operand position opens, after an operand it closes."""
        self.bar_depth += 1
        saved, self.allow_tuple = self.allow_tuple, False
        try:
            inner = self.expression(0)
        finally:
            self.bar_depth -= 1
            self.allow_tuple = saved
        if not (self.tok.kind == "op" and self.tok.text == "|"):
            if self.tok.kind == "end":
                raise self.error(f"missing '|' (the '|' at column {opener.column} is not closed)")
            raise self.unexpected()
        self.advance()
        return self.build(self.b.call, "abs", [inner], at=opener)

    def _tuple_error(self, t: Token) -> Any:
        raise self.error("a tuple (a, b) is only allowed inside Piecewise(...)", t)

    def group(self, opener: Token) -> list[Any]:
        """The comma-separated items up to the bracket that closes ``opener``."""
        closer = _CLOSERS.get(opener.raw, ")")
        items = [self.expression(0)]
        while self.tok.kind == "op" and self.tok.text == ",":
            self.advance()
            items.append(self.expression(0))
        if not (self.tok.kind == "op" and self.tok.text == ")"):
            if self.tok.kind == "end":
                raise self.error(f"missing {closer!r} (the {opener.raw!r} at column {opener.column} is not closed)")
            raise self.unexpected()
        if self.tok.raw != closer:
            raise self.error(f"{self.tok.raw!r} does not match the {opener.raw!r} at column {opener.column}")
        self.advance()
        return items

    def number(self, t: Token) -> Any:
        if "." in t.text or "e" in t.text.lower():
            return self.build(self.b.float, t.text, at=t)
        return self.build(self.b.integer, t.text, at=t)

    def name(self, t: Token) -> Any:
        nxt = self.tok
        called = nxt.kind == "op" and nxt.text == "(" and nxt.raw == "("
        if t.text == "Piecewise":
            return self.piecewise(t)
        if called and t.text in FUNCTIONS:
            self.advance()
            args = self.group(nxt)
            return self.build(self.b.call, t.text, args, at=t)
        if t.text in FUNCTIONS and t.text not in self.symbols:
            power = self.function_power(t)
            if power is not None:
                opener = self.expect("(")
                value = self.build(self.b.call, t.text, self.group(opener), at=t)
                return self.build(self.b.power, value, sympy.Integer(power), at=t)
        if t.text in self.symbols:
            return self.symbols[t.text]
        if t.text in CONSTANTS:
            return CONSTANTS[t.text]
        if t.text in FUNCTIONS:
            raise self.error(f"{t.raw} needs an argument in brackets, as in {t.raw}(x)", t)
        split = split_name(t.text, self.symbols)
        if split is not None:
            return self.build(self.b.mul, [self.symbols[s] for s in split], at=t)
        raise self.error(self.unknown(t), t)

    def function_power(self, t: Token) -> int | None:
        """``tanh²(x)``, ``tanh^2(x)``, ``sech**2(x)``: a power written on the function's name. Only small
        positive integers: ``tanh^{-1}`` means the inverse function, which we do not read as a power."""
        nxt = self.tok
        if nxt.kind == "sup":
            self.advance()
            text = nxt.text
        elif nxt.kind == "op" and nxt.text == "^":
            after = self.tokens[self.pos + 1]
            braced = after.kind == "op" and after.text == "(" and after.raw in "({"
            k = self.pos + 2 if braced else self.pos + 1
            sign = self.tokens[k].raw if self.tokens[k].kind == "op" and self.tokens[k].text == "-" else ""
            num = self.tokens[k + bool(sign)]
            close = self.tokens[k + bool(sign) + 1]
            if num.kind != "num" or (braced and not (close.kind == "op" and close.text == ")")):
                return None
            self.pos = k + bool(sign) + 1 + braced
            text = f"-{num.text}" if sign else num.text
        else:
            return None
        if not text.isdigit() or not 1 <= int(text) <= MAX_FUNCTION_POWER:
            raise self.error(f"{t.raw}^{text}(…) is not read as a power (write ({t.raw}(x))^n for a power; "
                             "inverse functions are not supported)", nxt)
        return int(text)

    def unknown(self, t: Token) -> str:
        if is_python_word(t.text):
            return f"{t.raw!r} is Python, not a formula: write the expression only"
        known = ", ".join(sorted(self.symbols)) or "none"
        return f"unknown name {t.raw!r} (your variables: {known})"

    def piecewise(self, t: Token) -> Any:
        opener = self.expect("(")
        self.allow_tuple = True
        try:
            pairs = self.group(opener)
        finally:
            self.allow_tuple = False
        if not all(isinstance(p, sympy.Tuple) and len(p) == 2 for p in pairs):
            raise self.error("Piecewise takes (value, condition) pairs, e.g. Piecewise((0, x < 0), (1, True))",
                             t)
        return self.build(self.b.piecewise, [tuple(p) for p in pairs], at=t)

    def infix(self, left: Any, op: Token, bp: int) -> Any:
        if op.text == "^":
            if self.tok.kind == "name" and self.tok.text == "T" and "T" not in self.symbols:
                self.advance()  # W^T, W**T: the transpose
                return self.build(self.b.transpose, left, at=op)
            right = self.expression(bp - 1)  # right-associative: 2^3^2 = 2^(3^2)
            return self.build(self.b.power, left, right, at=op)
        right = self.expression(bp)
        if bp == 10:
            if is_condition(left) and op.text != "==":
                raise self.error("chained comparisons are not supported: write And(...)", op)
            return self.build(self.b.relation, op.text, left, right, at=op)
        if op.text == "+":
            return self.build(self.b.add, [left, right], at=op)
        if op.text == "-":
            return self.build(lambda: self.b.add([left, self.b.neg(right)]), at=op)
        if op.text == "*":
            return self.build(self.b.mul, [left, right], at=op)
        if op.text == "/":
            return self.build(self.b.div, left, right, at=op)
        return self.build(self.b.matmul, left, right, at=op)

    def postfix(self, left: Any) -> Any:
        t = self.advance()
        if t.kind == "sup":
            return self.build(self.b.power, left, sympy.Integer(int(t.text)), at=t)
        return self.build(self.b.transpose, left, at=t)


def split_name(name: str, symbols: Mapping[str, Any]) -> list[str] | None:
    """``"xy"`` → ``["x", "y"]`` when every piece is a known symbol (implicit product), else None."""
    if len(name) > 40:
        return None
    best: dict[int, list[str]] = {0: []}
    for end in range(1, len(name) + 1):
        for start in range(end):
            if start in best and name[start:end] in symbols:
                best[end] = best[start] + [name[start:end]]
                break
    return best.get(len(name))


def parse(text: str, symbols: Mapping[str, Any] | Iterable[Any], *, builder: Builder | None = None) -> Any:
    """Parse a student's answer into a sympy expression over ``symbols`` only.

    ``symbols`` maps names to sympy ``Symbol``/``MatrixSymbol`` objects (or is an iterable of them).
    Raises :class:`ParseError` (with the column) for anything it does not accept.
    """
    if not isinstance(text, str):
        raise ParseError(f"expected a string, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ParseError(f"answer too long: {len(text):,} characters (the limit is {MAX_CHARS:,})")
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        raise ParseError(f"the answer has {len(lines)} lines: write the formula on one line (a drawing such as "
                         "sympy.pretty's output cannot be read; return the expression itself)")
    table = symbol_table(symbols)
    parser = Parser(text, table, builder or Builder())
    try:
        return parser.parse()
    except RecursionError:  # belt and braces: MAX_DEPTH keeps us far from Python's limit
        raise ParseError(f"expression nested too deeply (the limit is {MAX_DEPTH} levels)") from None


def symbol_table(symbols: Mapping[str, Any] | Iterable[Any]) -> dict[str, Any]:
    """Names → symbols, from a mapping or from the symbols themselves."""
    if isinstance(symbols, Mapping):
        return dict(symbols)
    found: Iterable[Any] = symbols  # symbol objects: each has a name
    return {str(s.name): s for s in found}


__all__ = ["MAX_CHARS", "MAX_DEPTH", "parse", "symbol_table", "tokenize"]
