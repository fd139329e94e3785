"""Forbidden APIs: the static scan of a submission (file and line), and the runtime rule.

Two layers, one decision each:

* The **static scan** reads the source as Python does (:func:`read_source`) and reports what it can
  prove: a forbidden name resolved through the file's imports (``import torch.autograd as ag`` makes
  ``ag.grad`` ``torch.autograd.grad``); a forbidden method (``torch.Tensor.backward``) only where the
  receiver is provably a value of that library (``torch.tensor(...).sum().backward()``, ``loss.backward()``
  with ``loss = F.mse_loss(...)``). ``layer.backward(grad)`` on a student's own layer class is not a
  tensor's backward and is never reported. In an exercise that forbids anything it also reports code the
  grader cannot read (``exec``, ``eval``, ``compile``, non-constant imports, ``__wrapped__``, threads and
  processes). Imports of the grader's own packages are reported in every exercise.
* The **runtime rule** (:func:`runtime_violation`) reads the record of what each call ran
  (grader.sandbox.oprecord, checked by grader.oprecords): aten operations, the autograd engine, forward-
  mode AD, sympy derivatives. ``torch.ops.aten._softmax``, aliases, ``exec``'d code and
  ``torch.autograd.functional`` all reach the same operations. :data:`RUNTIME_SIGNS` is the one table
  from a spec's ``forbidden:`` names to the operations that betray them.
"""

from __future__ import annotations

import ast
import codecs
import importlib.util
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO

# -- the runtime table ------------------------------------------------------------------------------------
_SOFTMAX = ("aten::_softmax", "aten::softmax", "aten::_safe_softmax")
_LOG_SOFTMAX = ("aten::_log_softmax", "aten::log_softmax")
_LOGSUMEXP = ("aten::logsumexp",)
_NLL = ("aten::nll_loss_forward", "aten::nll_loss2d_forward", "aten::nll_loss", "aten::nll_loss_nd")
_CROSS_ENTROPY = ("aten::cross_entropy_loss", *_LOG_SOFTMAX, *_NLL)
_BCE = ("aten::binary_cross_entropy",)
_BCE_LOGITS = ("aten::binary_cross_entropy_with_logits",)
_AUTOGRAD = ("autograd::engine", "autograd::forward_ad")
_SYMPY_DIFF = ("sympy::Derivative",)
_CONV = ("aten::convolution", "aten::_convolution", "aten::conv1d", "aten::conv2d", "aten::conv_transpose1d",
         "aten::conv_transpose2d", "aten::convolution_backward")
_MAX_POOL = ("aten::max_pool1d", "aten::max_pool2d", "aten::max_pool2d_with_indices",
             "aten::max_pool1d_with_indices")
_AVG_POOL = ("aten::avg_pool1d", "aten::avg_pool2d")

RUNTIME_SIGNS: dict[str, tuple[str, ...]] = {
    **{name: _SOFTMAX for name in ("torch.softmax", "torch.special.softmax", "torch.nn.functional.softmax",
                                   "torch.Tensor.softmax", "torch.nn.Softmax")},
    **{name: _LOG_SOFTMAX for name in ("torch.log_softmax", "torch.special.log_softmax",
                                       "torch.nn.functional.log_softmax", "torch.Tensor.log_softmax",
                                       "torch.nn.LogSoftmax")},
    **{name: _LOGSUMEXP for name in ("torch.logsumexp", "torch.special.logsumexp", "torch.Tensor.logsumexp")},
    "torch.nn.functional.cross_entropy": _CROSS_ENTROPY,
    "torch.nn.CrossEntropyLoss": _CROSS_ENTROPY,
    "torch.nn.functional.nll_loss": _NLL,
    "torch.nn.NLLLoss": _NLL,
    "torch.nn.functional.binary_cross_entropy": _BCE,
    "torch.nn.BCELoss": _BCE,
    "torch.nn.functional.binary_cross_entropy_with_logits": _BCE_LOGITS,
    "torch.nn.BCEWithLogitsLoss": _BCE_LOGITS,
    "torch.autograd": _AUTOGRAD,
    "torch.Tensor.backward": ("autograd::engine",),
    "torch.func": _AUTOGRAD,
    "functorch": _AUTOGRAD,
    "sympy.diff": _SYMPY_DIFF,
    **{name: _CONV for name in ("torch.nn.functional.conv1d", "torch.nn.functional.conv2d",
                                "torch.nn.functional.conv_transpose1d", "torch.nn.functional.conv_transpose2d",
                                "torch.conv1d", "torch.conv2d", "torch.nn.Conv1d", "torch.nn.Conv2d")},
    **{name: _MAX_POOL for name in ("torch.nn.functional.max_pool1d", "torch.nn.functional.max_pool2d",
                                    "torch.max_pool1d", "torch.max_pool2d", "torch.nn.MaxPool2d")},
    **{name: _AVG_POOL for name in ("torch.nn.functional.avg_pool1d", "torch.nn.functional.avg_pool2d",
                                    "torch.avg_pool1d", "torch.nn.AvgPool2d")},
    **{name: ("aten::im2col",) for name in ("torch.nn.functional.unfold", "torch.nn.Unfold")},
    **{name: ("aten::col2im",) for name in ("torch.nn.functional.fold", "torch.nn.Fold")},
    "torch.Tensor.unfold": ("aten::unfold",),
    "sympy.Derivative": _SYMPY_DIFF,
    "sympy.Expr.diff": _SYMPY_DIFF,
}
"""Spec ``forbidden:`` name → the recorded operations that show it ran, whatever the route. A name not
in this table is enforced by the static scan only."""

