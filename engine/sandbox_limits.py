"""Limits, errors and the per-run budget of the safe evaluator (:mod:`engine.sandbox`).

A model's code runs under a :class:`Limits` value. Every run gets a fresh
:class:`Budget` that counts *steps* (one per AST node evaluated, more for
operations whose cost grows with their operands), *allocation* (characters and
items created over the whole run) and wall time read from an injected
monotonic clock every ``check_every`` steps. Sizes are checked before Python
allocates anything, so ``'a' * 10**9`` is refused without touching memory.

Errors raised here and by the interpreter are :class:`ScriptError` values with
a ``kind``:

    ScriptError (PanjerehError)
        kind = "syntax"     the text is not Python
               "forbidden"  a construct outside the supported subset
               "limit"      a step, time, size or nesting limit was reached
               "runtime"    the code failed (division by zero, bad operands ...)
               "name"       a name is not defined in the task data
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from itertools import chain
from math import isfinite
from typing import Any, Literal, Protocol

from bpmn.errors import PanjerehError

Kind = Literal["syntax", "forbidden", "limit", "runtime", "name"]


@dataclass(frozen=True)
class Limits:
    """How much one evaluation or script may do. The defaults suit gateway
    conditions and the short scripts of government procedures."""

    max_steps: int = 100_000          # AST node evaluations (+ cost of long operations)
    max_seconds: float = 1.0          # wall time, read from the injected monotonic clock
    check_every: int = 256            # steps between two clock readings
    max_length: int = 1_000_000       # characters of one string / items of one container
    max_alloc: int = 10_000_000       # characters + items created during one run
    max_int_bits: int = 4096          # about 1,233 decimal digits
    max_depth: int = 100              # nesting of the code itself (AST levels)
    max_data_depth: int = 64          # nesting of values (lists in lists ..., hashed tuples)
    max_data_size: int = 20_000_000   # size of task data after a script, shared parts counted each time
    max_source: int = 100_000         # characters of one script or expression

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not value > 0:
                raise ValueError(f"Limits.{name} must be positive, not {value!r}")


@dataclass(frozen=True)
class ScriptProblem:
    """One thing wrong with a script, found without running it.

    ``line`` and ``col`` are 1-based and count characters of the text given to
    the sandbox (``col`` may be None when only the line is known).
    """

    kind: Kind
    message: str
    line: int | None = None
    col: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.message}"


class ScriptError(PanjerehError):
    """A model's script or expression could not be checked or run.

    ``kind`` is one of syntax | forbidden | limit | runtime | name; ``line``
    and ``col`` locate the problem in the script (1-based) when known.
    """

    def __init__(self, kind: Kind, message: str, *, line: int | None = None,
                 col: int | None = None) -> None:
        super().__init__(message)
        self.kind: Kind = kind
        self.message = message
        self.line = line
        self.col = col
        # The innermost AST node being evaluated when the error happened; the
        # sandbox turns it into line and column (it knows the source offsets).
        self.node: Any = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (workers): keep every field.
        return (ScriptError, (self.kind, self.message), {"line": self.line, "col": self.col})

    @classmethod
    def from_problem(cls, problem: ScriptProblem) -> ScriptError:
        """The error that reports a static problem."""
        return cls(problem.kind, problem.message, line=problem.line, col=problem.col)

    @property
    def problem(self) -> ScriptProblem:
        """The same facts as a :class:`ScriptProblem` value."""
        return ScriptProblem(self.kind, self.message, self.line, self.col)

    def __str__(self) -> str:
        return str(self.problem)


def limit(message: str) -> ScriptError:
    """A ``limit`` error (raised by the caller)."""
    return ScriptError("limit", message)


class Budget:
    """The counters of one run: steps, allocation and wall time.

    The interpreter inherits from this class; built-in functions receive the
    interpreter and charge it for the work they are about to do.
    """

    __slots__ = ("_deadline", "_monotonic", "_next_check", "allocated", "limits", "steps")

    def __init__(self, limits: Limits, monotonic: Callable[[], float]) -> None:
        self.limits = limits
        self.steps = 0
        self.allocated = 0
        self._monotonic = monotonic
        self._deadline = monotonic() + limits.max_seconds
        self._next_check = min(limits.check_every, limits.max_steps + 1)

    def charge(self, steps: int) -> None:
        """Count ``steps`` units of work; raise when the budget is spent."""
        self.steps += steps
        if self.steps >= self._next_check:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Compare the counters with the limits (called every ``check_every`` steps)."""
        lim = self.limits
        if self.steps > lim.max_steps:
            raise limit(f"the code took more than {lim.max_steps:,} steps (an endless loop?)")
        if self._monotonic() > self._deadline:
            raise limit(f"the code ran for more than {lim.max_seconds:g} s")
        self._next_check = min(self.steps + lim.check_every, lim.max_steps + 1)

    def grow(self, size: int, what: str = "value", added: int | None = None) -> None:
        """Allow a string or container of ``size`` characters/items, ``added`` of
        them new (all of them unless told), or raise."""
        lim = self.limits
        if size > lim.max_length:
            raise limit(f"a {what} of {size:,} characters or items is longer than the limit of "
                        f"{lim.max_length:,}")
        added = size if added is None else added
        self.allocated += added
        if self.allocated > lim.max_alloc:
            raise limit(f"the code created more than {lim.max_alloc:,} characters and items in all")
        # Copying is work too: long values make the step budget run out sooner.
        if added > 64:
            self.charge(added >> 6)

    def int_bits(self, bits: int | float) -> None:
        """Allow an integer result of about ``bits`` bits, or raise."""
        if bits > self.limits.max_int_bits:
            raise limit(f"an integer of about {int(bits):,} bits is larger than the limit of "
                        f"{self.limits.max_int_bits:,} bits")


