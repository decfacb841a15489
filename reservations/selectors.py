"""Reads of the booking core. Channels and services call these; none of them writes."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import jpholiday
from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from reservations.exceptions import BookingNotOpenYet, NotEligible
from reservations.models import (
    STAFF_CHANNELS,
    Campaign,
    Channel,
    ClosedDay,
    EligibilityRule,
    IntervalRule,
    Municipality,
    OperatingDay,
    Reservation,
    Resident,
    Site,
    Slot,
    Vaccination,
    Vaccine,
)
from reservations.rules.engine import Decision, HistoryDose, Person, RuleBook, check_dose

# Rule rows change a few times a year but are read by every booking, so each process keeps
# them for a minute. Saving or deleting a rule clears this process's copy at once (signals in
# apps.py); other processes see the edit within RULEBOOK_CACHE_SECONDS.
RULEBOOK_CACHE_SECONDS = 60.0
_rulebooks: dict[tuple[int, int, str], tuple[float, RuleBook]] = {}
# Campaigns (with their programme) and vaccines are rule data too, read by every booking.
_campaigns: dict[int, tuple[float, Campaign]] = {}
_vaccines: dict[int, tuple[float, Vaccine]] = {}


def rulebook_cache_clear(*args: object, **kwargs: object) -> None:
    _rulebooks.clear()
    _campaigns.clear()
    _vaccines.clear()


_Key = TypeVar("_Key")
_Value = TypeVar("_Value")


def _cached(
    store: dict[_Key, tuple[float, _Value]], key: _Key, load: Callable[[_Key], _Value]
) -> _Value:
    """store[key] if it was loaded less than RULEBOOK_CACHE_SECONDS ago, else load(key) kept."""
    cached = store.get(key)
    if cached is not None and time.monotonic() - cached[0] < RULEBOOK_CACHE_SECONDS:
        return cached[1]
    value = load(key)
    store[key] = (time.monotonic(), value)
    return value


def campaign_cached(campaign_id: int) -> Campaign:
    """The campaign with its programme, from this process's copy of the rule data."""
    return _cached(
        _campaigns, campaign_id, lambda pk: Campaign.objects.select_related("program").get(pk=pk)
    )


def vaccine_cached(vaccine_id: int) -> Vaccine:
    """The vaccine, from this process's copy of the rule data."""
    return _cached(_vaccines, vaccine_id, lambda pk: Vaccine.objects.get(pk=pk))


def rulebook_for(*, municipality_id: int, campaign: Campaign, antigen: str) -> RuleBook:
    """Every rule row that can apply to this municipality's bookings in this campaign."""
    program_id = campaign.program_id

    def load(_key: tuple[int, int, str]) -> RuleBook:
        local = Q(municipality__isnull=True) | Q(municipality_id=municipality_id)
        return RuleBook(
            eligibility=tuple(EligibilityRule.objects.filter(local, program_id=program_id)),
            intervals=tuple(
                IntervalRule.objects.filter(local).filter(
                    Q(antigen=antigen) | Q(reference=IntervalRule.Reference.OTHER_ANTIGEN)
                )
            ),
        )

    return _cached(_rulebooks, (municipality_id, program_id, antigen), load)


def person_for(resident: Resident) -> Person:
    return Person(
        birth_date=resident.birth_date,
        municipality_id=resident.municipality_id,
        high_risk_attested=resident.high_risk_attested,
    )


def dose_check(
    *,
    person: Person,
    campaign: Campaign,
    vaccine: Vaccine,
    dose_number: int,
    on: dt.date,
    booked_on: dt.date,
    history: Sequence[HistoryDose],
    override_reason: str = "",
) -> Decision:
    """The rules' verdict on this dose for this person, under the rule book in force for their
    municipality, campaign and antigen: the one way the core and the channels ask. Raises as
    `check_dose` does (NotEligible, BookingNotOpenYet)."""
    return check_dose(
        person=person,
        campaign=campaign,
        vaccine=vaccine,
        dose_number=dose_number,
        on=on,
        booked_on=booked_on,
        history=history,
        rules=rulebook_for(
            municipality_id=person.municipality_id, campaign=campaign, antigen=vaccine.antigen
        ),
        override_reason=override_reason,
    )


