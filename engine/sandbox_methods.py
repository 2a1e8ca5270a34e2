"""The methods model code may call on strings, lists, dicts, sets and tuples.

A method is found by the exact type of its object in :data:`METHODS` and its
name; there is no other attribute access. Wrappers charge the run for the
work a method does (``_linear``: it reads the whole object) and check the
size of what it builds before building it (``join``, ``replace``, ``ljust``,
``extend`` ...). ``list.sort`` takes ``reverse`` only, never ``key``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.sandbox_limits import Run, check_key
from engine.sandbox_ops import (
    CONTAINERS,
    INTS,
    MISSING,
    charge_deep,
    charge_items,
    check_safe,
    fail,
    items_of,
    keys_ok,
    pairs_of,
    truth,
    type_name,
)

Method = Callable[..., Any]


def _const(fn: Callable[..., Any]) -> Method:
    """A method whose work does not grow with its object (``append``, ``get``)."""
    def call(run: Run, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        return fn(obj, *args, **kwargs)
    return call


def _scan_cost(obj: Any) -> int:
    # About one step per microsecond: C scans text far faster than it compares objects.
    return len(obj) >> (8 if type(obj) is str else 4)


def _linear(fn: Callable[..., Any]) -> Method:
    """A method that reads its whole object and returns something small."""
    def call(run: Run, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        run.charge(_scan_cost(obj))
        return fn(obj, *args, **kwargs)
    return call


def _making(fn: Callable[..., Any]) -> Method:
    """A method that builds a new value at most a few times its object's size."""
    def call(run: Run, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        run.charge(_scan_cost(obj))
        result = fn(obj, *args, **kwargs)
        run.grow(len(result), type(result).__name__)
        return result
    return call


def _searching(fn: Callable[..., Any]) -> Method:
    """``list.index``/``count``/``remove``: compares the argument with every item."""
    def call(run: Run, obj: Any, value: Any, /, *args: Any) -> Any:
        if type(value) in CONTAINERS:
            charge_deep(run, obj)
        else:
            run.charge(len(obj) >> 4)
        return fn(obj, value, *args)
    return call


def _str_join(run: Run, sep: str, iterable: Any, /) -> str:
    items = items_of(run, iterable)
    for i, item in enumerate(items):
        if type(item) is not str:
            raise fail(f"TypeError: sequence item {i}: expected str instance, {type_name(item)} found")
    run.grow(sum(len(x) for x in items) + len(sep) * max(len(items) - 1, 0), "string")
    return sep.join(items)


def _str_replace(run: Run, s: str, old: Any, new: Any, count: Any = -1, /) -> str:
    if type(old) is not str or type(new) is not str:
        raise fail("TypeError: replace() arguments must be str")
    n = len(s) + 1 if old == "" else s.count(old)
    if type(count) in INTS and count >= 0:
        n = min(n, count)
    run.charge(len(s) >> 8)
    run.grow(len(s) + n * (len(new) - len(old)), "string")
    return s.replace(old, new, count)


def _padding(fn: Callable[..., str]) -> Method:
    def call(run: Run, s: str, width: Any, /, *args: Any) -> str:
        if type(width) in INTS:
            run.grow(max(width, len(s)), "string")
        return fn(s, width, *args)
    return call


def _list_append(run: Run, lst: list[Any], item: Any, /) -> None:
    run.grow(len(lst) + 1, "list", 1)
    lst.append(item)


def _list_insert(run: Run, lst: list[Any], index: Any, item: Any, /) -> None:
    run.grow(len(lst) + 1, "list", 1)
    run.charge(len(lst) >> 6)
    lst.insert(index, item)


def _list_extend(run: Run, lst: list[Any], iterable: Any, /) -> None:
    items = items_of(run, iterable)
    run.grow(len(lst) + len(items), "list", len(items))
    lst.extend(items)


def _list_sort(run: Run, lst: list[Any], /, *, reverse: Any = False) -> None:
    run.charge((len(lst) * len(lst).bit_length()) >> 4)
    check_safe(*lst)
    charge_items(run, lst)
    lst.sort(reverse=truth(reverse))


def _copy(run: Run, obj: Any, /) -> Any:
    run.grow(len(obj), type(obj).__name__)
    return obj.copy()


def _dict_get(run: Run, d: dict[Any, Any], key: Any, default: Any = None, /) -> Any:
    check_key(key, run.limits)
    return d.get(key, default)


def _dict_pop(run: Run, d: dict[Any, Any], key: Any, default: Any = MISSING, /) -> Any:
    check_key(key, run.limits)
    return d.pop(key) if default is MISSING else d.pop(key, default)


def _dict_setdefault(run: Run, d: dict[Any, Any], key: Any, default: Any = None, /) -> Any:
    check_key(key, run.limits)
    if key not in d:
        run.grow(len(d) + 1, "dict", 1)
    return d.setdefault(key, default)


def _dict_update(run: Run, d: dict[Any, Any], other: Any = MISSING, /, **kwargs: Any) -> None:
    pairs = [] if other is MISSING else pairs_of(run, other)
    run.grow(len(d) + len(pairs) + len(kwargs), "dict", len(pairs) + len(kwargs))
    d.update(pairs)
    d.update(kwargs)


def _set_add(run: Run, s: set[Any], item: Any, /) -> None:
    check_key(item, run.limits)
    run.grow(len(s) + 1, "set", 1)
    s.add(item)


def _set_member(fn: Callable[[set[Any], Any], Any]) -> Method:
    def call(run: Run, s: set[Any], item: Any, /) -> Any:
        check_key(item, run.limits)
        return fn(s, item)
    return call


def _set_others(fn: Callable[..., Any], in_place: bool = False) -> Method:
    """``union``, ``update``, ``issubset`` ...: the other iterables' items are hashed."""
    def call(run: Run, s: set[Any], /, *others: Any) -> Any:
        lists = [keys_ok(run, items_of(run, o, "set")) for o in others]
        added = sum(len(x) for x in lists)
        run.grow(len(s) + added, "set", added if in_place else len(s) + added)
        return fn(s, *lists)
    return call


_STR_CONST = ("startswith", "endswith")
_STR_LINEAR = ("find", "rfind", "index", "rindex", "count", "isdigit", "isnumeric", "isdecimal", "isalpha", "isalnum",
              "isspace", "isupper", "islower")
_STR_MAKING = ("upper", "lower", "strip", "lstrip", "rstrip", "title", "capitalize", "casefold",
               "split", "rsplit", "splitlines", "partition", "rpartition", "removeprefix",
               "removesuffix")

METHODS: dict[type, dict[str, Method]] = {
    str: {
        **{n: _const(getattr(str, n)) for n in _STR_CONST},
        **{n: _linear(getattr(str, n)) for n in _STR_LINEAR},
        **{n: _making(getattr(str, n)) for n in _STR_MAKING},
        **{n: _padding(getattr(str, n)) for n in ("zfill", "ljust", "rjust", "center")},
        "join": _str_join, "replace": _str_replace,
    },
    list: {
        "append": _list_append, "insert": _list_insert, "extend": _list_extend,
        "pop": _const(list.pop), "clear": _const(list.clear), "reverse": _linear(list.reverse),
        "index": _searching(list.index), "count": _searching(list.count),
        "remove": _searching(list.remove), "copy": _copy, "sort": _list_sort,
    },
    dict: {
        "get": _dict_get, "pop": _dict_pop, "setdefault": _dict_setdefault, "update": _dict_update,
        "keys": _const(dict.keys), "values": _const(dict.values), "items": _const(dict.items),
        "popitem": _const(dict.popitem), "clear": _const(dict.clear), "copy": _copy,
    },
    set: {
        "add": _set_add, "discard": _set_member(set.discard), "remove": _set_member(set.remove),
        "pop": _const(set.pop), "clear": _const(set.clear), "copy": _copy,
        "update": _set_others(set.update, in_place=True),
        "union": _set_others(set.union), "intersection": _set_others(set.intersection),
        "difference": _set_others(set.difference),
        "symmetric_difference": _set_others(set.symmetric_difference),
        "issubset": _set_others(set.issubset), "issuperset": _set_others(set.issuperset),
        "isdisjoint": _set_others(set.isdisjoint),
    },
    tuple: {"index": _searching(tuple.index), "count": _searching(tuple.count)},
}

METHOD_NAMES: frozenset[str] = frozenset(n for table in METHODS.values() for n in table)
# The keyword arguments methods accept (all others take positional arguments only;
# None: any keyword, as ``dict.update(a=1)``).
METHOD_KEYWORDS: dict[str, frozenset[str] | None] = {
    "update": None,
    "split": frozenset({"sep", "maxsplit"}), "rsplit": frozenset({"sep", "maxsplit"}),
    "splitlines": frozenset({"keepends"}), "sort": frozenset({"reverse"}),
}
