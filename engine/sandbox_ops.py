"""Guarded operators and conversions of the safe evaluator.

Every operator a model's code uses goes through a function here. Each checks
its operands' types against a short list of plain data types and estimates the
size of its result *before* computing it: ``'a' * 10**9`` and ``10 ** 10**10``
are refused from their operands' lengths and bit lengths, never allocated.
Operations whose cost grows with their operands (comparing long lists,
printing a container) charge the run's step budget in proportion.

The functions take the run's :class:`~engine.sandbox_limits.Budget` first.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

from engine.sandbox_limits import Budget, ScriptError, check_key, measure

NoneType = type(None)
SCALARS = frozenset({NoneType, bool, int, float, str})
NUMBERS = frozenset({bool, int, float})
INTS = frozenset({bool, int})
SEQUENCES = frozenset({str, list, tuple})
DictKeys, DictValues, DictItems = type({}.keys()), type({}.values()), type({}.items())
VIEWS = frozenset({DictKeys, DictValues, DictItems})
# Item views are left out: hashing their (key, value) pairs would hash values too.
SETLIKE = frozenset({set, frozenset, DictKeys})
CONTAINERS = frozenset({list, tuple, dict, set, frozenset})
# Values a script may hold and operate on. Anything else found in task data
# (put there by server code) can be passed around but not operated on.
SAFE_TYPES = SCALARS | CONTAINERS | VIEWS | {range, date, datetime, timedelta}
ITERABLES = SEQUENCES | CONTAINERS | VIEWS | {range}


# Marks an argument that was not given (None can be a real value).
MISSING: Any = object()


class LazySeq:
    """A generator expression passed to a function: consumed once, lazily.

    It wraps a generator written in the interpreter (never one from task
    data), so functions such as ``any()`` stop early just as in Python.
    """

    __slots__ = ("_it",)

    def __init__(self, it: Iterator[Any]) -> None:
        self._it = it

    def __iter__(self) -> Iterator[Any]:
        return self._it


def type_name(value: Any) -> str:
    """The name a message uses for a value's type."""
    return "generator" if type(value) is LazySeq else type(value).__name__


def unsupported(value: Any) -> ScriptError:
    """A runtime error for a value of a type scripts may not operate on."""
    return ScriptError("runtime", f"TypeError: values of type '{type_name(value)}' cannot be used in scripts")


def check_safe(*values: Any) -> None:
    """Raise unless every value is of a supported type."""
    for v in values:
        if type(v) not in SAFE_TYPES:
            raise unsupported(v)


def truth(value: Any) -> bool:
    """``bool(value)`` for supported types."""
    if type(value) not in SAFE_TYPES:
        raise unsupported(value)
    return bool(value)


def _bits(value: int) -> int:
    return int(value).bit_length()


# --- building collections --------------------------------------------------------

def items_of(run: Budget, value: Any, what: str = "list") -> list[Any]:
    """The items of an iterable as a new list, with its size checked first."""
    t = type(value)
    if t is LazySeq:
        out: list[Any] = []
        max_length = run.limits.max_length
        for item in value:
            if len(out) >= max_length:
                run.grow(len(out) + 1, what)
            out.append(item)
        run.grow(len(out), what)
        return out
    if t not in ITERABLES:
        raise ScriptError("runtime", f"TypeError: '{type_name(value)}' object is not iterable")
    run.grow(len(value), what)
    return list(value)


def pairs_of(run: Budget, source: Any) -> list[tuple[Any, Any]]:
    """The (key, value) pairs of a dict or of an iterable of pairs (``dict(...)``, ``update``)."""
    if type(source) is dict:
        run.grow(len(source), "dict")
        return list(source.items())
    pairs = []
    for item in items_of(run, source, "dict"):
        pair = items_of(run, item)
        if len(pair) != 2:
            raise fail(f"ValueError: dictionary update sequence element has length {len(pair)}; 2 is required")
        check_key(pair[0], run.limits)
        pairs.append((pair[0], pair[1]))
    return pairs


def iterate(value: Any) -> Iterator[Any]:
    """An iterator over a supported iterable (a ``for`` loop, a comprehension)."""
    t = type(value)
    if t in ITERABLES or t is LazySeq:
        return iter(value)
    raise ScriptError("runtime", f"TypeError: '{type_name(value)}' object is not iterable")


