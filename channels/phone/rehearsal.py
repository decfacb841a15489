"""Reads a municipality's season plan and slots into the rehearsal's inputs (simulation.py) and
the rota's (rota.py). Reads only: the plan, the forecast made from it, and the seats.

Opening day's demand comes from the plan's forecast (planning.plan_forecast): the first-attempt
callers of each half hour, corrected by the call log where it has data. The web's residents are
the same cohorts' other channel: callers × (1 − s) / s, with s the expected phone share of the
cohorts whose booking opens that day (of every ticket holder if none opens), arriving with the
same daily shape as the callers. Seats are those of the operating days whose booking window is
open on the day, less those already booked; the phone's reserve is what the phone has not used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.phone.models import SeasonPlan
from channels.phone.planning import (
    PlannedInterval,
    expected_phone_share,
    plan_for,
    plan_forecast,
    plan_openings,
)
from channels.phone.rota import DailyRota, IntervalDemand, RotaParameters, rota_suggest
from channels.phone.simulation import (
    WEB_BOOKINGS_PER_SECOND,
    CentreSetup,
    OpeningDemand,
    Rehearsal,
    RehearsalParameters,
)
from reservations.models import Municipality, OperatingDay

# How long a caller who heard a busy tone or hung up waits before dialling again (mean, seconds).
# Not measured anywhere we could find; two minutes is an assumption, and a parameter.
REDIAL_DELAY_SECONDS = 120.0
# The horizon over which operating days are looked at for seats open on the day.
SEAT_HORIZON_DAYS = 400


class NoPlan(Exception):
    """The municipality has no season plan covering the day."""


@dataclass(frozen=True)
class Seats:
    seats: int
    phone_reserved: int


def rota_parameters(plan: SeasonPlan, *, erlang_a: bool = True) -> RotaParameters:
    """The plan's staffing targets; Erlang A with the plan's patience unless told otherwise."""
    return RotaParameters(**asdict(plan.staffing_targets(erlang_a=erlang_a)))


def plan_rota(
    *,
    municipality: Municipality,
    date_from: dt.date,
    date_to: dt.date,
    erlang_a: bool = True,
    now: dt.datetime | None = None,
) -> list[DailyRota]:
    """The rota for the plan's forecast (blended calls) over the days a plan covers."""
    rows = plan_forecast(municipality=municipality, date_from=date_from, date_to=date_to, now=now)
    rotas: list[DailyRota] = []
    for date in sorted({timezone.localdate(r.starts_at) for r in rows}):
        plan = plan_for(municipality=municipality, on=date)
        if plan is None:
            continue
        demand = [
            IntervalDemand(starts_at=r.starts_at, calls=r.blended_calls)
            for r in rows
            if timezone.localdate(r.starts_at) == date
        ]
        rotas += rota_suggest(demand=demand, parameters=rota_parameters(plan, erlang_a=erlang_a))
    return rotas


def seats_open_on(*, municipality: Municipality, date: dt.date, plan: SeasonPlan) -> Seats:
    """Seats left in the operating days whose booking window is open on `date`."""
    days = OperatingDay.objects.filter(
        site__municipality=municipality,
        date__gte=date,
        date__lte=date + dt.timedelta(days=SEAT_HORIZON_DAYS),
    )
    if plan.campaign_id:
        days = days.filter(campaign_id=plan.campaign_id)
    rows = days.annotate(
        capacity=Sum("slots__capacity"),
        booked_seats=Sum("slots__booked"),
        reserved=Sum("slots__phone_reserved"),
        booked_by_staff=Sum("slots__booked_staff"),
    )
    seats = reserve = 0
    for day in rows:
        if not day.booking_opens_on() <= date <= day.booking_closes_after():
            continue
        seats += (day.capacity or 0) - (day.booked_seats or 0)
        reserve += max(0, (day.reserved or 0) - (day.booked_by_staff or 0))
    return Seats(seats=max(0, seats), phone_reserved=min(reserve, max(0, seats)))


def _phone_share(*, municipality: Municipality, plan: SeasonPlan, date: dt.date) -> float:
    bands = [o.band for o in plan_openings(plan) if o.opens_at.date() == date]
    shares = [
        expected_phone_share(
            municipality=municipality, born_from=b.born_from, born_to=b.born_to, on=date
        )
        for b in bands
    ] or [expected_phone_share(municipality=municipality, on=date)]
    return sum(shares) / len(shares)


