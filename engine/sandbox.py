"""The safe evaluator for the code inside models (DESIGN.md §4, §8).

Gateway conditions, script tasks, timer expressions, multi-instance and
service-task parameters are Python in SpiffWorkflow. Panjereh never hands them
to ``eval``/``exec``: :class:`Sandbox` parses them with :mod:`ast`, checks
every node against a whitelist (:mod:`engine.sandbox_check`), and interprets
the tree itself (:mod:`engine.sandbox_interp`) under :class:`Limits`.

    sandbox.py           this API: check, evaluate, execute; the parse cache
    sandbox_check.py     the static whitelist
    sandbox_interp.py    the tree-walking interpreter
    sandbox_ops.py       guarded operators, conversions, size estimates
    sandbox_builtins.py  functions (len, sorted, range ...)
    sandbox_methods.py   methods of str, list, dict, set, tuple
    sandbox_dates.py     date and Jalali helpers
    sandbox_limits.py    Limits, ScriptError, the per-run budget

The supported subset: literals (int, float, str, bool, None, list, tuple,
dict, set), names, assignment (augmented, tuple unpacking, into subscripts),
arithmetic, comparison and boolean operators, ``x if c else y``, subscripts
and slices, ``if``/``elif``/``else``, ``for`` and ``while`` (with ``else``,
``break``, ``continue``), ``pass``, ``del``, comprehensions, generator
expressions as function arguments, f-strings with simple format specs, the
functions of :data:`engine.sandbox_builtins.FUNCTIONS` (plus any the server
adds) and the methods of :data:`engine.sandbox_methods.METHODS`. Nothing
else: no imports, no ``def``/``lambda``/``class``, no ``try``/``raise``/``with``,
no attribute access except those method calls, no name or attribute starting
with ``_`` (a lone ``_`` variable excepted), no ``str.format`` or
``%``-formatting.

Errors are :class:`ScriptError` (kinds syntax | forbidden | limit | runtime |
name, with line and column); :meth:`Sandbox.check` reports static problems as
:class:`ScriptProblem` values without running anything.
"""

from __future__ import annotations

import ast
import functools
import inspect
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, Literal

from engine.sandbox_builtins import FUNCTIONS
from engine.sandbox_check import Checker, SourceMap
from engine.sandbox_interp import Interpreter
from engine.sandbox_limits import Limits, ScriptError, ScriptProblem
from engine.sandbox_ops import LazySeq, items_of

__all__ = ["DEFAULT_LIMITS", "IRAN_TIME", "Limits", "Mode", "Sandbox", "ScriptError", "ScriptProblem"]

Mode = Literal["eval", "exec"]
DEFAULT_LIMITS = Limits()
# Iran Standard Time; Iran has kept no daylight saving time since 2022.
IRAN_TIME = timezone(timedelta(hours=3, minutes=30), "IRST")
_MAX_PROBLEMS = 20


def _prepare(source: str, mode: Mode) -> tuple[str, SourceMap]:
    """The text to parse. Expressions are stripped (as ``eval`` does); scripts
    lose their common indentation (XML pretty-printing indents them)."""
    if mode == "eval":
        body = source.lstrip()
        prefix = source[: len(source) - len(body)]
        body = body.rstrip()
        return body, SourceMap(tuple(body.split("\n")), prefix.count("\n"),
                               len(prefix) - (prefix.rfind("\n") + 1))
    lines = source.split("\n")
    indents = [ln[: len(ln) - len(ln.lstrip(" \t"))] for ln in lines if ln.strip()]
    margin = indents[0] if indents else ""
    for ind in indents[1:]:
        while not ind.startswith(margin):
            margin = margin[:-1]
    body_lines = [ln[len(margin):] if ln.strip() else "" for ln in lines]
    return "\n".join(body_lines), SourceMap(tuple(body_lines), margin=len(margin))


@dataclass(frozen=True)
class _Compiled:
    tree: ast.Module | ast.Expression | None
    problems: tuple[ScriptProblem, ...]
    text: SourceMap

    def locate(self, exc: ScriptError) -> ScriptError:
        """Fill in the line and column of an error raised while running."""
        node = exc.node
        if node is not None and exc.line is None:
            exc.line, exc.col = self.text.position(getattr(node, "lineno", None),
                                                   getattr(node, "col_offset", None), byte_col=True)
        exc.node = None
        return exc