def reservation_series(reservation: Reservation, *, for_update: bool = False) -> list[Reservation]:
    """The booking and the later doses paired with it (セット予約), in order, in one query: a
    series never leaves its resident and campaign. With `for_update` the rows are locked, for
    writes that change the whole series."""
    rows = Reservation.objects.filter(
        resident_id=reservation.resident_id, campaign_id=reservation.campaign_id
    ).select_related("slot__operating_day__site")
    if for_update:
        rows = rows.select_for_update(of=("self",))
    by_id = {row.pk: row for row in rows}
    chain = [reservation]  # the caller's own object first: it may save it and return it
    seen = {reservation.pk}
    while (following := chain[-1].next_dose_id) in by_id and following not in seen:
        seen.add(following)
        chain.append(by_id[following])
    return chain


def active_reservations(*, resident_id: int) -> list[Reservation]:
    """The resident's held and confirmed bookings, with what the rules need (slot, vaccine)."""
    return list(
        Reservation.objects.filter(resident_id=resident_id, status__in=Reservation.ACTIVE_STATUSES)
        .select_related("slot", "vaccine")
        .order_by()
    )


def dose_history(
    *,
    resident: Resident,
    exclude_reservation_ids: Iterable[int] = (),
    active: list[Reservation] | None = None,
) -> list[HistoryDose]:
    """Doses given (active vaccination records) and doses booked (active reservations).

    `active` lets a caller that already loaded the resident's bookings skip that query."""
    history = [
        HistoryDose(
            antigen=v.antigen,
            vaccine_id=v.vaccine_id,
            dose_number=v.dose_number,
            on=v.vaccinated_on,
            campaign_id=v.campaign_id,
        )
        for v in Vaccination.objects.filter(
            resident=resident,
            status=Vaccination.Status.ACTIVE,
            outcome=Vaccination.Outcome.VACCINATED,
        ).order_by()
    ]
    excluded = set(exclude_reservation_ids)
    booked = active if active is not None else active_reservations(resident_id=resident.pk)
    history.extend(planned_dose(r) for r in booked if r.pk not in excluded)
    return history


def planned_dose(reservation: Reservation) -> HistoryDose:
    """A booked dose as the rule engine sees it: on the date of its slot."""
    return HistoryDose(
        antigen=reservation.vaccine.antigen,
        vaccine_id=reservation.vaccine_id,
        dose_number=reservation.dose_number,
        on=timezone.localdate(reservation.slot.starts_at),
        campaign_id=reservation.campaign_id,
        planned=True,
    )


def next_dose_number(*, campaign: Campaign, history: list[HistoryDose]) -> int:
    """The dose a new booking in `campaign` would be: cumulative per antigen, or per campaign."""
    program = campaign.program
    if program.cumulative_dose_numbers:
        numbers = [h.dose_number for h in history if h.antigen == program.antigen]
    else:
        numbers = [h.dose_number for h in history if h.campaign_id == campaign.pk]
    return max(numbers, default=0) + 1


def _expired_holds(now: dt.datetime) -> Count:
    return Count(
        "reservations",
        filter=Q(reservations__status=Reservation.Status.HELD, reservations__held_until__lte=now),
    )


