"""Five-field cron expressions, evaluated in UTC: pure functions of an expression and a time.

``minute hour day-of-month month day-of-week``, each field ``*``, a number, a range ``a-b``, a
step ``*/n``, ``a-b/n`` or ``a/n`` (``a`` to the field's maximum), or a comma-separated list of
those. Day of week runs 0-6 from Sunday, and 7 is Sunday too. As in Vixie cron, when both day
fields are restricted (neither starts with ``*``) a day matches if *either* matches; otherwise
both must.

:func:`due` is the scheduler's decision: the start of the period that is due and has not run.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

__all__ = ["CronSchedule", "due", "next_fire", "parse", "previous_fire"]

# (name, lowest, highest) of each field, in order.
_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
)
# How far to search for a firing: "0 0 29 2 *" can go 8 years without one (2096 to 2104).
_SEARCH_YEARS = 9
_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed cron expression; each field is the sorted tuple of the values it allows."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]  # 0 = Sunday … 6 = Saturday
    days_restricted: bool
    weekdays_restricted: bool

    def day_matches(self, year: int, month: int, day: int) -> bool:
        """Whether the date fires (month not checked), with the OR rule for two day fields."""
        in_days = day in self.days
        in_weekdays = (calendar.weekday(year, month, day) + 1) % 7 in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_days or in_weekdays
        return in_days and in_weekdays


def parse(expression: str) -> CronSchedule:
    """Parse a five-field cron expression.

    Raises ``ValueError`` naming the field at fault, for example
    ``cron expression '0 25 * * *': hour field '25': 25 is out of range 0-23``.
    """
    return _parse(expression)


@lru_cache(maxsize=64)
def _parse(expression: str) -> CronSchedule:
    parts = expression.split()
    if len(parts) != len(_FIELDS):
        raise ValueError(
            f"cron expression {expression!r}: expected 5 fields "
            f"(minute hour day-of-month month day-of-week), got {len(parts)}"
        )
    values: list[tuple[int, ...]] = []
    for text, (name, low, high) in zip(parts, _FIELDS, strict=True):
        try:
            values.append(tuple(sorted(_parse_field(text, low, high))))
        except ValueError as exc:
            raise ValueError(
                f"cron expression {expression!r}: {name} field {text!r}: {exc}"
            ) from None
    minutes, hours, days, months, weekdays = values
    schedule = CronSchedule(
        expression=expression,
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=tuple(sorted({d % 7 for d in weekdays})),
        days_restricted=not parts[2].startswith("*"),
        weekdays_restricted=not parts[4].startswith("*"),
    )
    if schedule.days_restricted and not schedule.weekdays_restricted:
        longest = max(29 if m == 2 else calendar.monthrange(2001, m)[1] for m in months)
        if days[0] > longest:
            raise ValueError(
                f"cron expression {expression!r}: day-of-month field {parts[2]!r}: "
                f"no month of month field {parts[3]!r} has day {days[0]}, so it never fires"
            )
    return schedule


def _parse_field(text: str, low: int, high: int) -> set[int]:
    allowed: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        step = _number(step_text, "step") if slash else 1
        if step < 1:
            raise ValueError(f"step {step} must be at least 1")
        if base == "*":
            first, last = low, high
        elif "-" in base:
            start, _, end = base.partition("-")
            first, last = _number(start, "range start"), _number(end, "range end")
            if first > last:
                raise ValueError(f"range {base} runs backwards")
        else:
            first = _number(base, "value")
            last = high if slash else first
        for value in (first, last):
            if not low <= value <= high:
                raise ValueError(f"{value} is out of range {low}-{high}")
        allowed.update(range(first, last + 1, step))
    return allowed


def _number(text: str, what: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise ValueError(f"{what} {text!r} is not a number" if text else f"empty {what}")
    return int(text)


def _schedule(expression: str | CronSchedule) -> CronSchedule:
    return expression if isinstance(expression, CronSchedule) else _parse(expression)


def _utc_minute(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment.isoformat()}")
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def _at_or_after(values: tuple[int, ...], current: int) -> int | None:
    return next((v for v in values if v >= current), None)


def _at_or_before(values: tuple[int, ...], current: int) -> int | None:
    return next((v for v in reversed(values) if v <= current), None)


def next_fire(expression: str | CronSchedule, after: datetime) -> datetime:
    """The first firing strictly after ``after`` (timezone-aware), in UTC.

    Raises ``ValueError`` for a bad expression or a naive datetime."""
    schedule = _schedule(expression)
    t = _utc_minute(after, "after") + _MINUTE
    limit = t.year + _SEARCH_YEARS
    while t.year <= limit:
        if t.month not in schedule.months:
            year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
            t = t.replace(year=year, month=month, day=1, hour=0, minute=0)
        elif not schedule.day_matches(t.year, t.month, t.day):
            t = t.replace(hour=0, minute=0) + timedelta(days=1)
        elif (hour := _at_or_after(schedule.hours, t.hour)) != t.hour:
            if hour is None:
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
            else:
                t = t.replace(hour=hour, minute=0)
        elif (minute := _at_or_after(schedule.minutes, t.minute)) is None:
            t = t.replace(minute=0) + timedelta(hours=1)
        else:
            return t.replace(minute=minute)
    raise ValueError(f"cron expression {schedule.expression!r} never fires after {after}")


def previous_fire(expression: str | CronSchedule, at: datetime) -> datetime | None:
    """The last firing at or before ``at`` (timezone-aware), in UTC; ``None`` when there is
    none within the search window (only near ``datetime.min``).

    Raises ``ValueError`` for a bad expression or a naive datetime."""
    schedule = _schedule(expression)
    t = _utc_minute(at, "at")
    limit = t.year - _SEARCH_YEARS
    try:
        while t.year >= limit:
            if t.month not in schedule.months:
                t = t.replace(day=1, hour=0, minute=0) - _MINUTE
            elif not schedule.day_matches(t.year, t.month, t.day):
                t = t.replace(hour=0, minute=0) - _MINUTE
            elif (hour := _at_or_before(schedule.hours, t.hour)) != t.hour:
                if hour is None:
                    t = t.replace(hour=0, minute=0) - _MINUTE
                else:
                    t = t.replace(hour=hour, minute=59)
            elif (minute := _at_or_before(schedule.minutes, t.minute)) is None:
                t = t.replace(minute=0) - _MINUTE
            else:
                return t.replace(minute=minute)
    except OverflowError:
        return None
    return None


def due(
    expression: str | CronSchedule, last_run: datetime | None, now: datetime
) -> datetime | None:
    """The start of the period that is due at ``now`` and has not run yet, else ``None``.

    The period is the latest firing at or before ``now``; it is due unless ``last_run`` (the
    start of the last period that ran) is that firing or later. Missed periods are not caught
    up one by one: after a long outage only the latest one is due. Pure."""
    period = previous_fire(expression, now)
    if period is None:
        return None
    if last_run is not None and _utc_minute(last_run, "last_run") >= period:
        return None
    return period
