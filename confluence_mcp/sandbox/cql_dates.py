"""Dates in CQL: literals (`"2024/01/31 13:45"`, `"2024-01-31"`, ...) and functions (`now("-4w")`,
`startOfMonth("+1M")`, ...) resolved to a half-open UTC interval `[start, end)`.

A literal's interval is its precision (a whole day for a date, one minute for date + time); a function names an
instant (interval of one microsecond). Comparisons then read naturally: `created = "2024-01-31"` is any time that
day, `created > "2024-01-31"` starts the next day, `created >= "2024-01-31"` includes it. Increments
(`(+|-)nn(y|M|w|d|h|m)`, several allowed, no sign means +) are applied after the start/end of the period.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta

from confluence_mcp.sandbox.cql import CqlError, FunctionCall, Value

__all__ = ["DateInterval", "resolve_date"]

DateInterval = tuple[datetime, datetime]

_LITERAL_FORMATS = (
    ("%Y/%m/%d %H:%M", timedelta(minutes=1)),
    ("%Y-%m-%d %H:%M", timedelta(minutes=1)),
    ("%Y/%m/%d", timedelta(days=1)),
    ("%Y-%m-%d", timedelta(days=1)),
)
_INCREMENT = re.compile(r"\s*([+-]?)\s*(\d+)\s*([yMwdhm])")
_INSTANT = timedelta(microseconds=1)
_PERIODS = ("day", "week", "month", "year")


def _add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _apply_increment(moment: datetime, increment: str) -> datetime:
    text = increment.strip()
    if not text:
        return moment
    position = 0
    while position < len(text):
        match = _INCREMENT.match(text, position)
        if match is None:
            raise CqlError(f"bad date increment '{increment}'")
        sign = -1 if match.group(1) == "-" else 1
        amount, unit = sign * int(match.group(2)), match.group(3)
        if unit == "y":
            moment = _add_months(moment, 12 * amount)
        elif unit == "M":
            moment = _add_months(moment, amount)
        else:
            step = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1),
                    "m": timedelta(minutes=1)}[unit]
            moment = moment + amount * step
        position = match.end()
    return moment


def _start_of(period: str, moment: datetime) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":  # ISO weeks start on Monday
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _next_start(period: str, moment: datetime) -> datetime:
    start = _start_of(period, moment)
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(weeks=1)
    if period == "month":
        return _add_months(start, 1)
    return start.replace(year=start.year + 1)


def _resolve_function(call: FunctionCall, now: datetime) -> datetime:
    name = call.name.lower()
    if len(call.args) > 1:
        raise CqlError(f"{call.name}() takes at most one argument")
    increment = call.args[0] if call.args else ""
    if name == "now":
        return _apply_increment(now, increment)
    for period in _PERIODS:
        if name == f"startof{period}":
            return _apply_increment(_start_of(period, now), increment)
        if name == f"endof{period}":
            return _apply_increment(_next_start(period, now) - _INSTANT, increment)
    raise CqlError(f"unknown date function '{call.name}()'")


def resolve_date(value: Value, now: datetime) -> DateInterval:
    """The UTC interval a date value stands for; raises CqlError for anything that is not a date."""
    if isinstance(value, FunctionCall):
        instant = _resolve_function(value, now)
        return instant, instant + _INSTANT
    text = value.strip()
    for pattern, precision in _LITERAL_FORMATS:
        try:
            start = datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
        return start, start + precision
    raise CqlError(f"'{value}' is not a date (use \"yyyy/MM/dd HH:mm\", \"yyyy-MM-dd\" or a date function)")
