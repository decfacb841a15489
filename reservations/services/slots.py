"""Setting up a season: operating days and their slots, and changing a slot's capacity.

Only these functions (and the booking services, for the counters) write OperatingDay and Slot
rows. A season is generated from a weekly pattern; days that already exist are never touched,
so running the same pattern again, or a wider one, only fills the gaps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reservations.exceptions import CapacityBelowBooked
from reservations.models import Campaign, OperatingDay, Site, Slot, Vaccine
from reservations.selectors import closed_days_between

if TYPE_CHECKING:
    # Typing-only: django-stubs-ext is a development dependency.
    from django_stubs_ext import StrOrPromise

# Slots are the wall-clock times of a venue in Japan, whatever time zone a request or a
# worker happens to have activated.
JST = ZoneInfo("Asia/Tokyo")

SLOT_MINUTES_MIN = 5
SLOT_MINUTES_MAX = 240
# A leap year's worth: one season, never an accidental decade of rows.
MAX_RANGE_DAYS = 366

WEEKDAY_LABELS = ("月", "火", "水", "木", "金", "土", "日")


@dataclass
class SeasonReport:
    """What `operating_days_generate` did, for the admin message and the command output."""

    created_days: list[dt.date] = field(default_factory=list)
    created_slots: int = 0
    skipped_closed_days: list[tuple[dt.date, str]] = field(default_factory=list)
    skipped_existing: list[dt.date] = field(default_factory=list)


@dataclass
class SeasonPlan:
    """What `operating_days_generate` would do on one site with one pattern, read without
    writing anything: the admin's preview and the command's --dry-run show this, and the
    write checks it again (`expected_days`) so that what was shown is what gets created."""

    days: list[dt.date]
    slot_times: list[tuple[dt.time, dt.time]]
    capacity: int
    phone_reserved: int
    skipped_closed_days: list[tuple[dt.date, str]] = field(default_factory=list)
    skipped_existing: list[dt.date] = field(default_factory=list)
    # Allowed (one operating day per site, date and vaccine), but the venue then runs two
    # vaccines that day, which the person setting up the season should see.
    other_vaccines: dict[dt.date, list[str]] = field(default_factory=dict)

    @property
    def slots_per_day(self) -> int:
        return len(self.slot_times)

    @property
    def slot_count(self) -> int:
        return len(self.days) * self.slots_per_day

    @property
    def seats_per_day(self) -> int:
        return self.slots_per_day * self.capacity

    @property
    def seat_count(self) -> int:
        return len(self.days) * self.seats_per_day

    @property
    def periods(self) -> list[tuple[dt.time, dt.time]]:
        """The opening periods the slots actually cover (a break splits the day; a last
        partial slot that was dropped shortens its period)."""
        periods: list[tuple[dt.time, dt.time]] = []
        for start, end in self.slot_times:
            if periods and periods[-1][1] == start:
                periods[-1] = (periods[-1][0], end)
            else:
                periods.append((start, end))
        return periods


# A changed plan is described with this many dates per kind at most; the preview that follows
# lists them all.
CHANGED_DATES_SHOWN = 10


def _dates_summary(dates: list[dt.date]) -> str:
    shown = "、".join(d.isoformat() for d in dates[:CHANGED_DATES_SHOWN])
    if len(dates) > CHANGED_DATES_SHOWN:
        return str(
            _("%(dates)s ほか%(count)s日")
            % {"dates": shown, "count": len(dates) - CHANGED_DATES_SHOWN}
        )
    return shown


class SeasonPlanChanged(ValidationError):
    """The days a write would create are no longer the days that were previewed: someone
    created or deleted operating days, or changed the closed days, in between. Raised before
    anything is written."""

    def __init__(self, *, site: Site, expected: Collection[dt.date], plan: SeasonPlan) -> None:
        expected_set, planned = set(expected), set(plan.days)
        closed = dict(plan.skipped_closed_days)
        gone = sorted(expected_set - planned)
        self.now_existing = [d for d in gone if d not in closed]
        self.now_closed = [d for d in gone if d in closed]
        self.now_open = sorted(planned - expected_set)
        parts = []
        if self.now_existing:
            parts.append(
                _("作成済みになった日: %(dates)s") % {"dates": _dates_summary(self.now_existing)}
            )
        if self.now_closed:
            parts.append(
                _("休業日になった日: %(dates)s") % {"dates": _dates_summary(self.now_closed)}
            )
        if self.now_open:
            parts.append(
                _("新たに作成できるようになった日: %(dates)s")
                % {"dates": _dates_summary(self.now_open)}
            )
        super().__init__(
            _(
                "会場「%(site)s」: 確認したあとで稼働日または休業日が変わりました（%(changes)s）。"
                "何も作成していません。"
            )
            % {"site": site.name, "changes": "／".join(str(p) for p in parts)},
            code="plan_changed",
        )


def day_slot_times(
    *,
    opens_at: dt.time,
    closes_at: dt.time,
    break_start: dt.time | None,
    break_end: dt.time | None,
    slot_minutes: int,
) -> list[tuple[dt.time, dt.time]]:
    """The (start, end) of each slot of one day: back to back within each opening period, so
    no slot runs into the break or past closing; a period's last partial slot is dropped."""
    periods = (
        [(opens_at, break_start), (break_end, closes_at)]
        if break_start is not None and break_end is not None
        else [(opens_at, closes_at)]
    )
    length = dt.timedelta(minutes=slot_minutes)
    # Any date will do: only the time of day is kept, and Japan has no daylight saving time.
    anchor = dt.date(2000, 1, 1)
    times: list[tuple[dt.time, dt.time]] = []
    for start, end in periods:
        cursor = dt.datetime.combine(anchor, start)
        period_end = dt.datetime.combine(anchor, end)
        while cursor + length <= period_end:
            times.append((cursor.time(), (cursor + length).time()))
            cursor += length
    return times