SIGN_NAMES = {
    "autograd::engine": ("the autograd engine", "Tensor.backward, torch.autograd.grad, torch.autograd.functional "
                         "and torch.func.grad/vjp/jacrev all run it"),
    "autograd::forward_ad": ("forward-mode autograd", "torch.autograd.forward_ad, torch.func.jvp and jacfwd "
                             "all use it"),
    "sympy::Derivative": ("sympy's differentiation", "sympy.diff, Expr.diff and Derivative all use it"),
}


def sign_name(op: str) -> str:
    """``aten::_softmax`` → ``aten._softmax``; the pseudo-operations get words."""
    return SIGN_NAMES[op][0] if op in SIGN_NAMES else op.replace("::", ".")


@dataclass(frozen=True)
class RuntimeViolation:
    entry: str  # the spec's forbidden name, e.g. "torch.softmax"
    op: str  # what the record shows, e.g. "aten::_softmax"
    where: str  # "function:line" in the student's file, or ""

    def describe(self, fn: str, filename: str) -> str:
        at = ""
        if self.where:
            func, _, line = self.where.rpartition(":")
            at = f" ({filename}, line {line}{f', in {func}' if func and func != fn else ''})"
        routes = f"; {SIGN_NAMES[self.op][1]}" if self.op in SIGN_NAMES else ""
        return f"{fn} ran {sign_name(self.op)}{at}, which this exercise forbids ({self.entry}){routes}"


def runtime_violation(counts: dict[str, int], where: dict[str, str], forbidden: list[str],
                      spans: dict[str, list[tuple[int, int]]] | None = None) -> RuntimeViolation | None:
    """The first forbidden entry (in spec order) whose operations appear in a call's record.

    ``spans`` (from :func:`function_spans`) vets the location: code ``exec``'d under the submission's
    file name reports lines of a string, not of the file, and such a location is dropped.
    """
    for entry in forbidden:
        for op in RUNTIME_SIGNS.get(entry, ()):
            if counts.get(op, 0) > 0:
                at = where.get(op, "")
                if spans and not _in_spans(at, spans):
                    at = ""
                return RuntimeViolation(entry, op, at)
    return None


