"""Date helpers for model code: ISO 8601 strings in, ISO 8601 strings out.

Task data is JSON, so dates are strings there (``'2024-03-20'``,
``'2024-03-20T08:30:00+03:30'``) and these helpers take and return strings
(``date``/``datetime`` values put in task data by server code work too).
Jalali dates are ``'1403/01/01'`` strings, converted with :mod:`jdatetime`;
Persian and Arabic-Indic digits are accepted. ``now()`` and ``today()`` read
the run's injected clock in its time zone (Iran time by default).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import jdatetime

from engine.sandbox_limits import Run
from engine.sandbox_ops import INTS, fail, type_name

_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def _parse_when(value: Any) -> date | datetime:
    if type(value) in (date, datetime):
        return value
    if type(value) is not str:
        raise fail(f"TypeError: expected an ISO date string, not {type_name(value)}")
    text = value.strip().translate(_DIGITS)
    if len(text) > 40:
        raise fail("ValueError: not an ISO date")
    return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)


def _day(value: Any) -> date:
    when = _parse_when(value)
    return when.date() if isinstance(when, datetime) else when


def _now(run: Run, /) -> str:
    return run.now().astimezone(run.tz).isoformat(timespec="seconds")


def _today(run: Run, /) -> str:
    return run.now().astimezone(run.tz).date().isoformat()


def _date(run: Run, year: Any, month: Any, day: Any, /) -> str:
    return date(year, month, day).isoformat()


def _add_days(run: Run, when: Any, days: Any, /) -> Any:
    parsed = _parse_when(when)
    moved = parsed + timedelta(days=days)
    return moved.isoformat() if type(when) is str else moved


def _days_between(run: Run, start: Any, end: Any, /) -> int:
    return (_day(end) - _day(start)).days


def _years_between(run: Run, start: Any, end: Any, /) -> int:
    a, b = _day(start), _day(end)
    years = b.year - a.year
    if (b.month, b.day) < (a.month, a.day):
        years -= 1
    return years


def _duration(run: Run, /, *, weeks: Any = 0, days: Any = 0, hours: Any = 0, minutes: Any = 0,
              seconds: Any = 0) -> str:
    parts = {"weeks": weeks, "days": days, "hours": hours, "minutes": minutes, "seconds": seconds}
    for name, v in parts.items():
        if type(v) not in INTS or not 0 <= v <= 1_000_000:
            raise fail(f"ValueError: duration({name}=...) must be a whole number from 0 to 1,000,000")
    d = days + 7 * weeks
    out = f"P{d}D" if d else "P"
    clock = "".join(f"{v}{u}" for v, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if v)
    if clock:
        out += "T" + clock
    return out if out != "P" else "PT0S"


def _to_jalali(run: Run, when: Any, /) -> str:
    return jdatetime.date.fromgregorian(date=_day(when)).strftime("%Y/%m/%d")


def _from_jalali(run: Run, text: Any, /) -> str:
    if type(text) is not str or len(text) > 20:
        raise fail("TypeError: from_jalali() expects a 'YYYY/MM/DD' string")
    parts = text.strip().translate(_DIGITS).replace("-", "/").split("/")
    if len(parts) != 3 or not all(p.isascii() and p.isdecimal() for p in parts):
        raise fail(f"ValueError: not a Jalali date: {text!r}")
    y, m, d = (int(p) for p in parts)
    return jdatetime.date(y, m, d).togregorian().isoformat()


DATE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "now": _now, "today": _today, "date": _date, "add_days": _add_days,
    "days_between": _days_between, "years_between": _years_between, "duration": _duration,
    "to_jalali": _to_jalali, "from_jalali": _from_jalali,
}