def _validate_pattern(
    *,
    site: Site,
    vaccine: Vaccine,
    campaign: Campaign,
    date_from: dt.date,
    date_to: dt.date,
    weekdays: Collection[int],
    opens_at: dt.time,
    closes_at: dt.time,
    break_start: dt.time | None,
    break_end: dt.time | None,
    slot_minutes: int,
    capacity: int,
    phone_reserved: int,
    booking_opens_days_before: int,
    booking_closes_days_before: int,
    change_closes_days_before: int,
    phone_reserve_release_hours: int | None,
) -> None:
    """Raise one ValidationError listing every problem, keyed by the parameter's name (the
    admin form uses the same names, so each message lands beside its field)."""
    errors: dict[str, list[ValidationError]] = {}

    def add(key: str, message: StrOrPromise, code: str) -> None:
        errors.setdefault(key, []).append(ValidationError(message, code=code))

    if date_to < date_from:
        add("date_to", _("終了日は開始日以降の日付にしてください。"), "range_reversed")
    elif (date_to - date_from).days + 1 > MAX_RANGE_DAYS:
        add(
            "date_to",
            _("一度に作成できるのは%(max)s日分までです。期間を分けてください。")
            % {"max": MAX_RANGE_DAYS},
            "range_too_long",
        )
    if not weekdays:
        add("weekdays", _("曜日を1つ以上選んでください。"), "no_weekdays")
    elif any(not 0 <= d <= 6 for d in weekdays):
        add("weekdays", _("曜日は0（月）〜6（日）で指定してください。"), "weekday_invalid")

    hours_ok = closes_at > opens_at
    if not hours_ok:
        add("closes_at", _("終了時刻は開始時刻より後にしてください。"), "hours_reversed")
    if (break_start is None) != (break_end is None):
        add("break_end", _("休憩は開始と終了の両方を入力してください。"), "break_incomplete")
    elif break_start is not None and break_end is not None:
        if break_end <= break_start:
            add("break_end", _("休憩の終了は休憩の開始より後にしてください。"), "break_reversed")
        elif not (opens_at < break_start and break_end < closes_at):
            add(
                "break_start",
                _("休憩は受付時間（%(opens)s〜%(closes)s）の内側にしてください。")
                % {"opens": f"{opens_at:%H:%M}", "closes": f"{closes_at:%H:%M}"},
                "break_outside_hours",
            )

    slot_minutes_ok = SLOT_MINUTES_MIN <= slot_minutes <= SLOT_MINUTES_MAX
    if not slot_minutes_ok:
        add(
            "slot_minutes",
            _("1枠の長さは%(min)s分から%(max)s分の間にしてください。")
            % {"min": SLOT_MINUTES_MIN, "max": SLOT_MINUTES_MAX},
            "slot_minutes_out_of_range",
        )
    if hours_ok and slot_minutes_ok and "break_end" not in errors and "break_start" not in errors:
        times = day_slot_times(
            opens_at=opens_at,
            closes_at=closes_at,
            break_start=break_start,
            break_end=break_end,
            slot_minutes=slot_minutes,
        )
        if not times:
            add(
                "slot_minutes",
                _("受付時間が1枠（%(minutes)s分）より短いため、予約枠を作れません。")
                % {"minutes": slot_minutes},
                "no_slot_fits",
            )

    if capacity < 1:
        add("capacity", _("定員は1以上にしてください。"), "capacity_too_small")
    if phone_reserved < 0:
        add("phone_reserved", _("電話専用枠は0以上にしてください。"), "reserve_negative")
    elif phone_reserved > capacity:
        add("phone_reserved", _("電話専用枠は定員以下にしてください。"), "reserve_above_capacity")

    for key, value in (
        ("booking_opens_days_before", booking_opens_days_before),
        ("booking_closes_days_before", booking_closes_days_before),
        ("change_closes_days_before", change_closes_days_before),
    ):
        if value < 0:
            add(key, _("日数は0以上にしてください。"), "days_negative")
    if booking_opens_days_before < booking_closes_days_before:
        add(
            "booking_opens_days_before",
            _("予約受付の開始（%(opens)s日前）は受付終了（%(closes)s日前）より前にしてください。")
            % {"opens": booking_opens_days_before, "closes": booking_closes_days_before},
            "window_reversed",
        )
    if phone_reserve_release_hours is not None and phone_reserve_release_hours < 0:
        add(
            "phone_reserve_release_hours",
            _("電話枠の開放は0時間前以上にしてください。"),
            "release_negative",
        )

    if campaign.municipality_id is not None and campaign.municipality_id != site.municipality_id:
        add(
            "campaign",
            _("%(campaign)sは他の自治体のキャンペーンです。") % {"campaign": campaign.name},
            "campaign_other_municipality",
        )
    elif date_from <= date_to and not (campaign.covers(date_from) and campaign.covers(date_to)):
        add(
            "campaign",
            _("%(campaign)sの実施期間（%(start)s〜%(end)s）の外の日付が含まれています。")
            % {
                "campaign": campaign.name,
                "start": campaign.starts_on.isoformat(),
                "end": campaign.ends_on.isoformat() if campaign.ends_on else "",
            },
            "outside_campaign",
        )
    offered = list(campaign.vaccines.all())
    if offered and vaccine not in offered:
        add(
            "vaccine",
            _("%(campaign)sでは%(vaccine)sは使用しません。")
            % {
                "campaign": campaign.name,
                "vaccine": vaccine.name,
            },
            "vaccine_not_in_campaign",
        )

    if errors:
        raise ValidationError(errors)


