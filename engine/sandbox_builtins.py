"""The functions a model's code may call in the safe evaluator.

Functions are looked up by name in :data:`FUNCTIONS` (methods live in
:mod:`engine.sandbox_methods`); nothing else is callable. Each implementation
takes the run first and checks sizes before it builds anything. Where
Python's own builtin accepts a callable (``sorted(key=...)``) the wrapper
simply has no such parameter, and the signatures (positional-only where
Python's are) let :mod:`engine.sandbox_check` check calls statically.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from engine.sandbox_dates import DATE_FUNCTIONS
from engine.sandbox_limits import Run, limit
from engine.sandbox_ops import (
    BINARY,
    INTS,
    ITERABLES,
    MISSING,
    charge_items,
    check_safe,
    fail,
    int_result,
    items_of,
    iterate,
    keys_ok,
    pairs_of,
    to_str,
    truth,
    type_name,
)

_add = BINARY[ast.Add]


# --- functions --------------------------------------------------------------------

def _len(run: Run, obj: Any, /) -> int:
    if type(obj) not in ITERABLES:
        raise fail(f"TypeError: object of type '{type_name(obj)}' has no len()")
    return len(obj)


def _extreme(run: Run, pick: Callable[..., Any], args: tuple[Any, ...], default: Any) -> Any:
    if not args:
        raise fail(f"TypeError: {pick.__name__} expected at least 1 argument, got 0")
    items = items_of(run, args[0]) if len(args) == 1 else list(args)
    if not items:
        if default is MISSING:
            raise fail(f"ValueError: {pick.__name__}() arg is an empty sequence")
        return default
    run.charge(len(items) >> 4)
    check_safe(*items)
    charge_items(run, items)
    return pick(items)


def _min(run: Run, /, *args: Any, default: Any = MISSING) -> Any:
    return _extreme(run, min, args, default)


def _max(run: Run, /, *args: Any, default: Any = MISSING) -> Any:
    return _extreme(run, max, args, default)


def _sum(run: Run, iterable: Any, /, start: Any = 0) -> Any:
    if type(start) is str:
        raise fail("TypeError: sum() can't sum strings [use ''.join(seq) instead]")
    total = start
    for item in iterate(iterable):
        run.charge(1)
        total = _add(run, total, item)
    return total


def _abs(run: Run, x: Any, /) -> Any:
    check_safe(x)
    return abs(x)


def _round(run: Run, number: Any, ndigits: Any = None) -> Any:
    check_safe(number)
    if ndigits is None:
        return round(number)
    if type(ndigits) in INTS and abs(ndigits) > 1000:
        # round(5, -10**8) would compute 10**(10**8) first.
        raise limit("round() to more than 1000 digits")
    return round(number, ndigits)


def _int(run: Run, x: Any = 0, /, base: Any = MISSING) -> int:
    check_safe(x)
    return int_result(run, int(x) if base is MISSING else int(x, base))


def _float(run: Run, x: Any = 0.0, /) -> float:
    check_safe(x)
    return float(x)


def _str(run: Run, obj: Any = "", /) -> str:
    return to_str(run, obj)


def _bool(run: Run, x: Any = False, /) -> bool:
    return truth(x)


def _list(run: Run, iterable: Any = (), /) -> list[Any]:
    return items_of(run, iterable)


def _tuple(run: Run, iterable: Any = (), /) -> tuple[Any, ...]:
    return tuple(items_of(run, iterable, "tuple"))


def _set(run: Run, iterable: Any = (), /) -> set[Any]:
    return set(keys_ok(run, items_of(run, iterable, "set")))


def _dict(run: Run, source: Any = MISSING, /, **kwargs: Any) -> dict[Any, Any]:
    pairs = [] if source is MISSING else pairs_of(run, source)
    out = dict(pairs)
    out.update(kwargs)
    return out


def _sorted(run: Run, iterable: Any, /, *, reverse: Any = False) -> list[Any]:
    items = items_of(run, iterable)
    run.charge((len(items) * len(items).bit_length()) >> 4)
    check_safe(*items)
    charge_items(run, items)
    items.sort(reverse=truth(reverse))
    return items


def _reversed(run: Run, seq: Any, /) -> list[Any]:
    items = items_of(run, seq)
    items.reverse()
    return items


def _range(run: Run, /, *args: Any) -> range:
    if not all(type(a) in INTS for a in args):
        bad = next(a for a in args if type(a) not in INTS)
        raise fail(f"TypeError: '{type_name(bad)}' object cannot be interpreted as an integer")
    r = range(*args)
    try:
        n = len(r)
    except OverflowError:
        n = run.limits.max_length + 1
    if n > run.limits.max_length:
        raise limit(f"a range of {n:,} numbers is longer than the limit of {run.limits.max_length:,}")
    return r


def _enumerate(run: Run, iterable: Any, start: Any = 0) -> list[tuple[int, Any]]:
    items = items_of(run, iterable)
    if type(start) not in INTS:
        raise fail(f"TypeError: '{type_name(start)}' object cannot be interpreted as an integer")
    run.grow(len(items), "list")
    return list(enumerate(items, start))


def _zip(run: Run, /, *iterables: Any) -> list[tuple[Any, ...]]:
    lists = [items_of(run, it) for it in iterables]
    n = min((len(x) for x in lists), default=0)
    run.grow(n, "list")
    return list(zip(*lists))  # noqa: B905 -- Python's zip() stops at the shortest too


def _any(run: Run, iterable: Any, /) -> bool:
    for item in iterate(iterable):
        run.charge(1)
        if truth(item):
            return True
    return False


def _all(run: Run, iterable: Any, /) -> bool:
    for item in iterate(iterable):
        run.charge(1)
        if not truth(item):
            return False
    return True


def _print(run: Run, /, *args: Any) -> None:
    # Accepted so that models written for SpiffArena run, but ignored: the
    # output would reach server logs, which must not carry personal data.
    return None


def _isinstance(run: Run, obj: Any, types: tuple[type, ...], /) -> bool:
    # ``types`` is resolved by the interpreter from the whitelisted type names.
    return isinstance(obj, types)


# The type names ``isinstance`` accepts as its second argument.
TYPE_NAMES: dict[str, type] = {
    "int": int, "float": float, "str": str, "bool": bool,
    "list": list, "dict": dict, "tuple": tuple, "set": set,
}


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": _len, "min": _min, "max": _max, "sum": _sum, "abs": _abs, "round": _round,
    "int": _int, "float": _float, "str": _str, "bool": _bool, "list": _list, "tuple": _tuple,
    "set": _set, "dict": _dict, "sorted": _sorted, "reversed": _reversed, "range": _range,
    "enumerate": _enumerate, "zip": _zip, "any": _any, "all": _all, "isinstance": _isinstance,
    "print": _print,
    **DATE_FUNCTIONS,
}
