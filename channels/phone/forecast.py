"""Offered calls per 30 minutes, forecast from the call log and known events, and the
operators and lines each interval needs (Erlang C and Erlang B, see erlang.py).

Method (deliberately simple and explainable to a manager):
1. Count logged calls per day and half hour over the last `history_weeks` weeks, in the database.
2. Divide each day's counts by that day's event multiplier (a mail-out day is not a normal day),
   then average per day type (Monday … Sunday, holiday) and half hour over the days the centre
   took calls. A day type that occurred in the history without a single call is a closed day
   (zero); one that did not occur at all (a holiday in a short history) falls back to the
   average of all open days.
3. The forecast for a day is that profile times the day's event multiplier: ticket mail-outs and
   other events entered by the manager (CallVolumeEvent), and booking openings read from the
   operating days (PHONE_FORECAST_OPENING_MULTIPLIER). Holidays come from jpholiday.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass

import jpholiday
from django.conf import settings
from django.db.models import Avg, Case, Count, IntegerField, Value, When
from django.db.models.functions import ExtractHour, TruncDate
from django.utils import timezone

from channels.phone.erlang import Staffing, StaffingTargets
from channels.phone.models import Call, CallVolumeEvent
from reservations.models import Municipality, OperatingDay

HOLIDAY = 7


@dataclass(frozen=True)
class ForecastParameters(StaffingTargets):
    history_weeks: int = 8


@dataclass(frozen=True)
class IntervalForecast:
    starts_at: dt.datetime
    forecast_calls: float
    actual_calls: int | None
    staffed: int | None
    multiplier: float
    staffing: Staffing


def day_type(date: dt.date) -> int:
    return HOLIDAY if jpholiday.is_holiday(date) else date.weekday()


def opening_intervals() -> list[dt.time]:
    """The half hours the centre answers the phone (PHONE_HOURS, e.g. 09:00-17:00)."""
    start, end = settings.PHONE_HOURS
    times, minutes = [], start.hour * 60 + start.minute
    while minutes + 30 <= end.hour * 60 + end.minute:
        times.append(dt.time(minutes // 60, minutes % 60))
        minutes += 30
    return times


def event_multipliers(
    *, municipality: Municipality, date_from: dt.date, date_to: dt.date
) -> dict[dt.date, float]:
    """Multiplier per date (1.0 when nothing happens). Several events on a day multiply."""
    result: dict[dt.date, float] = defaultdict(lambda: 1.0)
    for event in CallVolumeEvent.objects.filter(
        municipality=municipality, date__gte=date_from, date__lte=date_to
    ):
        result[event.date] *= float(event.multiplier)
    opening = settings.PHONE_FORECAST_OPENING_MULTIPLIER
    days = OperatingDay.objects.filter(site__municipality=municipality).values_list(
        "date", "booking_opens_days_before"
    )
    opening_dates = {date - dt.timedelta(days=before) for date, before in days}
    for date in opening_dates:
        if date_from <= date <= date_to:
            result[date] *= opening
    return result


def _interval_index(hour: int, half: int) -> tuple[int, int]:
    return hour, 30 * half


def call_counts(
    *, municipality: Municipality, date_from: dt.date, date_to: dt.date
) -> dict[dt.date, dict[tuple[int, int], dict[str, int]]]:
    """Calls and distinct operators per day and half hour, grouped by the database."""
    tz = timezone.get_current_timezone()
    rows = (
        Call.objects.filter(
            municipality=municipality,
            started_at__date__gte=date_from,
            started_at__date__lte=date_to,
        )
        .annotate(
            day=TruncDate("started_at", tzinfo=tz),
            hour=ExtractHour("started_at", tzinfo=tz),
            half=Case(
                When(started_at__minute__gte=30, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
        )
        .values("day", "hour", "half")
        .annotate(calls=Count("pk"), operators=Count("operator", distinct=True))
        .order_by()
    )
    result: dict[dt.date, dict[tuple[int, int], dict[str, int]]] = defaultdict(dict)
    for row in rows:
        result[row["day"]][_interval_index(row["hour"], row["half"])] = {
            "calls": row["calls"],
            "operators": row["operators"],
        }
    return result


@dataclass(frozen=True)
class History:
    """The call log a forecast is built from: the window before its first day, the days in it
    that had calls, and how many calls."""

    date_from: dt.date
    date_to: dt.date
    days_with_calls: int
    calls: int


def history_summary(*, municipality: Municipality, before: dt.date, weeks: int) -> History:
    date_from = before - dt.timedelta(weeks=weeks)
    date_to = before - dt.timedelta(days=1)
    counts = call_counts(municipality=municipality, date_from=date_from, date_to=date_to)
    calls = sum(value["calls"] for intervals in counts.values() for value in intervals.values())
    return History(date_from=date_from, date_to=date_to, days_with_calls=len(counts), calls=calls)


def historical_aht(*, municipality: Municipality, before: dt.date, weeks: int) -> float | None:
    value = Call.objects.filter(
        municipality=municipality,
        ended_at__isnull=False,
        started_at__date__lt=before,
        started_at__date__gte=before - dt.timedelta(weeks=weeks),
    ).aggregate(aht=Avg("handling_seconds"))["aht"]
    return float(value) if value else None


def profiles(
    *, municipality: Municipality, before: dt.date, weeks: int
) -> tuple[dict[int, dict[tuple[int, int], float]], dict[tuple[int, int], float]]:
    """Average de-evented calls per half hour, per day type and over all open days."""
    date_from = before - dt.timedelta(weeks=weeks)
    date_to = before - dt.timedelta(days=1)
    counts = call_counts(municipality=municipality, date_from=date_from, date_to=date_to)
    multipliers = event_multipliers(municipality=municipality, date_from=date_from, date_to=date_to)
    sums: dict[int, dict[tuple[int, int], float]] = defaultdict(lambda: defaultdict(float))
    days_seen: dict[int, int] = defaultdict(int)
    overall: dict[tuple[int, int], float] = defaultdict(float)
    for date, intervals in counts.items():
        kind = day_type(date)
        days_seen[kind] += 1
        for key, value in intervals.items():
            normal = value["calls"] / multipliers[date]
            sums[kind][key] += normal
            overall[key] += normal
    total_days = sum(days_seen.values())
    by_type: dict[int, dict[tuple[int, int], float]] = {
        kind: {key: total / days_seen[kind] for key, total in intervals.items()}
        for kind, intervals in sums.items()
    }
    if total_days:
        # Day types the window contained but that never had a call: the centre was closed.
        for offset in range((date_to - date_from).days + 1):
            by_type.setdefault(day_type(date_from + dt.timedelta(days=offset)), {})
    mean = {key: total / total_days for key, total in overall.items()} if total_days else {}
    return by_type, mean


def forecast(
    *,
    municipality: Municipality,
    date_from: dt.date,
    days: int,
    parameters: ForecastParameters,
    now: dt.datetime | None = None,
) -> list[IntervalForecast]:
    date_to = date_from + dt.timedelta(days=days - 1)
    by_type, mean = profiles(
        municipality=municipality, before=date_from, weeks=parameters.history_weeks
    )
    multipliers = event_multipliers(municipality=municipality, date_from=date_from, date_to=date_to)
    actual = call_counts(municipality=municipality, date_from=date_from, date_to=date_to)
    today = timezone.localdate(now)  # days up to today show the calls that came
    tz = timezone.get_current_timezone()
    result = []
    for offset in range(days):
        date = date_from + dt.timedelta(days=offset)
        profile = by_type.get(day_type(date), mean)
        for start in opening_intervals():
            key = (start.hour, start.minute)
            expected = profile.get(key, 0.0) * multipliers[date]
            observed = actual.get(date, {}).get(key)
            past = date <= today
            result.append(
                IntervalForecast(
                    starts_at=dt.datetime.combine(date, start, tzinfo=tz),
                    forecast_calls=round(expected, 2),
                    actual_calls=(observed["calls"] if observed else 0) if past else None,
                    staffed=(observed["operators"] if observed else 0) if past else None,
                    multiplier=multipliers[date],
                    staffing=parameters.staffing(math.ceil(expected - 1e-9)),
                )
            )
    return result
