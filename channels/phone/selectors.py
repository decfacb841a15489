"""Reads for the console: whose residents an operator sees, the resident screen, the slot
grid, call metrics and the booking dashboard (aggregated in the database)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Avg, Count, F, Q, Sum
from django.db.models.functions import TruncDate, TruncHour
from django.utils import timezone

from channels.phone.models import Call
from reservations.exceptions import BookingNotOpenYet, NotEligible
from reservations.models import (
    Channel,
    Municipality,
    Reservation,
    Resident,
    Slot,
)
from reservations.selectors import (
    AvailableSlot,
    dose_check,
    dose_history,
    first_bookable_days,
    next_dose_number,
    person_for,
    slot_list_available,
)


def open_call(user: Any) -> Call | None:
    return Call.objects.filter(operator_id=user.pk, ended_at__isnull=True).first()


@dataclass(frozen=True)
class BookingOutlook:
    """Whether the resident may book the next dose of a campaign, and if not why and when."""

    campaign: Any
    vaccine: Any
    dose_number: int
    first_date: dt.date
    allowed: bool
    message: str
    rule: str
    earliest_date: dt.date | None
    active: Reservation | None

    @property
    def duplicate(self) -> bool:
        """A live booking exists and no further dose may be booked: only a change makes sense."""
        return self.active is not None and not self.allowed


def booking_outlook(*, resident: Resident, now: dt.datetime) -> list[BookingOutlook]:
    """For every campaign and vaccine with upcoming days, judge the next dose on its first
    upcoming day, the same way a booking would."""
    today = timezone.localdate(now)
    history = dose_history(resident=resident)
    # The first day a booking is offered now, by the rule the web offers slots by (the day
    # itself included when its window and a slot still allow it).
    first_day = first_bookable_days(municipality_id=resident.municipality_id, now=now)
    active = list(
        Reservation.objects.filter(
            resident=resident, status__in=Reservation.ACTIVE_STATUSES
        ).select_related("slot")
    )
    outlooks = []
    for day in first_day.values():
        first = day.date
        campaign, vaccine = day.campaign, day.vaccine
        dose_number = next_dose_number(campaign=campaign, history=history)
        # Any live booking in the campaign is shown: booking again is what the warning is for.
        existing = next((r for r in active if r.campaign_id == campaign.pk), None)
        allowed, message, rule, earliest = True, "", "", None
        try:
            decision = dose_check(
                person=person_for(resident),
                campaign=campaign,
                vaccine=vaccine,
                dose_number=dose_number,
                on=first,
                booked_on=today,
                history=history,
            )
            rule = ", ".join(str(r) for r in decision.rules_applied)
        except NotEligible as refusal:
            allowed, message, rule = False, str(refusal), refusal.rule_code
            earliest = refusal.earliest_date
        except BookingNotOpenYet as refusal:
            allowed, message = False, str(refusal)
            rule, earliest = str(refusal.detail.get("rule", "")), refusal.opens_on
        outlooks.append(
            BookingOutlook(
                campaign=campaign,
                vaccine=vaccine,
                dose_number=dose_number,
                first_date=first,
                allowed=allowed,
                message=message,
                rule=rule,
                earliest_date=earliest,
                active=existing,
            )
        )
    return outlooks


def channels_used(resident: Resident) -> list[str]:
    """The channels this resident's bookings came in by (web, LINE, phone, ...)."""
    values = (
        Reservation.objects.filter(resident=resident)
        .values_list("channel", flat=True)
        .distinct()
        .order_by()
    )
    labels = dict(Channel.choices)
    return [str(labels.get(v, v)) for v in sorted(set(values))]


@dataclass(frozen=True)
class GridCell:
    available: AvailableSlot
    reserve_left: int

    @property
    def slot(self) -> Slot:
        return self.available.slot


@dataclass(frozen=True)
class GridDay:
    date: dt.date
    site_name: str
    vaccine_name: str
    cells: list[GridCell]


def slot_grid(
    *, resident: Resident, date_from: dt.date, days: int, now: dt.datetime
) -> list[GridDay]:
    """Slots the resident may book, for the phone channel (the phone reserve included),
    grouped by day and site. Each cell knows seats left and the unused phone reserve."""
    available = slot_list_available(
        resident=resident,
        date_from=date_from,
        date_to=date_from + dt.timedelta(days=days - 1),
        channel=Channel.PHONE,
        now=now,
    )
    grouped: dict[tuple[dt.date, str, str], list[GridCell]] = {}
    for item in available:
        day = item.slot.operating_day
        key = (day.date, day.site.name, day.vaccine.name)
        grouped.setdefault(key, []).append(
            GridCell(available=item, reserve_left=item.slot.unused_phone_reserve(now=now))
        )
    return [
        GridDay(date=k[0], site_name=k[1], vaccine_name=k[2], cells=v)
        for k, v in sorted(grouped.items())
    ]


@dataclass(frozen=True)
class BookingReadback:
    """What the operator reads to the caller before a booking is made: the slot (with its day,
    site and vaccine), the dose it would be, and whether the next dose is booked with it."""

    slot: Slot
    dose_number: int
    pairs_next_dose: bool

    @property
    def starts_at(self) -> dt.datetime:
        return timezone.localtime(self.slot.starts_at)


