"""Known ways out of Python sandboxes: every one must be refused.

Each case is model code an attacker could upload. "Refused" means a
:class:`ScriptError` and nothing else: no Python exception escapes, nothing is
imported, no object outside the task data is reached, no memory or time is
spent beyond the limits. Static cases must already be caught by ``check``
(so the model is rejected at upload); the others must stop on a limit.
"""

from __future__ import annotations

import ast
import builtins
import time

import pytest

from engine.sandbox import Sandbox, ScriptError

# Refused by the static check, before anything runs: (source, mode).
STATIC = [
    # imports and the import machinery
    ("__import__('os')", "eval"),
    ("__import__('os').system('id')", "eval"),
    ("import os", "exec"),
    ("import builtins", "exec"),
    ("from os import system", "exec"),
    ("from . import x", "exec"),
    # class hierarchy walks
    ("().__class__.__base__.__subclasses__()", "eval"),
    ("[].__class__.__mro__", "eval"),
    ("''.__class__.__mro__[1].__subclasses__()", "eval"),
    ("{}.__class__.__subclasses__()", "eval"),
    ("x.__class__", "eval"),
    ("x.__dict__", "eval"),
    ("x.__init__.__globals__", "eval"),
    ("x.upper.__self__", "eval"),
    ("x.upper().__class__", "eval"),
    ("', '.join.__self__", "eval"),
    ("[].append.__func__", "eval"),
    ("(1).__add__(2)", "eval"),
    ("x.y", "eval"),
    ("x.y.z", "eval"),
    ("x.real", "eval"),
    ("x.gi_frame", "eval"),
    ("x.f_back.f_globals", "eval"),
    ("x.mro()", "eval"),
    ("x.__class__ = y", "exec"),
    ("x.y = 1", "exec"),
    ("del x.y", "exec"),
    # functions, frames and globals
    ("(lambda: 0).__globals__", "eval"),
    ("(lambda: 0)()", "eval"),
    ("lambda: 0", "eval"),
    ("def f():\n    pass", "exec"),
    ("async def f():\n    pass", "exec"),
    ("class A:\n    pass", "exec"),
    ("getattr(x, '__class__')", "eval"),
    ("getattr(x, 'upper')()", "eval"),
    ("setattr(x, 'a', 1)", "eval"),
    ("delattr(x, 'a')", "eval"),
    ("hasattr(x, 'a')", "eval"),
    ("type(x)", "eval"),
    ("type(x).__mro__", "eval"),
    ("type('A', (), {})", "eval"),
    ("vars()", "eval"),
    ("vars(x)", "eval"),
    ("globals()", "eval"),
    ("locals()", "eval"),
    ("dir()", "eval"),
    ("object()", "eval"),
    ("super()", "eval"),
    ("id(x)", "eval"),
    ("iter([])", "eval"),
    ("next(x)", "eval"),
    ("memoryview(x)", "eval"),
    ("bytearray(10)", "eval"),
    ("classmethod(x)", "eval"),
    ("format(x, '>1000000000')", "eval"),
    # code execution and I/O
    ("eval('1')", "eval"),
    ("exec('x = 1')", "eval"),
    ("compile('1', '', 'eval')", "eval"),
    ("open('/etc/passwd')", "eval"),
    ("open('/etc/passwd').read()", "eval"),
    ("input()", "eval"),
    ("breakpoint()", "eval"),
    ("help()", "eval"),
    ("exit()", "eval"),
    ("quit()", "eval"),
    # builtins by name
    ("__builtins__", "eval"),
    ("__builtins__['eval']('1')", "eval"),
    ("x = __builtins__", "exec"),
    ("del __builtins__", "exec"),
    ("__loader__", "eval"),
    ("__spec__", "eval"),
    ("__name__", "eval"),
    ("__debug__", "eval"),
    # statements outside the subset
    ("with open('x') as f:\n    pass", "exec"),
    ("try:\n    pass\nexcept Exception:\n    pass", "exec"),
    ("raise ValueError()", "exec"),
    ("assert False", "exec"),
    ("global x", "exec"),
    ("nonlocal x", "exec"),
    ("yield 1", "exec"),
    ("await x", "exec"),
    ("return 1", "exec"),
    ("(y := 1)", "eval"),
    ("match x:\n    case 1:\n        pass", "exec"),
    ("a: int = 1", "exec"),
    ("x @ y", "eval"),
    ("a, *b = [1, 2]", "exec"),
    # format-string tricks
    ("'{0.__class__}'.format(x)", "eval"),
    ("'{0.__init__.__globals__}'.format(x)", "eval"),
    ("'{x}'.format_map({'x': 1})", "eval"),
    ("str.format('{}', x)", "eval"),
    ("'%s' % x", "eval"),
    ("'%(a)s' % {'a': x}", "eval"),
    ("'%*s' % (10**9, 'x')", "eval"),
    ("f'{x.__class__}'", "eval"),
    ("f'{x!r:>{10**9}}'", "eval"),
    ("f'{x:{\"<\"}{10}}'", "eval"),
    ("f'{x:>1000000000}'", "eval"),
    ("f'{x:.1000f}'", "eval"),
    ("f'{x:%Y-%m-%d}'", "eval"),
    # callables smuggled into builtins
    ("sorted([3, 1], key=len)", "eval"),
    ("sorted(x, key=x)", "eval"),
    ("max([1], key=abs)", "eval"),
    ("min([1], key=x)", "eval"),
    ("x.sort(key=len)", "eval"),
    ("dict(**x)", "eval"),
    ("len(x)()", "eval"),
    ("x[0]()", "eval"),
    ("isinstance(x, object)", "eval"),
    ("isinstance(x, type(x))", "eval"),
    # generators that could escape into data
    ("g = (y for y in [1])", "exec"),
    ("[y for y in (z for z in [1])]", "eval"),
    # unicode: Python's parser NFKC-normalises identifiers
    ("＿＿import＿＿('os')", "eval"),
    ("ｅｖａｌ('1')", "eval"),
    ("x.＿＿class＿＿", "eval"),
    ("_＿import＿＿('os')", "eval"),         # NFKC: __import__
    ("x._＿class＿＿", "eval"),             # NFKC: x.__class__
    ("_＿builtins＿＿", "eval"),
    ("𝐞𝐱𝐞𝐜('1')", "eval"),
    ("x.__ｃｌａｓｓ__", "eval"),
    # literals outside the subset
    ("b'x'", "eval"),
    ("1j", "eval"),
    ("...", "eval"),
    # parser and evaluator recursion
    ("(" * 10_000 + "1" + ")" * 10_000, "eval"),
    ("-" * 10_000 + "1", "eval"),
    ("-(" * 10_000 + "1" + ")" * 10_000, "eval"),
    ("not " * 10_000 + "x", "eval"),
    (" + ".join(["x"] * 100_000), "eval"),
    ("[" * 150 + "]" * 150, "eval"),
    ("x" + "[0]" * 1000, "eval"),
    ("x" * 200_000, "eval"),
    ("[1 for a in x " + "for b in x " * 3000 + "]", "eval"),
    ("sum(1 for a in x " + "for b in x " * 3000 + ")", "eval"),
    ("1" * 5000, "eval"),
    ("x\x00", "eval"),
]


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox()