def season_plan(
    *,
    site: Site,
    vaccine: Vaccine,
    campaign: Campaign,
    date_from: dt.date,
    date_to: dt.date,
    weekdays: Collection[int],
    opens_at: dt.time,
    closes_at: dt.time,
    break_start: dt.time | None = None,
    break_end: dt.time | None = None,
    slot_minutes: int,
    capacity: int,
    phone_reserved: int = 0,
    booking_opens_days_before: int = 30,
    booking_closes_days_before: int = 1,
    change_closes_days_before: int = 2,
    phone_reserve_release_hours: int | None = None,
    skip_closed_days: bool = True,
) -> SeasonPlan:
    """Which days `operating_days_generate` would create with this pattern, and which it
    would leave out and why; reads only. Raises ValidationError (Japanese messages, keyed by
    parameter) on a bad pattern, exactly as the write does."""
    _validate_pattern(
        site=site,
        vaccine=vaccine,
        campaign=campaign,
        date_from=date_from,
        date_to=date_to,
        weekdays=weekdays,
        opens_at=opens_at,
        closes_at=closes_at,
        break_start=break_start,
        break_end=break_end,
        slot_minutes=slot_minutes,
        capacity=capacity,
        phone_reserved=phone_reserved,
        booking_opens_days_before=booking_opens_days_before,
        booking_closes_days_before=booking_closes_days_before,
        change_closes_days_before=change_closes_days_before,
        phone_reserve_release_hours=phone_reserve_release_hours,
    )
    plan = SeasonPlan(
        days=[],
        slot_times=day_slot_times(
            opens_at=opens_at,
            closes_at=closes_at,
            break_start=break_start,
            break_end=break_end,
            slot_minutes=slot_minutes,
        ),
        capacity=capacity,
        phone_reserved=phone_reserved,
    )
    wanted_weekdays = set(weekdays)
    closed = (
        closed_days_between(municipality=site.municipality, date_from=date_from, date_to=date_to)
        if skip_closed_days
        else {}
    )
    in_range = OperatingDay.objects.filter(site=site, date__gte=date_from, date__lte=date_to)
    existing = set(in_range.filter(vaccine=vaccine).values_list("date", flat=True))
    day = date_from
    while day <= date_to:
        if day.weekday() in wanted_weekdays:
            if day in closed:
                plan.skipped_closed_days.append((day, closed[day]))
            elif day in existing:
                plan.skipped_existing.append(day)
            else:
                plan.days.append(day)
        day += dt.timedelta(days=1)
    planned = set(plan.days)
    for date, vaccine_name in (
        in_range.exclude(vaccine=vaccine)
        .order_by("date", "vaccine__name")
        .values_list("date", "vaccine__name")
    ):
        if date in planned:
            plan.other_vaccines.setdefault(date, []).append(vaccine_name)
    return plan


