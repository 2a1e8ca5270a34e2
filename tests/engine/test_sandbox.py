"""The safe evaluator runs the supported Python subset with Python's results,
reports errors with kind and line, and stops at every limit quickly."""

from __future__ import annotations

import pickle
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from engine.sandbox import Limits, Sandbox, ScriptError

# Python itself computes the expected values below: these are trusted test strings.
DATA = {
    "age": 20, "docs_complete": True, "name": "Ali Rezaei", "fee": 1250.5, "n": 7, "none": None,
    "items": [3, 1, 2], "words": ["b", "a", "c"], "person": {"name": "Sara", "age": 31},
    "pairs": [("a", 1), ("b", 2)], "flags": [True, False], "text": "a,b,,c",
}

EXPRESSIONS = [
    # literals and names
    "1", "-2.5", "'x'", "True", "None", "[1, 2]", "(1,)", "(1, 'a')", "{'a': 1}", "{1, 2}", "[]", "{}",
    "age", "docs_complete", "none",
    # arithmetic
    "age + 1", "age - 30", "age * 3", "age / 3", "age // 3", "age % 7", "-age % 7", "age ** 2",
    "2 ** -1", "7 << 3", "1000 >> 3", "6 & 3", "6 | 3", "6 ^ 3", "~n", "-n", "+n", "fee * 2",
    "'ab' + 'cd'", "'ab' * 3", "[0] * 3", "3 * [1, 2]", "(1,) + (2,)", "items + [4]",
    "{1, 2} | {3}", "{1, 2} & {2}", "{1, 2} - {2}", "{1, 2} ^ {2, 3}", "True + 1",
    # comparisons and boolean operators
    "docs_complete == True and age >= 18", "age > 18 or fee < 0", "not docs_complete",
    "1 < age < 30", "1 < age > 30", "age == 20 == 20.0", "none is None", "age is not None",
    "'Ali' in name", "'x' not in name", "2 in items", "'name' in person", "(1, 2) in [(1, 2)]",
    "[1, 2] < [1, 3]", "items == [3, 1, 2]", "0 or ''", "'' or 'default'", "1 and 'last'", "None and 1",
    # ternary, subscripts, slices
    "'adult' if age >= 18 else 'minor'", "items[0]", "items[-1]", "items[1:]", "items[::-1]",
    "name[:3]", "name[::2]", "person['name']", "pairs[1][0]", "text[1:4:2]",
    # methods
    "name.upper()", "name.lower()", "'  x '.strip()", "text.split(',')", "text.split(sep=',', maxsplit=1)",
    "', '.join(words)", "name.replace('a', 'A')", "name.startswith('Ali')", "name.endswith(('x', 'i'))",
    "name.find('R')", "name.count('a')", "'12'.isdigit()", "'7'.zfill(3)", "'x'.center(5, '*')",
    "name.title()", "'a-b'.partition('-')", "person.get('age')", "person.get('x', 0)",
    "list(person.keys())", "list(person.values())", "list(person.items())", "items.index(1)",
    "items.count(3)", "(1, 2, 2).count(2)", "{1, 2}.union([3])", "{1, 2}.issubset({1, 2, 3})",
    "'a\\nb'.splitlines()", "'ab'.removeprefix('a')",
    # builtins
    "len(items)", "len(name)", "min(items)", "max(items)", "min(3, 1, 2)", "max([], default=0)",
    "sum(items)", "sum(items, 10)", "abs(-3)", "round(2.675, 2)", "round(7.5)", "int('42')",
    "int('ff', 16)", "int(3.9)", "float('1.5')", "str(12)", "str([1, 'a'])", "bool(0)", "list('ab')",
    "tuple(items)", "sorted(set(words))", "dict(pairs)", "dict(a=1)", "sorted(items)",
    "sorted(words, reverse=True)", "list(reversed(items))", "list(range(5))", "list(range(2, 10, 3))",
    "list(enumerate(words))", "list(enumerate(words, 1))", "list(zip(words, items))",
    "any(flags)", "all(flags)", "isinstance(age, int)", "isinstance(name, (int, float))",
    "isinstance(True, int)",
    # comprehensions and generator expressions
    "[x * 2 for x in items]", "[x for x in items if x > 1]", "{x % 2 for x in items}",
    "{w: i for i, w in enumerate(words)}", "[(a, b) for a in 'ab' for b in range(2)]",
    "[[y for y in range(x)] for x in items]", "sum(x * x for x in items)", "any(x > 2 for x in items)",
    "all(x > 0 for x in items)", "max(x for x in items if x < 3)", "', '.join(w.upper() for w in words)",
    "sorted(k for k in person)", "[x for x in items for _ in range(2)]",
    # f-strings
    "f'{name} is {age}'", "f'{fee:.2f}'", "f'{fee:,.1f}'", "f'{age:>5}|'", "f'{age:05d}'",
    "f'{name!r}'", "f'{items}'", "f'{person[\"name\"]:*^10}'", "f'{0.25:.1%}'", "f'{age:x}'",
]


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox()


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_expressions_give_pythons_results(sandbox: Sandbox, expression: str) -> None:
    expected = eval(expression, {}, dict(DATA))
    assert sandbox.evaluate(expression, DATA) == expected
    assert sandbox.check(expression, "eval") == []


