"""The pre-opening check: before booking opens, read the municipality's set-up and say what
would go wrong, each finding with a severity (error / warning / info), a stable code and a
message. In 2021 cities opened with set-ups nobody had checked: dose-2 seats missing for
dose-1 bookings, windows opening on the wrong day, phone lines sized from population alone.

The core names no channel, yet part of a set-up belongs to the channels (the SMS sender, the
LINE channel, the call centre's forecast of who phones and when the tickets are mailed). So,
as with `reservations.retention`, each app registers its own checks from its
`AppConfig.ready()` and this module runs whatever is registered; the core's own checks come
first. `manage.py season_check`, the admin and the beat task all call `season_check`; the
verdict on an opening is recorded, and enforced, by `reservations.services.openings`.

A check takes a `CheckScope` and returns findings. It only reads. Its message is a Japanese
msgid marked with gettext_noop (spelled out: makemessages knows no alias) and filled from
JSON-safe `params`, so a finding can be stored
(OpeningCheck.findings) and shown later in the reader's language.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from reservations.models import (
    Campaign,
    ClosedDay,
    CohortOpening,
    DayLot,
    Municipality,
    OperatingDay,
    Slot,
    Ticket,
)
from reservations.rules.engine import standard_next_date
from reservations.selectors import closed_days_between, rulebook_for
from reservations.services.series import PAIRING_SEARCH_DAYS_AFTER

logger = logging.getLogger(__name__)


class Severity:
    """How much a finding matters: an error keeps an opening shut until it is fixed or an
    administrator accepts it; a warning and an info are shown and recorded only."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    RANK = {ERROR: 0, WARNING: 1, INFO: 2}
    LABELS = {ERROR: _("エラー"), WARNING: _("警告"), INFO: _("情報")}


@dataclass(frozen=True)
class Finding:
    severity: str
    code: str
    # A Japanese msgid (marked with gettext_noop where it is written), %(name)s-formatted.
    message: str
    params: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """The message in the active language."""
        translated = gettext(self.message)
        return translated % self.params if self.params else translated

    def severity_label(self) -> str:
        return str(Severity.LABELS[self.severity])

    def as_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "params": self.params,
        }

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Finding:
        return cls(row["severity"], row["code"], row["message"], dict(row.get("params") or {}))


def error(code: str, message: str, **params: Any) -> Finding:
    return Finding(Severity.ERROR, code, message, params)


def warning(code: str, message: str, **params: Any) -> Finding:
    return Finding(Severity.WARNING, code, message, params)


def info(code: str, message: str, **params: Any) -> Finding:
    return Finding(Severity.INFO, code, message, params)


@dataclass(frozen=True)
class DayFacts:
    """An operating day with what the checks need from its slots and lots."""

    day: OperatingDay
    seats: int
    phone_reserved: int
    slots: int
    has_lots: bool

    @property
    def pairs_next_dose(self) -> bool:
        """Whether a dose-1 booking here books dose 2 with it (as services.booking decides)."""
        limit = self.day.campaign.program.max_doses_per_campaign
        return self.day.vaccine.primary_series_doses >= 2 and (limit is None or limit > 1)

    @property
    def people(self) -> float:
        """People this day's seats can start on their campaign: a two-dose series takes a
        second seat elsewhere for each, so it counts half (the dose-2 check sees to that
        seat)."""
        return self.seats / 2 if self.pairs_next_dose else float(self.seats)