def function_spans(source: str) -> dict[str, list[tuple[int, int]]]:
    """Function name → the (first, last) lines of each definition of that name in ``source``."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    spans: dict[str, list[tuple[int, int]]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            name = node.name if not isinstance(node, ast.Lambda) else "<lambda>"
            spans.setdefault(name, []).append((node.lineno, node.end_lineno or node.lineno))
    return spans


def _in_spans(where: str, spans: dict[str, list[tuple[int, int]]]) -> bool:
    func, _, line = where.rpartition(":")
    if not line.isdigit():
        return False
    n = int(line)
    return any(a <= n <= b for a, b in spans.get(func, [])) or (func == "<module>" and n >= 1)


# -- reading the source --------------------------------------------------------------------------------------
class SourceRefused(ValueError):
    """The file cannot be read as the grader must read it (an encoding that hides ASCII)."""


def read_source(data: bytes) -> str:
    """The text Python compiles from ``data``: the coding cookie is honoured (``decode_source``).

    An encoding in which plain ASCII does not read as itself (UTF-7: ``+AC0-`` is a minus sign) is
    refused: what the instructor reads would not be what runs.
    """
    try:
        encoding, _ = tokenize.detect_encoding(BytesIO(data).readline)
    except SyntaxError as e:
        if "unknown encoding" in e.msg:
            raise SourceRefused(f"your file declares a text encoding Python cannot use ({e.msg})") from None
        raise SourceRefused("your file is not valid UTF-8 text; save it as UTF-8") from None
    name = codecs.lookup(encoding).name
    ascii_text = bytes(range(32, 127))
    try:
        transparent = ascii_text.decode(name) == ascii_text.decode("ascii")
    except (UnicodeDecodeError, LookupError):
        transparent = False
    if not transparent:
        raise SourceRefused(f"your file declares the text encoding {name!r} (a coding line at its top), in "
                            "which plain text does not read as itself; save it as UTF-8 and remove that line")
    try:
        return importlib.util.decode_source(data)
    except (UnicodeDecodeError, SyntaxError):
        raise SourceRefused(f"your file is not valid {name} text; save it as UTF-8") from None


# -- the static scan -------------------------------------------------------------------------------------------
GRADER_PACKAGES = ("grader", "reference", "exercises")
UNWATCHED_MODULES = ("threading", "_thread", "multiprocessing", "concurrent", "subprocess")
DYNAMIC_BUILTINS = ("exec", "eval", "compile", "__import__")
HARMLESS = ("torch.autograd.no_grad", "torch.autograd.enable_grad", "torch.autograd.set_grad_enabled",
            "torch.autograd.inference_mode", "torch.autograd.grad_mode")
"""Names inside a forbidden module that compute no gradient (switching autograd off is not using it)."""


@dataclass(frozen=True)
class Finding:
    name: str  # the forbidden entry that matched, e.g. "torch.autograd"; or the construct ("exec", "reference")
    used: str  # what the code used, resolved, e.g. "torch.autograd.grad"
    line: int
    column: int
    function: str | None  # enclosing top-level function (or Class.method), None at module level
    source: str
    kind: str = "forbidden"  # "forbidden" | "dynamic" (code the grader cannot read) | "grader" (its packages)

    def describe(self, filename: str) -> str:
        where = f"{filename}:{self.line}"
        inside = f" in {self.function}" if self.function else ""
        if self.kind == "grader":
            return f"{where}{inside}: imports {self.used}, the grader's own code, which a submission may not use"
        if self.kind == "dynamic":
            return (f"{where}{inside}: {self.used} runs code the grader cannot check, which is not allowed "
                    "in an exercise that forbids APIs")
        return f"{where}{inside}: {self.used} is forbidden in this exercise ({self.name})"

    def sentence(self, fn: str, filename: str) -> str:
        """The first line of a check's message when ``fn`` is zeroed because of this finding."""
        at = f"({filename}, line {self.line})"
        if self.kind == "dynamic":
            return f"{fn} uses {self.used} {at}, which runs code the grader cannot check"
        return f"{fn} uses {self.used} {at}, which this exercise forbids"

    def hint(self) -> str:
        if self.kind == "dynamic":
            return ("Write your code directly in your file, without exec, eval, compile, dynamic imports, "
                    "threads or processes: the grader must be able to read what runs.")
        return ""

    @property
    def zeroes(self) -> bool:
        """Whether the checks of ``function`` lose their marks. An import of the grader's code is only
        reported here: the sandbox refuses it in the child (the packages are not visible there)."""
        return self.kind != "grader" and bool(self.function) and "." not in str(self.function)


