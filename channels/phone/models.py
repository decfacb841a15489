"""The call centre's own records: who works for which municipality, the call log, the audit
trail of record openings, staff sign-in failures, the events that move call volume, and the
season plan the call forecast starts from (mail-outs, announcements; see planning.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from channels.phone.erlang import StaffingTargets

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class Call(models.Model):
    """One telephone call handled by one operator."""

    class Purpose(models.TextChoices):
        BOOK = "book", _("新規予約")
        CHANGE = "change", _("予約変更")
        CANCEL = "cancel", _("キャンセル")
        QUESTION = "question", _("問い合わせ")
        OTHER = "other", _("その他")

    class Outcome(models.TextChoices):
        BOOKED = "booked", _("予約した")
        CHANGED = "changed", _("変更した")
        CANCELLED = "cancelled", _("キャンセルした")
        ANSWERED = "answered", _("質問に回答")
        CALL_BACK = "call_back", _("折り返し")
        OTHER = "other", _("その他")

    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="phone_calls",
        verbose_name=_("オペレーター"),
    )
    municipality = models.ForeignKey(
        "reservations.Municipality", on_delete=models.PROTECT, verbose_name=_("自治体")
    )
    started_at = models.DateTimeField(_("開始"), db_index=True)
    ended_at = models.DateTimeField(_("終了"), null=True, blank=True)
    # Stored on close so per-hour averages are one SQL aggregate on every database.
    handling_seconds = models.PositiveIntegerField(_("対応秒数"), null=True, blank=True)
    residents = models.ManyToManyField(
        "reservations.Resident", blank=True, related_name="+", verbose_name=_("対象の住民")
    )
    purpose = models.CharField(_("用件"), max_length=10, choices=Purpose.choices, blank=True)
    outcome = models.CharField(_("結果"), max_length=10, choices=Outcome.choices, blank=True)
    caller_is_proxy = models.BooleanField(_("代理人からの電話"), default=False)
    proxy_relationship = models.CharField(_("代理人の続柄"), max_length=30, blank=True)
    bookings_made = models.PositiveIntegerField(_("予約件数"), default=0)
    notes = models.TextField(_("メモ"), blank=True)

    class Meta:
        verbose_name = _("通話記録")
        verbose_name_plural = _("通話記録")
        ordering = ["-started_at"]
        constraints = [
            # One open call per operator: the console always knows which call an action
            # belongs to, and a double-submitted search cannot open two.
            models.UniqueConstraint(
                fields=["operator"],
                condition=Q(ended_at__isnull=True),
                name="phone_call_one_open_per_operator",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="phone_call_ends_after_start",
            ),
        ]
        permissions = [
            # The console: operators, supervisors, administrators. Venue staff book walk-ins
            # on a resident's behalf (book_on_behalf) but do not get the console.
            ("use_console", _("電話受付の画面で住民を探して対応する")),
            ("view_audit", _("閲覧・変更の監査記録を見る")),
            ("view_call_metrics", _("オペレーター別の通話実績を見る")),
            ("view_dashboard", _("予約状況ダッシュボードを見る")),
            ("view_forecast", _("入電予測と必要人数を見る")),
        ]

    def __str__(self) -> str:
        return f"{self.operator} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class RecordAccess(models.Model):
    """Append-only audit row: a member of staff opened or changed a resident's record, with
    the staff member's role at that moment, the resident's municipality, the channel and the
    client's address. On PostgreSQL a trigger refuses UPDATE and DELETE (migration 0006), so
    every foreign key here is PROTECT: a cascade or SET NULL would be an UPDATE or DELETE."""

    class Action(models.TextChoices):
        VIEWED = "viewed", _("閲覧")
        BOOKED = "booked", _("予約")
        CHANGED = "changed", _("予約変更")
        CANCELLED = "cancelled", _("キャンセル")
        CONTACT_UPDATED = "contact", _("連絡先の変更")
        REFUSED = "refused", _("処理できず")
        UNLOCKED = "unlocked", _("本人確認のロック解除")

    class Channel(models.TextChoices):
        """Where the staff member read or acted (経路)."""

        PHONE = "phone", _("電話")
        VENUE = "venue", _("会場")
        EXPORTS = "exports", _("出力")
        ADMIN = "admin", _("管理画面")
        API = "api", _("API")
        COMMAND = "command", _("コマンド")
        FOLLOWUP = "followup", _("健康観察")
        VOICE = "voice", _("自動音声電話")

    # The role stored for a superuser; staff store the names of their role groups.
    SUPERUSER_ROLE = "superuser"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("職員")
    )
    # The role at the time of the access (group membership changes later); the role groups'
    # names joined with "・" (reservations/roles.py), or SUPERUSER_ROLE.
    role = models.CharField(_("役割"), max_length=200, blank=True)
    # Empty for a person the municipality knows without a Resident row (a health centre's
    # follow-up list): `subject` names them instead (reservations.audit.ReadOf).
    resident = models.ForeignKey(
        "reservations.Resident",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("住民"),
    )
    # Who was read when not (only) a resident, as "app.kind:id" ("followup.person:12").
    subject = models.CharField(_("対象"), max_length=60, blank=True)
    # The resident's municipality, copied so the trail of a city is read (and exported)
    # without joining residents. Empty only on rows whose resident had none when backfilled.
    municipality = models.ForeignKey(
        "reservations.Municipality",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("自治体"),
    )
    action = models.CharField(_("操作"), max_length=10, choices=Action.choices)
    channel = models.CharField(
        _("経路"), max_length=10, choices=Channel.choices, default=Channel.PHONE
    )
    # reservations/client_address.py's rule; blank for a command-line run.
    client_address = models.CharField(_("接続元"), max_length=45, blank=True)
    # PROTECT, not SET_NULL: clearing the link would be an UPDATE the trigger refuses, so a
    # call with audit rows cannot be deleted.
    call = models.ForeignKey(Call, on_delete=models.PROTECT, null=True, blank=True)
    detail = models.JSONField(_("内容"), default=dict, blank=True)
    at = models.DateTimeField(_("日時"), db_index=True)

    class Meta:
        verbose_name = _("住民記録の監査")
        verbose_name_plural = _("住民記録の監査")
        ordering = ["-at", "-id"]
        indexes = [
            # The export and the audit page read one municipality's rows over a date range.
            models.Index(fields=["municipality", "at"], name="phone_recordaccess_city_at")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(resident__isnull=False) | ~Q(subject=""),
                name="phone_recordaccess_names_someone",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.action} {self.resident_id}"


class CallVolumeEvent(models.Model):
    """Something that makes the phones ring: a ticket mail-out, a publicity push. Booking
    openings are read from the operating days themselves and holidays from jpholiday."""

    class Kind(models.TextChoices):
        TICKET_MAILOUT = "mailout", _("接種券の発送")
        BOOKING_OPENS = "opens", _("予約受付の開始")
        PUBLICITY = "publicity", _("広報・報道")
        OTHER = "other", _("その他")

    municipality = models.ForeignKey(
        "reservations.Municipality", on_delete=models.PROTECT, verbose_name=_("自治体")
    )
    date = models.DateField(_("日付"))
    kind = models.CharField(_("種類"), max_length=10, choices=Kind.choices)
    multiplier = models.DecimalField(
        _("入電の倍率"),
        max_digits=5,
        decimal_places=2,
        help_text=_("通常の日の何倍の電話が来るか（例：2.5）"),
    )
    note = models.CharField(_("メモ"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("入電に影響する行事")
        verbose_name_plural = _("入電に影響する行事")
        ordering = ["date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(multiplier__gt=0), name="phone_callvolumeevent_multiplier_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()} ×{self.multiplier}"


def _share_field(label: StrOrPromise, default: str, help_text: StrOrPromise) -> models.DecimalField:  # type: ignore[type-arg]
    """A fraction between 0 and 1 (a share of people or of calls)."""
    return models.DecimalField(
        label,
        max_digits=4,
        decimal_places=3,
        default=Decimal(default),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))],
        help_text=help_text,
    )


class SeasonPlan(models.Model):
    """A municipality's call-centre plan for one vaccination season: its hours and staff, and
    every parameter of the forecast made from it (channels/phone/planning.py) before a single
    call has come. Mail-outs and announcements are its rows; booking openings are not copied
    here but read from the core (CohortOpening, EligibilityRule.booking_opens_on).

    One plan per municipality and season rather than per campaign: one call centre answers for
    every campaign of a season (COVID-19 and influenza are mailed in the same autumn), so its
    lines and operators are planned once. `campaign`, when set, picks which cohort openings
    apply. The defaults and their sources are listed in docs/forecast.md.
    """

    class OpenDays(models.TextChoices):
        WEEKDAYS = "weekdays", _("平日（月〜金）")
        MON_SAT = "mon_sat", _("月〜土")
        EVERY_DAY = "every_day", _("毎日")

    municipality = models.ForeignKey(
        "reservations.Municipality",
        on_delete=models.CASCADE,
        related_name="season_plans",
        verbose_name=_("自治体"),
    )
    name = models.CharField(_("名称"), max_length=100, help_text=_("例: 令和8年度 秋冬の接種"))
    campaign = models.ForeignKey(
        "reservations.Campaign",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("キャンペーン"),
        help_text=_(
            "予約受付開始（年代別）をこの事業の設定から読みます。空欄なら事業を限らない設定"
        ),
    )
    starts_on = models.DateField(_("期間（から）"))
    ends_on = models.DateField(_("期間（まで）"))

    # The call centre.
    opens_at = models.TimeField(_("受付開始時刻"), default=dt.time(9, 0))
    closes_at = models.TimeField(_("受付終了時刻"), default=dt.time(17, 0))
    open_days = models.CharField(
        _("受付日"), max_length=10, choices=OpenDays.choices, default=OpenDays.WEEKDAYS
    )
    open_on_holidays = models.BooleanField(_("祝日も受け付ける"), default=False)
    aht_seconds = models.PositiveIntegerField(
        _("平均処理時間（秒）"),
        default=360,
        validators=[MinValueValidator(30), MaxValueValidator(7200)],
        help_text=_("1件の通話と後処理の平均。三条市の実績は1時間に約10件（約6分）"),
    )
    lines_planned = models.PositiveIntegerField(
        _("回線数（計画）"), default=10, validators=[MinValueValidator(1)]
    )
    operators_base = models.PositiveIntegerField(
        _("オペレーター（通常）"), default=5, validators=[MinValueValidator(1)]
    )
    operators_surge = models.PositiveIntegerField(
        _("オペレーター（増員時の上限）"),
        default=10,
        validators=[MinValueValidator(1)],
        help_text=_("混雑時に増やせる人数の上限。足りない分は掛け直しとして予測に現れます"),
    )

    # Staffing targets (Erlang C / B).
    service_level = _share_field(
        _("サービスレベル"), "0.80", _("目標時間内に応答する割合（0.80 = 80%）")
    )
    target_seconds = models.PositiveIntegerField(
        _("目標応答時間（秒）"), default=20, validators=[MinValueValidator(1)]
    )
    max_occupancy = _share_field(_("最大稼働率"), "0.85", _("オペレーターが通話中である割合の上限"))
    shrinkage = _share_field(
        _("シュリンケージ"), "0.30", _("休憩・研修・欠勤で電話に出られない時間の割合")
    )
    max_blocking = _share_field(
        _("話中率の上限"), "0.010", _("話中音を聞く発信者の割合の上限（回線数の計算）")
    )

    # Who phones.
    uptake = _share_field(
        _("接種率（予約する人の割合）"), "0.77", _("対象者のうち予約する人の割合")
    )
    phone_share_under_65 = _share_field(
        _("電話で予約する割合（65歳未満）"), "0.20", _("Web・LINEではなく電話で予約する割合")
    )
    phone_share_65_74 = _share_field(_("電話で予約する割合（65〜74歳）"), "0.40", "")
    phone_share_75_plus = _share_field(_("電話で予約する割合（75歳以上）"), "0.56", "")
    early_call_share = _share_field(
        _("受付開始前に届いた券での問い合わせ割合"),
        "0.30",
        _("予約開始より前に接種券が届いたとき、電話で予約する人のうち届いた時点で電話する割合"),
    )

    # How fast people react.
    delivery_days = models.PositiveSmallIntegerField(
        _("発送から到着までの日数"), default=2, validators=[MaxValueValidator(14)]
    )
    mailout_half_life_days = models.DecimalField(
        _("接種券到着後の反応の半減期（日）"),
        max_digits=4,
        decimal_places=1,
        default=Decimal("2.0"),
        validators=[MinValueValidator(Decimal("0.1"))],
    )
    opening_half_life_days = models.DecimalField(
        _("予約受付開始・広報後の反応の半減期（日）"),
        max_digits=4,
        decimal_places=1,
        default=Decimal("1.0"),
        validators=[MinValueValidator(Decimal("0.1"))],
    )
    opening_spike = models.DecimalField(
        _("受付開始直後の集中（倍）"),
        max_digits=4,
        decimal_places=1,
        default=Decimal("3.0"),
        validators=[MinValueValidator(Decimal(1))],
        help_text=_("毎朝最初の30分の入電が、集中が収まった後の30分の何倍か"),
    )
    spike_half_life_minutes = models.PositiveIntegerField(
        _("朝の集中の半減期（分）"), default=60, validators=[MinValueValidator(1)]
    )

    # Redials.
    redial_probability = _share_field(
        _("掛け直す確率"),
        "0.95",
        _("話中・待ちきれずに切った人が同じ30分のうちに掛け直す確率"),
    )
    patience_seconds = models.PositiveIntegerField(
        _("待てる時間（秒）"),
        default=180,
        validators=[MinValueValidator(1)],
        help_text=_("応答を待つ発信者が切るまでの平均時間"),
    )

    # Learning from the call log.
    learning_prior_calls = models.PositiveIntegerField(
        _("計画の重み（件）"),
        default=50,
        validators=[MinValueValidator(1)],
        help_text=_("実績と混ぜるとき、計画を何件分の通話実績とみなすか"),
    )
    learning_discount = _share_field(
        _("実績の日ごとの減衰"),
        "0.70",
        _("1日前の実績の重み（0.70なら2日前は0.49）。小さいほど最近の実績を重く見る"),
    )

    class Meta:
        verbose_name = _("シーズン計画（コールセンター）")
        verbose_name_plural = _("シーズン計画（コールセンター）")
        ordering = ["municipality", "-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")),
                name="phone_seasonplan_ends_after_start",
                violation_error_message=_("期間の「まで」は「から」以降にしてください。"),
            ),
            models.CheckConstraint(
                condition=Q(closes_at__gt=F("opens_at")),
                name="phone_seasonplan_closes_after_opening",
                violation_error_message=_("受付終了時刻は開始時刻より後にしてください。"),
            ),
            models.CheckConstraint(
                condition=Q(operators_surge__gte=F("operators_base")),
                name="phone_seasonplan_surge_not_below_base",
                violation_error_message=_("増員時の上限は通常の人数以上にしてください。"),
            ),
            models.UniqueConstraint(
                fields=["municipality", "starts_on"],
                name="phone_seasonplan_one_start_per_municipality",
                violation_error_message=_("この自治体には同じ日に始まる計画がすでにあります。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.starts_on}〜{self.ends_on})"

    def clean(self) -> None:
        # Plans of one municipality must not overlap: the forecast takes each day from one plan.
        # Checked here rather than by the database, since an exclusion constraint over date
        # ranges exists on PostgreSQL only and the embedded default is SQLite.
        if not (self.municipality_id and self.starts_on and self.ends_on):
            return
        overlapping = (
            SeasonPlan.objects.filter(
                municipality_id=self.municipality_id,
                starts_on__lte=self.ends_on,
                ends_on__gte=self.starts_on,
            )
            .exclude(pk=self.pk)
            .first()
        )
        if overlapping is not None:
            raise ValidationError(
                _("期間が計画「%(name)s」と重なっています。"), params={"name": overlapping.name}
            )

    def covers(self, day: dt.date) -> bool:
        return self.starts_on <= day <= self.ends_on

    def staffing_targets(self, *, erlang_a: bool = False) -> StaffingTargets:
        """The plan's targets for staffing an interval; with `erlang_a`, callers hang up after
        the plan's patience (Erlang A), otherwise everyone waits (Erlang C)."""
        return StaffingTargets(
            aht_seconds=self.aht_seconds,
            service_level=float(self.service_level),
            target_seconds=self.target_seconds,
            max_occupancy=float(self.max_occupancy),
            shrinkage=float(self.shrinkage),
            max_blocking=float(self.max_blocking),
            patience_seconds=float(self.patience_seconds) if erlang_a else None,
        )


