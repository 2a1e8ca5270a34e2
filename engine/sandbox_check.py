"""The static whitelist of the safe evaluator: what model code may contain.

:class:`Checker` walks a parsed tree once and collects a
:class:`~engine.sandbox_limits.ScriptProblem` for every node outside the
supported subset, with its line and column in the caller's text
(:class:`SourceMap`): forbidden statements and expressions, names and
attributes starting with ``_``, attribute access other than whitelisted
method calls, calls to unknown functions or with arguments they do not take
(``sorted(key=...)``), f-string format specs beyond simple widths, generator
expressions outside call arguments, ``break`` outside a loop, code nested
deeper than ``Limits.max_depth``. The interpreter relies on all of this.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.sandbox_builtins import TYPE_NAMES
from engine.sandbox_limits import Limits, ScriptProblem
from engine.sandbox_methods import METHOD_KEYWORDS, METHOD_NAMES

_OPERATORS = (
    ast.And, ast.Or, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow,
    ast.LShift, ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd, ast.Not, ast.Invert, ast.UAdd,
    ast.USub, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In,
    ast.NotIn, ast.Load, ast.Store, ast.Del,
)
_ALLOWED: frozenset[type] = frozenset({
    ast.Module, ast.Expression, ast.Expr, ast.Assign, ast.AugAssign, ast.If, ast.For, ast.While,
    ast.Break, ast.Continue, ast.Pass, ast.Delete, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.IfExp,
    ast.Dict, ast.Set, ast.List, ast.Tuple, ast.ListComp, ast.SetComp, ast.DictComp,
    ast.GeneratorExp, ast.comprehension, ast.Compare, ast.Call, ast.keyword, ast.JoinedStr,
    ast.FormattedValue, ast.Constant, ast.Attribute, ast.Subscript, ast.Slice, ast.Name,
    ast.Starred, *_OPERATORS,
})
_DESCRIBE: dict[type, str] = {
    ast.Import: "`import`", ast.ImportFrom: "`from ... import`",
    ast.FunctionDef: "function definitions (`def`)", ast.AsyncFunctionDef: "function definitions (`def`)",
    ast.Lambda: "`lambda`", ast.ClassDef: "class definitions", ast.With: "`with`",
    ast.AsyncWith: "`async with`", ast.AsyncFor: "`async for`", ast.Try: "`try`",
    ast.TryStar: "`try`", ast.Raise: "`raise`", ast.Assert: "`assert`", ast.Global: "`global`",
    ast.Nonlocal: "`nonlocal`", ast.Yield: "`yield`", ast.YieldFrom: "`yield from`",
    ast.Await: "`await`", ast.Return: "`return`", ast.NamedExpr: "the `:=` operator",
    ast.Match: "`match`", ast.AnnAssign: "annotated assignments", ast.MatMult: "the `@` operator",
}
_LITERAL_TYPES = (type(None), bool, int, float, str)
# Each ``for`` clause of a comprehension nests one more generator when it runs.
_MAX_CLAUSES = 16
# Fill and align, sign, z, #, 0, width up to 999, grouping, precision up to 99, type.
_SPEC_RE = re.compile(r"(?:[^{}]?[<>=^])?[-+ ]?z?#?0?(?:[1-9][0-9]{0,2})?[,_]?(?:\.[0-9]{1,2})?[bcdeEfFgGnosxX%]?")


@dataclass(frozen=True)
class SourceMap:
    """How the parsed text maps back to the text the caller gave."""

    lines: tuple[str, ...]
    line_offset: int = 0   # lines stripped before the code (expressions)
    first_col: int = 0     # characters stripped before the code on its first line
    margin: int = 0        # indentation removed from every line (scripts)

    def position(self, lineno: int | None, col: int | None, *, byte_col: bool) -> tuple[int | None, int | None]:
        """1-based line and column in the caller's text."""
        if lineno is None:
            return None, None
        if col is not None:
            if byte_col and 0 < lineno <= len(self.lines):
                # ast columns count UTF-8 bytes; people count characters.
                col = len(self.lines[lineno - 1].encode("utf-8")[:col].decode("utf-8", "ignore"))
            elif not byte_col:
                col -= 1   # SyntaxError offsets are 1-based
            col += 1 + self.margin + (self.first_col if lineno == 1 else 0)
        return lineno + self.line_offset, col