def scan(source: str, forbidden: list[str]) -> list[Finding]:
    """Findings in ``source``. Source that does not parse gives none (syntax errors are reported elsewhere)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    try:
        return _Scanner(tree, source, forbidden).run()
    except RecursionError:
        return []


class _Scanner:
    def __init__(self, tree: ast.Module, source: str, forbidden: list[str]) -> None:
        self.tree = tree
        self.lines = source.splitlines()
        self.forbidden = forbidden
        self.methods = [f for f in forbidden if _is_method(f)]
        self.modules = [f for f in forbidden if not _is_method(f)]
        self.aliases = _aliases(tree)
        self.defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef
                                                                      | ast.ClassDef)}
        self.findings: list[Finding] = []

    def run(self) -> list[Finding]:
        self._visit(self.tree, None, _infer(self.tree.body, self.aliases))
        return _dedupe(self.findings)

    def _visit(self, node: ast.AST, label: str | None, known: dict[str, str]) -> None:
        """Check every node, labelled with its top-level function (``Class.method`` for a method)."""
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = label or child.name
                if isinstance(node, ast.ClassDef) and label == node.name:
                    inner = f"{label}.{child.name}"
                self._visit(child, inner, _infer(child.body, self.aliases, child.args))
            elif isinstance(child, ast.ClassDef):
                self._visit(child, label or child.name, {})
            else:
                self._check_node(child, node, label, known)
                self._visit(child, label, known)

    def _add(self, match: str, used: str, node: ast.AST, label: str | None, kind: str = "forbidden") -> None:
        line = getattr(node, "lineno", 0)
        text = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        self.findings.append(Finding(match, used, line, getattr(node, "col_offset", 0) + 1, label, text, kind))

    def _check_node(self, node: ast.AST, parent: ast.AST, label: str | None, known: dict[str, str]) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            for name in _imported(node):
                self._check_import(name, node, label)
            return
        if isinstance(node, ast.Call):
            self._check_call(node, label)
        whole_chain = not (isinstance(parent, ast.Attribute) and parent.value is node)
        if whole_chain and (isinstance(node, ast.Attribute | ast.Name) or _is_getattr(node)):
            used = _resolve(node, self.aliases)
            if used and not used.startswith(HARMLESS):
                match = _match(used, self.modules) or (used if used in self.methods else None)
                if match:
                    self._add(match, used, node, label)
        if self.forbidden and isinstance(node, ast.Call) and _is_getattr(node) and len(node.args) >= 2 \
                and isinstance(node.args[1], ast.Constant) and node.args[1].value == "__wrapped__":
            self._add("__wrapped__", "__wrapped__", node, label, "dynamic")
        if isinstance(node, ast.Attribute):
            if self.forbidden and node.attr == "__wrapped__":
                self._add("__wrapped__", "__wrapped__", node, label, "dynamic")
            for method in self.methods:
                root, cls, attr = method.split(".")[0], method.split(".")[-2], method.split(".")[-1]
                if node.attr == attr and _origin(node.value, self.aliases, known) == root:
                    self._add(method, f".{attr}() of a {root} {cls}", node, label)

    def _check_import(self, name: str, node: ast.AST, function: str | None) -> None:
        if name.split(".")[0] in GRADER_PACKAGES:
            self._add(name.split(".")[0], name, node, function, "grader")
            return
        match = _match(name, self.modules)
        if match and not name.startswith(HARMLESS):
            self._add(match, name, node, function)
        elif self.forbidden and name.split(".")[0] in UNWATCHED_MODULES:
            self._add(name, f"import {name}", node, function, "dynamic")

    def _check_call(self, node: ast.Call, function: str | None) -> None:
        f = node.func
        target = _resolve(f, self.aliases) if isinstance(f, ast.Attribute) else None
        if isinstance(f, ast.Name) and f.id not in self.aliases and f.id not in self.defined:
            target = f"builtins.{f.id}"
        if target is None:
            return
        constant = bool(node.args) and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
        if target in ("builtins.__import__", "importlib.import_module"):
            if constant:
                self._check_import(node.args[0].value, node, function)  # type: ignore[attr-defined]
            elif self.forbidden:
                self._add(target, f"{target.split('.')[-1]}() of a computed name", node, function, "dynamic")
        elif self.forbidden and target in {f"builtins.{b}" for b in DYNAMIC_BUILTINS}:
            self._add(target, f"{target.split('.')[-1]}()", node, function, "dynamic")
        elif self.forbidden and target in ("os.fork", "os.forkpty", "os.posix_spawn", "os.system", "os.popen"):
            self._add(target, f"{target}()", node, function, "dynamic")


def _is_method(name: str) -> bool:
    """``torch.Tensor.backward``, ``sympy.Expr.diff``: a method of a class (capitalised component)."""
    parts = name.split(".")
    return len(parts) >= 3 and parts[-2][:1].isupper()


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per line: an import of the grader first, then the most specific one
    (``torch.autograd.grad`` over ``torch.autograd``)."""
    best: dict[int, Finding] = {}
    for f in findings:
        key = (f.kind == "grader", len(f.used))
        if f.line not in best or key > (best[f.line].kind == "grader", len(best[f.line].used)):
            best[f.line] = f
    return [best[line] for line in sorted(best)]