def operating_days_generate(
    *,
    site: Site,
    vaccine: Vaccine,
    campaign: Campaign,
    date_from: dt.date,
    date_to: dt.date,
    weekdays: Collection[int],
    opens_at: dt.time,
    closes_at: dt.time,
    break_start: dt.time | None = None,
    break_end: dt.time | None = None,
    slot_minutes: int,
    capacity: int,
    phone_reserved: int = 0,
    booking_opens_days_before: int = 30,
    booking_closes_days_before: int = 1,
    change_closes_days_before: int = 2,
    phone_reserve_release_hours: int | None = None,
    skip_closed_days: bool = True,
    expected_days: Collection[dt.date] | None = None,
) -> SeasonReport:
    """Create an operating day, with its slots, on every matching date of the range.

    The municipality's closed days (national holidays incl. 振替休日, 年末年始, its own list:
    `closed_days_between`) are skipped unless `skip_closed_days` is False, and so is every
    date this site already runs with this vaccine: existing days and their bookings are never
    changed. Raises ValidationError (Japanese messages, keyed by parameter) on a bad pattern.

    `expected_days`: the days a preview showed (`season_plan`). If the days to create are no
    longer exactly those, SeasonPlanChanged is raised and nothing is written.
    """
    report = SeasonReport()
    try:
        with transaction.atomic():
            # Planned inside the transaction, so the existing days it reads are the ones the
            # unique constraint will hold the new days against.
            plan = season_plan(
                site=site,
                vaccine=vaccine,
                campaign=campaign,
                date_from=date_from,
                date_to=date_to,
                weekdays=weekdays,
                opens_at=opens_at,
                closes_at=closes_at,
                break_start=break_start,
                break_end=break_end,
                slot_minutes=slot_minutes,
                capacity=capacity,
                phone_reserved=phone_reserved,
                booking_opens_days_before=booking_opens_days_before,
                booking_closes_days_before=booking_closes_days_before,
                change_closes_days_before=change_closes_days_before,
                phone_reserve_release_hours=phone_reserve_release_hours,
                skip_closed_days=skip_closed_days,
            )
            if expected_days is not None and set(expected_days) != set(plan.days):
                raise SeasonPlanChanged(site=site, expected=expected_days, plan=plan)
            new_days = [
                OperatingDay(
                    site=site,
                    date=day,
                    vaccine=vaccine,
                    campaign=campaign,
                    booking_opens_days_before=booking_opens_days_before,
                    booking_closes_days_before=booking_closes_days_before,
                    change_closes_days_before=change_closes_days_before,
                    phone_reserve_release_hours=phone_reserve_release_hours,
                )
                for day in plan.days
            ]
            # bulk_create sets primary keys on PostgreSQL and SQLite >= 3.35, which the slots
            # below need.
            OperatingDay.objects.bulk_create(new_days)
            slots = [
                Slot(
                    operating_day=operating_day,
                    starts_at=timezone.make_aware(
                        dt.datetime.combine(operating_day.date, start), JST
                    ),
                    ends_at=timezone.make_aware(dt.datetime.combine(operating_day.date, end), JST),
                    capacity=capacity,
                    phone_reserved=phone_reserved,
                )
                for operating_day in new_days
                for start, end in plan.slot_times
            ]
            Slot.objects.bulk_create(slots, batch_size=500)
    except IntegrityError:
        # Only a concurrent run of the same pattern can get here (the existing days were
        # filtered out above); everything rolled back, so running it again is safe.
        raise ValidationError(
            _("同じ会場・ワクチンの稼働日が同時に作成されました。もう一度実行してください。"),
            code="concurrent_generation",
        ) from None
    report.created_days = [d.date for d in new_days]
    report.created_slots = len(slots)
    report.skipped_closed_days = plan.skipped_closed_days
    report.skipped_existing = plan.skipped_existing
    return report


