"""The tree-walking interpreter of the safe evaluator.

:class:`Interpreter` walks an AST that :mod:`engine.sandbox` has already
checked (only whitelisted node types, no names or attributes starting with
``_``, calls only to known functions and methods). It never compiles or
executes Python code: every node is evaluated here, every operator goes
through :mod:`engine.sandbox_ops`, every call through
:mod:`engine.sandbox_builtins` or :mod:`engine.sandbox_methods`. Names are read from the task data (and the
variables of enclosing comprehensions); statements write into the task data,
as SpiffWorkflow's ``exec`` of a script task does.

Python exceptions that bad operands raise (``ZeroDivisionError``,
``KeyError``, ``TypeError`` ...) become :class:`ScriptError` values of kind
``runtime`` carrying the innermost node being evaluated.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, tzinfo
from math import isfinite
from typing import Any

from engine.sandbox_builtins import TYPE_NAMES
from engine.sandbox_limits import NOT_A_JSON_NUMBER, Budget, Limits, ScriptError, check_key, measure
from engine.sandbox_methods import METHODS
from engine.sandbox_ops import (
    BINARY,
    CONTAINERS,
    VIEWS,
    LazySeq,
    compare,
    fail,
    format_value,
    items_of,
    iterate,
    join_parts,
    pairs_of,
    truth,
    type_name,
    unary,
)

# What a bad operand makes Python raise. RecursionError (a RuntimeError) and
# MemoryError are limits, handled first.
_RUNTIME_ERRORS = (ArithmeticError, LookupError, TypeError, ValueError, AttributeError, RuntimeError)
_MAX_MESSAGE = 300

# Values that cannot stay in task data after a script (SpiffWorkflow stores it as JSON).
_NOT_STORABLE = {
    range: "a range", set: "a set", frozenset: "a set", LazySeq: "a generator",
    **{v: "a dict view" for v in VIEWS},
}


class _Break(Exception):
    """``break``: caught by the innermost loop (the checker makes sure there is one)."""


class _Continue(Exception):
    """``continue``: caught by the innermost loop."""


def _located(exc: BaseException, node: ast.AST) -> ScriptError:
    if isinstance(exc, RecursionError):
        err = ScriptError("limit", "the code or its values are nested too deeply")
    elif isinstance(exc, MemoryError):
        err = ScriptError("limit", "out of memory")
    else:
        text = f"{type(exc).__name__}: {exc}"
        if len(text) > _MAX_MESSAGE:
            text = text[:_MAX_MESSAGE] + "…"
        err = ScriptError("runtime", text)
    err.node = node
    return err


def _storable_hint(exc: ScriptError) -> str:
    """What to add to a refusal of a value left in task data: how to fix a type, why a number."""
    if exc.kind != "runtime":
        return ""  # a limit: its message says it all
    if NOT_A_JSON_NUMBER in exc.message:
        return ", so task data cannot store it"
    return ", which task data cannot store: convert it with list(...) or delete it with del"


class Interpreter(Budget):
    """One run of a checked expression or script against task data."""

    __slots__ = ("_now", "context", "functions", "scopes", "tz")

    def __init__(self, limits: Limits, context: Mapping[str, Any],
                 functions: Mapping[str, Callable[..., Any]], monotonic: Callable[[], float],
                 now: Callable[[], datetime], tz: tzinfo) -> None:
        super().__init__(limits, monotonic)
        self.context = context
        self.scopes: list[dict[str, Any]] = []   # variables of enclosing comprehensions
        self.functions = functions
        self.tz = tz
        self._now = now

    def now(self) -> datetime:
        """The injected clock's current time (for ``now()`` and ``today()``)."""
        return self._now()

    # --- entry points -------------------------------------------------------------

    def evaluate(self, tree: ast.Expression) -> Any:
        """The value of a checked expression."""
        value = self.ev(tree.body)
        # Refuses values that contain themselves, are nested too deeply or too large.
        if type(value) in CONTAINERS and measure(value, self.limits) > self.limits.max_data_size:
            raise ScriptError("limit", f"the value is larger than {self.limits.max_data_size:,} characters")
        return value

    def execute(self, tree: ast.Module) -> None:
        """Run a checked script; assignments write into the context."""
        self.block(tree.body)
        self._check_storable()

    def _check_storable(self) -> None:
        """Every value left in task data must be JSON-like, bounded and finite."""
        context: Any = self.context
        budget = self.limits.max_data_size
        for name, value in context.items():
            if type(value) is float and not isfinite(value):
                raise ScriptError("runtime", f"the variable '{name}' is {value!r}, {NOT_A_JSON_NUMBER}, "
                                             "so task data cannot store it")
            if type(value) in _NOT_STORABLE or type(value) in CONTAINERS:
                try:
                    if type(value) in _NOT_STORABLE:
                        raise ScriptError("runtime", f"it is {_NOT_STORABLE[type(value)]}")
                    budget -= measure(value, self.limits, _NOT_STORABLE)
                except ScriptError as exc:
                    raise ScriptError(exc.kind, f"the variable '{name}': {exc.message}{_storable_hint(exc)}") \
                        from None
                if budget < 0:
                    raise ScriptError("limit", f"the task data would be larger than "
                                               f"{self.limits.max_data_size:,} characters")

    # --- evaluation -----------------------------------------------------------------

    def ev(self, node: Any) -> Any:
        """Evaluate one expression node, counting a step."""
        self.steps += 1
        try:
            if self.steps >= self._next_check:
                self.checkpoint()
            return _EXPR[type(node)](self, node)
        except ScriptError as exc:
            if exc.node is None:
                exc.node = node
            raise
        except (RecursionError, MemoryError, *_RUNTIME_ERRORS) as exc:
            raise _located(exc, node) from None

    def block(self, body: list[ast.stmt]) -> None:
        """Run statements in order."""
        for stmt in body:
            self.steps += 1
            try:
                if self.steps >= self._next_check:
                    self.checkpoint()
                _STMT[type(stmt)](self, stmt)
            except ScriptError as exc:
                if exc.node is None:
                    exc.node = stmt
                raise
            except (RecursionError, MemoryError, *_RUNTIME_ERRORS) as exc:
                raise _located(exc, stmt) from None

    # --- names and targets ----------------------------------------------------------

    def _name(self, node: ast.Name) -> Any:
        name = node.id
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        try:
            return self.context[name]
        except KeyError:
            raise ScriptError("name", f"name '{name}' is not defined") from None

    def bind(self, target: ast.expr, value: Any, scope: dict[str, Any] | None) -> None:
        """Assign to a name, a subscript or a tuple of targets."""
        t = type(target)
        if t is ast.Name:
            if scope is not None:
                scope[target.id] = value
            else:
                self.context[target.id] = value  # type: ignore[index]  # checked: exec mode
        elif t is ast.Subscript:
            self._setitem(self.ev(target.value), self._index(target.slice), value)
        else:
            elts = target.elts  # type: ignore[attr-defined]  # Tuple or List (checked)
            items = items_of(self, value)
            if len(items) != len(elts):
                n = len(elts)
                raise fail(f"ValueError: too many values to unpack (expected {n})" if len(items) > n
                           else f"ValueError: not enough values to unpack (expected {n}, got {len(items)})")
            for sub, item in zip(elts, items, strict=True):
                self.bind(sub, item, scope)

    # --- subscripts -----------------------------------------------------------------

    def _index(self, node: ast.expr) -> Any:
        if type(node) is ast.Slice:
            return slice(*(None if part is None else self.ev(part)
                           for part in (node.lower, node.upper, node.step)))
        return self.ev(node)

    def _getitem(self, obj: Any, index: Any) -> Any:
        t = type(obj)
        if t is dict:
            check_key(index, self.limits)
            return obj[index]
        if t is list or t is tuple or t is str or t is range:
            if type(index) is slice:
                self.grow(len(range(*index.indices(len(obj)))), t.__name__)
            return obj[index]
        raise fail(f"TypeError: '{type_name(obj)}' object is not subscriptable")

    def _setitem(self, obj: Any, index: Any, value: Any) -> None:
        t = type(obj)
        if t is dict:
            check_key(index, self.limits)
            if index not in obj:
                self.grow(len(obj) + 1, "dict", 1)
            obj[index] = value
        elif t is list:
            if type(index) is slice:
                items = items_of(self, value)
                removed = len(range(*index.indices(len(obj))))
                self.grow(len(obj) - removed + len(items), "list", len(items))
                value = items
            obj[index] = value
        else:
            raise fail(f"TypeError: '{type_name(obj)}' object does not support item assignment")

    def _subscript(self, node: ast.Subscript) -> Any:
        obj = self.ev(node.value)
        return self._getitem(obj, self._index(node.slice))

    # --- operators ------------------------------------------------------------------

    def _boolop(self, node: ast.BoolOp) -> Any:
        is_and = type(node.op) is ast.And
        value = None
        for operand in node.values:
            value = self.ev(operand)
            if truth(value) is not is_and:
                return value
        return value

    def _binop(self, node: ast.BinOp) -> Any:
        left = self.ev(node.left)
        return BINARY[type(node.op)](self, left, self.ev(node.right))

    def _unaryop(self, node: ast.UnaryOp) -> Any:
        return unary(self, node.op, self.ev(node.operand))

    def _compare(self, node: ast.Compare) -> Any:
        left = self.ev(node.left)
        ops = node.ops
        if len(ops) == 1:   # the usual case, kept short: conditions are evaluated often
            return compare(self, ops[0], left, self.ev(node.comparators[0]))
        result: Any = True
        for op, comparator in zip(ops, node.comparators, strict=True):
            right = self.ev(comparator)
            result = compare(self, op, left, right)
            if not truth(result):
                return result
            left = right
        return result

    def _ifexp(self, node: ast.IfExp) -> Any:
        return self.ev(node.body) if truth(self.ev(node.test)) else self.ev(node.orelse)

    def _inplace(self, op: ast.operator, current: Any, value: Any) -> Any:
        """``x op= value``: lists, sets and dicts change in place, as in Python."""
        t, top = type(current), type(op)
        if t is list and top is ast.Add:
            items = items_of(self, value)
            self.grow(len(current) + len(items), "list", len(items))
            current.extend(items)
            return current
        if t is set and top in _SET_INPLACE and (type(value) is set or type(value) is frozenset):
            self.grow(len(current) + len(value), "set", len(value))
            return _SET_INPLACE[top](current, value)
        if t is dict and top is ast.BitOr:
            pairs = pairs_of(self, value)
            self.grow(len(current) + len(pairs), "dict", len(pairs))
            current.update(pairs)
            return current
        result = BINARY[top](self, current, value)
        if t is list and top is ast.Mult:
            current[:] = result   # same list object, as ``*=`` keeps it
            return current
        return result

    # --- displays and comprehensions ------------------------------------------------

    def _elements(self, elts: list[ast.expr], what: str) -> list[Any]:
        out: list[Any] = []
        for e in elts:
            if type(e) is ast.Starred:
                out.extend(items_of(self, self.ev(e.value), what))
            else:
                out.append(self.ev(e))
        self.grow(len(out), what, 0)
        return out

    def _list(self, node: ast.List) -> list[Any]:
        return self._elements(node.elts, "list")

    def _tuple(self, node: ast.Tuple) -> tuple[Any, ...]:
        return tuple(self._elements(node.elts, "tuple"))

    def _set(self, node: ast.Set) -> set[Any]:
        items = self._elements(node.elts, "set")
        for item in items:
            check_key(item, self.limits)
        return set(items)

    def _dict(self, node: ast.Dict) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:   # {**other}
                pairs = pairs_of(self, self.ev(value))
                self.grow(len(out) + len(pairs), "dict", 0)
                out.update(pairs)
                continue
            k = self.ev(key)
            check_key(k, self.limits)
            out[k] = self.ev(value)
            self.grow(len(out), "dict", 1)
        return out

    def _in_scope(self, scope: dict[str, Any], node: ast.expr) -> Any:
        self.scopes.append(scope)
        try:
            return self.ev(node)
        finally:
            self.scopes.pop()

    def _bindings(self, gens: list[ast.comprehension], index: int, iterable: Any,
                  scope: dict[str, Any]) -> Iterator[None]:
        """Bind the comprehension's variables in ``scope``, yielding once per
        binding that passes every ``if``. The scope is on the stack only while
        this code evaluates, so a lazily consumed generator stays correct."""
        gen = gens[index]
        for item in iterate(iterable):
            self.scopes.append(scope)
            try:
                self.bind(gen.target, item, scope)
                ok = all(truth(self.ev(cond)) for cond in gen.ifs)
                inner = self.ev(gens[index + 1].iter) if ok and index + 1 < len(gens) else None
            finally:
                self.scopes.pop()
            if not ok:
                continue
            if index + 1 < len(gens):
                yield from self._bindings(gens, index + 1, inner, scope)
            else:
                yield

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> Iterator[Any]:
        scope: dict[str, Any] = {}
        # As in Python, the first iterable is evaluated in the enclosing scope, at once.
        first = self.ev(node.generators[0].iter)
        for _ in self._bindings(node.generators, 0, first, scope):
            yield self._in_scope(scope, node.elt)

    def _listcomp(self, node: ast.ListComp) -> list[Any]:
        return items_of(self, LazySeq(self._comprehension(node)))

    def _setcomp(self, node: ast.SetComp) -> set[Any]:
        items = items_of(self, LazySeq(self._comprehension(node)), "set")
        for item in items:
            check_key(item, self.limits)
        return set(items)

    def _dictcomp(self, node: ast.DictComp) -> dict[Any, Any]:
        scope: dict[str, Any] = {}
        out: dict[Any, Any] = {}
        first = self.ev(node.generators[0].iter)
        for _ in self._bindings(node.generators, 0, first, scope):
            k = self._in_scope(scope, node.key)
            check_key(k, self.limits)
            out[k] = self._in_scope(scope, node.value)
            self.grow(len(out), "dict", 1)
        return out

    def _genexp(self, node: ast.GeneratorExp) -> LazySeq:
        return LazySeq(self._comprehension(node))

    # --- calls and f-strings ----------------------------------------------------------

    def _arguments(self, node: ast.Call) -> tuple[list[Any], dict[str, Any]]:
        args: list[Any] = []
        for a in node.args:
            if type(a) is ast.Starred:
                args.extend(items_of(self, self.ev(a.value)))
            else:
                args.append(self.ev(a))
        kwargs = {kw.arg: self.ev(kw.value) for kw in node.keywords if kw.arg is not None}
        return args, kwargs

    def _call(self, node: ast.Call) -> Any:
        func = node.func
        if type(func) is ast.Name:
            name = func.id
            if name == "isinstance":
                return self._isinstance(node)
            fn = self.functions.get(name)
            if fn is None:
                raise ScriptError("name", f"'{name}' is not an available function")
            args, kwargs = self._arguments(node)
            try:
                return fn(self, *args, **kwargs)
            except TypeError as exc:
                # Say len(), not the wrapper's _len(), in the message.
                raise fail(f"TypeError: {str(exc).replace(f'{fn.__name__}()', f'{name}()')}") from None
        obj = self.ev(func.value)   # type: ignore[attr-defined]  # an Attribute (checked)
        attr = func.attr            # type: ignore[attr-defined]
        table = METHODS.get(type(obj))
        method = table.get(attr) if table is not None else None
        if method is None:
            raise fail(f"AttributeError: '{type_name(obj)}' object has no method '{attr}'")
        args, kwargs = self._arguments(node)
        # A method may store its argument (append, setdefault ...): a generator
        # must not end up in task data, so methods get its items as a list.
        args = [items_of(self, a) if type(a) is LazySeq else a for a in args]
        return method(self, obj, *args, **kwargs)

    def _isinstance(self, node: ast.Call) -> bool:
        obj = self.ev(node.args[0])
        spec = node.args[1]
        names = spec.elts if type(spec) is ast.Tuple else [spec]
        return isinstance(obj, tuple(TYPE_NAMES[n.id] for n in names))  # type: ignore[attr-defined]

    def _joinedstr(self, node: ast.JoinedStr) -> str:
        parts: list[str] = []
        for v in node.values:
            if type(v) is ast.Constant:
                parts.append(v.value)
                continue
            value = self.ev(v.value)  # type: ignore[attr-defined]  # FormattedValue
            spec = "".join(c.value for c in v.format_spec.values) if v.format_spec else ""  # type: ignore[attr-defined]
            parts.append(format_value(self, value, v.conversion, spec))  # type: ignore[attr-defined]
        return join_parts(self, parts)

    # --- statements -----------------------------------------------------------------

    def _s_expr(self, node: ast.Expr) -> None:
        self.ev(node.value)

    def _s_assign(self, node: ast.Assign) -> None:
        value = self.ev(node.value)
        for target in node.targets:
            self.bind(target, value, None)

    def _s_augassign(self, node: ast.AugAssign) -> None:
        target = node.target
        context: Any = self.context
        if type(target) is ast.Name:
            context[target.id] = self._inplace(node.op, self._name(target), self.ev(node.value))
            return
        obj = self.ev(target.value)        # type: ignore[attr-defined]  # a Subscript (checked)
        index = self._index(target.slice)  # type: ignore[attr-defined]
        current = self._getitem(obj, index)
        self._setitem(obj, index, self._inplace(node.op, current, self.ev(node.value)))

    def _s_if(self, node: ast.If) -> None:
        self.block(node.body if truth(self.ev(node.test)) else node.orelse)

    def _s_for(self, node: ast.For) -> None:
        for item in iterate(self.ev(node.iter)):
            self.charge(1)
            self.bind(node.target, item, None)
            try:
                self.block(node.body)
            except _Break:
                return
            except _Continue:
                continue
        self.block(node.orelse)

    def _s_while(self, node: ast.While) -> None:
        while truth(self.ev(node.test)):
            try:
                self.block(node.body)
            except _Break:
                return
            except _Continue:
                continue
        self.block(node.orelse)

    def _s_break(self, node: ast.Break) -> None:
        raise _Break

    def _s_continue(self, node: ast.Continue) -> None:
        raise _Continue

    def _s_pass(self, node: ast.Pass) -> None:
        return None

    def _s_delete(self, node: ast.Delete) -> None:
        context: Any = self.context
        for target in node.targets:
            self._delete(context, target)

    def _delete(self, context: Any, target: ast.expr) -> None:
        t = type(target)
        if t is ast.Name:
            if target.id not in context:  # type: ignore[attr-defined]
                raise ScriptError("name", f"name '{target.id}' is not defined")  # type: ignore[attr-defined]
            del context[target.id]  # type: ignore[attr-defined]
        elif t is ast.Subscript:
            obj = self.ev(target.value)  # type: ignore[attr-defined]
            index = self._index(target.slice)  # type: ignore[attr-defined]
            if type(obj) is dict:
                check_key(index, self.limits)
            elif type(obj) is not list:
                raise fail(f"TypeError: '{type_name(obj)}' object doesn't support item deletion")
            del obj[index]
        else:
            for sub in target.elts:  # type: ignore[attr-defined]  # del (a, b)
                self._delete(context, sub)