def charge_deep(run: Budget, *values: Any) -> None:
    """Charge for an operation that walks containers (deep comparison, printing)."""
    for v in values:
        if type(v) in CONTAINERS:
            run.charge(measure(v, run.limits) >> 4)


def keys_ok(run: Budget, items: list[Any]) -> list[Any]:
    """The items, once each is known to be safe to hash (set members, dict keys)."""
    for k in items:
        check_key(k, run.limits)
    return items


def charge_items(run: Budget, items: list[Any]) -> None:
    """Charge for comparing items (sorting, min/max) that may be containers."""
    if any(type(i) in CONTAINERS for i in items):
        charge_deep(run, items)


# --- binary operators -------------------------------------------------------------

def _add(run: Budget, a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta in INTS and tb in INTS:
        run.int_bits(max(_bits(a), _bits(b)) + 1)
    elif ta in SEQUENCES and ta is tb:
        run.grow(len(a) + len(b), ta.__name__)
    else:
        check_safe(a, b)
    return a + b


def _sub(run: Budget, a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta in INTS and tb in INTS:
        run.int_bits(max(_bits(a), _bits(b)) + 1)
    else:
        check_safe(a, b)
        if ta in SETLIKE:
            run.grow(len(a), "set")
    return a - b


def _repeat(run: Budget, seq: Any, times: Any) -> None:
    if type(times) in INTS:
        run.grow(len(seq) * max(int(times), 0), type(seq).__name__)


def _mul(run: Budget, a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta in INTS and tb in INTS:
        run.int_bits(_bits(a) + _bits(b))
    else:
        # Checked first: a foreign operand's __rmul__ or __index__ must not run.
        check_safe(a, b)
        if ta in SEQUENCES:
            _repeat(run, a, b)
        elif tb in SEQUENCES:
            _repeat(run, b, a)
    return a * b


def _pow(run: Budget, a: Any, b: Any) -> Any:
    check_safe(a, b)
    if type(a) in INTS and type(b) in INTS and b > 0 and abs(a) > 1:
        # The result has about b * log2(|a|) bits: known before computing it.
        run.int_bits(b * math.log2(abs(a)))
    result = a ** b
    if isinstance(result, complex):
        raise ScriptError("runtime", "ValueError: a negative number to a fractional power has no real value")
    return result


def _lshift(run: Budget, a: Any, b: Any) -> Any:
    check_safe(a, b)
    if type(a) in INTS and type(b) in INTS and a and b > 0:
        run.int_bits(_bits(a) + b)
    return a << b


def _mod(run: Budget, a: Any, b: Any) -> Any:
    if type(a) is str:
        # printf-style formatting takes widths from its operands ('%*s' % (10**9, ''))
        raise ScriptError("forbidden", "%-formatting of strings is not supported; use an f-string")
    check_safe(a, b)
    return a % b


def _setlike(run: Budget, a: Any, b: Any, op: Callable[[Any, Any], Any]) -> Any:
    ta, tb = type(a), type(b)
    if ta in INTS and tb in INTS:
        run.int_bits(max(_bits(a), _bits(b)))
    elif ta is dict and tb is dict:
        run.grow(len(a) + len(b), "dict")
    elif ta in SETLIKE and tb in SETLIKE:
        run.grow(len(a) + len(b), "set")
    else:
        check_safe(a, b)
        if ta in SETLIKE or tb in SETLIKE:
            # Python would hash the other operand's items; only sets meet sets here.
            raise ScriptError("runtime", f"TypeError: unsupported operand types: '{type_name(a)}' "
                                         f"and '{type_name(b)}'")
    return op(a, b)


def _plain(op: Callable[[Any, Any], Any]) -> Callable[[Budget, Any, Any], Any]:
    def apply(run: Budget, a: Any, b: Any) -> Any:
        check_safe(a, b)
        return op(a, b)
    return apply


BINARY: dict[type, Callable[[Budget, Any, Any], Any]] = {
    ast.Add: _add,
    ast.Sub: _sub,
    ast.Mult: _mul,
    ast.Pow: _pow,
    ast.LShift: _lshift,
    ast.Mod: _mod,
    ast.Div: _plain(operator.truediv),
    ast.FloorDiv: _plain(operator.floordiv),
    ast.RShift: _plain(operator.rshift),
    ast.BitOr: lambda run, a, b: _setlike(run, a, b, operator.or_),
    ast.BitAnd: lambda run, a, b: _setlike(run, a, b, operator.and_),
    ast.BitXor: lambda run, a, b: _setlike(run, a, b, operator.xor),
}


def unary(run: Budget, op: ast.unaryop, value: Any) -> Any:
    """``not``, ``-``, ``+`` and ``~`` of a supported value."""
    if type(op) is ast.Not:
        return not truth(value)
    check_safe(value)
    if type(op) is ast.USub:
        return -value
    if type(op) is ast.UAdd:
        return +value
    return ~value


# --- comparisons ------------------------------------------------------------------

_ORDER: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
}


def contains(run: Budget, container: Any, item: Any) -> bool:
    """``item in container``, charged by the container's size."""
    t = type(container)
    if t is dict or t in SETLIKE or t is DictItems:   # these hash the item
        check_key(item, run.limits)
    elif t is str:
        if type(item) is not str:
            raise ScriptError("runtime", f"TypeError: 'in <string>' requires string as left operand, "
                                         f"not {type_name(item)}")
        run.charge(len(container) >> 8)
    elif t in ITERABLES:
        if t is range and type(item) in INTS:
            pass   # arithmetic, not a search
        elif type(item) in CONTAINERS:
            charge_deep(run, container)
        else:
            run.charge(len(container) >> 4)   # 1.5 in range(n) searches too
    else:
        raise ScriptError("runtime", f"TypeError: argument of type '{type_name(container)}' is not iterable")
    return item in container


def compare(run: Budget, op: ast.cmpop, a: Any, b: Any) -> Any:
    """One comparison of a (possibly chained) ``Compare`` node."""
    top = type(op)
    order = _ORDER.get(top)
    if order is not None:
        if type(a) not in SCALARS or type(b) not in SCALARS:
            check_safe(a, b)
            charge_deep(run, a, b)
        return order(a, b)
    if top is ast.Is:
        return a is b
    if top is ast.IsNot:
        return a is not b
    if top is ast.In:
        return contains(run, b, a)
    return not contains(run, b, a)


# --- text -------------------------------------------------------------------------

def to_str(run: Budget, value: Any, conversion: Callable[[Any], str] = str) -> str:
    """``str(value)`` (or ``repr``/``ascii``), refusing containers too large to print."""
    t = type(value)
    if t is str and conversion is str:
        return value
    if t not in SCALARS:
        check_safe(value)
        if t in CONTAINERS or t in VIEWS:
            size = measure(list(value) if t in VIEWS else value, run.limits)
            run.grow(size, "string")
    text = conversion(value)
    run.grow(len(text), "string")
    return text


_CONVERSIONS: dict[int, Callable[[Any], str]] = {-1: str, ord("s"): str, ord("r"): repr, ord("a"): ascii}


def format_value(run: Budget, value: Any, conversion: int, spec: str) -> str:
    """One ``{value!conversion:spec}`` field of an f-string. The spec was
    checked statically (small width and precision, no nested fields)."""
    if conversion != -1:
        value = to_str(run, value, _CONVERSIONS[conversion])
    elif not spec:
        return to_str(run, value)
    if not spec:
        return value
    t = type(value)
    if t not in SCALARS:
        check_safe(value)
        if t in CONTAINERS or t in VIEWS:
            raise fail(f"TypeError: unsupported format string passed to {t.__name__}.__format__")
    text = format(value, spec)
    run.grow(len(text), "string")
    return text


def join_parts(run: Budget, parts: list[str]) -> str:
    """The pieces of an f-string or ``str.join`` as one string, size checked first."""
    run.grow(sum(len(p) for p in parts), "string")
    return "".join(parts)


def int_result(run: Budget, value: Any) -> Any:
    """Check the size of an integer made from text or a float."""
    if type(value) is int:
        run.int_bits(value.bit_length())
    return value


def fail(message: str) -> ScriptError:
    """A runtime error with a Python-like message."""
    return ScriptError("runtime", message)