def slot_set_capacity(*, slot: Slot, capacity: int, phone_reserved: int | None = None) -> Slot:
    """Raise or lower a slot's capacity (and, if given, its phone reserve), never below the
    seats already booked. Raises CapacityBelowBooked, or ValidationError for a bad reserve."""
    if capacity < 0:
        raise ValidationError(_("定員は0以上にしてください。"), code="capacity_negative")
    if phone_reserved is not None:
        if phone_reserved < 0:
            raise ValidationError(_("電話専用枠は0以上にしてください。"), code="reserve_negative")
        if phone_reserved > capacity:
            raise ValidationError(
                _("電話専用枠は定員以下にしてください。"), code="reserve_above_capacity"
            )
    # One conditional UPDATE, not read-check-write: a booking can take a seat between our
    # read and our write, and the check has to see that seat. The WHERE clause is evaluated on
    # the row as it is when the statement runs (row-locked for that statement on PostgreSQL,
    # serialised by IMMEDIATE transactions on SQLite), exactly like the booking side's
    # `booked < capacity` update. The CHECK constraint booked <= capacity is the backstop.
    fits = Slot.objects.filter(pk=slot.pk, booked__lte=capacity)
    if phone_reserved is None:
        fits = fits.filter(phone_reserved__lte=capacity)
        changes: dict[str, object] = {"capacity": capacity}
    else:
        changes = {"capacity": capacity, "phone_reserved": phone_reserved}
    if fits.update(**changes) == 0:
        current = Slot.objects.get(pk=slot.pk)
        if phone_reserved is None and current.phone_reserved > capacity >= current.booked:
            raise ValidationError(
                _(
                    "電話専用枠（%(reserved)s）が新しい定員を超えます。電話専用枠も減らしてください。"
                )
                % {"reserved": current.phone_reserved},
                code="reserve_above_capacity",
            )
        raise CapacityBelowBooked(
            _("定員を予約数（%(booked)s）より少なくすることはできません。")
            % {"booked": current.booked},
            detail={"booked": current.booked, "capacity": capacity},
        )
    slot.refresh_from_db(fields=["capacity", "phone_reserved", "booked", "booked_staff"])
    return slot


__all__ = [
    "JST",
    "WEEKDAY_LABELS",
    "SeasonPlan",
    "SeasonPlanChanged",
    "SeasonReport",
    "day_slot_times",
    "operating_days_generate",
    "season_plan",
    "slot_set_capacity",
]
