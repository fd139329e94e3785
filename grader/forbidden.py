"""Static scan of a submission for forbidden APIs, with file and line.

Imports are followed (``import torch.autograd as ag``, ``from torch import func``), so ``ag.grad(...)``
is reported as ``torch.autograd.grad``. Methods of a class (``torch.Tensor.backward``,
``sympy.Expr.diff``) match any ``.<method>`` use, since the receiver's type is unknown statically.
The runtime guard in the sandbox backs this up for what a static scan cannot see (``getattr`` tricks).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    name: str  # the forbidden entry that matched, e.g. "torch.autograd"
    used: str  # what the code used, resolved, e.g. "torch.autograd.grad"
    line: int
    column: int
    function: str | None  # enclosing top-level function, None at module level
    source: str

    def describe(self, filename: str) -> str:
        where = f"{filename}:{self.line}"
        inside = f" in {self.function}" if self.function else ""
        return f"{where}{inside}: {self.used} is forbidden in this exercise ({self.name})"


def scan(source: str, forbidden: list[str]) -> list[Finding]:
    """Findings in ``source`` (which must parse: syntax errors are reported elsewhere)."""
    if not forbidden:
        return []
    tree = ast.parse(source)
    lines = source.splitlines()
    methods = {f.split(".")[-1]: f for f in forbidden if _is_method(f)}
    modules = [f for f in forbidden if not _is_method(f)]
    aliases = _aliases(tree)
    findings: list[Finding] = []
    for func_name, node in _walk_with_function(tree):
        used = None
        if isinstance(node, ast.Attribute | ast.Name) or (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"):
            used = _resolve(node, aliases)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for name in _imported(node):
                match = _match(name, modules)
                if match:
                    findings.append(_finding(match, name, node, func_name, lines))
            continue
        elif isinstance(node, ast.Call) and _is_dynamic_import(node):
            used = node.args[0].value  # type: ignore[attr-defined]
        if used:
            match = _match(used, modules)
            if match:
                findings.append(_finding(match, used, node, func_name, lines))
        if isinstance(node, ast.Attribute) and node.attr in methods:
            findings.append(_finding(methods[node.attr], f".{node.attr}()", node, func_name, lines))
    return _dedupe(findings)


def _is_method(name: str) -> bool:
    """``torch.Tensor.backward``, ``sympy.Expr.diff``: a method of a class (capitalised component)."""
    parts = name.split(".")
    return len(parts) >= 3 and parts[-2][:1].isupper()


def _finding(match: str, used: str, node: ast.AST, func: str | None, lines: list[str]) -> Finding:
    line = getattr(node, "lineno", 0)
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return Finding(match, used, line, getattr(node, "col_offset", 0) + 1, func, text)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per line: the most specific one (``torch.autograd.grad`` over ``torch.autograd``)."""
    best: dict[int, Finding] = {}
    for f in findings:
        if f.line not in best or len(f.used) > len(best[f.line].used):
            best[f.line] = f
    return [best[line] for line in sorted(best)]


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
    return [node.module] + [f"{node.module}.{a.name}" for a in node.names]


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


def _is_dynamic_import(node: ast.Call) -> bool:
    f = node.func
    name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
    return name in ("__import__", "import_module") and bool(node.args) and \
        isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)


def _walk_with_function(tree: ast.Module):
    """Every node with the name of the top-level function (or class method) it is in."""
    for top in tree.body:
        name = top.name if isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef) else None
        for node in ast.walk(top):
            yield name, node
