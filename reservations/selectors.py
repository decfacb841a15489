"""Reads of the booking core. Channels and services call these; none of them writes."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import jpholiday
from django.conf import settings
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    Func,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone
from django.utils.translation import gettext as _

from reservations.cohorts import cohort_door_check, cohort_door_is_open
from reservations.exceptions import (
    BookingNotOpenYet,
    CohortNotOpenYet,
    NotEligible,
    OpeningBlocked,
    OutsideBookingWindow,
    ReservationError,
)
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
from reservations.rules.engine import (
    SEARCH_HORIZON_DAYS,
    Decision,
    HistoryDose,
    Person,
    RuleBook,
    check_dose,
)

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


def seat_mark(seats_left: int, capacity: int) -> str:
    """○ plenty, △ few (a fifth or less), × none: what residents are used to seeing."""
    if seats_left <= 0:
        return "×"
    if seats_left <= max(1, capacity // 5):
        return "△"
    return "○"


@dataclass(frozen=True)
class AvailableSlot:
    slot: Slot
    seats_left: int

    @property
    def mark(self) -> str:
        return seat_mark(self.seats_left, self.slot.capacity)


def slot_seats_left(slot: Slot, *, channel: str, now: dt.datetime, expired_holds: int = 0) -> int:
    """Seats a booking from `channel` could take now, counting expired holds as free."""
    staff = channel in STAFF_CHANNELS
    return min(slot.capacity, slot.seats_left(staff=staff, now=now) + expired_holds)


# --- How late a slot may be booked, and until when a booking may be changed online -------------


@dataclass(frozen=True)
class SlotTiming:
    """What the clock allows for one slot at one moment.

    `offered`: a booking of it may be taken now without a staff override (it has not started
    and its day's booking window is open). `changeable_online`: a booking of it could still be
    changed or cancelled by the resident (web, LINE) until `changes_close_after`, inclusive;
    after that only through the call centre."""

    offered: bool
    changeable_online: bool
    changes_close_after: dt.date


def slot_timing(*, day: OperatingDay, starts_at: dt.datetime, now: dt.datetime) -> SlotTiming:
    """The one rule for "how late can one book" and "can it still be changed online", read
    from the day's own window (the methods the booking service checks with). Every list a
    resident or an operator picks from, and the console's first bookable date, ask this.

    A slot whose change deadline has passed may still be offered when the window allows it
    (a municipality that books up to the day itself chose that): the pages that offer it say
    that it cannot then be changed online."""
    return SlotTiming(
        offered=starts_at > now and day.is_open_for_booking(now),
        changeable_online=timezone.localdate(now) <= day.changes_close_after(),
        changes_close_after=day.changes_close_after(),
    )


def _upcoming_days(*, municipality_id: int, now: dt.datetime) -> list[tuple[OperatingDay, bool]]:
    """The open sites' days with a slot still to start, in date order, each with whether
    `slot_timing` offers it now (asked of its last slot: the window is the day's)."""
    days = (
        OperatingDay.objects.filter(
            site__municipality_id=municipality_id,
            site__is_active=True,
            date__gte=timezone.localdate(now),
        )
        .annotate(last_start=Max("slots__starts_at"))
        .filter(last_start__gt=now)
        .select_related("campaign__program", "vaccine", "site")
        .order_by("date", "site__name", "pk")
    )
    return [(day, slot_timing(day=day, starts_at=day.last_start, now=now).offered) for day in days]


def first_bookable_days(
    *, municipality_id: int, now: dt.datetime
) -> dict[tuple[int, int], OperatingDay]:
    """Per (campaign id, vaccine id): the first day with a slot `slot_timing` offers at `now`,
    before anyone's own rules. The console's 「予約できます（…以降の枠）」 is this day."""
    first: dict[tuple[int, int], OperatingDay] = {}
    for day, offered in _upcoming_days(municipality_id=municipality_id, now=now):
        if offered:
            first.setdefault((day.campaign_id, day.vaccine_id), day)
    return first


@dataclass(frozen=True)
class BookingProspect:
    """One vaccine of one campaign with days ahead, judged for one resident at one moment: the
    first day a booking is offered (None: no day's window is open now) and the core's refusal
    on that day, or on the first day ahead when none is open (None: the booking would pass).

    The refusal keeps the core's facts: NotEligible (rule_code, earliest_date),
    BookingNotOpenYet (opens_on), CohortNotOpenYet (opens_at), OpeningBlocked, and
    OutsideBookingWindow (detail: opens_on, or closed_after when every window ahead is shut)."""

    campaign: Campaign
    vaccine: Vaccine
    dose_number: int
    first_day: OperatingDay | None
    refusal: ReservationError | None


def booking_prospects(*, resident: Resident, now: dt.datetime) -> list[BookingProspect]:
    """For every campaign and vaccine with days ahead in the resident's municipality: may they
    book its next dose, and if not, why and from when. The rules first (a person who is not
    eligible hears that, not when the window opens), then the cohort door, then the window."""
    today = timezone.localdate(now)
    history = dose_history(resident=resident)
    person = person_for(resident)
    by_choice: dict[tuple[int, int], list[tuple[OperatingDay, bool]]] = {}
    for day, is_offered in _upcoming_days(municipality_id=resident.municipality_id, now=now):
        by_choice.setdefault((day.campaign_id, day.vaccine_id), []).append((day, is_offered))
    prospects = []
    for choice in by_choice.values():
        days = [day for day, _offered in choice]
        offered = [day for day, is_offered in choice if is_offered]
        judged = offered[0] if offered else days[0]
        campaign, vaccine = judged.campaign, judged.vaccine
        dose_number = next_dose_number(campaign=campaign, history=history)
        refusal: ReservationError | None = None
        try:
            dose_check(
                person=person,
                campaign=campaign,
                vaccine=vaccine,
                dose_number=dose_number,
                on=judged.date,
                booked_on=today,
                history=history,
            )
            cohort_door_check(resident=resident, campaign_id=campaign.pk, now=now)
        except (NotEligible, BookingNotOpenYet, CohortNotOpenYet, OpeningBlocked) as refused:
            refusal = refused
        if refusal is None and not offered:
            refusal = _window_refusal(days, today=today)
        prospects.append(
            BookingProspect(
                campaign=campaign,
                vaccine=vaccine,
                dose_number=dose_number,
                first_day=offered[0] if offered else None,
                refusal=refusal,
            )
        )
    return prospects


def _window_refusal(days: list[OperatingDay], *, today: dt.date) -> OutsideBookingWindow:
    """Why none of these days can be booked now: the first window still to open, or, when every
    one has closed, the last day booking was taken for."""
    opening = [d.booking_opens_on() for d in days if d.booking_opens_on() > today]
    if opening:
        return OutsideBookingWindow(opens_on=min(opening))
    return OutsideBookingWindow(closed_after=max(d.booking_closes_after() for d in days))


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
        if (
            not staff
            and not slot_timing(day=day, starts_at=available.slot.starts_at, now=now).offered
        ):
            continue
        key = (day.date, day.vaccine_id, day.campaign_id)
        if key not in verdicts:
            # A public channel shows nothing behind a shut cohort door (reservations.cohorts);
            # staff see the slots, as they see closed windows, and the booking names the date.
            verdicts[key] = (
                staff
                or cohort_door_is_open(resident=resident, campaign_id=day.campaign_id, now=now)
            ) and _may_book(
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
    # English names, empty when none was entered (reservations.localized picks one).
    site_name_en: str = ""
    vaccine_name_en: str = ""

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
        .values("site__name", "site__name_en", "date", "vaccine__name", "vaccine__name_en")
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
            site_name_en=d["site__name_en"],
            vaccine_name_en=d["vaccine__name_en"],
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
    The web page reads the same through `bookable_days_for_change` (one grouped query); this
    slot-by-slot list is the reference the tests hold that one to.
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
        if not staff and not slot_timing(day=day, starts_at=slot.starts_at, now=now).offered:
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


# --- What a booking page shows: its days from one grouped query, the times of one day ----------
#
# `slot_list_available` builds every slot of every site for the whole range, which is right for
# a short list (LINE, the call centre) but made the web page cost 270 ms a view. The page needs
# far less: which vaccines and sites lead to a seat, one line per day with its seats, and the
# times of the one day chosen. `bookable_days` gives the first three from one grouped query
# (rows per operating day, no model object per slot) and `bookable_day_slots` the last; the
# rules they apply are the listing's own (the window, the cohort door, `dose_check` per date,
# the seat arithmetic of `slot_seats_left`), and tests/reservations/test_selectors.py checks
# on varied worlds that both give what the listing gives.


class _HoursBefore(Func):
    """A datetime column minus a whole number of hours taken from another column. Django has
    no portable "integer × interval": PostgreSQL multiplies an interval, SQLite shifts the text
    it stores datetimes as (whole seconds: slots start on the minute)."""

    arity = 2
    output_field = DateTimeField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="(%(expressions)s)",
            arg_joiner=" - INTERVAL '1 hour' * ",
            **extra,
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="datetime(%(expressions)s || ' hours')",
            arg_joiner=", '-' || ",
            **extra,
        )


def _slot_seats_left_sql(*, channel: str, now: dt.datetime) -> Least:
    """`slot_seats_left` of each slot as an SQL expression, so a day's seats are one SUM. The
    same arithmetic as Slot.seats_left / Slot.unused_phone_reserve (and booking_sql's
    seat_take_public): the three must change together."""
    expired_holds = Coalesce(
        Subquery(
            Reservation.objects.filter(
                slot=OuterRef("pk"),
                status=Reservation.Status.HELD,
                held_until__lte=now,
            )
            .order_by()
            .values("slot")
            .annotate(n=Count("pk"))
            .values("n")
        ),
        0,
    )
    free: Any = F("capacity") - F("booked")
    if channel not in STAFF_CHANNELS:
        reserve_held = Q(operating_day__phone_reserve_release_hours__isnull=True) | Q(
            reserve_release__gt=now
        )
        free -= Case(
            When(reserve_held, then=Greatest(F("phone_reserved") - F("booked_staff"), 0)),
            default=Value(0),
        )
    return Least(F("capacity"), Greatest(free, 0) + expired_holds)


@dataclass(frozen=True)
class BookableDay:
    """One operating day on which a person may book, with the capacity and seats left of its
    slots that have not started (full days included: the page shows them as ×)."""

    date: dt.date
    site_id: int
    site_name: str
    campaign: Campaign
    vaccine: Vaccine
    first_start: dt.datetime
    capacity: int
    seats_left: int
    # The site's English name, empty when none was entered (reservations.localized picks one).
    site_name_en: str = ""
    # A booking made now could still be changed or cancelled online (slot_timing).
    changeable_online: bool = True

    @property
    def mark(self) -> str:
        """The slots' marks, over the whole day."""
        return seat_mark(self.seats_left, self.capacity)


def _dates_allowed(
    *,
    person: Person,
    campaign: Campaign,
    vaccine: Vaccine,
    dose_number: int,
    dates: Iterable[dt.date],
    today: dt.date,
    history: list[HistoryDose],
) -> set[dt.date]:
    """The dates on which `dose_check` passes, asking it in date order: a refusal names the
    earliest date that passes (or none within SEARCH_HORIZON_DAYS), and every date before that
    fails the same way, so they are not asked again. The verdicts are `dose_check`'s own."""
    allowed = set()
    refused_until = dt.date.min
    for on in sorted(set(dates)):
        if on < refused_until:
            continue
        try:
            dose_check(
                person=person,
                campaign=campaign,
                vaccine=vaccine,
                dose_number=dose_number,
                on=on,
                booked_on=today,
                history=history,
            )
        except BookingNotOpenYet:
            continue
        except NotEligible as refusal:
            refused_until = refusal.earliest_date or on + dt.timedelta(days=SEARCH_HORIZON_DAYS + 1)
            continue
        allowed.add(on)
    return allowed


def _bookable_days(
    *,
    resident: Resident,
    date_from: dt.date,
    date_to: dt.date,
    channel: str,
    now: dt.datetime,
    history: list[HistoryDose],
    dose_number: int | None,
    campaign_id: int | None = None,
    exclude_slot_id: int | None = None,
    cohort_doors: bool,
) -> list[BookableDay]:
    staff = channel in STAFF_CHANNELS
    slots = Slot.objects.filter(
        operating_day__site__municipality_id=resident.municipality_id,
        operating_day__site__is_active=True,
        operating_day__date__gte=date_from,
        operating_day__date__lte=date_to,
        starts_at__gt=now,
    )
    if campaign_id is not None:
        slots = slots.filter(operating_day__campaign_id=campaign_id)
    if exclude_slot_id is not None:
        slots = slots.exclude(pk=exclude_slot_id)
    if not staff:
        slots = slots.annotate(
            reserve_release=_HoursBefore("starts_at", "operating_day__phone_reserve_release_hours")
        )

    def load() -> list[dict[str, Any]]:
        return _day_rows(slots, channel=channel, now=now)

    # Public channels read the seat sums through the shared short-lived copy: at an opening
    # thousands of residents view the same days within seconds (see _day_rows_recent).
    rows = (
        load()
        if staff
        else _day_rows_recent(
            (
                resident.municipality_id,
                channel,
                date_from,
                date_to,
                campaign_id,
                exclude_slot_id,
            ),
            load,
        )
    )
    # Public channels see a day only inside its booking window (slot_timing, on an unsaved copy
    # of the row's window; every slot of a row is still to start).
    if not staff:
        rows = [
            row
            for row in rows
            if slot_timing(day=_row_day(row), starts_at=row["first_start"], now=now).offered
        ]
    return _bookable_days_from_rows(
        rows,
        resident=resident,
        staff=staff,
        now=now,
        history=history,
        dose_number=dose_number,
        cohort_doors=cohort_doors,
    )


# A process reuses the grouped seat sums of a public day list for
# settings.BOOKING_DAY_LIST_REUSE_SECONDS. The list is what a resident chooses from, not a
# promise: the hold re-checks the seat in the core, and a seat shown free that was taken a
# second ago gets the usual 「満席」 answer.
_day_rows_store: dict[tuple[Any, ...], tuple[float, list[dict[str, Any]]]] = {}
# A season's distinct keys are few (municipality x channel x today's date range); the bound only
# stops a pathological caller from growing the dict.
_DAY_ROWS_MAX_KEYS = 512


def _day_rows_recent(
    key: tuple[Any, ...], load: Callable[[], list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """load()'s rows, or this process's copy of them if it is younger than
    BOOKING_DAY_LIST_REUSE_SECONDS. Without it each view of the booking page ran the grouped
    SUM over every slot of the season; at an opening the same sums were computed hundreds of
    times a second. No lock: two threads missing together both load; the later copy stands."""
    reuse = settings.BOOKING_DAY_LIST_REUSE_SECONDS
    if reuse <= 0:
        return load()
    cached = _day_rows_store.get(key)
    now = time.monotonic()
    if cached is not None and now - cached[0] < reuse:
        return cached[1]
    rows = load()
    if len(_day_rows_store) >= _DAY_ROWS_MAX_KEYS:
        _day_rows_store.clear()
    _day_rows_store[key] = (now, rows)
    return rows


def day_rows_cache_clear() -> None:
    """Forget the reused day lists (tests; a process that must see its own writes at once)."""
    _day_rows_store.clear()


def _row_day(row: dict[str, Any]) -> OperatingDay:
    """An unsaved OperatingDay with the row's date and windows, to ask its own rules."""
    return OperatingDay(
        date=row["operating_day__date"],
        booking_opens_days_before=row["operating_day__booking_opens_days_before"],
        booking_closes_days_before=row["operating_day__booking_closes_days_before"],
        change_closes_days_before=row["operating_day__change_closes_days_before"],
    )


def _day_rows(slots: QuerySet[Slot], *, channel: str, now: dt.datetime) -> list[dict[str, Any]]:
    """One row per operating day with its capacity and seats left for this channel."""
    return list(
        slots.values(
            "operating_day_id",
            "operating_day__date",
            "operating_day__site_id",
            "operating_day__site__name",
            "operating_day__site__name_en",
            "operating_day__campaign_id",
            "operating_day__vaccine_id",
            "operating_day__booking_opens_days_before",
            "operating_day__booking_closes_days_before",
            "operating_day__change_closes_days_before",
        )
        .annotate(
            first_start=Min("starts_at"),
            day_capacity=Sum("capacity"),
            day_seats_left=Sum(_slot_seats_left_sql(channel=channel, now=now)),
        )
        .order_by()
    )


def _bookable_days_from_rows(
    rows: list[dict[str, Any]],
    *,
    resident: Resident,
    staff: bool,
    now: dt.datetime,
    history: list[HistoryDose],
    dose_number: int | None,
    cohort_doors: bool,
) -> list[BookableDay]:
    """The rows this resident may book (the cohort door, dose_check per date), as days."""
    today = timezone.localdate(now)
    person = person_for(resident)
    dates_by_choice: dict[tuple[int, int], list[dt.date]] = {}
    for row in rows:
        choice = (row["operating_day__campaign_id"], row["operating_day__vaccine_id"])
        dates_by_choice.setdefault(choice, []).append(row["operating_day__date"])
    allowed: dict[tuple[int, int], set[dt.date]] = {}
    for (campaign_pk, vaccine_pk), dates in dates_by_choice.items():
        campaign = campaign_cached(campaign_pk)
        if cohort_doors and not (
            staff or cohort_door_is_open(resident=resident, campaign_id=campaign_pk, now=now)
        ):
            allowed[campaign_pk, vaccine_pk] = set()
            continue
        allowed[campaign_pk, vaccine_pk] = _dates_allowed(
            person=person,
            campaign=campaign,
            vaccine=vaccine_cached(vaccine_pk),
            dose_number=dose_number or next_dose_number(campaign=campaign, history=history),
            dates=dates,
            today=today,
            history=history,
        )
    days = [
        BookableDay(
            date=row["operating_day__date"],
            site_id=row["operating_day__site_id"],
            site_name=row["operating_day__site__name"],
            campaign=campaign_cached(row["operating_day__campaign_id"]),
            vaccine=vaccine_cached(row["operating_day__vaccine_id"]),
            first_start=row["first_start"],
            capacity=row["day_capacity"],
            seats_left=row["day_seats_left"],
            changeable_online=slot_timing(
                day=_row_day(row), starts_at=row["first_start"], now=now
            ).changeable_online,
            site_name_en=row["operating_day__site__name_en"],
        )
        for row in rows
        if row["operating_day__date"]
        in allowed[row["operating_day__campaign_id"], row["operating_day__vaccine_id"]]
    ]
    # The listing's order (start, then site name): the page offers vaccines and sites in the
    # order their first time appears.
    days.sort(key=lambda day: (day.first_start, day.site_name))
    return days


def bookable_days(
    *,
    resident: Resident,
    date_from: dt.date,
    date_to: dt.date,
    channel: str = Channel.WEB,
    now: dt.datetime | None = None,
) -> list[BookableDay]:
    """The days on which `slot_list_available` lists slots for this resident, one per
    operating day with the sums of those slots' capacity and seats left, from one grouped
    query (every site, vaccine and campaign; a few hundred rows for a season)."""
    now = now or timezone.now()
    return _bookable_days(
        resident=resident,
        date_from=date_from,
        date_to=date_to,
        channel=channel,
        now=now,
        history=dose_history(resident=resident),
        dose_number=None,
        cohort_doors=True,
    )


def bookable_days_for_change(
    *,
    reservation: Reservation,
    date_from: dt.date,
    date_to: dt.date,
    channel: str = Channel.WEB,
    now: dt.datetime | None = None,
) -> list[BookableDay]:
    """The days on which `slot_list_for_change` lists slots for this booking, as
    `bookable_days` gives them: same campaign, its own dose number, its own slot left out."""
    now = now or timezone.now()
    history = dose_history(
        resident=reservation.resident,
        exclude_reservation_ids=[reservation.pk, *filter(None, [reservation.next_dose_id])],
    )
    return _bookable_days(
        resident=reservation.resident,
        date_from=date_from,
        date_to=date_to,
        channel=channel,
        now=now,
        history=history,
        dose_number=reservation.dose_number,
        campaign_id=reservation.campaign_id,
        exclude_slot_id=reservation.slot_id,
        cohort_doors=False,
    )


def bookable_day_slots(
    *,
    day: BookableDay,
    municipality: Municipality,
    channel: str = Channel.WEB,
    now: dt.datetime | None = None,
    exclude_slot_id: int | None = None,
) -> list[AvailableSlot]:
    """The slots of one day from `bookable_days` (or `…_for_change`, leaving out the booking's
    own slot): what `slot_list_available` lists on that day, full ones included."""
    return [
        available
        for available in slot_list(
            municipality=municipality,
            date_from=day.date,
            date_to=day.date,
            channel=channel,
            site_id=day.site_id,
            vaccine_id=day.vaccine.pk,
            campaign_id=day.campaign.pk,
            now=now,
        )
        if available.slot.pk != exclude_slot_id
    ]


@dataclass(frozen=True)
class PublicDay:
    """One operating day as the public start page lists it: where, what, and the seats a
    resident could still book (slots still to start, the web's own seat arithmetic)."""

    date: dt.date
    site_name: str
    site_name_en: str
    vaccine_name: str
    vaccine_name_en: str
    capacity: int
    seats_left: int
    # Booking is taken now (slot_timing); else it opens on `opens_on` (opens_later) or has
    # closed for residents.
    offered: bool
    opens_later: bool
    opens_on: dt.date

    @property
    def mark(self) -> str:
        return seat_mark(self.seats_left, self.capacity)


def public_day_list(
    *, municipality: Municipality, date_from: dt.date, date_to: dt.date, now: dt.datetime
) -> list[PublicDay]:
    """The open sites' days in the range that still have a slot to start, with the seats left
    for the web (no personal data; one grouped query)."""
    slots = Slot.objects.filter(
        operating_day__site__municipality=municipality,
        operating_day__site__is_active=True,
        operating_day__date__gte=date_from,
        operating_day__date__lte=date_to,
        starts_at__gt=now,
    ).annotate(
        reserve_release=_HoursBefore("starts_at", "operating_day__phone_reserve_release_hours")
    )
    rows = (
        slots.values(
            "operating_day_id",
            "operating_day__date",
            "operating_day__site__name",
            "operating_day__site__name_en",
            "operating_day__vaccine__name",
            "operating_day__vaccine__name_en",
            "operating_day__booking_opens_days_before",
            "operating_day__booking_closes_days_before",
            "operating_day__change_closes_days_before",
        )
        .annotate(
            first_start=Min("starts_at"),
            day_capacity=Sum("capacity"),
            day_seats_left=Sum(_slot_seats_left_sql(channel=Channel.WEB, now=now)),
        )
        .order_by("operating_day__date", "operating_day__site__name", "operating_day_id")
    )
    days = []
    for row in rows:
        day = _row_day(row)
        days.append(
            PublicDay(
                date=day.date,
                site_name=row["operating_day__site__name"],
                site_name_en=row["operating_day__site__name_en"],
                vaccine_name=row["operating_day__vaccine__name"],
                vaccine_name_en=row["operating_day__vaccine__name_en"],
                capacity=row["day_capacity"] or 0,
                seats_left=row["day_seats_left"] or 0,
                offered=slot_timing(day=day, starts_at=row["first_start"], now=now).offered,
                opens_later=timezone.localdate(now) < day.booking_opens_on(),
                opens_on=day.booking_opens_on(),
            )
        )
    return days


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


def ticket_may_book_in(*, slot_municipality_id: int, ticket_municipality_id: int) -> bool:
    """The rule against booking across municipalities, in one place: a ticket books the venues
    of the municipality that issued it, and those of a municipality that accepts its residents
    (住所地外接種, Municipality.accepts_residents_of; one-way). Its own municipality, the common
    case, reads nothing; another is one indexed read of the acceptance table."""
    if slot_municipality_id == ticket_municipality_id:
        return True
    accepted = Municipality.accepts_residents_of.through._default_manager.filter(
        from_municipality_id=slot_municipality_id, to_municipality_id=ticket_municipality_id
    )
    return accepted.exists()


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


def no_show_candidates(*, operating_day: OperatingDay, now: dt.datetime) -> QuerySet[Reservation]:
    """The day's bookings that end-of-day would mark as no-shows: still confirmed, their time
    has come, and nobody checked them in (a checked-in person came, even if not yet recorded).
    The venue previews exactly this list before marking it."""
    return (
        Reservation.objects.filter(
            slot__operating_day=operating_day,
            status=Reservation.Status.CONFIRMED,
            slot__starts_at__lte=now,
            checked_in_at__isnull=True,
        )
        .select_related("resident", "slot")
        .order_by("slot__starts_at", "resident__name_kana", "pk")
    )