class Sandbox:
    """Checks and runs the code of models; safe to share between threads.

    ``functions`` adds server-side functions scripts may call (trusted Python
    callables; they receive plain values). ``now`` is the injected clock
    (``Clock.now``) behind ``now()``/``today()``; ``monotonic`` measures the
    time limit; ``tz`` is the zone of ``now()`` and ``today()``.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS,
                 functions: Mapping[str, Callable[..., Any]] | None = None, *,
                 now: Callable[[], datetime] | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 tz: tzinfo = IRAN_TIME, cache_size: int = 1024) -> None:
        self.limits = limits
        self._monotonic = monotonic
        self._tz = tz
        self._clock = now or (lambda: datetime.now(UTC))
        self._functions: dict[str, Callable[..., Any]] = dict(FUNCTIONS)
        # Signatures for checking calls statically: (signature, parameters to skip).
        self._signatures: dict[str, tuple[inspect.Signature, int] | None] = {
            name: (inspect.signature(fn), 1) for name, fn in FUNCTIONS.items()
        }
        for name, fn in (functions or {}).items():
            if not name.isidentifier() or name.startswith("_"):
                raise ValueError(f"not a usable function name: {name!r}")
            self._functions[name] = _server_function(fn)
            try:
                self._signatures[name] = (inspect.signature(fn), 0)
            except (TypeError, ValueError):
                self._signatures[name] = None
        self._compile = functools.lru_cache(maxsize=cache_size)(self._compile_uncached)

    # --- public API -------------------------------------------------------------------

    def check(self, source: str, mode: Mode) -> list[ScriptProblem]:
        """Static problems of an expression (``eval``) or script (``exec``): syntax
        errors, forbidden constructs, unknown functions, code nested too deeply.
        An empty list means the code can run (it may still fail on its data)."""
        if mode not in ("eval", "exec"):
            raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
        if not isinstance(source, str):
            return [ScriptProblem("syntax", "the code is not text")]
        return list(self._compile(source, mode).problems)

    def evaluate(self, expression: str, context: Mapping[str, Any]) -> Any:
        """The value of ``expression`` with the names of ``context`` (task data).

        Raises :class:`ScriptError`; a name missing from ``context`` is kind ``name``.
        """
        compiled = self._ready(expression, "eval")
        run = Interpreter(self.limits, context, self._functions, self._monotonic, self._now, self._tz)
        try:
            return run.evaluate(compiled.tree)  # type: ignore[arg-type]
        except ScriptError as exc:
            raise compiled.locate(exc) from None

    def execute(self, script: str, context: MutableMapping[str, Any]) -> None:
        """Run ``script`` against ``context`` (task data), which its assignments update.

        As with ``exec``, changes made before an error stay in ``context``.
        Afterwards every value in ``context`` must be storable as task data
        (no sets, ranges or dict views; not nested too deeply or too large).
        """
        compiled = self._ready(script, "exec")
        run = Interpreter(self.limits, context, self._functions, self._monotonic, self._now, self._tz)
        try:
            run.execute(compiled.tree)  # type: ignore[arg-type]
        except ScriptError as exc:
            raise compiled.locate(exc) from None

    # --- internals ----------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock()
        return now if now.tzinfo is not None else now.replace(tzinfo=UTC)

    def _ready(self, source: str, mode: Mode) -> _Compiled:
        if not isinstance(source, str):
            raise ScriptError("syntax", "the code is not text")
        compiled = self._compile(source, mode)
        if compiled.problems:
            raise ScriptError.from_problem(compiled.problems[0])
        return compiled

    def _compile_uncached(self, source: str, mode: Mode) -> _Compiled:
        empty = SourceMap(())
        if len(source) > self.limits.max_source:
            return _Compiled(None, (ScriptProblem(
                "limit", f"the code is {len(source):,} characters long; the limit is "
                         f"{self.limits.max_source:,}", 1),), empty)
        body, text = _prepare(source, mode)
        if mode == "eval" and not body:
            return _Compiled(None, (ScriptProblem("syntax", "the expression is empty", 1),), text)
        try:
            tree = ast.parse(body, mode=mode)
        except SyntaxError as exc:
            line, col = text.position(exc.lineno, exc.offset, byte_col=False)
            return _Compiled(None, (ScriptProblem("syntax", f"syntax error: {exc.msg}", line, col),), text)
        except ValueError as exc:   # null bytes
            return _Compiled(None, (ScriptProblem("syntax", f"syntax error: {exc}", 1),), text)
        except (MemoryError, RecursionError):
            return _Compiled(None, (ScriptProblem("limit", "the code is nested too deeply", 1),), text)
        checker = Checker(self.limits, self._signatures, text)
        checker.walk(tree)
        problems = sorted(checker.problems, key=lambda p: (p.line or 0, p.col or 0))
        return _Compiled(None if problems else tree, tuple(problems[:_MAX_PROBLEMS]), text)


def _server_function(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Adapt a server-side function: it gets plain values, never the run."""
    def call(run: Interpreter, *args: Any, **kwargs: Any) -> Any:
        args = tuple(items_of(run, a) if type(a) is LazySeq else a for a in args)
        return fn(*args, **kwargs)
    call.__name__ = getattr(fn, "__name__", "function")
    return call