@dataclass(frozen=True)
class CheckScope:
    """What one run looks at: a municipality's operating days from today (or from the opening's
    date) onwards, in one campaign or all, and the cohort openings concerned: one opening, or
    every upcoming one (and any still held shut by an earlier check)."""

    municipality: Municipality
    now: dt.datetime
    campaign: Campaign | None = None
    opening: CohortOpening | None = None

    @property
    def today(self) -> dt.date:
        return timezone.localdate(self.now)

    @property
    def campaign_id(self) -> int | None:
        if self.campaign is not None:
            return self.campaign.pk
        return self.opening.campaign_id if self.opening is not None else None

    @property
    def starts_on(self) -> dt.date:
        if self.opening is None:
            return self.today
        return max(self.today, timezone.localdate(self.opening.opens_at))

    @cached_property
    def openings(self) -> list[CohortOpening]:
        if self.opening is not None:
            return [self.opening]
        rows = CohortOpening.objects.filter(municipality=self.municipality).filter(
            Q(opens_at__gt=self.now) | Q(check_blocked=True)
        )
        if self.campaign is not None:
            rows = rows.filter(Q(campaign=self.campaign) | Q(campaign__isnull=True))
        return list(rows.select_related("campaign").order_by("opens_at", "born_from"))

    @cached_property
    def days(self) -> list[DayFacts]:
        """Operating days in scope, not cancelled, in date order, with their slot sums."""
        days = (
            OperatingDay.objects.filter(
                site__municipality=self.municipality, date__gte=self.starts_on
            )
            .exclude(cancellation__approved_at__isnull=False)
            .select_related("site", "vaccine", "campaign__program")
            .order_by("date", "site_id", "vaccine_id")
        )
        if self.campaign_id is not None:
            days = days.filter(campaign_id=self.campaign_id)
        rows = list(days)
        ids = [day.pk for day in rows]
        sums = {
            row["operating_day_id"]: row
            for row in Slot.objects.filter(operating_day_id__in=ids)
            .values("operating_day_id")
            .annotate(seats=Sum("capacity"), reserved=Sum("phone_reserved"), slots=Count("id"))
        }
        with_lots = set(
            DayLot.objects.filter(operating_day_id__in=ids).values_list(
                "operating_day_id", flat=True
            )
        )
        return [
            DayFacts(
                day=day,
                seats=int(sums.get(day.pk, {}).get("seats") or 0),
                phone_reserved=int(sums.get(day.pk, {}).get("reserved") or 0),
                slots=int(sums.get(day.pk, {}).get("slots") or 0),
                has_lots=day.pk in with_lots,
            )
            for day in rows
        ]

    def days_for(self, opening: CohortOpening) -> list[DayFacts]:
        """The days an opening lets its band book: from its date, in its campaign (or all)."""
        opens_on = timezone.localdate(opening.opens_at)
        return [
            facts
            for facts in self.days
            if facts.day.date >= opens_on
            and (opening.campaign_id is None or facts.day.campaign_id == opening.campaign_id)
        ]

    def cohort_size(self, *, born_from: dt.date | None, born_to: dt.date | None) -> int:
        """Residents of the band holding an issued ticket of this municipality (the imported
        ticket list), counted in the database."""
        tickets = Ticket.objects.filter(municipality=self.municipality, status=Ticket.Status.ISSUED)
        if born_from is not None:
            tickets = tickets.filter(resident__birth_date__gte=born_from)
        if born_to is not None:
            tickets = tickets.filter(resident__birth_date__lte=born_to)
        return tickets.values("resident_id").distinct().count()


class Check(Protocol):
    def __call__(self, scope: CheckScope) -> Iterable[Finding]: ...


_checks: dict[str, Check] = {}


def check_register(name: str, check: Check) -> None:
    """Register `check` under `name` (`<app>.<what>`). Keyed by name, so registering again (an
    app's ready() run twice) replaces, never doubles."""
    _checks[name] = check


def checks_registered() -> list[str]:
    return list(_checks)


def season_check(
    *,
    municipality: Municipality,
    now: dt.datetime,
    campaign: Campaign | None = None,
    opening: CohortOpening | None = None,
) -> list[Finding]:
    """Run every registered check; the findings, errors first (otherwise in check order).

    A check that fails is an error finding of its own: a set-up nobody could check must not
    open as if it had passed.
    """
    scope = CheckScope(municipality=municipality, now=now, campaign=campaign, opening=opening)
    findings: list[Finding] = []
    for name, check in _checks.items():
        try:
            findings.extend(check(scope))
        except Exception:
            logger.exception("season check %s failed for %s", name, municipality.code)
            findings.append(
                error(
                    "check_failed",
                    gettext_noop(
                        "チェック「%(check)s」を実行できませんでした。ログを確認してください。"
                    ),
                    check=name,
                )
            )
    return sorted(findings, key=lambda finding: Severity.RANK[finding.severity])


def has_errors(findings: Sequence[Finding]) -> bool:
    return any(finding.severity == Severity.ERROR for finding in findings)


# --- Helpers for check messages -----------------------------------------------------------------

DATES_SHOWN = 5


def dates_text(dates: Iterable[dt.date]) -> str:
    """A few ISO dates for a message (language-neutral); the count goes in its own param."""
    ordered = sorted(set(dates))
    shown = ", ".join(day.isoformat() for day in ordered[:DATES_SHOWN])
    return shown + (" …" if len(ordered) > DATES_SHOWN else "")