class TicketMailout(models.Model):
    """A batch of vaccination tickets posted on one day to one age band."""

    plan = models.ForeignKey(
        SeasonPlan, on_delete=models.CASCADE, related_name="mailouts", verbose_name=_("計画")
    )
    mailed_on = models.DateField(_("発送日"))
    tickets = models.PositiveIntegerField(_("発送枚数"), validators=[MinValueValidator(1)])
    age_from = models.PositiveSmallIntegerField(
        _("年齢（から）"), null=True, blank=True, help_text=_("発送日の年齢。空欄なら下限なし")
    )
    age_to = models.PositiveSmallIntegerField(
        _("年齢（まで）"),
        null=True,
        blank=True,
        help_text=_("この年齢を含みます。空欄なら上限なし"),
    )
    note = models.CharField(_("メモ"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("接種券の発送")
        verbose_name_plural = _("接種券の発送")
        ordering = ["mailed_on", "-age_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(tickets__gt=0), name="phone_ticketmailout_tickets_positive"
            ),
            models.CheckConstraint(
                condition=Q(age_from__isnull=True)
                | Q(age_to__isnull=True)
                | Q(age_to__gte=F("age_from")),
                name="phone_ticketmailout_ages_in_order",
                violation_error_message=_("年齢の「まで」は「から」以上にしてください。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mailed_on} {self.tickets}"


class Announcement(models.Model):
    """A press release or broadcast that makes the phones ring, and by how much."""

    class Kind(models.TextChoices):
        PRESS = "press", _("報道発表")
        BROADCAST = "broadcast", _("放送（テレビ・ラジオ・防災無線）")
        OTHER = "other", _("その他の広報")

    plan = models.ForeignKey(
        SeasonPlan,
        on_delete=models.CASCADE,
        related_name="announcements",
        verbose_name=_("計画"),
    )
    at = models.DateTimeField(_("日時"))
    kind = models.CharField(_("種類"), max_length=10, choices=Kind.choices)
    multiplier = models.DecimalField(
        _("入電の倍率"),
        max_digits=5,
        decimal_places=2,
        default=Decimal(1),
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("発表のあと、その日の入電が何倍になるか（1なら変わらない）"),
    )
    extra_callers = models.PositiveIntegerField(
        _("追加の発信者"),
        default=0,
        help_text=_("発表をきっかけに電話してくる人数（翌日以降にも減りながら続きます）"),
    )
    note = models.CharField(_("メモ"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("広報・報道")
        verbose_name_plural = _("広報・報道")
        ordering = ["at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(multiplier__gt=0), name="phone_announcement_multiplier_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d %H:%M}"
