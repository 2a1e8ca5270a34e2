"""JSON text for the hot path: orjson where it writes what the standard library writes, else the library.

Every action encodes its changed state parts, its audit details and job
payloads; the standard encoder spent ~10 % of a durable action on that,
orjson about a tenth of it. orjson differs from the standard encoder in a
few places, and each goes back to the standard one, so values, text (but for
the spelling of some floats) and errors stay what they were:

* dates, dataclasses and subclasses of str/int/dict/list (passed through to
  orjson's missing ``default``, which fails), integers past 64 bits, keys
  that are not strings, strings that are not valid UTF-8: orjson refuses them;
* NaN and the infinities, which orjson writes as ``null``: when a ``null``
  was written and reading the text back does not give the value (NaN never
  equals itself), the value holds one.

Differences that remain: floats may be spelled otherwise (``1e-05`` /
``0.00001``, the same number), and enum members and UUIDs are written as
their values where the standard encoder refuses them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def _fast(value: Any, option: int, standard: Callable[[Any], str]) -> bytes:
    try:
        text = orjson.dumps(value, option=option)
    except TypeError:  # orjson.JSONEncodeError is one; some refusals (big integers) are plain TypeErrors
        return standard(value).encode("utf-8")
    if b"null" in text and orjson.loads(text) != value:
        return standard(value).encode("utf-8")
    return text


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value`` (sorted keys, no spaces, UTF-8 kept; NaN refused)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_bytes(value: Any) -> bytes:
    """:func:`canonical_json` as UTF-8 bytes, fast for JSON-like values (see the module docstring)."""
    return _fast(value, orjson.OPT_SORT_KEYS | _PASSTHROUGH, canonical_json)


def plain_canonical_bytes(value: Any) -> bytes:
    """:func:`canonical_bytes` of a value known to be plain JSON (it reads back equal: no NaN or infinity).

    ``canonical_bytes`` reads its text back whenever it wrote a ``null``, to
    catch a NaN written as one; for a value already checked (a ``json_copy``
    result) that costs four times the writing and finds nothing.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | _PASSTHROUGH)
    except TypeError:
        return canonical_bytes(value)


def column_json(value: Any) -> str:
    """The text of a JSON column (SQLAlchemy's ``json_serializer``): ``json.dumps``' value, compact."""
    return _fast(value, _PASSTHROUGH, json.dumps).decode("utf-8")


def strict_loads(text: str | bytes) -> Any:
    """``json.loads`` refusing ``NaN``, ``Infinity`` and ``-Infinity`` (``ValueError``), which JSON does not have.

    Python's reader takes them, and a value holding one could not be stored
    again (state parts and JSON columns are written without them). For text
    from outside: registry answers, command-line arguments, request bodies.
    """
    return json.loads(text, parse_constant=_refuse_constant)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def json_copy(value: Any) -> Any:
    """A deep copy of JSON-like ``value`` (dicts, lists, strings, numbers, booleans, None), made by orjson.

    Raises ``ValueError`` when ``value`` is not JSON-like, i.e. when the copy
    would not equal it (a tuple, a UUID, a NaN, a date...): callers then copy
    it their own way. About five times faster than a copy in Python.
    """
    try:
        copy = orjson.loads(orjson.dumps(value, option=_PASSTHROUGH))
    except TypeError as exc:
        raise ValueError(f"not JSON-like: {exc}") from exc
    if copy != value:
        raise ValueError("not JSON-like: its JSON reads back as something else")
    return copy
