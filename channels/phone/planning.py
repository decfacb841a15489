"""The call forecast from the season plan: callers per 30 minutes before a single call has come,
the redials that planned lines and operators would cause, and a correction learned from the
call log as the season goes. Every parameter is a field of `SeasonPlan` (defaults and sources
in docs/forecast.md).

Method, per municipality and half hour of the call centre's hours:
1. **Who reacts, and when.** Each ticket mail-out, booking opening and announcement is an
   impulse of first-attempt callers:
   - a mail-out reaches its tickets `delivery_days` after posting; if the batch's booking door
     is already open, the share of it that books by phone calls to book
     (tickets × uptake × phone share of the batch's age bands); if the door opens later, only
     `early_call_share` of them call then (questions), and they call to book at the opening;
   - a booking opening (the core's `CohortOpening` rows, else `EligibilityRule.booking_opens_on`)
     brings its cohort: ticket holders in its birth-date band, counted in the database, less
     the tickets of that band that arrive only after the opening (they react to their letter);
   - an announcement brings `extra_callers`, and multiplies the rest of its day.
   A season without cohort doors lets everyone book on arrival: the mail-outs drive it.
2. **Decay.** Callers of an impulse spread over the following days by an exponential curve
   with a half-life in days (mail-outs slower than openings); on a day the centre is closed,
   that day's callers wait for the next open day.
3. **The 9:00 spike.** A day's callers spread over its half hours by weights
   1 + (spike − 1)·2^(−minutes since opening / spike half-life).
4. **Redials.** A caller who hears a busy tone, or hangs up after waiting longer than their
   patience, redials within the half hour with `redial_probability`. Lines and operators are
   the plan's (lines_planned, operators_surge): a birth-death chain with as many states as lines
   (talking or waiting), operators serving, and waiting callers leaving at rate 1/patience
   (M/M/N/K+M; with lines = operators it is Erlang B). Attempts solve
   attempts = callers + redial_probability × (attempts − answered(attempts)), a fixed point
   found by bisection. So under-staffing shows as extra attempts, as in Tamba and Mishima.
5. **Learning.** From the first day the log has a call, the plan is scaled by a rate ratio k with a
   Gamma–Poisson update: actual calls in an interval ~ Poisson(k × planned calls); prior
   k ~ Gamma(n0, n0) (mean 1, worth n0 = `learning_prior_calls` calls); each earlier day's
   evidence is discounted by `learning_discount` per day of age, so k follows a season whose
   behaviour changes. k = (n0 + Σ w·actual) / (n0 + Σ w·planned), closed form, no library.
   Past intervals show the forecast as it stood that morning (evidence from earlier days);
   coming intervals use everything observed so far.
6. **Staffing** for the blended calls by Erlang C and lines by Erlang B (erlang.py).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import jpholiday
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from channels.phone.erlang import Staffing
from channels.phone.forecast import call_counts
from channels.phone.models import SeasonPlan, TicketMailout
from reservations.models import CohortOpening, EligibilityRule, Municipality, Resident, Ticket
from reservations.rules.dates import add_months

INTERVAL_SECONDS = 30 * 60
# How far back the call log teaches the forecast. With the default discount of 0.7 a day, a
# day four weeks old weighs 0.7**28 ≈ 0.00005: nothing is lost by stopping there.
LEARNING_LOOKBACK_DAYS = 28
# An impulse's tail is followed until less than this share of its callers is still to come.
DECAY_TAIL = 1e-4
# Age groups the phone share is set for (years, on the day counted).
AGE_GROUP_BOUNDS = (65, 75)


@dataclass(frozen=True)
class PlannedInterval:
    """One half hour of the call centre. `callers`: first-attempt callers from the plan;
    `attempts`: calls dialled including redials, with the plan's lines and operators facing the
    blended callers; `planned_calls`: calls the operators would answer if the plan were right
    (what the call log should show); `actual_calls`: what the log shows once the half hour is
    over (None before); `blended_calls`: the plan corrected by the call log, the calls to staff
    for; `operators_needed`: operators on the phones at once (Erlang C), `lines_needed`: by
    Erlang B. `staffing` has the rest (rostered staff after shrinkage, service level …)."""

    starts_at: dt.datetime
    callers: float
    attempts: float
    planned_calls: float
    actual_calls: int | None
    blended_calls: float
    operators_needed: int
    lines_needed: int
    staffing: Staffing
    correction: float = 1.0


# --- Cohorts counted in the database ----------------------------------------------------------


@dataclass(frozen=True)
class BirthBand:
    """Born on or after `born_from` and on or before `born_to`; None is open-ended."""

    born_from: dt.date | None = None
    born_to: dt.date | None = None

    def intersect(self, other: BirthBand) -> BirthBand | None:
        froms = [d for d in (self.born_from, other.born_from) if d is not None]
        tos = [d for d in (self.born_to, other.born_to) if d is not None]
        band = BirthBand(max(froms, default=None), min(tos, default=None))
        if band.born_from and band.born_to and band.born_from > band.born_to:
            return None
        return band


def band_for_ages(*, on: dt.date, age_from: int | None, age_to: int | None) -> BirthBand:
    """Birth dates of people aged `age_from` to `age_to` years (inclusive) on `on`, by the legal
    rule that an age is reached the day before the birthday (reservations/rules/dates.py)."""
    day_after = on + dt.timedelta(days=1)
    born_to = add_months(day_after, -12 * age_from) if age_from is not None else None
    born_from = (
        add_months(day_after, -12 * (age_to + 1)) + dt.timedelta(days=1)
        if age_to is not None
        else None
    )
    return BirthBand(born_from, born_to)


def _ticket_holders(municipality: Municipality) -> QuerySet[Resident]:
    """Residents still living in the municipality who hold one of its issued tickets."""
    issued = Ticket.objects.filter(
        resident=OuterRef("pk"), municipality=municipality, status=Ticket.Status.ISSUED
    )
    return Resident.objects.filter(
        municipality=municipality, status=Resident.Status.RESIDENT
    ).filter(Exists(issued))


def age_group_counts(
    *, municipality: Municipality, band: BirthBand, on: dt.date
) -> tuple[int, int, int]:
    """Ticket holders in `band` aged under 65, 65–74 and 75+ on `on`: one aggregate query."""
    young_from = band_for_ages(on=on, age_from=None, age_to=AGE_GROUP_BOUNDS[0] - 1).born_from
    old_to = band_for_ages(on=on, age_from=AGE_GROUP_BOUNDS[1], age_to=None).born_to
    assert young_from is not None and old_to is not None
    rows = _ticket_holders(municipality)
    if band.born_from is not None:
        rows = rows.filter(birth_date__gte=band.born_from)
    if band.born_to is not None:
        rows = rows.filter(birth_date__lte=band.born_to)
    counts = rows.aggregate(
        young=Count("pk", filter=Q(birth_date__gte=young_from)),
        middle=Count("pk", filter=Q(birth_date__lt=young_from, birth_date__gt=old_to)),
        old=Count("pk", filter=Q(birth_date__lte=old_to)),
    )
    return counts["young"], counts["middle"], counts["old"]


def _group_shares(plan: SeasonPlan) -> tuple[float, float, float]:
    return (
        float(plan.phone_share_under_65),
        float(plan.phone_share_65_74),
        float(plan.phone_share_75_plus),
    )


def _weighted_share(
    plan: SeasonPlan, counts: tuple[int, int, int], band: BirthBand, on: dt.date
) -> float:
    shares = _group_shares(plan)
    total = sum(counts)
    if total:
        return sum(s * n for s, n in zip(shares, counts, strict=True)) / total
    # No ticket list yet: the plain mean of the age groups the band reaches into.
    groups = (
        band_for_ages(on=on, age_from=None, age_to=AGE_GROUP_BOUNDS[0] - 1),
        band_for_ages(on=on, age_from=AGE_GROUP_BOUNDS[0], age_to=AGE_GROUP_BOUNDS[1] - 1),
        band_for_ages(on=on, age_from=AGE_GROUP_BOUNDS[1], age_to=None),
    )
    reached = [s for s, group in zip(shares, groups, strict=True) if band.intersect(group)]
    return sum(reached) / len(reached) if reached else sum(shares) / len(shares)


def plan_for(*, municipality: Municipality, on: dt.date) -> SeasonPlan | None:
    """The plan in force on `on` (the latest-starting one if several were saved overlapping)."""
    return (
        SeasonPlan.objects.filter(municipality=municipality, starts_on__lte=on, ends_on__gte=on)
        .order_by("-starts_on")
        .first()
    )


def expected_phone_share(
    *,
    municipality: Municipality,
    born_from: dt.date | None = None,
    born_to: dt.date | None = None,
    on: dt.date | None = None,
) -> float:
    """Share of a cohort's bookings expected to come by phone (rather than web or LINE): the
    plan's phone share per age group, weighted by how many ticket holders born in the band
    fall in each group on `on` (default today). Uptake is not included: this is a share of
    bookings, comparable with the share of seats reserved for the phone. Without a plan the
    defaults of SeasonPlan apply."""
    day = on or timezone.localdate()
    plan = plan_for(municipality=municipality, on=day) or (
        SeasonPlan.objects.filter(municipality=municipality).order_by("-starts_on").first()
        or SeasonPlan(municipality=municipality)
    )
    band = BirthBand(born_from, born_to)
    counts = age_group_counts(municipality=municipality, band=band, on=day)
    return _weighted_share(plan, counts, band, day)


# --- Impulses of callers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Opening:
    """A booking door from the core: when, and for which birth dates."""

    opens_at: dt.datetime
    band: BirthBand


@dataclass(frozen=True)
class Impulse:
    starts_at: dt.datetime
    callers: float
    half_life_days: float


def plan_openings(plan: SeasonPlan) -> list[Opening]:
    """Booking openings in the plan's period, read from the core and never copied: the
    campaign's CohortOpening rows (they replace the all-campaign rows, as in
    reservations.cohorts), else the rows for every campaign, else the eligibility rules'
    booking_opens_on (at the call centre's opening time)."""
    tz = timezone.get_current_timezone()
    rows = list(
        CohortOpening.objects.filter(municipality=plan.municipality).filter(
            Q(campaign__isnull=True) | Q(campaign_id=plan.campaign_id)
        )
    )
    applying = [r for r in rows if plan.campaign_id and r.campaign_id == plan.campaign_id] or [
        r for r in rows if r.campaign_id is None
    ]
    openings = [
        Opening(timezone.localtime(r.opens_at, tz), BirthBand(r.born_from, r.born_to))
        for r in applying
    ]
    if not openings:
        rules = EligibilityRule.objects.filter(
            Q(municipality__isnull=True) | Q(municipality=plan.municipality),
            booking_opens_on__isnull=False,
        )
        if plan.campaign_id:
            rules = rules.filter(program_id=plan.campaign.program_id)  # type: ignore[union-attr]
        for rule in rules:
            assert rule.booking_opens_on is not None
            day_after = rule.booking_opens_on + dt.timedelta(days=1)
            band = BirthBand(
                add_months(day_after, -rule.below_age_months) + dt.timedelta(days=1)
                if rule.below_age_months is not None
                else None,
                add_months(day_after, -rule.min_age_months) if rule.min_age_months else None,
            )
            openings.append(
                Opening(dt.datetime.combine(rule.booking_opens_on, plan.opens_at, tz), band)
            )
    return sorted(
        (o for o in openings if plan.starts_on <= o.opens_at.date() <= plan.ends_on),
        key=lambda o: o.opens_at,
    )


def _arrival(plan: SeasonPlan, mailout: TicketMailout) -> dt.datetime:
    day = mailout.mailed_on + dt.timedelta(days=plan.delivery_days)
    return dt.datetime.combine(day, plan.opens_at, timezone.get_current_timezone())


def plan_impulses(plan: SeasonPlan) -> list[Impulse]:
    """Every mail-out, opening and announcement of the plan as callers from a moment on."""
    uptake = float(plan.uptake)
    mail_life = float(plan.mailout_half_life_days)
    open_life = float(plan.opening_half_life_days)
    openings = plan_openings(plan)
    municipality = plan.municipality

    def counted(band: BirthBand, on: dt.date) -> tuple[tuple[int, int, int], float]:
        counts = age_group_counts(municipality=municipality, band=band, on=on)
        return counts, _weighted_share(plan, counts, band, on)

    impulses: list[Impulse] = []
    # Tickets of each opening's band that arrive only after it: those people react to their
    # letter, not to the opening.
    arriving_late: dict[int, float] = defaultdict(float)
    for mailout in plan.mailouts.all():
        arrival = _arrival(plan, mailout)
        band = band_for_ages(on=mailout.mailed_on, age_from=mailout.age_from, age_to=mailout.age_to)
        counts, share = counted(band, mailout.mailed_on)
        phoning = mailout.tickets * share
        if not openings:
            impulses.append(Impulse(arrival, phoning * uptake, mail_life))
            continue
        in_batch = sum(counts)
        parts: list[tuple[int, float]] = []
        for index, opening in enumerate(openings):
            common = band.intersect(opening.band)
            if common is None:
                continue
            if in_batch:
                both = sum(
                    age_group_counts(municipality=municipality, band=common, on=arrival.date())
                )
                parts.append((index, both / in_batch))
            else:
                # No ticket list to split the batch by: it goes to the first door it meets.
                parts.append((index, 1.0))
                break
        behind_no_door = max(0.0, 1.0 - sum(fraction for _, fraction in parts))
        early = float(plan.early_call_share)
        for index, fraction in parts:
            if openings[index].opens_at <= arrival:
                impulses.append(Impulse(arrival, phoning * fraction * uptake, mail_life))
            else:
                impulses.append(Impulse(arrival, phoning * fraction * early, mail_life))
        for index, fraction in parts:
            if openings[index].opens_at <= arrival:
                arriving_late[index] += mailout.tickets * fraction
        if behind_no_door:
            impulses.append(Impulse(arrival, phoning * behind_no_door * early, mail_life))
    for index, opening in enumerate(openings):
        counts, share = counted(opening.band, opening.opens_at.date())
        cohort = max(0.0, sum(counts) - arriving_late[index])
        if cohort:
            impulses.append(Impulse(opening.opens_at, cohort * share * uptake, open_life))
    for announcement in plan.announcements.all():
        if announcement.extra_callers:
            impulses.append(
                Impulse(timezone.localtime(announcement.at), announcement.extra_callers, open_life)
            )
    return impulses


# --- Days, half hours and the shape of a day --------------------------------------------------


def is_open(plan: SeasonPlan, day: dt.date) -> bool:
    if jpholiday.is_holiday(day) and not plan.open_on_holidays:
        return False
    last_weekday = {
        SeasonPlan.OpenDays.WEEKDAYS: 4,
        SeasonPlan.OpenDays.MON_SAT: 5,
        SeasonPlan.OpenDays.EVERY_DAY: 6,
    }[SeasonPlan.OpenDays(plan.open_days)]
    return day.weekday() <= last_weekday


def interval_starts(plan: SeasonPlan) -> list[dt.time]:
    """The half hours the centre answers (a last part-hour shorter than 30 minutes is left out)."""
    start = plan.opens_at.hour * 60 + plan.opens_at.minute
    end = plan.closes_at.hour * 60 + plan.closes_at.minute
    return [dt.time(m // 60, m % 60) for m in range(start, end - 29, 30)]


def intraday_weights(plan: SeasonPlan) -> list[float]:
    """Relative callers per half hour: the morning spike decaying to a flat afternoon."""
    spike = float(plan.opening_spike)
    half_life = plan.spike_half_life_minutes
    return [
        1 + (spike - 1) * 2 ** (-(30 * i) / half_life) for i in range(len(interval_starts(plan)))
    ]


def _daily_shares(half_life_days: float) -> Iterable[float]:
    """Share of an impulse's callers on day 0, 1, 2 … after it (exponential decay)."""
    day = 0
    while 2 ** (-day / half_life_days) > DECAY_TAIL:
        yield 2 ** (-day / half_life_days) - 2 ** (-(day + 1) / half_life_days)
        day += 1


def plan_callers(
    plan: SeasonPlan, *, date_from: dt.date, date_to: dt.date
) -> dict[dt.datetime, float]:
    """First-attempt callers per half hour of the open days from `date_from` to `date_to`."""
    tz = timezone.get_current_timezone()
    starts = interval_starts(plan)
    weights = intraday_weights(plan)
    # Per open day: callers spread over the whole day, and callers from a time on (day 0 of an
    # impulse that starts in the middle of the day).
    whole_day: dict[dt.date, float] = defaultdict(float)
    from_time: dict[tuple[dt.date, int], float] = defaultdict(float)
    for impulse in plan_impulses(plan):
        moment = impulse.starts_at.astimezone(tz)
        day, first = (
            moment.date(),
            next((i for i, s in enumerate(starts) if moment.time() < _end(s)), None),
        )
        if first is None:  # after closing: from the next morning
            day, first = day + dt.timedelta(days=1), 0
        waiting = 0.0  # callers held over closed days
        for offset, share in enumerate(_daily_shares(impulse.half_life_days)):
            date = day + dt.timedelta(days=offset)
            if date > date_to:
                break
            mass = impulse.callers * share
            if not is_open(plan, date):
                waiting += mass
                continue
            if offset == 0 and first:
                from_time[(date, first)] += mass
            else:
                whole_day[date] += mass
            whole_day[date] += waiting
            waiting = 0.0
    multipliers = _announcement_multipliers(plan, starts)
    result: dict[dt.datetime, float] = {}
    day = date_from
    while day <= date_to:
        if plan.covers(day) and is_open(plan, day):
            values = [whole_day[day] * w / sum(weights) for w in weights]
            for (date, first), mass in from_time.items():
                if date == day:
                    tail = sum(weights[first:])
                    for i in range(first, len(weights)):
                        values[i] += mass * weights[i] / tail
            for i, start in enumerate(starts):
                result[dt.datetime.combine(day, start, tz)] = values[i] * multipliers.get(
                    (day, i), 1.0
                )
        day += dt.timedelta(days=1)
    return result


def _end(start: dt.time) -> dt.time:
    minutes = start.hour * 60 + start.minute + 30
    return dt.time(minutes // 60, minutes % 60) if minutes < 24 * 60 else dt.time.max


def _announcement_multipliers(
    plan: SeasonPlan, starts: list[dt.time]
) -> dict[tuple[dt.date, int], float]:
    """An announcement multiplies the half hours of its day from its time on (after closing:
    the next open day's)."""
    result: dict[tuple[dt.date, int], float] = defaultdict(lambda: 1.0)
    for announcement in plan.announcements.all():
        moment = timezone.localtime(announcement.at)
        day = moment.date()
        first = next((i for i, s in enumerate(starts) if moment.time() < _end(s)), None)
        if first is None:
            day, first = day + dt.timedelta(days=1), 0
        while not is_open(plan, day) and day <= plan.ends_on:
            day, first = day + dt.timedelta(days=1), 0
        for i in range(first, len(starts)):
            result[(day, i)] *= float(announcement.multiplier)
    return result


# --- Redials against the planned lines and operators ------------------------------------------


def answered_per_interval(
    attempts: float, *, lines: int, operators: int, aht_seconds: float, patience_seconds: float
) -> float:
    """Calls answered in a half hour when `attempts` are dialled: the stationary M/M/N/K+M chain
    (K lines, each holding a caller talking or waiting; N operators; waiting callers hang up at
    rate 1/patience). Answered = service completions = μ·E[busy operators]·interval."""
    if attempts <= 0 or lines <= 0:
        return 0.0
    agents = min(operators, lines)
    arrival = attempts / INTERVAL_SECONDS
    service = 1 / aht_seconds
    leave = 1 / patience_seconds
    log_p = [0.0]
    for n in range(1, lines + 1):
        departures = min(n, agents) * service + max(n - agents, 0) * leave
        log_p.append(log_p[-1] + math.log(arrival) - math.log(departures))
    top = max(log_p)
    weights = [math.exp(v - top) for v in log_p]
    total = sum(weights)
    busy = sum(min(n, agents) * w for n, w in enumerate(weights)) / total
    return busy * service * INTERVAL_SECONDS


def attempts_with_redials(
    callers: float,
    *,
    lines: int,
    operators: int,
    aht_seconds: float,
    patience_seconds: float,
    redial_probability: float,
) -> tuple[float, float]:
    """(attempts, answered) at the fixed point attempts = callers + r·(attempts − answered).

    The left side minus the right is increasing in attempts and changes sign between
    `callers` and callers / (1 − r), so bisection always finds the one solution."""
    if callers <= 0:
        return 0.0, 0.0
    redial = min(redial_probability, 0.999)

    def answered(attempts: float) -> float:
        return min(
            attempts,
            answered_per_interval(
                attempts,
                lines=lines,
                operators=operators,
                aht_seconds=aht_seconds,
                patience_seconds=patience_seconds,
            ),
        )

    low, high = callers, callers / (1 - redial)
    for _ in range(60):
        middle = (low + high) / 2
        if callers + redial * (middle - answered(middle)) > middle:
            low = middle
        else:
            high = middle
        if high - low <= 1e-9 * high:
            break
    attempts = (low + high) / 2
    return attempts, answered(attempts)


# --- The forecast ---------------------------------------------------------------------------


def _planned(plan: SeasonPlan, callers: float) -> tuple[float, float]:
    return attempts_with_redials(
        callers,
        lines=plan.lines_planned,
        operators=plan.operators_surge,
        aht_seconds=plan.aht_seconds,
        patience_seconds=plan.patience_seconds,
        redial_probability=float(plan.redial_probability),
    )


def _correction(
    plan: SeasonPlan, evidence: list[tuple[dt.date, int, float]], *, on: dt.date, before: bool
) -> float:
    """Posterior mean of the rate ratio k for `on`, from evidence (date, actual, planned) of
    earlier days (`before`) or of every day up to `on`."""
    prior = float(plan.learning_prior_calls)
    discount = float(plan.learning_discount)
    alpha = beta = prior
    for date, actual, planned in evidence:
        if date > on or (before and date == on):
            continue
        weight = discount ** (on - date).days
        alpha += weight * actual
        beta += weight * planned
    return alpha / beta


def plan_forecast(
    *,
    municipality: Municipality,
    date_from: dt.date,
    date_to: dt.date,
    now: dt.datetime | None = None,
) -> list[PlannedInterval]:
    """Half hours of the open days from `date_from` to `date_to` that a season plan covers."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    learn_from = date_from - dt.timedelta(days=LEARNING_LOOKBACK_DAYS)
    plans = list(
        SeasonPlan.objects.filter(
            municipality=municipality, starts_on__lte=date_to, ends_on__gte=learn_from
        )
        .select_related("municipality", "campaign")
        .prefetch_related("mailouts", "announcements")
        .order_by("starts_on")
    )
    if not plans:
        return []
    # Each day belongs to the latest-starting plan that covers it.
    callers: dict[dt.datetime, float] = {}
    plan_of: dict[dt.datetime, SeasonPlan] = {}
    for plan in plans:
        for moment, value in plan_callers(
            plan, date_from=max(learn_from, plan.starts_on), date_to=min(date_to, plan.ends_on)
        ).items():
            callers[moment] = value
            plan_of[moment] = plan
    counts = call_counts(
        municipality=municipality, date_from=learn_from, date_to=min(today, date_to)
    )
    # The log teaches from the first day it has a call: before that it was not in use, and
    # its silence says nothing about the callers.
    log_starts = min(counts, default=None)
    evidence: list[tuple[dt.date, int, float]] = []
    planned: dict[dt.datetime, tuple[float, float]] = {}
    for moment, value in sorted(callers.items()):
        planned[moment] = _planned(plan_of[moment], value)
        over = moment + dt.timedelta(seconds=INTERVAL_SECONDS) <= now
        if over and log_starts is not None and moment.date() >= log_starts:
            actual = counts.get(moment.date(), {}).get((moment.hour, moment.minute), {})
            evidence.append((moment.date(), actual.get("calls", 0), planned[moment][1]))
    rows = []
    for moment, value in sorted(callers.items()):
        if moment.date() < date_from:
            continue
        plan = plan_of[moment]
        over = moment + dt.timedelta(seconds=INTERVAL_SECONDS) <= now
        k = _correction(plan, evidence, on=moment.date(), before=moment.date() < today)
        blended = value * k
        attempts, _answered = planned[moment] if k == 1.0 else _planned(plan, blended)
        staffing = plan.staffing_targets().staffing(blended)
        actual = counts.get(moment.date(), {}).get((moment.hour, moment.minute), {})
        rows.append(
            PlannedInterval(
                starts_at=moment,
                callers=value,
                attempts=attempts,
                planned_calls=planned[moment][1],
                actual_calls=actual.get("calls", 0) if over else None,
                blended_calls=blended,
                operators_needed=staffing.agents,
                lines_needed=staffing.lines,
                staffing=staffing,
                correction=k,
            )
        )
    return rows