SCRIPTS = [
    "x = 1\ny = x + 1",
    "a, b = 1, 2\na, b = b, a",
    "(a, [b, c]) = (1, [2, 3])",
    "x = y = [1]",
    "total = 0\nfor i in range(10):\n    total += i",
    "d = {}\nd['a'] = 1\nd['a'] += 1\nd.setdefault('b', []).append(3)",
    "l = [1, 2, 3]\nl[0] = 9\nl[1:2] = [7, 7]\ndel l[0]",
    "l = [1]\nm = l\nl += [2]\nl *= 2",   # += and *= change the list in place (m sees it)
    "s = {1}\nt = s\ns |= {2}\ns -= {1}\nl = sorted(t)\ndel s, t",
    "d = {'a': 1}\nd |= {'b': 2}",
    "x = 5\nif x > 3:\n    r = 'big'\nelif x > 1:\n    r = 'mid'\nelse:\n    r = 'small'",
    "r = []\nfor x in [1, 2, 3, 4]:\n    if x == 2:\n        continue\n    if x == 4:\n        break\n"
    "    r.append(x)\nelse:\n    r.append('no break')",
    "r = []\nfor x in []:\n    pass\nelse:\n    r.append('else')",
    "i = 0\nwhile i < 5:\n    i += 1\nelse:\n    done = True",
    "i = 0\nwhile True:\n    i += 1\n    if i >= 3:\n        break",
    "x = 1\ndel x\ny = 2",
    "d = {'a': 1, 'b': 2}\ndel d['a']",
    "sq = [x * x for x in range(4)]",           # x does not leak from the comprehension
    "x = 'outer'\nl = [x for x in range(3)]",
    "n = 3\nl = [[i * j for j in range(n)] for i in range(n)]",
    "words = ['b', 'a']\nwords.sort()\nwords.reverse()\nw = words.pop()\nwords.insert(0, 'z')\nwords.extend('xy')",
    "s = set()\ns.add(1)\ns.add(2)\ns.discard(1)\nl = sorted(s)\ndel s",
    "fee = 250000000 + 3 * 40000000",
    "pension = int(1000 * min(40, 35) / 30)",
    "msg = f'{1:,} rial'\nupper = msg.upper()",
    "for _ in range(3):\n    pass",
    "d = dict(a=1)\nd.update({'b': 2}, c=3)\nk = sorted(d)\nv = d.pop('a')\nitems = list(d.items())",
    "x = [1, 2, 3]\nx[-1] = 0",
]


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_give_pythons_results(sandbox: Sandbox, script: str) -> None:
    expected: dict = {}
    exec(script, expected)
    del expected["__builtins__"]
    got: dict = {}
    sandbox.execute(script, got)
    assert got == expected