@pytest.mark.parametrize(("source", "mode"), STATIC, ids=[s[:40] for s, _ in STATIC])
def test_static_escapes_are_refused_at_check(sandbox: Sandbox, source: str, mode: str) -> None:
    problems = sandbox.check(source, mode)  # type: ignore[arg-type]
    assert problems, f"not refused: {source!r}"
    assert all(p.kind in ("syntax", "forbidden", "limit") for p in problems)
    run = sandbox.evaluate if mode == "eval" else sandbox.execute
    with pytest.raises(ScriptError):
        run(source, {"x": "abc", "y": 1})


# Valid code that must stop on a limit while running (quickly, without the memory).
RUNTIME = [
    "n = 10 ** 10 ** 10",
    "n = 2 ** 100_000",
    "n = 10 ** 5000",
    "n = 1 << 10 ** 6",
    "n = 7\nfor i in range(100):\n    n = n ** 2",
    "n = 2\nfor i in range(100):\n    n = n * n",
    "n = 1\nfor i in range(100_000):\n    n += n",
    "s = 'a' * 10 ** 10",
    "s = 'a' * (10 ** 6 + 1)",
    "l = [1] * 10 ** 10",
    "t = (1,) * 10 ** 10",
    "l = [0] * 10 ** 6 + [0] * 10 ** 6",
    "l = list(range(10 ** 12))",
    "r = range(10 ** 12)",
    "l = [*range(10 ** 7)]",
    "s = 'x'\nfor i in range(100):\n    s = s + s",
    "s = 'x'\nfor i in range(100):\n    s += s",
    "l = ['x']\nfor i in range(100):\n    l = l + l",
    "l = ['x']\nfor i in range(100):\n    l.extend(l)",
    "l = ['x']\nfor i in range(100):\n    l += l",
    "l = ['x']\nfor i in range(100):\n    l *= 2",
    "d = {'a': 'x'}\nfor i in range(100):\n    d['a'] = d['a'] * 2",
    "s = ' '.join(['abc'] * 400_000)",
    "s = ('ab' * 1000).replace('', 'x' * 1000)",
    "s = 'x'.ljust(10 ** 9)",
    "s = 'x'.center(10 ** 9)",
    "s = 'x'.zfill(10 ** 9)",
    "s = f'{10 ** 5000:,}'",
    "n = round(5, -10 ** 8)",
    "n = int('9' * 4000)",
    "while True:\n    pass",
    "while 1:\n    x = 1",
    "for i in range(10 ** 6):\n    for j in range(10 ** 6):\n        pass",
    "l = [1]\nfor x in l:\n    l.append(x)",
    "l = [0]\nn = sum(1 for x in l if l.append(x) is None)",
    "n = sum(x for x in range(10 ** 6) for y in range(10 ** 6))",
    "n = any(False for x in range(10 ** 6) for y in range(10 ** 6))",
    "l = [[0] * 100_000 for i in range(10 ** 6)]",
    "x = []\nfor i in range(100_000):\n    x = [x]",
    "t = ()\nfor i in range(100_000):\n    t = (t,)\nd = {t: 1}",
    "a = []\na.append(a)",
    "d = {}\nd['self'] = d",
    "b = [[[0] * 1000] * 1000] * 1000\ns = str(b)",
    "b = [[[0] * 1000] * 1000] * 1000\ns = f'{b}'",
    "b = [[0] * 1000] * 1000\nc = [b] * 1000\nz = c == c",
    "b = [[0] * 1000] * 1000\nc = [b] * 1000\nz = [0] in c",
    "b = [[0] * 1000] * 1000\nc = [b] * 1000",
]