def opening_label(opening: CohortOpening) -> str:
    return str(opening)


# --- The core's checks --------------------------------------------------------------------------


def check_dose_two_seats(scope: CheckScope) -> Iterable[Finding]:
    """Every dose-1 seat of a two-dose series has a dose-2 seat at the interval.

    Seats are fungible: a day's seats serve the dose 1 of new people and the dose 2 of people
    who came at the interval before. So, per site, vaccine and campaign, in date order, each
    day offers as dose 1 what earlier days have not already claimed as their dose 2, and claims
    that many seats on the days the series pairing would search (services.series: from the
    standard date to PAIRING_SEARCH_DAYS_AFTER later, nearest first). Dose-1 seats left with no
    seat to claim are the 2021 mistake: the booking would be refused (SecondDoseUnavailable)
    or, worse, dose 2 promised where there is none.
    """
    groups: dict[tuple[int, int, int], list[DayFacts]] = defaultdict(list)
    for facts in scope.days:
        if facts.pairs_next_dose and facts.seats > 0:
            day = facts.day
            groups[(day.site_id, day.vaccine_id, day.campaign_id)].append(facts)
    for group in groups.values():
        first = group[0].day
        rules = rulebook_for(
            municipality_id=scope.municipality.pk,
            campaign=first.campaign,
            antigen=first.vaccine.antigen,
        )
        claimed: dict[int, int] = defaultdict(int)
        short: dict[dt.date, int] = {}
        no_rule: list[dt.date] = []
        for facts in group:
            day = facts.day
            offered = facts.seats - claimed[day.pk]
            if offered <= 0:
                continue
            target = standard_next_date(
                vaccine=day.vaccine,
                dose_number=2,
                previous_on=day.date,
                municipality_id=scope.municipality.pk,
                rules=rules,
            )
            if target is None:
                no_rule.append(day.date)
                continue
            last = target + dt.timedelta(days=PAIRING_SEARCH_DAYS_AFTER)
            need = offered
            for later in group:
                if need == 0:
                    break
                if target <= later.day.date <= last:
                    take = min(need, later.seats - claimed[later.day.pk])
                    if take > 0:
                        claimed[later.day.pk] += take
                        need -= take
            if need:
                short[day.date] = need
        if no_rule:
            yield error(
                "dose_two_rule_missing",
                gettext_noop(
                    "%(site)s（%(vaccine)s）: 2回目の接種間隔のルールがないため、"
                    "1回目の予約で2回目を予約できません（%(count)s日: %(dates)s）。"
                ),
                site=first.site.name,
                vaccine=first.vaccine.name,
                count=len(no_rule),
                dates=dates_text(no_rule),
            )
        if short:
            yield error(
                "dose_two_seats_missing",
                gettext_noop(
                    "%(site)s（%(vaccine)s）: 1回目の枠 %(seats)s 席に、接種間隔をあけた2回目の"
                    "枠がありません（%(count)s日: %(dates)s）。2回目の稼働日・枠を追加するか、"
                    "この日の枠を減らしてください。"
                ),
                site=first.site.name,
                vaccine=first.vaccine.name,
                seats=sum(short.values()),
                count=len(short),
                dates=dates_text(short),
            )


def _uptake_percent() -> int:
    return int(settings.SEASON_CHECK_UPTAKE_PERCENT)


def _capacity_findings(
    days: list[DayFacts], *, label: str, cohort: int, expected: int
) -> Iterable[Finding]:
    seats = sum(facts.seats for facts in days)
    people = int(sum(facts.people for facts in days))
    if seats == 0:
        yield error(
            "no_seats",
            gettext_noop("%(label)s: 予約できる枠がありません（対象 %(cohort)s 人）。"),
            label=label,
            cohort=cohort,
        )
        return
    if people < expected:
        yield warning(
            "seats_below_demand",
            gettext_noop(
                "%(label)s: 枠は %(people)s 人分で、見込みの予約者 %(expected)s 人"
                "（対象 %(cohort)s 人）に足りません。受付開始直後に満席になり、電話が集中します。"
            ),
            label=label,
            people=people,
            expected=expected,
            cohort=cohort,
        )
    else:
        yield info(
            "capacity_summary",
            gettext_noop(
                "%(label)s: 枠は %(people)s 人分、見込みの予約者 %(expected)s 人"
                "（対象 %(cohort)s 人）。"
            ),
            label=label,
            people=people,
            expected=expected,
            cohort=cohort,
        )