def test_scripts_read_and_update_task_data(sandbox: Sandbox) -> None:
    data = {"floors": 3, "avg_wage": 1000, "contribution_years": 40}
    sandbox.execute("permit_fee = 250000000 + floors * 40000000\n"
                    "pension_amount = int(avg_wage * min(contribution_years, 35) / 30)", data)
    assert data == {"floors": 3, "avg_wage": 1000, "contribution_years": 40,
                    "permit_fee": 370000000, "pension_amount": 1166}


def test_indented_scripts_from_pretty_printed_xml_run(sandbox: Sandbox) -> None:
    data: dict = {}
    sandbox.execute("\n        a = 1\n        if a:\n            b = 2\n    ", data)
    assert data == {"a": 1, "b": 2}


def test_expressions_may_have_surrounding_whitespace(sandbox: Sandbox) -> None:
    assert sandbox.evaluate("\n   age >= 18\n  ", DATA) is True


def test_generator_arguments_are_lazy_like_pythons(sandbox: Sandbox) -> None:
    # any() stops at the first true item, so 1/0 is never evaluated.
    assert sandbox.evaluate("any(1 / x > 0 for x in [1, 0])", {}) is True


def test_functions_are_not_values_and_cannot_be_broken(sandbox: Sandbox) -> None:
    data: dict = {}
    sandbox.execute("len = 5\nn = len('abc')\ndel len\nm = len([1])", data)
    assert data == {"n": 3, "m": 1}
    with pytest.raises(ScriptError) as err:
        sandbox.evaluate("len", {})
    assert err.value.kind == "name"