@pytest.mark.parametrize("script", RUNTIME, ids=[s[:40] for s in RUNTIME])
def test_resource_escapes_stop_on_a_limit(sandbox: Sandbox, script: str) -> None:
    assert sandbox.check(script, "exec") == []
    start = time.monotonic()
    with pytest.raises(ScriptError) as err:
        sandbox.execute(script, {})
    assert err.value.kind in ("limit", "runtime"), err.value
    if script != "n = int('9' * 4000)":   # Python's own digit limit answers first
        assert err.value.kind == "limit", err.value
    assert time.monotonic() - start < 5


def test_percent_formatting_of_a_string_variable_is_refused(sandbox: Sandbox) -> None:
    with pytest.raises(ScriptError) as err:
        sandbox.execute("s = '%s'\nt = s % (1,)", {})
    assert err.value.line == 2 and "f-string" in err.value.message


def test_keys_that_look_like_dunders_are_plain_data(sandbox: Sandbox) -> None:
    """Strings are data: no key or value reaches an attribute."""
    data: dict = {}
    sandbox.execute("d = {'__getattr__': 1, '__class__': 'x', '__globals__': {}}\n"
                    "v = d['__class__']\nk = sorted(d)", data)
    assert data["v"] == "x" and data["k"] == ["__class__", "__getattr__", "__globals__"]
    assert sandbox.check("d['__class__'].__class__", "eval")


def test_data_named_like_functions_does_not_become_callable(sandbox: Sandbox) -> None:
    with pytest.raises(ScriptError):
        sandbox.evaluate("f(1)", {"f": print})
    # Names in task data never shadow (or become) functions.
    assert sandbox.evaluate("len('ab')", {"len": eval}) == 2


def test_values_from_task_data_expose_no_methods(sandbox: Sandbox) -> None:
    import os

    with pytest.raises(ScriptError) as err:
        sandbox.evaluate("m.system('true')", {"m": os})
    assert err.value.kind in ("forbidden", "runtime")
    with pytest.raises(ScriptError):
        sandbox.evaluate("m.getcwd()", {"m": os})
    with pytest.raises(ScriptError):
        sandbox.evaluate("m[0]", {"m": os})


def test_the_sandbox_never_calls_eval_exec_or_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    """A full script runs while eval/exec are booby-trapped and compile only
    produces ASTs (ast.parse is the one caller allowed)."""
    real_compile = builtins.compile
    calls: list[int] = []

    def only_ast(source: object, filename: object, mode: str, flags: int = 0, *args: object,
                 **kwargs: object) -> object:
        assert flags & ast.PyCF_ONLY_AST, "compile() asked for bytecode"
        calls.append(flags)
        return real_compile(source, filename, mode, flags, *args, **kwargs)  # type: ignore[call-overload]

    def trap(*args: object, **kwargs: object) -> None:
        raise AssertionError("eval/exec called")

    script = """
total = 0
fees = {'base': 250000000, 'floor': 40000000}
for i, floor in enumerate(range(floors)):
    if i % 2 == 0:
        total += fees['floor']
    else:
        total += fees['floor'] // 2
labels = [f"{k}: {v:,}" for k, v in sorted(fees.items())]
ok = all(x > 0 for x in fees.values()) and any(l.startswith('b') for l in labels)
j = to_jalali(add_days('2024-03-20', 10))
summary = ', '.join(labels).upper()
"""
    monkeypatch.setattr(builtins, "eval", trap)
    monkeypatch.setattr(builtins, "exec", trap)
    monkeypatch.setattr(builtins, "compile", only_ast)
    sandbox = Sandbox()
    data = {"floors": 3}
    sandbox.execute(script, data)
    assert sandbox.evaluate("total > 0 and ok", data) is True
    sandbox.execute(script, data)   # cached: parsed once
    assert len(calls) == 2
    assert data["j"] == "1403/01/11"


def test_a_failed_attack_leaves_the_sandbox_usable(sandbox: Sandbox) -> None:
    for source, mode in STATIC[:20]:
        with pytest.raises(ScriptError):
            (sandbox.evaluate if mode == "eval" else sandbox.execute)(source, {"x": 1})
    assert sandbox.evaluate("len([1, 2])", {}) == 2


def test_escape_lists_are_broad() -> None:
    assert len(STATIC) + len(RUNTIME) >= 150