def check_capacity(scope: CheckScope) -> Iterable[Finding]:
    """Capacity against the eligible cohort (issued tickets) and the expected demand: per
    opening for its band (its `expected_bookings`, or the cohort × the expected uptake), and
    for the whole municipality when no single opening is being checked. An opening at whose
    time no day's booking window is open lets nobody in: an error."""
    uptake = _uptake_percent()
    for opening in scope.openings:
        label = opening_label(opening)
        cohort = scope.cohort_size(born_from=opening.born_from, born_to=opening.born_to)
        if cohort == 0:
            yield warning(
                "cohort_empty",
                gettext_noop(
                    "%(label)s: この年代の接種券が1枚も登録されていません。"
                    "接種券の一覧を取り込んだか確認してください。"
                ),
                label=label,
            )
        expected = (
            opening.expected_bookings
            if opening.expected_bookings is not None
            else round(cohort * uptake / 100)
        )
        days = scope.days_for(opening)
        yield from _capacity_findings(days, label=label, cohort=cohort, expected=expected)
        # A held opening is re-checked after its time: what matters then is today, or its
        # error could never clear without moving the opening.
        opens_on = max(timezone.localdate(opening.opens_at), scope.today)
        if any(facts.seats for facts in days) and not any(
            facts.seats
            and facts.day.booking_opens_on() <= opens_on <= facts.day.booking_closes_after()
            for facts in days
        ):
            yield error(
                "nothing_bookable_at_opening",
                gettext_noop(
                    "%(label)s: 受付開始の日に受付期間中の稼働日がなく、開始しても予約できません。"
                    "稼働日の「予約受付開始（何日前）」を確認してください。"
                ),
                label=label,
            )
    if scope.opening is None:
        cohort = scope.cohort_size(born_from=None, born_to=None)
        yield from _capacity_findings(
            scope.days,
            label=str(scope.municipality),
            cohort=cohort,
            expected=round(cohort * uptake / 100),
        )


def check_closed_days(scope: CheckScope) -> Iterable[Finding]:
    """No slots on closed days: the municipality's own closed days are an error (it said the
    venues are shut); national holidays and 年末年始 a warning, since many municipalities do
    vaccinate on them on purpose."""
    with_slots = [facts for facts in scope.days if facts.slots]
    if not with_slots:
        return
    closed = closed_days_between(
        municipality=scope.municipality,
        date_from=with_slots[0].day.date,
        date_to=with_slots[-1].day.date,
    )
    own = list(ClosedDay.objects.filter(municipality=scope.municipality))
    for facts in with_slots:
        day = facts.day
        reason = closed.get(day.date)
        if reason is None:
            continue
        params = {"date": day.date.isoformat(), "reason": reason, "site": day.site.name}
        if any(row.falls_on(day.date) for row in own):
            yield error(
                "slots_on_closed_day",
                gettext_noop("%(date)s（%(reason)s）は休業日ですが、%(site)s に予約枠があります。"),
                **params,
            )
        else:
            yield warning(
                "slots_on_holiday",
                gettext_noop(
                    "%(date)s（%(reason)s）は祝日・年末年始ですが、%(site)s に予約枠があります。"
                    "開く予定であれば問題ありません。"
                ),
                **params,
            )


def check_vaccines_and_lots(scope: CheckScope) -> Iterable[Finding]:
    """Every operating day gives a vaccine of its campaign, and the days coming soon
    (SEASON_CHECK_LOT_DAYS) have their lots on the list venue staff pick from."""
    lot_horizon = scope.today + dt.timedelta(days=int(settings.SEASON_CHECK_LOT_DAYS))
    allowed: dict[int, set[int]] = {}
    wrong: dict[tuple[str, str], list[dt.date]] = defaultdict(list)
    no_lots: dict[str, list[dt.date]] = defaultdict(list)
    for facts in scope.days:
        day = facts.day
        if day.campaign_id not in allowed:
            allowed[day.campaign_id] = set(day.campaign.vaccines.values_list("pk", flat=True))
        vaccines = allowed[day.campaign_id]
        if vaccines and day.vaccine_id not in vaccines:
            wrong[(day.site.name, day.vaccine.name)].append(day.date)
        if facts.slots and day.date <= lot_horizon and not facts.has_lots:
            no_lots[day.site.name].append(day.date)
    for (site, vaccine), dates in wrong.items():
        yield error(
            "vaccine_not_in_campaign",
            gettext_noop(
                "%(site)s: %(vaccine)s は接種事業の使用ワクチンにありません"
                "（%(count)s日: %(dates)s）。"
            ),
            site=site,
            vaccine=vaccine,
            count=len(dates),
            dates=dates_text(dates),
        )
    for site, dates in no_lots.items():
        yield warning(
            "day_without_lots",
            gettext_noop(
                "%(site)s: 近く稼働する日に使うロットが登録されていません"
                "（%(count)s日: %(dates)s）。会場で接種を記録する前に登録してください。"
            ),
            site=site,
            count=len(dates),
            dates=dates_text(dates),
        )