def test_print_is_accepted_and_ignored(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    sandbox.execute("print('national code', 1234567890)", {})
    assert capsys.readouterr().out == ""


# --- dates ----------------------------------------------------------------------------

def _clock() -> datetime:
    return datetime(2024, 3, 19, 21, 0, tzinfo=UTC)   # already 20 March in Tehran


def test_date_helpers_use_the_injected_clock_in_iran_time() -> None:
    sb = Sandbox(now=_clock)
    assert sb.evaluate("now()", {}) == "2024-03-20T00:30:00+03:30"
    assert sb.evaluate("today()", {}) == "2024-03-20"
    assert sb.evaluate("to_jalali(today())", {}) == "1403/01/01"


@pytest.mark.parametrize(("expression", "expected"), [
    ("date(2024, 2, 28)", "2024-02-28"),
    ("add_days('2024-02-28', 2)", "2024-03-01"),
    ("add_days('2024-02-28T10:00:00+03:30', -1)", "2024-02-27T10:00:00+03:30"),
    ("days_between('2024-01-01', '2024-03-01')", 60),
    ("years_between('2006-03-21', '2024-03-20')", 17),
    ("years_between('2006-03-20', '2024-03-20')", 18),
    ("duration(days=3, hours=2)", "P3DT2H"),
    ("duration(weeks=1)", "P7D"),
    ("duration(minutes=30)", "PT30M"),
    ("duration()", "PT0S"),
    ("to_jalali('2024-03-20')", "1403/01/01"),
    ("to_jalali('2025-03-20T12:00:00+03:30')", "1403/12/30"),
    ("from_jalali('1403/01/01')", "2024-03-20"),
    ("from_jalali('۱۴۰۳/۰۱/۰۱')", "2024-03-20"),
    ("'2024-03-20' < add_days(today(), 1)", True),
])
def test_date_helpers(expression: str, expected: object) -> None:
    assert Sandbox(now=_clock).evaluate(expression, {}) == expected


@pytest.mark.parametrize("expression", [
    "date(2024, 2, 30)", "add_days('not a date', 1)", "from_jalali('1403/13/01')", "duration(days=-1)",
    "to_jalali(5)", "add_days('2024-01-01', 10**9)",
])
def test_bad_dates_are_runtime_errors(sandbox: Sandbox, expression: str) -> None:
    with pytest.raises(ScriptError) as err:
        sandbox.evaluate(expression, {})
    assert err.value.kind == "runtime"


# --- errors -----------------------------------------------------------------------------

@pytest.mark.parametrize(("script", "line", "text"), [
    ("x = 1\ny = x / 0", 2, "ZeroDivisionError"),
    ("d = {}\n\nv = d['missing']", 3, "KeyError: 'missing'"),
    ("v = [1][5]", 1, "IndexError"),
    ("v = 1 + 'a'", 1, "TypeError"),
    ("a, b = [1, 2, 3]", 1, "too many values to unpack"),
    ("v = int('x')", 1, "ValueError"),
    ("v = 'abc'.index('z')", 1, "ValueError"),
    ("v = len(5)", 1, "TypeError: object of type 'int' has no len()"),
    ("v = (5).upper()", 1, "'int' object has no method 'upper'"),
    ("v = {}.pop('x')", 1, "KeyError"),
    ("d = {'a': 1}\nfor k in d:\n    d[k + 'x'] = 1", 2, "RuntimeError"),
    ("s = 'abc'\ns[0] = 'x'", 2, "does not support item assignment"),
    ("v = (-8) ** 0.5", 1, "fractional power"),
    ("v = 2.0 ** 10000", 1, "OverflowError"),
    ("v = sorted([1, 'a'])", 1, "TypeError"),
    ("v = min([])", 1, "empty sequence"),
    ("v = len(*[])", 1, "len()"),
])
def test_runtime_errors_are_script_errors_with_the_line(sandbox: Sandbox, script: str, line: int,
                                                        text: str) -> None:
    with pytest.raises(ScriptError) as err:
        sandbox.execute(script, {})
    assert err.value.kind == "runtime"
    assert err.value.line == line
    assert text in err.value.message


def test_missing_names_are_name_errors(sandbox: Sandbox) -> None:
    with pytest.raises(ScriptError) as err:
        sandbox.evaluate("approved == True", {})
    assert (err.value.kind, err.value.line, err.value.col) == ("name", 1, 1)
    assert "approved" in str(err.value)
    with pytest.raises(ScriptError) as err:
        sandbox.execute("x = 1\ndel y", {})
    assert (err.value.kind, err.value.line) == ("name", 2)


def test_columns_count_characters_not_bytes(sandbox: Sandbox) -> None:
    with pytest.raises(ScriptError) as err:
        sandbox.execute("x = 'سلام' + 1", {})
    assert err.value.col == 5   # the BinOp starts at the fifth character
    problems = sandbox.check("x = 'سلام'.format(1)", "exec")
    assert [(p.kind, p.line, p.col) for p in problems] == [("forbidden", 1, 5)]


def test_errors_in_indented_scripts_and_stripped_expressions_keep_their_position(sandbox: Sandbox) -> None:
    [p] = sandbox.check("\n    a = 1\n    import os\n", "exec")
    assert (p.kind, p.line, p.col) == ("forbidden", 3, 5)
    [p] = sandbox.check("\n\n   x.y", "eval")
    assert (p.line, p.col) == (3, 4)


@pytest.mark.parametrize(("source", "mode", "kind", "line"), [
    ("x = = 1", "exec", "syntax", 1),
    ("x = 1\n  y = 2", "exec", "syntax", 2),
    ("priority = 'Emergency'", "eval", "syntax", 1),
    ("", "eval", "syntax", 1),
    ("break", "exec", "syntax", 1),
    ("for x in []:\n    pass\nelse:\n    continue", "exec", "syntax", 4),
    ("x = 1\nimport os", "exec", "forbidden", 2),
    ("unknown_fn(1)", "eval", "forbidden", 1),
    ("sorted([1], key=len)", "eval", "forbidden", 1),
    ("len(1, 2)", "eval", "forbidden", 1),
    ("'a'.split(x=1)", "eval", "forbidden", 1),
    ("x = 1\ny = (z for z in [1])", "exec", "forbidden", 2),
    ("x" * 200_000, "eval", "limit", 1),
])
def test_check_reports_static_problems_without_running(sandbox: Sandbox, source: str, mode: str,
                                                       kind: str, line: int) -> None:
    problems = sandbox.check(source, mode)  # type: ignore[arg-type]
    assert problems and problems[0].kind == kind and problems[0].line == line
    with pytest.raises(ScriptError) as err:
        (sandbox.evaluate if mode == "eval" else sandbox.execute)(source, {})
    assert err.value.kind == kind


def test_check_lists_every_problem(sandbox: Sandbox) -> None:
    problems = sandbox.check("import os\nx = y.z\ndef f():\n    pass\nq = eval('1')", "exec")
    assert [p.line for p in problems] == [1, 2, 3, 5]


def test_compiled_code_is_cached(sandbox: Sandbox) -> None:
    sb = Sandbox()
    for _ in range(3):
        sb.evaluate("age > 1", DATA)
    info = sb._compile.cache_info()
    assert (info.hits, info.misses) == (2, 1)


def test_errors_survive_pickling(sandbox: Sandbox) -> None:
    with pytest.raises(ScriptError) as err:
        sandbox.execute("x = 1\ny = 1 / 0", {})
    copy = pickle.loads(pickle.dumps(err.value))
    assert (copy.kind, copy.message, copy.line, copy.col) == ("runtime", err.value.message, 2, 5)


def test_one_sandbox_serves_many_threads() -> None:
    sb = Sandbox()

    def work(i: int) -> list[object]:
        return [sb.evaluate("[x * k for x in range(3)] if k % 2 else sum(x for x in range(k))", {"k": i + j})
                for j in range(200)]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8)))
    for i, got in enumerate(results):
        assert got == [[x * k for x in range(3)] if k % 2 else sum(range(k)) for k in range(i, i + 200)]


