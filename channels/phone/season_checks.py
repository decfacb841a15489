"""The call centre's part of the pre-opening check (reservations.season_check), from the season
plan and its forecast (channels/phone/planning.py): seats held back for the phone against the
share of the cohort expected to phone, lines and operators against the opening day's peak, and
openings against the ticket mail-outs.

2021: Tamba sized 5 lines from its population (13,000 people), Mishima had 10 lines and took
100,000 calls in two days; 板野郡's calls rose seventy-fold when tickets arrived before anyone
could book. Each of these is a finding here before the door opens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.utils import timezone
from django.utils.translation import gettext_noop

from channels.phone.planning import (
    BirthBand,
    band_for_ages,
    expected_phone_share,
    plan_for,
    plan_forecast,
)
from reservations.season_check import (
    CheckScope,
    DayFacts,
    Finding,
    error,
    info,
    opening_label,
    warning,
)

# The phone reserve as a share of seats, against the share of bookings expected by phone:
# under half of it is an error (the reserve was not sized from who books by phone at all),
# under this much a warning. An error only where the municipality's own season plan gives the
# share: without one the share is SeasonPlan's defaults, which nobody there chose, and slots
# are made with no phone reserve by default (generate_slots), so an error would hold shut
# every opening of a city that does not plan its call centre here.
RESERVE_WARNING_RATIO = 0.8
RESERVE_ERROR_RATIO = 0.5
# Lines planned under this share of the opening-day peak are an error (callers mostly hear a
# busy tone and redial: Mishima); fewer than the peak, a warning.
LINES_ERROR_RATIO = 0.5


def _targets(scope: CheckScope) -> list[tuple[str, BirthBand, dt.date, list[DayFacts]]]:
    targets = [
        (
            opening_label(opening),
            BirthBand(opening.born_from, opening.born_to),
            timezone.localdate(opening.opens_at),
            scope.days_for(opening),
        )
        for opening in scope.openings
    ]
    if scope.opening is None:
        targets.append((str(scope.municipality), BirthBand(), scope.today, scope.days))
    return targets


def _percent(share: float) -> str:
    return f"{share * 100:.0f}"


def check_phone_reserve(scope: CheckScope) -> Iterable[Finding]:
    for label, band, on, days in _targets(scope):
        seats = sum(facts.seats for facts in days)
        if not seats:
            continue
        reserved = sum(facts.phone_reserved for facts in days)
        share = expected_phone_share(
            municipality=scope.municipality, born_from=band.born_from, born_to=band.born_to, on=on
        )
        reserve_share = reserved / seats
        params = {
            "label": label,
            "reserved": reserved,
            "seats": seats,
            "reserve_percent": _percent(reserve_share),
            "share_percent": _percent(share),
        }
        message = gettext_noop(
            "%(label)s: 電話専用枠は %(reserved)s 席（全 %(seats)s 席の %(reserve_percent)s%%）"
            "ですが、対象者の年齢から予約の %(share_percent)s%% が電話と予測されます。"
            "Webで先に埋まり、電話の人が予約できなくなります。"
        )
        if reserve_share < share * RESERVE_ERROR_RATIO:
            planned = plan_for(municipality=scope.municipality, on=on) is not None
            yield (error if planned else warning)("phone_reserve_below_share", message, **params)
        elif reserve_share < share * RESERVE_WARNING_RATIO:
            yield warning("phone_reserve_below_share", message, **params)
        else:
            yield info(
                "phone_reserve_summary",
                gettext_noop(
                    "%(label)s: 電話専用枠は %(reserved)s 席（%(reserve_percent)s%%）、"
                    "電話での予約の予測は %(share_percent)s%% です。"
                ),
                **params,
            )


def check_phone_lines(scope: CheckScope) -> Iterable[Finding]:
    """Lines and operators of the season plan against the forecast for the opening day."""
    for opening in scope.openings:
        label = opening_label(opening)
        # Once its time has passed (a held opening is re-checked), the day that matters is today.
        on = max(timezone.localdate(opening.opens_at), scope.today)
        plan = plan_for(municipality=scope.municipality, on=on)
        if plan is None:
            yield warning(
                "phone_plan_missing",
                gettext_noop(
                    "%(label)s: 受付開始日 %(date)s を含むコールセンターのシーズン計画がなく、"
                    "回線とオペレーターの数を予測で確かめられません。"
                ),
                label=label,
                date=on.isoformat(),
            )
            continue
        intervals = plan_forecast(
            municipality=scope.municipality, date_from=on, date_to=on, now=scope.now
        )
        if not intervals:
            continue
        peak = max(intervals, key=lambda interval: interval.lines_needed)
        busiest = max(intervals, key=lambda interval: interval.operators_needed)
        if plan.lines_planned < peak.lines_needed:
            severity = (
                error if plan.lines_planned < peak.lines_needed * LINES_ERROR_RATIO else warning
            )
            yield severity(
                "phone_lines_below_forecast",
                gettext_noop(
                    "%(label)s: 受付開始日の回線は %(planned)s 回線の計画ですが、予測では "
                    "%(time)s からの30分に %(calls)s 人がかけ、%(needed)s 回線が必要です。"
                    "足りない分は話中になり、掛け直しで入電がさらに増えます。"
                ),
                label=label,
                planned=plan.lines_planned,
                needed=peak.lines_needed,
                calls=round(peak.blended_calls),
                time=timezone.localtime(peak.starts_at).strftime("%H:%M"),
            )
        if plan.operators_surge < busiest.operators_needed:
            yield warning(
                "phone_operators_below_forecast",
                gettext_noop(
                    "%(label)s: 受付開始日のオペレーターは増員しても %(planned)s 人の計画ですが、"
                    "予測では %(time)s からの30分に %(needed)s 人必要です。"
                ),
                label=label,
                planned=plan.operators_surge,
                needed=busiest.operators_needed,
                time=timezone.localtime(busiest.starts_at).strftime("%H:%M"),
            )


def check_mailouts(scope: CheckScope) -> Iterable[Finding]:
    """An opening after its band's tickets have arrived (the plan's mail-outs and delivery
    days): before that, people cannot book without the ticket number and phone instead."""
    for opening in scope.openings:
        # Once its time has passed (a held opening is re-checked), the day that matters is today.
        on = max(timezone.localdate(opening.opens_at), scope.today)
        plan = plan_for(municipality=scope.municipality, on=on)
        if plan is None:
            continue
        label = opening_label(opening)
        band = BirthBand(opening.born_from, opening.born_to)
        arrivals = [
            (mailout.mailed_on + dt.timedelta(days=plan.delivery_days), mailout.tickets)
            for mailout in plan.mailouts.all()
            if band.intersect(
                band_for_ages(
                    on=mailout.mailed_on, age_from=mailout.age_from, age_to=mailout.age_to
                )
            )
        ]
        if not arrivals:
            yield warning(
                "opening_without_mailout",
                gettext_noop("%(label)s: この年代への接種券の発送がシーズン計画にありません。"),
                label=label,
            )
            continue
        first = min(day for day, _tickets in arrivals)
        late = sum(tickets for day, tickets in arrivals if day > on)
        if first > on:
            yield error(
                "opening_before_mailout",
                gettext_noop(
                    "%(label)s: 受付開始日 %(date)s は、この年代の接種券が届く %(arrives)s より前"
                    "です。券番号がなければ予約できず、問い合わせの電話が集中します。"
                ),
                label=label,
                date=on.isoformat(),
                arrives=first.isoformat(),
            )
        elif late:
            yield warning(
                "opening_before_some_tickets",
                gettext_noop(
                    "%(label)s: この年代の接種券のうち %(tickets)s 枚は、受付開始日 %(date)s より"
                    "後に届きます。"
                ),
                label=label,
                tickets=late,
                date=on.isoformat(),
            )