@dataclass(frozen=True)
class OpeningDay:
    """Everything a rehearsal of `date` needs, read once and reused for each staffing choice."""

    plan: SeasonPlan
    demand: OpeningDemand
    seats: Seats
    forecast: list[PlannedInterval]
    rota: DailyRota | None

    def parameters(
        self,
        *,
        seats: int | None = None,
        bookings_per_second: float = WEB_BOOKINGS_PER_SECOND,
        redial_delay_seconds: float = REDIAL_DELAY_SECONDS,
        seed: int = 0,
    ) -> RehearsalParameters:
        total = self.seats.seats if seats is None else seats
        return RehearsalParameters(
            seats=total,
            phone_reserved_seats=min(self.seats.phone_reserved, total),
            aht_seconds=float(self.plan.aht_seconds),
            patience_seconds=float(self.plan.patience_seconds),
            redial_probability=float(self.plan.redial_probability),
            redial_delay_seconds=redial_delay_seconds,
            bookings_per_second=bookings_per_second,
            seed=seed,
        )

    def planned_setup(self) -> CentreSetup:
        """What the plan has: its surge ceiling of operators on its lines."""
        return CentreSetup(operators=self.plan.operators_surge, lines=self.plan.lines_planned)

    def suggested_setup(self) -> CentreSetup:
        """The rota's busiest interval: its operators on the phones and the day's lines."""
        if self.rota is None:
            return self.planned_setup()
        peak = max(row.staffing.agents for row in self.rota.intervals)
        return CentreSetup(operators=max(1, peak), lines=max(1, self.rota.lines))


def opening_day(
    *, municipality: Municipality, date: dt.date, now: dt.datetime | None = None
) -> OpeningDay:
    plan = plan_for(municipality=municipality, on=date)
    if plan is None:
        raise NoPlan(municipality.code)
    rows = plan_forecast(municipality=municipality, date_from=date, date_to=date, now=now)
    share = _phone_share(municipality=municipality, plan=plan, date=date)
    web_per_caller = (1 - share) / share if share > 0 else 0.0
    calls = [r.blended_calls for r in rows]
    tz = timezone.get_current_timezone()
    opens_at = rows[0].starts_at if rows else dt.datetime.combine(date, plan.opens_at, tz)
    rotas = rota_suggest(
        demand=[IntervalDemand(starts_at=r.starts_at, calls=r.blended_calls) for r in rows],
        parameters=rota_parameters(plan),
    )
    return OpeningDay(
        plan=plan,
        demand=OpeningDemand(
            opens_at=opens_at,
            phone_callers=calls,
            web_residents=[c * web_per_caller for c in calls],
        ),
        seats=seats_open_on(municipality=municipality, date=date, plan=plan),
        forecast=rows,
        rota=rotas[0] if rotas else None,
    )


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return _("満席にならず")
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def comparison(results: Sequence[Rehearsal]) -> list[tuple[str, list[str]]]:
    """The rehearsals side by side: one (label, value per staffing choice) row per figure."""

    def row(label: str, value: Callable[[Rehearsal], str]) -> tuple[str, list[str]]:
        return label, [value(r) for r in results]

    return [
        row(_("オペレーター（同時に電話に出る人数）"), lambda r: str(r.setup.operators)),
        row(_("回線"), lambda r: str(r.setup.lines)),
        row(_("発信者（人）"), lambda r: str(r.callers)),
        row(_("発信回数（掛け直しを含む）"), lambda r: str(r.attempts)),
        row(_("1人あたりの発信回数"), lambda r: f"{r.attempts_per_caller:.1f}"),
        row(_("話中音だった発信の割合"), lambda r: f"{r.busy_share:.1%}"),
        row(_("待ちきれずに切った割合"), lambda r: f"{r.abandoned_share:.1%}"),
        row(_("応答できた発信者の割合"), lambda r: f"{r.callers_answered_share:.1%}"),
        row(_("応答までの時間 p50（秒）"), lambda r: _seconds(r.wait_percentile(0.5))),
        row(_("応答までの時間 p90（秒）"), lambda r: _seconds(r.wait_percentile(0.9))),
        row(_("応答までの時間 p99（秒）"), lambda r: _seconds(r.wait_percentile(0.99))),
        row(_("オペレーターの稼働率"), lambda r: f"{r.occupancy:.1%}"),
        row(_("電話での予約"), lambda r: str(r.phone_booked)),
        row(_("Webでの予約"), lambda r: str(r.web_booked)),
        row(_("Web予約にかかった時間 p90（秒）"), lambda r: _seconds(r.web_percentile(0.9))),
        row(_("Web用の枠が埋まるまで"), lambda r: _duration(r.public_sold_out_after)),
        row(_("全枠が埋まるまで"), lambda r: _duration(r.sold_out_after)),
    ]
