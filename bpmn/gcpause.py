"""Building large structures without the cyclic garbage collector walking over them.

Reading a model, redesigning it and drawing it make tens of thousands of small
objects (flow nodes, shapes, bounds, waypoints, tree proxies) that all stay
alive until the call returns. While they are made, CPython's cyclic collector
runs every few hundred new objects, and every so often walks everything alive,
finding nothing to free: on a model of a few hundred steps that was a tenth of
the time of an analysis, redesign and drawing. :func:`paused_gc` turns the
collector off for the duration of such a call; whatever garbage it leaves is
collected as usual afterwards. Reference counting frees memory as always: only
reference cycles wait, and these calls make none that outlive them.

The collector is switched back on only if it was on before, so a caller that
keeps it off (or another thread that turned it off first) is not overruled.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def paused_gc(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate ``func`` to run with the cyclic garbage collector off."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not gc.isenabled():
            return func(*args, **kwargs)
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            gc.enable()

    return wrapper
