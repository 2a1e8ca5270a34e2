"""Injected time: every part of the engine asks a :class:`Clock` for ``now()``.

Production uses :class:`SystemClock`; tests and ``panjereh run --clock
virtual`` use :class:`VirtualClock` and move time forward by hand, so timers,
job backoff and lease expiry are tested without sleeping. Times are always
timezone-aware (UTC); a naive datetime is refused where it enters.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """A source of the current time."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


def require_aware(value: datetime, what: str = "datetime") -> datetime:
    """``value`` converted to UTC; a naive datetime is a programming error."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


class SystemClock:
    """The real wall clock, in UTC."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        return datetime.now(UTC)


class VirtualClock:
    """A clock that only moves when told to; safe to share between threads."""

    DEFAULT_START = datetime(2025, 3, 21, 8, 0, tzinfo=UTC)  # Nowruz 1404, a readable fixed start

    def __init__(self, start: datetime | None = None) -> None:
        self._now = require_aware(start or self.DEFAULT_START, "start")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The virtual current time."""
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move time forward by ``delta`` (never backwards) and return the new time."""
        if delta < timedelta(0):
            raise ValueError(f"a virtual clock only moves forward, got {delta}")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, moment: datetime) -> datetime:
        """Jump to ``moment`` (aware); returns it in UTC."""
        moment = require_aware(moment, "moment")
        with self._lock:
            self._now = moment
            return moment