def booking_readback(*, resident: Resident, slot_id: int) -> BookingReadback | None:
    """The read-back for booking `slot_id`, or None when no such slot is in the resident's
    municipality. Whether it can still be booked is the booking's own decision."""
    slot = (
        Slot.objects.filter(
            pk=slot_id, operating_day__site__municipality_id=resident.municipality_id
        )
        .select_related(
            "operating_day__site", "operating_day__vaccine", "operating_day__campaign__program"
        )
        .first()
    )
    if slot is None:
        return None
    day = slot.operating_day
    dose = next_dose_number(campaign=day.campaign, history=dose_history(resident=resident))
    # The same test the booking service makes before pairing (reservations/services/booking.py,
    # reservation_book): a series vaccine, a dose before the series' last, and a programme
    # that allows more than one dose per campaign (the routine ones give one a season).
    limit = day.campaign.program.max_doses_per_campaign
    pairs = dose < day.vaccine.primary_series_doses and (limit is None or limit > 1)
    return BookingReadback(slot=slot, dose_number=dose, pairs_next_dose=pairs)


# --- Call metrics -------------------------------------------------------------------------------


def call_metrics(
    *, municipality: Municipality, date_from: dt.date, date_to: dt.date
) -> list[dict[str, Any]]:
    """Per operator and hour: calls, average handling time, bookings per call (closed calls)."""
    tz = timezone.get_current_timezone()
    rows = (
        Call.objects.filter(
            municipality=municipality,
            ended_at__isnull=False,
            started_at__date__gte=date_from,
            started_at__date__lte=date_to,
        )
        .annotate(hour=TruncHour("started_at", tzinfo=tz))
        .values("operator__username", "hour")
        .annotate(
            calls=Count("pk"),
            aht=Avg("handling_seconds"),
            bookings=Sum("bookings_made"),
        )
        .order_by("hour", "operator__username")
    )
    return [
        {
            "operator": r["operator__username"],
            "hour": r["hour"],
            "calls": r["calls"],
            "aht_seconds": round(r["aht"] or 0),
            "bookings": r["bookings"] or 0,
            "bookings_per_call": (r["bookings"] or 0) / r["calls"],
        }
        for r in rows
    ]


# --- Dashboard ----------------------------------------------------------------------------------


def seats_by_channel(
    *, municipality: Municipality, date_from: dt.date, date_to: dt.date, now: dt.datetime
) -> dict[str, int]:
    """Seats still free in future slots: for public channels, and the phone reserve on top."""
    totals = Slot.objects.filter(
        operating_day__site__municipality=municipality,
        operating_day__date__gte=date_from,
        operating_day__date__lte=date_to,
        starts_at__gt=now,
    ).aggregate(
        capacity=Sum("capacity"),
        booked=Sum("booked"),
        reserved=Sum("phone_reserved"),
        booked_staff=Sum("booked_staff"),
    )
    capacity = totals["capacity"] or 0
    booked = totals["booked"] or 0
    # Approximation over many slots: the unused reserve per slot can't go below 0, which the
    # sum of differences ignores only where staff booked beyond the reserve.
    reserve_left = (
        Slot.objects.filter(
            operating_day__site__municipality=municipality,
            operating_day__date__gte=date_from,
            operating_day__date__lte=date_to,
            starts_at__gt=now,
            phone_reserved__gt=F("booked_staff"),
        ).aggregate(left=Sum(F("phone_reserved") - F("booked_staff")))["left"]
        or 0
    )
    free = capacity - booked
    return {
        "all": free,
        "phone_reserve": min(reserve_left, free),
        "public": free - min(reserve_left, free),
    }


def _day_bounds(date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    return (
        dt.datetime.combine(date_from, dt.time.min, tzinfo=tz),
        dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
    )


def bookings_by_channel_per_day(
    *, municipality: Municipality, date_from: dt.date, date_to: dt.date
) -> list[dict[str, Any]]:
    """Bookings made per local day and channel. Filtered on the raw timestamp (a plain range
    the database can compare without converting every row's time zone first)."""
    start, end = _day_bounds(date_from, date_to)
    return list(
        Reservation.objects.filter(
            resident__municipality=municipality, created_at__gte=start, created_at__lt=end
        )
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "channel")
        .annotate(n=Count("pk"))
        .order_by("day", "channel")
    )


def cancellations_and_no_shows(
    *, municipality: Municipality, date_from: dt.date, date_to: dt.date
) -> list[dict[str, Any]]:
    """Per vaccination day: bookings, cancellations, no-shows (by the slot's date)."""
    return list(
        Reservation.objects.filter(
            slot__operating_day__site__municipality=municipality,
            slot__operating_day__date__gte=date_from,
            slot__operating_day__date__lte=date_to,
        )
        .values("slot__operating_day__date")
        .annotate(
            total=Count("pk"),
            cancelled=Count("pk", filter=Q(status=Reservation.Status.CANCELLED)),
            no_show=Count("pk", filter=Q(status=Reservation.Status.NO_SHOW)),
        )
        .order_by("slot__operating_day__date")
    )