def _is_getattr(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"


def _match(used: str, forbidden: list[str]) -> str | None:
    for f in forbidden:
        if used == f or used.startswith(f + "."):
            return f
    return None


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name → dotted module path, from every import in the file."""
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    out[a.asname] = a.name
                else:
                    out[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.module is None or node.level:
        return []
    names = [f"{node.module}.{a.name}" for a in node.names if a.name != "*"]
    return names if len(names) == len(node.names) else [node.module, *names]  # the module itself for ``*``


def _resolve(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """``ag.grad`` → ``torch.autograd.grad``; ``getattr(torch, "func")`` → ``torch.func``."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
            and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
        base = _resolve(node.args[0], aliases)
        return ".".join([base, node.args[1].value, *reversed(parts)]) if base else None
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return None
    return ".".join([aliases[node.id], *reversed(parts)])


# -- what a value provably is -----------------------------------------------------------------------------------
def _origin(node: ast.AST, aliases: dict[str, str], known: dict[str, str]) -> str | None:
    """The library (``torch``, ``sympy``) whose objects ``node`` provably evaluates to, or None.

    Proof is: a call of a function of that library (``torch.ones(3)``, ``F.mse_loss(a, b)``), a method or
    operator applied to such a value, or a local name every assignment of which is such a value.
    Parameters and the results of the student's own functions and classes are unknown.
    """
    if isinstance(node, ast.Name):
        return known.get(node.id)
    if isinstance(node, ast.Call):
        f = node.func
        if isinstance(f, ast.Attribute):
            resolved = _resolve(f, aliases)
            if resolved:
                return resolved.split(".")[0]
            return _origin(f.value, aliases, known)
        if isinstance(f, ast.Name) and f.id in aliases:
            return aliases[f.id].split(".")[0]
        return None
    if isinstance(node, ast.Attribute | ast.Subscript):
        return _origin(node.value, aliases, known)
    if isinstance(node, ast.BinOp):
        return _origin(node.left, aliases, known) or _origin(node.right, aliases, known)
    if isinstance(node, ast.UnaryOp):
        return _origin(node.operand, aliases, known)
    return None


def _infer(body: list[ast.stmt], aliases: dict[str, str], args: ast.arguments | None = None) -> dict[str, str]:
    """Local names whose every assignment in ``body`` (not in nested functions) is a library value."""
    assigned: dict[str, list[ast.AST | None]] = {}
    if args is not None:
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if a is not None:
                assigned.setdefault(a.arg, []).append(None)  # a parameter: unknown
    for node in _own_nodes(body):
        if isinstance(node, ast.Assign):
            for t in node.targets:
                _bind(t, node.value, assigned)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and node.value is not None:
            _bind(node.target, node.value, assigned)
        elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
            _bind(node.target, None, assigned)
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                if item.optional_vars is not None:
                    _bind(item.optional_vars, None, assigned)
        elif isinstance(node, ast.NamedExpr):
            _bind(node.target, node.value, assigned)
        elif isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names = [n.asname or n.name.split(".")[0] for n in node.names] \
                if isinstance(node, ast.Import | ast.ImportFrom) else [node.name]
            for name in names:
                assigned.setdefault(name, []).append(None)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            for name in node.names:
                assigned.setdefault(name, []).append(None)
    known: dict[str, str] = {}
    for _ in range(4):  # names built from names: a few rounds reach a fixed point in real code
        new: dict[str, str] = {}
        for name, values in assigned.items():
            origins = {_origin(v, aliases, known) if v is not None else None for v in values}
            if len(origins) == 1 and None not in origins:
                new[name] = origins.pop()  # type: ignore[assignment]
        if new == known:
            break
        known = new
    return known


def _bind(target: ast.AST, value: ast.AST | None, assigned: dict[str, list[ast.AST | None]]) -> None:
    if isinstance(target, ast.Name):
        assigned.setdefault(target.id, []).append(value)
    elif isinstance(target, ast.Tuple | ast.List):
        for t in target.elts:
            _bind(t, None, assigned)  # unpacking: each part is unknown
    elif isinstance(target, ast.Starred):
        _bind(target.value, None, assigned)


def _own_nodes(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every node of ``body`` outside nested function and class bodies."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        stack.extend(ast.iter_child_nodes(node))