_SET_INPLACE: dict[type, Callable[[set[Any], Any], set[Any]]] = {
    ast.BitOr: set.__ior__, ast.BitAnd: set.__iand__, ast.Sub: set.__isub__, ast.BitXor: set.__ixor__,
}

_EXPR: dict[type, Callable[[Interpreter, Any], Any]] = {
    ast.Constant: lambda self, node: node.value,
    ast.Name: Interpreter._name,
    ast.BoolOp: Interpreter._boolop,
    ast.BinOp: Interpreter._binop,
    ast.UnaryOp: Interpreter._unaryop,
    ast.Compare: Interpreter._compare,
    ast.IfExp: Interpreter._ifexp,
    ast.Subscript: Interpreter._subscript,
    ast.List: Interpreter._list,
    ast.Tuple: Interpreter._tuple,
    ast.Set: Interpreter._set,
    ast.Dict: Interpreter._dict,
    ast.ListComp: Interpreter._listcomp,
    ast.SetComp: Interpreter._setcomp,
    ast.DictComp: Interpreter._dictcomp,
    ast.GeneratorExp: Interpreter._genexp,
    ast.Call: Interpreter._call,
    ast.JoinedStr: Interpreter._joinedstr,
}

_STMT: dict[type, Callable[[Interpreter, Any], None]] = {
    ast.Expr: Interpreter._s_expr,
    ast.Assign: Interpreter._s_assign,
    ast.AugAssign: Interpreter._s_augassign,
    ast.If: Interpreter._s_if,
    ast.For: Interpreter._s_for,
    ast.While: Interpreter._s_while,
    ast.Break: Interpreter._s_break,
    ast.Continue: Interpreter._s_continue,
    ast.Pass: Interpreter._s_pass,
    ast.Delete: Interpreter._s_delete,
}
