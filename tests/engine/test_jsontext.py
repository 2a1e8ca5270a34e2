"""The fast JSON text writes what the standard library writes, and refuses what it refuses."""

from __future__ import annotations

import dataclasses
import json
import math
from collections import OrderedDict
from datetime import date, datetime

import pytest

from engine.jsontext import canonical_bytes, canonical_json, column_json, plain_canonical_bytes, strict_loads

JSON_LIKE = [
    {},
    {"b": 1, "a": [1, 2.5, None, True, False], "c": "پنجره", "d": {"z": {}, "y": []}},
    {"nested": [{"k": "v", "n": -3, "f": 0.1}], "empty": "", "null": None},
    [1, "two", {"three": 3}],
    "plain",
    12,
    {"emoji": "\U0001f600", "quote": 'a"b\\c', "control": "\n\t\x01"},
]


@pytest.mark.parametrize("value", JSON_LIKE)
def test_same_text_as_the_standard_encoder(value):
    assert canonical_bytes(value) == canonical_json(value).encode("utf-8")
    assert json.loads(column_json(value)) == value


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -math.inf, {"x": [1, {"y": float("nan")}]}])
def test_nan_and_infinity_are_refused_as_before(value):
    with pytest.raises(ValueError):
        canonical_json(value)
    with pytest.raises(ValueError):
        canonical_bytes(value)


@pytest.mark.parametrize("value", [{"d": date(2026, 1, 1)}, {"t": datetime(2026, 1, 1, 8, 0)}, {"s": {1, 2}},
                                   {"o": object()}])
def test_what_json_refuses_stays_refused(value):
    with pytest.raises(TypeError):
        canonical_bytes(value)
    with pytest.raises(TypeError):
        column_json(value)


@dataclasses.dataclass
class _Point:
    x: int


def test_values_orjson_refuses_go_to_the_standard_encoder():
    class Name(str):
        pass

    big = {"big": 2 ** 70, "keys": {1: "one", 2: "two"}, "sub": Name("x"), "ordered": OrderedDict(b=1, a=2)}
    assert canonical_bytes(big) == canonical_json(big).encode("utf-8")
    assert json.loads(column_json(big)) == json.loads(json.dumps(big))
    with pytest.raises(TypeError):
        canonical_bytes({"p": _Point(1)})  # orjson would write a dataclass; the standard encoder refuses it


def test_column_json_keeps_nan_as_json_dumps_did():
    # SQLAlchemy's default serializer (json.dumps) writes NaN; orjson would silently write null.
    assert column_json({"x": float("nan")}) == json.dumps({"x": float("nan")})


def test_floats_read_back_equal():
    value = {"small": 1e-05, "large": 1e16, "third": 1 / 3}
    assert json.loads(canonical_bytes(value)) == value


@pytest.mark.parametrize("value", JSON_LIKE[:4])
def test_json_copy_is_an_equal_deep_copy(value):
    from engine.jsontext import json_copy

    copy = json_copy(value)
    assert copy == value
    if isinstance(value, dict) and value:
        first = next(iter(value))
        assert list(copy) == list(value)  # key order kept
        if isinstance(value[first], (dict, list)):
            assert copy[first] is not value[first]


@pytest.mark.parametrize("value", [{"t": (1, 2)}, {"n": float("nan")}, {"d": date(2026, 1, 1)}, {1: "int key"},
                                   {"big": 2 ** 70}, {"f": print}, {"u": __import__("uuid").UUID(int=1)}])
def test_json_copy_refuses_what_would_not_come_back_equal(value):
    from engine.jsontext import json_copy

    with pytest.raises(ValueError):
        json_copy(value)


@pytest.mark.parametrize("value", JSON_LIKE)
def test_plain_json_gets_the_same_canonical_text_without_the_check(value):
    assert plain_canonical_bytes(value) == canonical_bytes(value)


def test_what_orjson_refuses_still_goes_to_the_standard_encoder_when_called_plain():
    value = {"big": 2**70, "when": date(2026, 11, 29).isoformat()}
    assert plain_canonical_bytes(value) == canonical_bytes(value)


def test_strict_loads_refuses_what_json_does_not_have():
    assert strict_loads('{"a": [1.5, null, "NaN"]}') == {"a": [1.5, None, "NaN"]}
    for text in ('{"a": NaN}', "[Infinity]", "-Infinity"):
        with pytest.raises(ValueError, match="is not a JSON value"):
            strict_loads(text)