@dataclass(frozen=True)
class AvailableSlot:
    slot: Slot
    seats_left: int

    @property
    def mark(self) -> str:
        """○ plenty, △ few, × none: what residents are used to seeing."""
        if self.seats_left <= 0:
            return "×"
        if self.seats_left <= max(1, self.slot.capacity // 5):
            return "△"
        return "○"


def slot_seats_left(slot: Slot, *, channel: str, now: dt.datetime, expired_holds: int = 0) -> int:
    """Seats a booking from `channel` could take now, counting expired holds as free."""
    staff = channel in STAFF_CHANNELS
    return min(slot.capacity, slot.seats_left(staff=staff, now=now) + expired_holds)


def slot_list(
    *,
    municipality: Municipality,
    date_from: dt.date,
    date_to: dt.date,
    channel: str = Channel.WEB,
    site_id: int | None = None,
    vaccine_id: int | None = None,
    campaign_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[AvailableSlot]:
    """Every future slot in the range with seats left for `channel` (no personal data)."""
    now = now or timezone.now()
    slots = (
        Slot.objects.filter(
            operating_day__site__municipality=municipality,
            operating_day__site__is_active=True,
            operating_day__date__gte=date_from,
            operating_day__date__lte=date_to,
            starts_at__gt=now,
        )
        # The rule check reads each day's programme: joined here, not fetched per day.
        .select_related(
            "operating_day__site", "operating_day__vaccine", "operating_day__campaign__program"
        )
        .annotate(expired_holds=_expired_holds(now))
        .order_by("starts_at", "operating_day__site__name")
    )
    if site_id is not None:
        slots = slots.filter(operating_day__site_id=site_id)
    if vaccine_id is not None:
        slots = slots.filter(operating_day__vaccine_id=vaccine_id)
    if campaign_id is not None:
        slots = slots.filter(operating_day__campaign_id=campaign_id)
    return [
        AvailableSlot(
            slot=s,
            seats_left=slot_seats_left(
                s,
                channel=channel,
                now=now,
                expired_holds=s.expired_holds,
            ),
        )
        for s in slots
    ]


def slot_list_available(
    *,
    resident: Resident,
    date_from: dt.date,
    date_to: dt.date,
    channel: str = Channel.WEB,
    site_id: int | None = None,
    vaccine_id: int | None = None,
    campaign_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[AvailableSlot]:
    """Slots this resident may book: rules pass on that date and the booking window is open.

    Public channels only see days whose booking window is open today; staff channels see every
    future day (they may override the window with a permission). Full slots are kept (seats_left
    0) so a page can show ×.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    staff = channel in STAFF_CHANNELS
    history = dose_history(resident=resident)
    person = person_for(resident)
    verdicts: dict[tuple[dt.date, int, int], bool] = {}
    result = []
    for available in slot_list(
        municipality=resident.municipality,
        date_from=date_from,
        date_to=date_to,
        channel=channel,
        site_id=site_id,
        vaccine_id=vaccine_id,
        campaign_id=campaign_id,
        now=now,
    ):
        day = available.slot.operating_day
        if not staff and not day.is_open_for_booking(now):
            continue
        key = (day.date, day.vaccine_id, day.campaign_id)
        if key not in verdicts:
            verdicts[key] = _may_book(
                person=person,
                campaign=day.campaign,
                vaccine=day.vaccine,
                on=day.date,
                today=today,
                history=history,
            )
        if verdicts[key]:
            result.append(available)
    return result


def _may_book(
    *,
    person: Person,
    campaign: Campaign,
    vaccine: Vaccine,
    on: dt.date,
    today: dt.date,
    history: list[HistoryDose],
) -> bool:
    try:
        dose_check(
            person=person,
            campaign=campaign,
            vaccine=vaccine,
            dose_number=next_dose_number(campaign=campaign, history=history),
            on=on,
            booked_on=today,
            history=history,
        )
    except (NotEligible, BookingNotOpenYet):
        return False
    return True


def reservation_list_for_resident(*, resident: Resident) -> QuerySet[Reservation]:
    return (
        Reservation.objects.filter(resident=resident)
        .select_related("slot__operating_day__site", "vaccine", "campaign", "next_dose")
        .order_by("slot__starts_at")
    )


def vaccination_list_for_resident(*, resident: Resident) -> QuerySet[Vaccination]:
    return (
        Vaccination.objects.filter(resident=resident)
        .select_related("vaccine", "site")
        .order_by("vaccinated_on", "dose_number", "version")
    )


@dataclass(frozen=True)
class FillRate:
    site_name: str
    date: dt.date
    vaccine_name: str
    capacity: int
    booked: int

    @property
    def rate(self) -> float:
        return self.booked / self.capacity if self.capacity else 0.0


def fill_rates(
    *, municipality: Municipality, date_from: dt.date, date_to: dt.date
) -> list[FillRate]:
    """Per site and operating day: seats, seats taken, and the fill rate."""
    days = (
        OperatingDay.objects.filter(
            site__municipality=municipality, date__gte=date_from, date__lte=date_to
        )
        .values("site__name", "date", "vaccine__name")
        .annotate(capacity=Sum("slots__capacity"), booked=Sum("slots__booked"))
        .order_by("date", "site__name")
    )
    return [
        FillRate(
            site_name=d["site__name"],
            date=d["date"],
            vaccine_name=d["vaccine__name"],
            capacity=d["capacity"] or 0,
            booked=d["booked"] or 0,
        )
        for d in days
    ]


def slot_counter_mismatches() -> list[int]:
    """Slots whose counters disagree with their reservation rows (should always be empty)."""
    seated = ~Q(reservations__status=Reservation.Status.CANCELLED)
    return list(
        Slot.objects.annotate(
            rows=Count("reservations", filter=seated),
            staff_rows=Count("reservations", filter=seated & Q(reservations__staff_seat=True)),
        )
        .filter(~Q(rows=F("booked")) | ~Q(staff_rows=F("booked_staff")))
        .values_list("pk", flat=True)
    )


def slot_list_for_change(
    *,
    reservation: Reservation,
    date_from: dt.date,
    date_to: dt.date,
    channel: str = Channel.WEB,
    site_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[AvailableSlot]:
    """Slots a booking could move to: same campaign, rules passing for *its* dose number.

    The booking itself (and its paired next dose, which `reservation_change` refits) are left
    out of the history, as the change service judges them, so the list matches what it accepts.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    staff = channel in STAFF_CHANNELS
    resident = reservation.resident
    history = dose_history(
        resident=resident,
        exclude_reservation_ids=[reservation.pk, *filter(None, [reservation.next_dose_id])],
    )
    person = person_for(resident)
    verdicts: dict[tuple[dt.date, int], bool] = {}
    result = []
    for available in slot_list(
        municipality=resident.municipality,
        date_from=date_from,
        date_to=date_to,
        channel=channel,
        site_id=site_id,
        campaign_id=reservation.campaign_id,
        now=now,
    ):
        slot = available.slot
        day = slot.operating_day
        if slot.pk == reservation.slot_id:
            continue
        if not staff and not day.is_open_for_booking(now):
            continue
        key = (day.date, day.vaccine_id)
        if key not in verdicts:
            try:
                dose_check(
                    person=person,
                    campaign=day.campaign,
                    vaccine=day.vaccine,
                    dose_number=reservation.dose_number,
                    on=day.date,
                    booked_on=today,
                    history=history,
                )
                verdicts[key] = True
            except (NotEligible, BookingNotOpenYet):
                verdicts[key] = False
        if verdicts[key]:
            result.append(available)
    return result


# 年末年始: municipal offices close 12/29–1/3 (地方自治法 §4-2 lets each 条例 set it; nearly every
# municipality uses these six days). On by default per municipality (closed_over_new_year).
NEW_YEAR_CLOSED = ((12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3))


def closed_days_between(
    *, municipality: Municipality, date_from: dt.date, date_to: dt.date
) -> dict[dt.date, str]:
    """The days in the range (inclusive) on which the municipality's venues are closed, with
    the reason shown to staff: national holidays (振替休日 included, from jpholiday), 年末年始
    unless the municipality opens then, and its own closed days. The first reason wins, so 1/1
    reads 元日, not 年末年始."""
    own = list(
        ClosedDay.objects.filter(municipality=municipality).filter(
            Q(every_year=True) | Q(date__gte=date_from, date__lte=date_to)
        )
    )
    closed: dict[dt.date, str] = {}
    day = date_from
    while day <= date_to:
        holiday = jpholiday.is_holiday_name(day)
        if holiday:
            closed[day] = str(holiday)
        elif municipality.closed_over_new_year and (day.month, day.day) in NEW_YEAR_CLOSED:
            closed[day] = str(_("年末年始"))
        else:
            for row in own:
                if row.falls_on(day):
                    closed[day] = row.name
                    break
        day += dt.timedelta(days=1)
    return closed


def slot_offered(*, slot_id: int, municipality_id: int) -> bool:
    """Whether the slot belongs to one of this municipality's open sites (what a resident may
    pick; whether they may take it is the booking's decision)."""
    return Slot.objects.filter(
        pk=slot_id,
        operating_day__site__municipality_id=municipality_id,
        operating_day__site__is_active=True,
    ).exists()


def site_list_active(*, municipality: Municipality) -> QuerySet[Site]:
    """The municipality's venues that take bookings (public facts only)."""
    return Site.objects.filter(municipality=municipality, is_active=True).order_by("name", "pk")


def reservation_find_by_code(*, code: str) -> Reservation | None:
    """One booking by its 予約番号, with what a summary shows (slot, site, paired dose)."""
    return (
        Reservation.objects.select_related(
            "slot__operating_day__site",
            "slot__operating_day__vaccine",
            "next_dose__slot__operating_day__site",
            "next_dose__slot__operating_day__vaccine",
            "previous_dose",
        )
        .filter(code=code)
        .first()
    )


def campaign_for_vaccination(
    *, vaccine: Vaccine, on: dt.date, municipality_id: int
) -> Campaign | None:
    """The campaign a dose given on `on` with `vaccine` belongs to, when exactly one fits."""
    campaigns = list(
        Campaign.objects.filter(vaccines=vaccine, starts_on__lte=on)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=on))
        .filter(Q(municipality__isnull=True) | Q(municipality_id=municipality_id))
        .select_related("program")[:2]
    )
    return campaigns[0] if len(campaigns) == 1 else None
