"""Where and when people are vaccinated: municipalities, sites, operating days and slots."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reservations.csv_safety import formula_start_problem
from reservations.identifiers import is_valid_municipality_code


def validate_municipality_code(value: str) -> None:
    if not is_valid_municipality_code(value):
        raise ValidationError(
            _(
                "全国地方公共団体コード（6桁、検査数字付き）が正しくないか、一覧にありません: "
                "%(value)s（合併などで新しいコードの場合は MUNICIPALITY_CODES_ADDED に追加します）"
            ),
            params={"value": value},
            code="municipality_code_invalid",
        )


class Municipality(models.Model):
    """A city, town or village that issues vaccination tickets (接種券).

    `code` is the 6-digit 全国地方公共団体コード including its check digit; tickets are unique only
    within one municipality, so the code is half of every ticket's identity.
    """

    code = models.CharField(
        _("地方公共団体コード"), max_length=6, unique=True, validators=[validate_municipality_code]
    )
    name = models.CharField(_("名称"), max_length=50, blank=True)
    name_en = models.CharField(
        _("名称（英語）"), max_length=50, blank=True, help_text=_("例: Nichinan City")
    )
    prefecture = models.CharField(_("都道府県"), max_length=10, blank=True)
    call_centre_phone = models.CharField(
        _("コールセンター電話番号"),
        max_length=20,
        blank=True,
        help_text=_("予約できないときに住民へ案内する番号（例: 0987-00-0000）"),
    )
    sms_sender_label = models.CharField(
        _("SMSの差出人表示"),
        max_length=30,
        blank=True,
        help_text=_("例: 日南市ワクチン予約"),
    )
    # The notices of residents with neither LINE nor a mobile number that takes SMS: an
    # automated call (channels/voice) instead of an operator's, when the city has turned it on.
    voice_calls_enabled = models.BooleanField(
        _("自動音声電話でお知らせする"),
        default=False,
        help_text=_(
            "LINEもSMSも届かない方（固定電話のみの方など）に、前日のお知らせや会場中止を"
            "自動音声の電話でお伝えします。つながらなかった方は電話連絡リストに残ります。"
        ),
    )
    closed_over_new_year = models.BooleanField(
        _("年末年始（12月29日〜1月3日）は休み"),
        default=True,
        help_text=_(
            "市町村の閉庁日にならい、予約枠の一括作成でこの期間を作成しません。"
            "年末年始も会場を開く年はオフにしてください。"
        ),
    )
    # 住所地外接種: by default a ticket books only the venues of the municipality that issued
    # it (the booking core refuses the rest). A municipality that vaccinates residents of named
    # others (a neighbour's commuters, a joint mass site) lists them here. One-way: 都城市
    # accepting 日南市's residents lets nobody from 都城市 book in 日南市.
    accepts_residents_of = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="residents_accepted_by",
        verbose_name=_("住所地外接種を受け入れる自治体"),
        help_text=_(
            "ここに選んだ自治体の接種券をお持ちの方も、この自治体の会場を予約できます"
            "（住所地外接種）。逆向きには働きません。"
        ),
    )

    class Meta:
        verbose_name = _("自治体")
        verbose_name_plural = _("自治体")
        ordering = ["code"]

    def __str__(self) -> str:
        name = self.name or _("(名称未設定)")
        return f"{name} ({self.code})"


class ClosedDay(models.Model):
    """A day the municipality's venues are closed besides national holidays and 年末年始: a
    local festival, an election day, a city's own office holiday. A yearly row repeats on the
    same month and day every year. The slot generator skips these days; see
    `reservations.selectors.closed_days_between` for the whole calendar."""

    municipality = models.ForeignKey(
        Municipality, on_delete=models.CASCADE, related_name="closed_days"
    )
    date = models.DateField(_("日付"))
    name = models.CharField(_("名称"), max_length=40, help_text=_("例: 市制記念日"))
    every_year = models.BooleanField(
        _("毎年"), default=False, help_text=_("オンにすると毎年の同じ月日も休みになります")
    )

    class Meta:
        verbose_name = _("休業日")
        verbose_name_plural = _("休業日")
        ordering = ["municipality", "date"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "date"], name="closed_day_once_per_date"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date.isoformat()} {self.name}"

    def falls_on(self, day: dt.date) -> bool:
        if self.every_year:
            return (day.month, day.day) == (self.date.month, self.date.day)
        return day == self.date


class Site(models.Model):
    """A vaccination venue (会場): a mass site run by the municipality, or a clinic."""

    class Kind(models.TextChoices):
        MASS = "mass", _("集団接種会場")
        CLINIC = "clinic", _("医療機関（個別接種）")

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="sites")
    name = models.CharField(_("会場名"), max_length=100)
    name_en = models.CharField(
        _("会場名（英語）"),
        max_length=100,
        blank=True,
        help_text=_("英語の画面・SMS・LINEで使います。空欄なら日本語の会場名を表示します。"),
    )
    short_name = models.CharField(
        _("短縮名"), max_length=30, blank=True, help_text=_("SMSやLINEで使う短い名前")
    )
    vrs_name = models.CharField(
        _("VRS用会場名"), max_length=30, blank=True, help_text=_("VRS出力に使う名前（30文字以内）")
    )
    kind = models.CharField(_("種別"), max_length=10, choices=Kind.choices, default=Kind.MASS)
    address = models.CharField(_("所在地"), max_length=200, blank=True)
    what_to_bring = models.TextField(
        _("持ち物"), blank=True, default="接種券、予診票、本人確認書類、お薬手帳（お持ちの方）"
    )
    what_to_bring_en = models.TextField(
        _("持ち物（英語）"),
        blank=True,
        help_text=_("英語の画面で使います。空欄なら日本語の持ち物を表示します。"),
    )
    new_code_on_change = models.BooleanField(
        _("変更時に予約番号を新しくする"),
        default=False,
        help_text=_("予約変更のたびに新しい予約番号を発行する運用の会場"),
    )
    is_active = models.BooleanField(_("受付中"), default=True)

    class Meta:
        verbose_name = _("会場")
        verbose_name_plural = _("会場")
        ordering = ["municipality", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "name"], name="%(app_label)s_%(class)s_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # The VRS name (or the name, without one) goes into every exported record of the site,
        # a fixed layout that cannot neutralise a formula: refuse one here (csv_safety).
        field = "vrs_name" if self.vrs_name else "name"
        label = _("VRS用会場名") if self.vrs_name else _("会場名")
        problem = formula_start_problem(getattr(self, field), label)
        if problem is not None:
            raise ValidationError({field: problem})


class OperatingDay(models.Model):
    """One day a site vaccinates with one vaccine (稼働日), with its booking window.

    The window is counted in whole days before the operating date: booking opens
    `booking_opens_days_before` days before and closes `booking_closes_days_before` days before
    (0 = bookable on the day itself). Changes and cancellations by residents close
    `change_closes_days_before` days before; after that they go through the call centre.
    """

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="operating_days")
    date = models.DateField(_("日付"))
    vaccine = models.ForeignKey("reservations.Vaccine", on_delete=models.PROTECT)
    campaign = models.ForeignKey("reservations.Campaign", on_delete=models.PROTECT)
    booking_opens_days_before = models.PositiveIntegerField(_("予約受付開始（何日前）"), default=30)
    booking_closes_days_before = models.PositiveIntegerField(_("予約受付終了（何日前）"), default=1)
    change_closes_days_before = models.PositiveIntegerField(
        _("変更・キャンセル締切（何日前）"), default=2
    )
    phone_reserve_release_hours = models.PositiveIntegerField(
        _("電話枠の開放（何時間前）"),
        null=True,
        blank=True,
        help_text=_("空欄なら電話専用枠は開放しません"),
    )

    class Meta:
        verbose_name = _("稼働日")
        verbose_name_plural = _("稼働日")
        ordering = ["date", "site"]
        permissions = [("cancel_operating_day", _("稼働日を中止し、予約をすべて取り消す"))]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "date", "vaccine"], name="%(app_label)s_%(class)s_unique_day"
            ),
            models.CheckConstraint(
                condition=Q(booking_opens_days_before__gte=F("booking_closes_days_before")),
                name="%(app_label)s_%(class)s_window_opens_before_close",
                violation_error_message=_("受付開始は受付終了より前にしてください。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site} {self.date:%Y-%m-%d} {self.vaccine}"

    def booking_opens_on(self) -> dt.date:
        return self.date - dt.timedelta(days=self.booking_opens_days_before)

    def booking_closes_after(self) -> dt.date:
        """The last date on which a resident may book."""
        return self.date - dt.timedelta(days=self.booking_closes_days_before)

    def is_open_for_booking(self, now: dt.datetime) -> bool:
        """Whether residents may book this day at `now`: from the opening date to the closing
        date of its booking window, both included, in local dates. (Staff may book outside
        it; a slot that has started is refused separately.)"""
        return self.booking_opens_on() <= timezone.localdate(now) <= self.booking_closes_after()

    def changes_close_after(self) -> dt.date:
        """The last date on which a resident may change or cancel online."""
        return self.date - dt.timedelta(days=self.change_closes_days_before)


class DayCancellation(models.Model):
    """The cancellation of a whole operating day (a typhoon, an outbreak, no doctor), asked for
    by one member of staff and approved by a second: only the approval cancels the day's
    bookings (`reservations.services.days.operating_day_cancel_approve`)."""

    operating_day = models.OneToOneField(
        OperatingDay,
        on_delete=models.PROTECT,
        related_name="cancellation",
        verbose_name=_("中止する稼働日"),
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("作成者"),
    )
    requested_at = models.DateTimeField(_("作成日時"), auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("承認者"),
    )
    approved_at = models.DateTimeField(_("承認日時"), null=True, blank=True)
    cancelled_reservations = models.PositiveIntegerField(_("取り消した予約数"), default=0)

    class Meta:
        verbose_name = _("稼働日の中止")
        verbose_name_plural = _("稼働日の中止")
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("requested_by")),
                name="day_cancellation_four_eyes",
                violation_error_message=_("作成者とは別の職員が承認してください。"),
            ),
        ]

    def __str__(self) -> str:
        return str(self.operating_day)

    @property
    def is_approved(self) -> bool:
        return self.approved_at is not None


class Slot(models.Model):
    """A bookable time (予約枠) on an operating day.

    Counters, kept by the booking services in the same transaction as the reservation rows:
    `booked` counts reservations occupying a seat (every status but cancelled); `booked_staff`
    those among them whose seat was taken by a staff channel (phone, counter). Staff channels
    may use the seats in `phone_reserved`; public channels (web, LINE, API) may not, until
    `phone_reserve_release_hours` before the slot.
    """

    operating_day = models.ForeignKey(OperatingDay, on_delete=models.PROTECT, related_name="slots")
    starts_at = models.DateTimeField(_("開始"))
    ends_at = models.DateTimeField(_("終了"))
    capacity = models.PositiveIntegerField(_("定員"))
    phone_reserved = models.PositiveIntegerField(_("電話専用枠"), default=0)
    booked = models.PositiveIntegerField(_("予約数"), default=0, editable=False)
    booked_staff = models.PositiveIntegerField(
        _("うち電話・窓口の予約数"), default=0, editable=False
    )

    class Meta:
        verbose_name = _("予約枠")
        verbose_name_plural = _("予約枠")
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(booked__lte=F("capacity")),
                name="%(app_label)s_%(class)s_booked_within_capacity",
                violation_error_message=_("定員を超える予約はできません。"),
            ),
            models.CheckConstraint(
                condition=Q(booked_staff__lte=F("booked")),
                name="%(app_label)s_%(class)s_staff_within_booked",
            ),
            models.CheckConstraint(
                condition=Q(phone_reserved__lte=F("capacity")),
                name="%(app_label)s_%(class)s_reserve_within_capacity",
                violation_error_message=_("電話専用枠は定員以下にしてください。"),
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="%(app_label)s_%(class)s_ends_after_start",
                violation_error_message=_("終了は開始より後にしてください。"),
            ),
            models.UniqueConstraint(
                fields=["operating_day", "starts_at"], name="%(app_label)s_%(class)s_unique_start"
            ),
        ]

    def __str__(self) -> str:
        local = timezone.localtime(self.starts_at)
        return f"{self.operating_day.site} {local:%Y-%m-%d %H:%M}"

    def reserve_released_at(self) -> dt.datetime | None:
        hours = self.operating_day.phone_reserve_release_hours
        if hours is None:
            return None
        return self.starts_at - dt.timedelta(hours=hours)

    def phone_reserve_held(self, *, now: dt.datetime) -> bool:
        """Whether the seats reserved for the call centre are still held back from the public
        channels at `now` (until the day's release time, if it has one)."""
        released_at = self.reserve_released_at()
        return released_at is None or now < released_at

    def unused_phone_reserve(self, *, now: dt.datetime) -> int:
        """Reserved seats that public channels still may not take."""
        if not self.phone_reserve_held(now=now):
            return 0
        return max(0, self.phone_reserved - self.booked_staff)

    def seats_left(self, *, staff: bool, now: dt.datetime) -> int:
        """Seats a new booking could take (from the counters; expired holds not subtracted).
        The seat-taking statement checks the same arithmetic in SQL, in one statement for the
        race (booking_sql: `seat_take_public`), and the booking page sums it per day in SQL
        (selectors._slot_seats_left_sql); the three must change together."""
        free = self.capacity - self.booked
        if not staff:
            free -= self.unused_phone_reserve(now=now)
        return max(0, free)


class DayLot(models.Model):
    """A vaccine lot in use at one operating day, and how many of its vials were opened.

    Venue staff pick the lot of each dose from this list instead of typing it, so a misread lot
    number cannot enter a record; the vial count shows the doses left over at the end of the day.
    """

    operating_day = models.ForeignKey(OperatingDay, on_delete=models.PROTECT, related_name="lots")
    lot_number = models.CharField(_("ロット番号"), max_length=20)
    vials_opened = models.PositiveIntegerField(_("開封したバイアル数"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("当日のロット")
        verbose_name_plural = _("当日のロット")
        ordering = ["operating_day", "lot_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["operating_day", "lot_number"], name="%(app_label)s_%(class)s_unique_lot"
            ),
            models.CheckConstraint(
                condition=Q(lot_number__regex=r"^[0-9A-Za-z-]{1,20}$"),
                name="%(app_label)s_%(class)s_lot_format",
                violation_error_message=_("ロット番号は英数字とハイフン20文字以内です。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operating_day} {self.lot_number}"