class Checker:
    """The static whitelist: collects every problem with its position."""

    def __init__(self, limits: Limits, functions: Mapping[str, tuple[inspect.Signature, int] | None],
                 text: SourceMap) -> None:
        self.limits = limits
        self.functions = functions
        self.text = text
        self.problems: list[ScriptProblem] = []
        self._too_deep = False

    def problem(self, kind: Any, message: str, node: ast.AST) -> None:
        line, col = self.text.position(getattr(node, "lineno", None), getattr(node, "col_offset", None),
                                       byte_col=True)
        self.problems.append(ScriptProblem(kind, message, line, col))

    def walk(self, tree: ast.AST) -> None:
        """Check every node; parents are known, loops are tracked for ``break``."""
        max_depth = self.limits.max_depth
        stack: list[tuple[ast.AST, ast.AST | None, bool, int]] = [(tree, None, False, 0)]
        while stack:
            node, parent, in_loop, depth = stack.pop()
            if depth > max_depth:
                if not self._too_deep:
                    self._too_deep = True
                    self.problem("limit", f"the code is nested more than {max_depth} levels deep", node)
                continue
            t = type(node)
            if t not in _ALLOWED:
                what = _DESCRIBE.get(t, f"`{t.__name__}`")
                self.problem("forbidden", f"{what} is not allowed in model code", node)
                continue
            check = _CHECKS.get(t)
            only = check(self, node, parent, in_loop) if check is not None else None
            if only is not None:   # the check chose which children to look into
                stack.extend((c, node, in_loop, depth + 1) for c in only)
            elif t is ast.For or t is ast.While:
                for name, value in ast.iter_fields(node):
                    children = value if isinstance(value, list) else [value]
                    stack.extend((c, node, True if name == "body" else in_loop, depth + 1)
                                 for c in children if isinstance(c, ast.AST))
            else:
                stack.extend((c, node, in_loop, depth + 1) for c in ast.iter_child_nodes(node))

    # --- per node type (a list: look only into those children) ---------------------

    def _name(self, node: ast.Name, parent: Any, in_loop: bool) -> None:
        # A lone "_" is the usual throwaway loop variable; other leading
        # underscores are refused, though names only ever reach task data.
        if node.id.startswith("_") and node.id != "_":
            self.problem("forbidden", f"the name `{node.id}` is not allowed: names starting with '_' "
                                      "are reserved", node)

    def _attribute(self, node: ast.Attribute, parent: Any, in_loop: bool) -> None:
        if type(node.ctx) is not ast.Load:
            return   # reported as an assignment target
        if not (type(parent) is ast.Call and parent.func is node):
            self.problem("forbidden", f"attribute access `.{node.attr}` is not allowed (only method calls "
                                      "such as `.upper()`)", node)
        elif node.attr.startswith("_") or node.attr not in METHOD_NAMES:
            self.problem("forbidden", f"`.{node.attr}()` is not an available method", node)

    def _call(self, node: ast.Call, parent: Any, in_loop: bool) -> list[ast.AST] | None:
        func = node.func
        for kw in node.keywords:
            if kw.arg is None:
                self.problem("forbidden", "`**` arguments are not allowed", kw.value)
            elif kw.arg.startswith("_"):
                self.problem("forbidden", f"the keyword `{kw.arg}` is not allowed", node)
        if type(func) is ast.Attribute:
            allowed = METHOD_KEYWORDS.get(func.attr, frozenset())
            for kw in node.keywords:
                if kw.arg is not None and allowed is not None and kw.arg not in allowed:
                    self.problem("forbidden", f"`.{func.attr}()` does not take the keyword `{kw.arg}`", node)
            return None
        if type(func) is not ast.Name:
            self.problem("forbidden", "only functions and methods can be called", node)
            return None
        name = func.id
        if name.startswith("_") and name != "_":
            return None   # reported by the name check
        if name == "isinstance":
            return self._isinstance(node)
        if name not in self.functions:
            self.problem("forbidden", f"`{name}()` is not available in model code", node)
            return None
        sig = self.functions[name]
        plain = all(type(a) is not ast.Starred for a in node.args) and all(k.arg for k in node.keywords)
        if sig is not None and plain:
            signature, skip = sig
            try:
                signature.bind(*([None] * (skip + len(node.args))), **{k.arg: None for k in node.keywords})
            except TypeError as exc:
                self.problem("forbidden", f"`{name}()` cannot be called like this: {exc}", node)
        return None

    def _isinstance(self, node: ast.Call) -> list[ast.AST]:
        spec = node.args[1] if len(node.args) == 2 else None
        names = spec.elts if type(spec) is ast.Tuple else [spec]
        if node.keywords or spec is None or type(node.args[0]) is ast.Starred \
                or not all(type(n) is ast.Name and n.id in TYPE_NAMES for n in names):
            self.problem("forbidden", "`isinstance(x, T)` takes a value and one of (or a tuple of) "
                                      + ", ".join(TYPE_NAMES), node)
            return []
        return [node.args[0]]   # the type names are not looked up in task data

    def _constant(self, node: ast.Constant, parent: Any, in_loop: bool) -> None:
        if not isinstance(node.value, _LITERAL_TYPES):
            self.problem("forbidden", f"{type(node.value).__name__} literals are not supported", node)
        elif type(node.value) is int and node.value.bit_length() > self.limits.max_int_bits:
            self.problem("limit", "the number is too large", node)

    def _formatted(self, node: ast.FormattedValue, parent: Any, in_loop: bool) -> list[ast.AST]:
        if node.conversion not in (-1, ord("s"), ord("r"), ord("a")):
            self.problem("forbidden", "this f-string conversion is not supported", node)
        spec = node.format_spec
        parts = [] if spec is None else spec.values if type(spec) is ast.JoinedStr else [spec]
        if not all(type(p) is ast.Constant and type(p.value) is str for p in parts):
            # f"{x:>{10**9}}" computes a width at run time
            self.problem("forbidden", "replacement fields inside an f-string format spec are not allowed", node)
        else:
            text = "".join(p.value for p in parts)  # type: ignore[attr-defined]
            if not _SPEC_RE.fullmatch(text):
                self.problem("forbidden", f"the f-string format spec `{text}` is not supported (width up "
                                          "to 999, precision up to 99)", node)
        return [node.value]

    def _slice(self, node: ast.Slice, parent: Any, in_loop: bool) -> None:
        if not (type(parent) is ast.Subscript and parent.slice is node):
            self.problem("forbidden", "a slice inside a tuple of indexes is not supported", node)

    def _clauses(self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp) -> None:
        if len(node.generators) > _MAX_CLAUSES:
            self.problem("limit", f"a comprehension has more than {_MAX_CLAUSES} `for` clauses", node)

    def _listcomp(self, node: ast.ListComp | ast.SetComp | ast.DictComp, parent: Any, in_loop: bool) -> None:
        self._clauses(node)

    def _genexp(self, node: ast.GeneratorExp, parent: Any, in_loop: bool) -> None:
        self._clauses(node)
        if not (type(parent) is ast.Call and node in parent.args):
            self.problem("forbidden", "a generator expression can only be a function's argument; "
                                      "use a list comprehension [...]", node)

    def _starred(self, node: ast.Starred, parent: Any, in_loop: bool) -> None:
        if type(node.ctx) is not ast.Load or type(parent) not in (ast.Call, ast.List, ast.Tuple, ast.Set):
            self.problem("forbidden", "`*` is only allowed in calls and list, tuple and set displays", node)

    def _comprehension(self, node: ast.comprehension, parent: Any, in_loop: bool) -> None:
        if node.is_async:
            self.problem("forbidden", "`async for` is not allowed in model code", node.target)
        self._targets([node.target])

    def _binop(self, node: ast.BinOp, parent: Any, in_loop: bool) -> None:
        left = node.left
        text = type(left) is ast.JoinedStr or (type(left) is ast.Constant and type(left.value) is str)
        if type(node.op) is ast.Mod and text:
            self.problem("forbidden", "%-formatting of strings is not supported; use an f-string", node)

    def _targets(self, targets: list[ast.expr], *, simple: bool = False) -> None:
        for t in targets:
            if type(t) in (ast.Tuple, ast.List) and not simple:
                self._targets(t.elts)   # type: ignore[attr-defined]
            elif type(t) not in (ast.Name, ast.Subscript, ast.Starred):   # Starred: its own check
                kind = "attributes" if type(t) is ast.Attribute else f"`{type(t).__name__}`"
                self.problem("forbidden", f"changing {kind} is not allowed", t)

    def _assign(self, node: ast.Assign, parent: Any, in_loop: bool) -> None:
        self._targets(node.targets)

    def _augassign(self, node: ast.AugAssign, parent: Any, in_loop: bool) -> None:
        self._targets([node.target], simple=True)

    def _for(self, node: ast.For, parent: Any, in_loop: bool) -> None:
        self._targets([node.target])

    def _delete(self, node: ast.Delete, parent: Any, in_loop: bool) -> None:
        self._targets(node.targets)

    def _loop_jump(self, node: ast.stmt, parent: Any, in_loop: bool) -> None:
        if not in_loop:
            word = "break" if type(node) is ast.Break else "continue"
            self.problem("syntax", f"syntax error: '{word}' outside loop", node)


_CHECKS: dict[type, Callable[..., list[ast.AST] | None]] = {
    ast.Name: Checker._name, ast.Attribute: Checker._attribute, ast.Call: Checker._call,
    ast.Constant: Checker._constant, ast.FormattedValue: Checker._formatted,
    ast.GeneratorExp: Checker._genexp, ast.ListComp: Checker._listcomp, ast.SetComp: Checker._listcomp,
    ast.DictComp: Checker._listcomp, ast.Starred: Checker._starred, ast.Slice: Checker._slice,
    ast.comprehension: Checker._comprehension, ast.BinOp: Checker._binop,
    ast.Assign: Checker._assign, ast.AugAssign: Checker._augassign, ast.For: Checker._for,
    ast.Delete: Checker._delete, ast.Break: Checker._loop_jump, ast.Continue: Checker._loop_jump,
}