class Run(Protocol):
    """What a built-in function or method sees of the run calling it."""

    limits: Limits
    steps: int
    tz: tzinfo

    def charge(self, steps: int) -> None: ...
    def grow(self, size: int, what: str = ..., added: int | None = ...) -> None: ...
    def int_bits(self, bits: float) -> None: ...
    def now(self) -> datetime: ...


# --- sizes of values -----------------------------------------------------------

_CONTAINERS = frozenset({list, tuple, dict, set, frozenset})
_END = object()


def _scalar_size(v: Any) -> int:
    t = type(v)
    if t is str:
        return len(v) + 2
    if t is int:
        return 2 + (v.bit_length() >> 1)
    return 24


def _children(v: Any) -> Iterator[Any]:
    return chain.from_iterable(v.items()) if type(v) is dict else iter(v)


NOT_A_JSON_NUMBER = "a number JSON cannot hold"  # how NaN and the infinities are refused (the sandbox says it too)


def measure(value: Any, limits: Limits, refuse: Mapping[type, str] | None = None) -> int:
    """About how many characters ``value`` would print as, counting shared
    parts each time they appear (as printing, comparing or JSON would).

    The walk visits each container once (sizes of shared parts are
    remembered), so ``[[[0] * 1000] * 1000] * 1000`` is measured at once.
    Raises a ``limit`` error for values nested deeper than
    ``limits.max_data_depth`` or containing themselves, and a ``runtime``
    error for a part whose type is in ``refuse`` (type -> what to call it) or,
    with ``refuse``, for a float that is NaN or infinite (task data is JSON).
    """
    if type(value) not in _CONTAINERS:
        return _scalar_size(value)
    max_depth = limits.max_data_depth
    known: dict[int, tuple[int, int]] = {}   # id -> (size, height) of finished containers
    open_ids = {id(value)}
    # frames: [container, its children, size so far, height of tallest child]
    frames: list[list[Any]] = [[value, _children(value), 2 + 2 * len(value), 0]]
    while True:
        frame = frames[-1]
        child = next(frame[1], _END)
        if child is _END:
            frames.pop()
            open_ids.discard(id(frame[0]))
            size, height = frame[2], frame[3] + 1
            if not frames:
                return size
            known[id(frame[0])] = (size, height)
            parent = frames[-1]
            parent[2] += size
            parent[3] = max(parent[3], height)
            continue
        if refuse and type(child) in refuse:
            raise ScriptError("runtime", f"it holds {refuse[type(child)]}")
        if type(child) not in _CONTAINERS:
            if refuse and type(child) is float and not isfinite(child):
                raise ScriptError("runtime", f"it holds {child!r}, {NOT_A_JSON_NUMBER}")
            frame[2] += _scalar_size(child)
            continue
        cid = id(child)
        seen = known.get(cid)
        if seen is not None:
            if len(frames) + seen[1] > max_depth:
                raise _too_deep(max_depth)
            frame[2] += seen[0]
            frame[3] = max(frame[3], seen[1])
            continue
        if cid in open_ids:
            raise limit("a value contains itself")
        if len(frames) >= max_depth:
            raise _too_deep(max_depth)
        open_ids.add(cid)
        frames.append([child, _children(child), 2 + 2 * len(child), 0])


def _too_deep(max_depth: int) -> ScriptError:
    return limit(f"a value is nested more than {max_depth} levels deep")


def check_key(value: Any, limits: Limits) -> None:
    """Refuse a dict key or set member that is a tuple nested too deeply.

    Python hashes nested tuples recursively in C without a depth guard; a deep
    enough tuple crashes the whole server, so the depth is bounded here.
    """
    if type(value) is not tuple:
        return
    stack = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if depth >= limits.max_data_depth:
            raise limit(f"a tuple used as a key is nested more than {limits.max_data_depth} levels deep")
        stack.extend((item, depth + 1) for item in v if type(item) is tuple)