def check_call_centre(scope: CheckScope) -> Iterable[Finding]:
    """Every refusal a resident reads ends with "call the centre": it needs a number."""
    if not scope.municipality.call_centre_phone.strip():
        yield error(
            "call_centre_phone_missing",
            gettext_noop(
                "コールセンターの電話番号が設定されていません。予約できない住民に案内する番号です"
                "（自治体の設定）。"
            ),
        )


# Days by which the change deadline may come before booking closes with only a warning: the
# project's defaults do exactly this (the last day's bookings are changed by phone).
CHANGE_DEADLINE_GAP_TOLERATED = 1


def check_windows(scope: CheckScope) -> Iterable[Finding]:
    """Booking windows consistent: days lie within their campaign, each opening falls on a
    working day, and a resident does not book a day they can no longer change or cancel online
    (the change deadline before booking closes). One day of that is the usual arrangement
    (OperatingDay's defaults: the last day's bookings are changed through the call centre), a
    warning; more is an error: for days on end, whoever books cannot cancel online, so the
    phones fill and seats are lost to no-shows."""
    gaps: dict[str, dict[dt.date, int]] = defaultdict(dict)
    outside: dict[str, list[dt.date]] = defaultdict(list)
    for facts in scope.days:
        day = facts.day
        gap = (day.booking_closes_after() - day.changes_close_after()).days
        if gap > 0:
            gaps[day.site.name][day.date] = gap
        if not day.campaign.covers(day.date):
            outside[day.campaign.name].append(day.date)
    for site, by_date in gaps.items():
        widest = max(by_date.values())
        make = error if widest > CHANGE_DEADLINE_GAP_TOLERATED else warning
        yield make(
            "change_deadline_before_booking_closes",
            gettext_noop(
                "%(site)s: 変更・キャンセルの締切が予約受付の終了より最大 %(gap)s 日前です"
                "（%(count)s日: %(dates)s）。その間に予約した人はWebやLINEで変更もキャンセルも"
                "できず、コールセンターに電話することになります。"
            ),
            site=site,
            gap=widest,
            count=len(by_date),
            dates=dates_text(by_date),
        )
    for campaign, dates in outside.items():
        yield error(
            "day_outside_campaign",
            gettext_noop("%(campaign)s の期間外に稼働日があります（%(count)s日: %(dates)s）。"),
            campaign=campaign,
            count=len(dates),
            dates=dates_text(dates),
        )
    if not scope.openings:
        return
    opening_dates = [timezone.localdate(opening.opens_at) for opening in scope.openings]
    closed = closed_days_between(
        municipality=scope.municipality, date_from=min(opening_dates), date_to=max(opening_dates)
    )
    for opening, opens_on in zip(scope.openings, opening_dates, strict=True):
        label = opening_label(opening)
        if opens_on in closed:
            yield error(
                "opening_on_closed_day",
                gettext_noop(
                    "%(label)s: 受付開始日 %(date)s は休業日（%(reason)s）です。"
                    "問い合わせに応じる職員がいない日に受付を始めないでください。"
                ),
                label=label,
                date=opens_on.isoformat(),
                reason=closed[opens_on],
            )
        elif opens_on.weekday() >= 5:
            yield warning(
                "opening_on_weekend",
                gettext_noop(
                    "%(label)s: 受付開始日 %(date)s は土曜・日曜です。"
                    "市役所の窓口は閉まっています。"
                ),
                label=label,
                date=opens_on.isoformat(),
            )


for _name, _check in (
    ("core.dose_two_seats", check_dose_two_seats),
    ("core.capacity", check_capacity),
    ("core.closed_days", check_closed_days),
    ("core.vaccines_and_lots", check_vaccines_and_lots),
    ("core.call_centre", check_call_centre),
    ("core.windows", check_windows),
):
    check_register(_name, _check)