def test_values_that_task_data_cannot_store_are_refused(sandbox: Sandbox) -> None:
    for script in ("s = {1, 2}", "r = range(3)", "k = {'a': 1}.keys()", "l = [1, {'a': {2}}]"):
        with pytest.raises(ScriptError) as err:
            sandbox.execute(script, {})
        assert err.value.kind == "runtime" and "task data" in err.value.message
    data: dict = {}
    sandbox.execute("s = {1, 2}\nl = sorted(s)\ndel s", data)
    assert data == {"l": [1, 2]}


def test_numbers_json_cannot_hold_are_refused_naming_the_variable(sandbox: Sandbox) -> None:
    # Task data is JSON: NaN and the infinities would make the action's save fail after the script.
    for script, shown in (("x = float('nan')", "nan"), ("x = 1e308 * 10", "inf"), ("x = -float('inf')", "-inf"),
                          ("x = [1.5, {'y': float('nan')}]", "nan")):
        with pytest.raises(ScriptError) as err:
            sandbox.execute(script, {})
        assert err.value.kind == "runtime", script
        assert "'x'" in err.value.message and shown in err.value.message and "JSON cannot hold" in err.value.message
    data: dict = {}
    sandbox.execute("big = 1e308 * 10\nok = big > 1\ndel big", data)  # in-between values are fine
    assert data == {"ok": True}


def test_server_functions_get_plain_values() -> None:
    seen = []

    def national_code_valid(code: str) -> bool:
        seen.append(code)
        return code.isdigit() and len(code) == 10

    sb = Sandbox(functions={"national_code_valid": national_code_valid, "total": sum})
    assert sb.evaluate("national_code_valid(code)", {"code": "0012345678"}) is True
    assert sb.evaluate("total(x for x in [1, 2])", {}) == 3
    assert seen == ["0012345678"]
    assert sb.check("national_code_valid(1, 2)", "eval")[0].kind == "forbidden"
    with pytest.raises(ValueError):
        Sandbox(functions={"__import__": __import__})


def test_foreign_objects_in_task_data_cannot_be_operated_on(sandbox: Sandbox) -> None:
    class Weird:
        def __add__(self, other: object) -> object:
            raise AssertionError("model code reached a server object's method")

    for expr in ("w + 1", "w * 2", "-w", "w < 1", "w[0]"):
        with pytest.raises(ScriptError) as err:
            sandbox.evaluate(expr, {"w": Weird()})
        assert err.value.kind == "runtime"
    assert sandbox.evaluate("w is not None", {"w": Weird()}) is True


