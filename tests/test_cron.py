"""``opsync.cron``: parsing, next and previous firings, and ``due``, as tables; a brute-force
minute-by-minute reference checks random expressions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsync.cron import CronSchedule, due, next_fire, parse, previous_fire


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "field", "values"),
    [
        ("* * * * *", "minutes", tuple(range(60))),
        ("0 */6 * * *", "hours", (0, 6, 12, 18)),
        ("5,10,15 * * * *", "minutes", (5, 10, 15)),
        ("10-12 * * * *", "minutes", (10, 11, 12)),
        ("0-30/10 * * * *", "minutes", (0, 10, 20, 30)),
        ("50/5 * * * *", "minutes", (50, 55)),
        ("0 1-3,20-23/2 * * *", "hours", (1, 2, 3, 20, 22)),
        ("0 0 1,15,31 * *", "days", (1, 15, 31)),
        ("0 0 * */3 *", "months", (1, 4, 7, 10)),
        ("0 0 * * 7", "weekdays", (0,)),
        ("0 0 * * 0,7", "weekdays", (0,)),
        ("0 0 * * 1-5", "weekdays", (1, 2, 3, 4, 5)),
        ("0 0 * * 5-7", "weekdays", (0, 5, 6)),
        ("  0\t0  * *   * ", "minutes", (0,)),
    ],
)
def test_fields_parse_to_their_values(expression: str, field: str, values: tuple[int, ...]) -> None:
    assert getattr(parse(expression), field) == values


@pytest.mark.parametrize(
    ("expression", "days_restricted", "weekdays_restricted"),
    [
        ("0 0 * * *", False, False),
        ("0 0 1 * *", True, False),
        ("0 0 * * 1", False, True),
        ("0 0 1 * 1", True, True),
        ("0 0 */2 * 1", False, True),
    ],
)
def test_a_day_field_is_restricted_unless_it_starts_with_a_star(
    expression: str, days_restricted: bool, weekdays_restricted: bool
) -> None:
    schedule = parse(expression)
    assert (schedule.days_restricted, schedule.weekdays_restricted) == (
        days_restricted,
        weekdays_restricted,
    )


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "expected 5 fields (minute hour day-of-month month day-of-week), got 0"),
        ("0 */6 * *", "expected 5 fields"),
        ("0 0 * * * *", "got 6"),
        ("60 * * * *", "minute field '60': 60 is out of range 0-59"),
        ("0 24 * * *", "hour field '24': 24 is out of range 0-23"),
        ("0 0 0 * *", "day-of-month field '0': 0 is out of range 1-31"),
        ("0 0 32 * *", "day-of-month field '32': 32 is out of range 1-31"),
        ("0 0 * 13 *", "month field '13': 13 is out of range 1-12"),
        ("0 0 * 0 *", "month field '0': 0 is out of range 1-12"),
        ("0 0 * * 8", "day-of-week field '8': 8 is out of range 0-7"),
        ("*/0 * * * *", "minute field '*/0': step 0 must be at least 1"),
        ("0 */x * * *", "hour field '*/x': step 'x' is not a number"),
        ("0 5-2 * * *", "hour field '5-2': range 5-2 runs backwards"),
        ("0 1-2-3 * * *", "hour field '1-2-3': range end '2-3' is not a number"),
        ("0 0 * JAN *", "month field 'JAN': value 'JAN' is not a number"),
        ("0 0 * * MON", "day-of-week field 'MON': value 'MON' is not a number"),
        ("1,,2 * * * *", "minute field '1,,2': empty value"),
        ("-1 * * * *", "minute field '-1': empty range start"),
        ("0 0 1/ * *", "day-of-month field '1/': empty step"),
        ("0 0 30 2 *", "day-of-month field '30': no month of month field '2' has day 30"),
        ("0 0 31 4,6 *", "never fires"),
        ("\uff10 * * * *", "minute field '\uff10': value '\uff10' is not a number"),
    ],
)
def test_bad_expressions_name_the_field(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match="cron expression") as caught:
        parse(expression)
    assert message in str(caught.value)


def test_the_day_field_check_ignores_a_restricted_weekday() -> None:
    # February 30th never comes, but Mondays do: with the OR rule the expression fires.
    assert next_fire("0 0 30 2 1", utc("2026-01-01T00:00")) == utc("2026-02-02T00:00")


# --- next and previous firings -----------------------------------------------------------------

FIRINGS = [
    # expression, moment, next firing strictly after it, last firing at or before it
    ("0 */6 * * *", "2026-04-01T00:00", "2026-04-01T06:00", "2026-04-01T00:00"),
    ("0 */6 * * *", "2026-04-01T05:59:59", "2026-04-01T06:00", "2026-04-01T00:00"),
    ("0 */6 * * *", "2026-04-01T06:00:30", "2026-04-01T12:00", "2026-04-01T06:00"),
    ("0 */6 * * *", "2026-04-01T23:59", "2026-04-02T00:00", "2026-04-01T18:00"),
    ("0 */6 * * *", "2026-04-30T19:00", "2026-05-01T00:00", "2026-04-30T18:00"),
    ("0 */6 * * *", "2026-12-31T18:30", "2027-01-01T00:00", "2026-12-31T18:00"),
    ("0 */6 * * *", "2027-01-01T03:00", "2027-01-01T06:00", "2027-01-01T00:00"),
    ("* * * * *", "2026-04-01T10:15:42", "2026-04-01T10:16", "2026-04-01T10:15"),
    ("*/15 * * * *", "2026-04-01T10:44", "2026-04-01T10:45", "2026-04-01T10:30"),
    ("5,35 9-17 * * *", "2026-04-01T17:40", "2026-04-02T09:05", "2026-04-01T17:35"),
    ("0 0-23/5 * * *", "2026-04-01T21:00", "2026-04-02T00:00", "2026-04-01T20:00"),
    # months and their lengths
    ("0 0 31 * *", "2026-04-15T00:00", "2026-05-31T00:00", "2026-03-31T00:00"),
    ("0 12 1 */3 *", "2026-11-20T00:00", "2027-01-01T12:00", "2026-10-01T12:00"),
    ("30 6 15 6 *", "2026-06-15T06:30", "2027-06-15T06:30", "2026-06-15T06:30"),
    # leap days, over the non-leap century 2100
    ("0 0 29 2 *", "2026-01-01T00:00", "2028-02-29T00:00", "2024-02-29T00:00"),
    ("0 0 29 2 *", "2097-01-01T00:00", "2104-02-29T00:00", "2096-02-29T00:00"),
    ("0 0 28 2 *", "2028-02-28T00:01", "2029-02-28T00:00", "2028-02-28T00:00"),
    # days of week (2026-04-01 is a Wednesday)
    ("0 9 * * 1-5", "2026-04-03T09:30", "2026-04-06T09:00", "2026-04-03T09:00"),
    ("0 0 * * 0", "2026-04-01T00:00", "2026-04-05T00:00", "2026-03-29T00:00"),
    ("0 0 * * 7", "2026-04-01T00:00", "2026-04-05T00:00", "2026-03-29T00:00"),
    ("0 0 * * 6", "2026-12-27T00:00", "2027-01-02T00:00", "2026-12-26T00:00"),
    # both day fields restricted: either one matches (the 13th, or any Friday)
    ("0 0 13 * 5", "2026-04-01T00:00", "2026-04-03T00:00", "2026-03-27T00:00"),
    ("0 0 13 * 5", "2026-04-11T00:00", "2026-04-13T00:00", "2026-04-10T00:00"),
    # a day-of-month starting with * joins the weekday with AND: odd days that are Mondays
    ("0 0 */2 * 1", "2026-04-01T00:00", "2026-04-13T00:00", "2026-03-23T00:00"),
    # a day-of-week starting with * joins with AND too: the 1st, whatever the weekday
    ("0 0 1 * */1", "2026-04-01T00:01", "2026-05-01T00:00", "2026-04-01T00:00"),
]


@pytest.mark.parametrize(("expression", "moment", "following", "preceding"), FIRINGS)
def test_next_and_previous_firings(
    expression: str, moment: str, following: str, preceding: str
) -> None:
    assert next_fire(expression, utc(moment)) == utc(following)
    assert previous_fire(expression, utc(moment)) == utc(preceding)


def test_firings_are_in_utc_whatever_the_zone_of_the_argument() -> None:
    paris_summer = timezone(timedelta(hours=2))
    moment = datetime(2026, 4, 1, 7, 30, tzinfo=paris_summer)  # 05:30 UTC
    assert next_fire("0 */6 * * *", moment) == utc("2026-04-01T06:00")
    assert next_fire("0 */6 * * *", moment).tzinfo is UTC
    assert previous_fire("0 */6 * * *", moment) == utc("2026-04-01T00:00")


def test_a_parsed_schedule_is_accepted_in_place_of_the_text() -> None:
    schedule = parse("0 */6 * * *")
    assert isinstance(schedule, CronSchedule)
    assert next_fire(schedule, utc("2026-04-01T01:00")) == utc("2026-04-01T06:00")


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="after must be timezone-aware"):
        next_fire("* * * * *", datetime(2026, 4, 1))
    with pytest.raises(ValueError, match="at must be timezone-aware"):
        previous_fire("* * * * *", datetime(2026, 4, 1))


def test_no_previous_firing_before_the_calendar_starts() -> None:
    assert previous_fire("0 0 1 1 *", datetime(1, 6, 1, tzinfo=UTC)) == datetime(
        1, 1, 1, tzinfo=UTC
    )
    assert previous_fire("0 12 1 1 *", datetime(1, 1, 1, 6, tzinfo=UTC)) is None


# --- due ---------------------------------------------------------------------------------------

SIX_HOURLY = "0 */6 * * *"


@pytest.mark.parametrize(
    ("last_run", "now", "expected"),
    [
        (None, "2026-04-01T03:00", "2026-04-01T00:00"),  # never ran: the current period
        ("2026-04-01T00:00", "2026-04-01T03:00", None),  # this period already ran
        ("2026-04-01T00:00", "2026-04-01T05:59:59", None),
        ("2026-04-01T00:00", "2026-04-01T06:00", "2026-04-01T06:00"),  # the next one is due
        ("2026-03-28T12:00", "2026-04-01T13:00", "2026-04-01T12:00"),  # an outage: latest only
        ("2026-04-01T12:00", "2026-04-01T07:00", None),  # a later period already ran
        ("2026-04-01T00:00:45", "2026-04-01T00:01", None),
    ],
)
def test_due(last_run: str | None, now: str, expected: str | None) -> None:
    last = utc(last_run) if last_run else None
    assert due(SIX_HOURLY, last, utc(now)) == (utc(expected) if expected else None)


# --- against a minute-by-minute reference ------------------------------------------------------


def _field(low: int, high: int) -> st.SearchStrategy[str]:
    number = st.integers(low, high)
    single = number.map(str)
    ranged = st.tuples(number, number).map(lambda ab: f"{min(ab)}-{max(ab)}")
    stepped = st.tuples(st.sampled_from(["*", *(f"{v}" for v in range(low, high + 1))]), number)
    item = st.one_of(
        st.just("*"),
        single,
        ranged,
        stepped.map(lambda bs: f"{bs[0]}/{max(1, bs[1])}"),
        st.tuples(ranged, st.integers(1, 7)).map(lambda rs: f"{rs[0]}/{rs[1]}"),
    )
    return st.lists(item, min_size=1, max_size=3).map(",".join)


def _matches(schedule: CronSchedule, t: datetime) -> bool:
    in_days = t.day in schedule.days
    in_weekdays = t.isoweekday() % 7 in schedule.weekdays
    if schedule.days_restricted and schedule.weekdays_restricted:
        day = in_days or in_weekdays
    else:
        day = in_days and in_weekdays
    return (
        t.minute in schedule.minutes
        and t.hour in schedule.hours
        and t.month in schedule.months
        and day
    )


EXPRESSIONS = st.tuples(
    _field(0, 59),
    st.sampled_from(["*", "*/6", "0", "1-3", "22,23", "5/7"]),
    st.sampled_from(["*", "1", "*/2", "13", "28-31", "1,15"]),
    st.sampled_from(["*", "4", "4,5", "*/2", "12"]),
    st.sampled_from(["*", "0", "7", "1-5", "3,6", "*/3"]),
).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(
    expression=EXPRESSIONS,
    start=st.datetimes(datetime(2025, 1, 1), datetime(2030, 1, 1)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
)
def test_firings_agree_with_walking_minute_by_minute(expression: str, start: datetime) -> None:
    try:
        schedule = parse(expression)
    except ValueError:
        return  # an expression that never fires (the 31st in a short month) is refused
    following = next_fire(schedule, start)
    preceding = previous_fire(schedule, following - timedelta(seconds=1))
    assert following > start
    assert _matches(schedule, following)
    assert preceding is not None
    assert preceding <= following - timedelta(minutes=1)
    assert previous_fire(schedule, following) == following
    # Nothing fires strictly between the previous and the next firing (checked near both).
    for offset in range(1, 90):
        t = preceding + timedelta(minutes=offset)
        if t >= following:
            break
        assert not _matches(schedule, t), t
    for offset in range(1, 90):
        t = following - timedelta(minutes=offset)
        if t <= max(preceding, start):
            break
        assert not _matches(schedule, t), t