# --- limits ------------------------------------------------------------------------------

SMALL = Limits(max_steps=20_000, max_length=10_000, max_alloc=100_000, max_int_bits=256, max_depth=30,
               max_data_depth=8, max_data_size=50_000, max_source=2_000)


@pytest.mark.parametrize(("script", "message"), [
    ("while True:\n    pass", "steps"),
    ("for i in range(10000):\n    for j in range(10000):\n        pass", "steps"),
    ("x = 'a' * 10001", "longer than"),
    ("x = [0] * 10**9", "longer than"),
    ("x = (0,) * 10**12", "longer than"),
    ("s = 'x'\nfor i in range(100):\n    s = s + s", "longer than"),
    ("s = [1]\nfor i in range(100):\n    s.extend(s)", "longer than"),
    ("s = ['ab'] * 6000\nt = ''.join(s)", "longer than"),
    ("t = ('ab' * 100).replace('', 'x' * 100)", "longer than"),
    ("t = 'x'.ljust(10**9)", "longer than"),
    ("t = f'{\"x\" * 9000}{\"y\" * 9000}'", "longer than"),
    ("l = []\nfor i in range(100):\n    l.append([0] * 5000)", "in all"),
    ("r = range(10**12)", "range"),
    ("n = 10 ** 100", "bits"),
    ("n = 2\nfor i in range(20):\n    n = n * n", "bits"),
    ("n = 1\nfor i in range(1000):\n    n += n", "bits"),
    ("n = 1 << 300", "bits"),
    ("n = round(5, -10**8)", "round"),
    ("x = []\nfor i in range(20):\n    x = [x]", "nested"),
    ("a = []\na.append(a)", "contains itself"),
    ("t = ()\nfor i in range(20):\n    t = (t,)\nd = {t: 1}", "nested"),
    ("b = [[0] * 1000] * 1000\nz = str(b)", "longer than"),
    ("b = [[0] * 1000] * 40\nc = [b] * 40", "larger than"),
    ("b = [[0] * 100] * 100\nc = [b] * 100\nz = c == c", "steps"),
])
def test_each_limit_trips_quickly(script: str, message: str) -> None:
    start = time.monotonic()
    with pytest.raises(ScriptError) as err:
        Sandbox(SMALL).execute(script, {})
    assert err.value.kind == "limit", err.value
    assert message in err.value.message
    assert time.monotonic() - start < 2


def test_the_time_limit_reads_the_injected_clock() -> None:
    ticks = iter(range(1_000_000))
    sb = Sandbox(Limits(max_seconds=5, check_every=10), monotonic=lambda: float(next(ticks)))
    with pytest.raises(ScriptError) as err:
        sb.execute("while True:\n    x = 1", {})
    assert err.value.kind == "limit" and "5 s" in err.value.message and err.value.line is not None


def test_deeply_nested_code_is_refused_statically() -> None:
    sb = Sandbox(SMALL)
    for source in ("-" * 40 + "1", "[" * 40 + "]" * 40, " + ".join(["a"] * 40),
                   "if a:\n" + "".join(" " * i + "if a:\n" for i in range(1, 40)) + " " * 40 + "pass"):
        [problem] = sb.check(source, "exec")
        assert problem.kind == "limit"


def test_long_source_is_refused_before_parsing() -> None:
    assert Sandbox(SMALL).check("x = 1\n" * 1000, "exec")[0].kind == "limit"


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Limits(max_steps=0)


def test_default_limits_allow_ordinary_work(sandbox: Sandbox) -> None:
    data: dict = {}
    sandbox.execute("rows = [{'id': i, 'fee': i * 1000} for i in range(2000)]\n"
                    "total = sum(r['fee'] for r in rows)\n"
                    "summary = ', '.join(str(r['id']) for r in rows[:50])\n"
                    "big = 10 ** 300", data)
    assert data["total"] == sum(i * 1000 for i in range(2000))
