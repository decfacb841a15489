"""Reservations, their append-only event log, and administered doses."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from reservations.models.rules import Antigen


class Channel(models.TextChoices):
    """Where a booking came in."""

    WEB = "web", _("Web")
    LINE = "line", _("LINE")
    PHONE = "phone", _("電話（コールセンター）")
    API = "api", _("API（連携システム）")
    COUNTER = "counter", _("会場窓口")
    # Municipal office staff acting from the admin (cancelling a whole day, say): not a call.
    OFFICE = "office", _("市町村の事務（管理画面）")
    # The resident pressing keys on an automated call (channels/voice): cancelling a reminded
    # booking with 2, then 2 again.
    VOICE = "voice", _("自動音声電話")


# Channels worked by staff; they may use the seats held back for the call centre.
STAFF_CHANNELS = frozenset({Channel.PHONE, Channel.COUNTER, Channel.OFFICE})


class Actor(models.TextChoices):
    """Who entered a change."""

    RESIDENT = "resident", _("本人")
    PROXY = "proxy", _("代理（家族など）")
    OPERATOR = "operator", _("職員・オペレーター")
    SYSTEM = "system", _("システム")


class Reservation(models.Model):
    """One appointment for one dose.

    Only `reservations.services` writes these rows. Held and confirmed reservations are
    *active*: at most one per resident, campaign and dose number may exist (enforced by the
    database). A reservation keeps its seat in `Slot.booked` until it is cancelled (or its hold
    expires); one that was used (vaccinated, no-show) keeps it, so a slot that has already
    happened cannot be sold again.
    """

    class Status(models.TextChoices):
        HELD = "held", _("仮押さえ")
        CONFIRMED = "confirmed", _("予約確定")
        CANCELLED = "cancelled", _("キャンセル")
        VACCINATED = "vaccinated", _("接種済み")
        NO_SHOW = "no_show", _("来場なし")

    class CancelReason(models.TextChoices):
        BY_RESIDENT = "by_resident", _("本人・代理人によるキャンセル")
        BY_OPERATOR = "by_operator", _("コールセンターでのキャンセル")
        BY_MUNICIPALITY = "by_municipality", _("自治体の都合（会場中止など）")
        HOLD_EXPIRED = "hold_expired", _("仮押さえの期限切れ")
        SERIES_CANCELLED = "series_cancelled", _("前の回のキャンセルに伴う取消")
        NOT_VACCINATED = "not_vaccinated", _("来場したが接種せず（予診のみ等）")
        VACCINATED_ELSEWHERE = "vaccinated_elsewhere", _("他の会場・自治体で接種済み")

    ACTIVE_STATUSES = (Status.HELD, Status.CONFIRMED)

    code = models.CharField(_("予約番号"), max_length=12, unique=True)
    resident = models.ForeignKey(
        "reservations.Resident", on_delete=models.PROTECT, related_name="reservations"
    )
    ticket = models.ForeignKey(
        "reservations.Ticket", on_delete=models.PROTECT, related_name="reservations"
    )
    slot = models.ForeignKey(
        "reservations.Slot", on_delete=models.PROTECT, related_name="reservations"
    )
    # Copied from the slot's operating day: the one-active-booking constraint needs the
    # campaign on this row, and the services keep both in step when a booking moves.
    campaign = models.ForeignKey("reservations.Campaign", on_delete=models.PROTECT)
    vaccine = models.ForeignKey("reservations.Vaccine", on_delete=models.PROTECT)
    dose_number = models.PositiveSmallIntegerField(_("接種回数"))
    status = models.CharField(_("状態"), max_length=12, choices=Status.choices)
    held_until = models.DateTimeField(_("仮押さえ期限"), null=True, blank=True)
    channel = models.CharField(_("受付経路"), max_length=10, choices=Channel.choices)
    entered_by = models.CharField(_("入力者"), max_length=10, choices=Actor.choices)
    proxy_relationship = models.CharField(_("代理人の続柄"), max_length=30, blank=True)
    entered_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("入力した職員"),
    )
    next_dose = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="previous_dose",
        verbose_name=_("セット予約の次の回"),
    )
    staff_seat = models.BooleanField(
        _("電話・窓口の枠を使用"),
        default=False,
        editable=False,
        help_text=_("この予約の席が Slot.booked_staff に数えられているか"),
    )
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)
    override_reason = models.TextField(_("例外の理由"), blank=True)
    rules_applied = models.JSONField(_("適用したルール"), default=list, blank=True)
    warnings = models.JSONField(_("注意事項"), default=list, blank=True)
    cancel_reason = models.CharField(
        _("キャンセル理由"), max_length=20, choices=CancelReason.choices, blank=True
    )
    cancelled_at = models.DateTimeField(_("キャンセル日時"), null=True, blank=True)
    checked_in_at = models.DateTimeField(_("受付日時"), null=True, blank=True)
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    class Meta:
        verbose_name = _("予約")
        verbose_name_plural = _("予約")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["resident", "campaign", "dose_number"],
                condition=Q(status__in=["held", "confirmed"]),
                name="%(app_label)s_%(class)s_one_active_per_dose",
                violation_error_message=_("この回の予約はすでにあります。"),
            ),
            models.CheckConstraint(
                condition=~Q(status="held") | Q(held_until__isnull=False),
                name="%(app_label)s_%(class)s_hold_has_expiry",
            ),
        ]
        indexes = [
            models.Index(fields=["slot", "status"]),
            models.Index(
                fields=["held_until"],
                condition=Q(status="held"),
                name="reservations_held_until_idx",
            ),
        ]
        permissions = [
            ("book_on_behalf", _("電話・窓口で住民に代わって予約する")),
            ("override_booking_window", _("受付期間外の予約・変更を行う")),
            ("override_interval", _("理由を記録して接種間隔ルールの例外を認める")),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.get_status_display()}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES


class ReservationEvent(models.Model):
    """Append-only record of every change: the audit trail and the notification outbox.

    Written by the services in the same transaction as the change, so a notification can be
    derived from every committed change even if the process dies right after commit.
    """

    class Kind(models.TextChoices):
        HELD = "held", _("仮押さえ")
        BOOKED = "booked", _("予約")
        CHANGED = "changed", _("変更")
        CANCELLED = "cancelled", _("キャンセル")
        HOLD_EXPIRED = "hold_expired", _("仮押さえ期限切れ")
        VACCINATED = "vaccinated", _("接種")
        NO_SHOW = "no_show", _("来場なし")
        CHECKED_IN = "checked_in", _("会場受付")
        # Venue staff took back a no-show on the day (the person came late, or the wrong row
        # was tapped): the booking is confirmed again. Not notified; the trail keeps both.
        NO_SHOW_UNDONE = "no_show_undone", _("来場なしの取消")
        # Written by the reminder scan when a confirmed booking is due its day-before
        # reminder; notifications are derived from it like from every other event.
        REMINDER_DUE = "reminder_due", _("前日のお知らせ")

    reservation = models.ForeignKey(Reservation, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(_("種類"), max_length=20, choices=Kind.choices)
    channel = models.CharField(_("経路"), max_length=10, choices=Channel.choices)
    actor = models.CharField(_("実施者"), max_length=10, choices=Actor.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("日時"), auto_now_add=True, db_index=True)
    # The outbox flag: True from the insert (the booking writes nothing else for it) until the
    # notification relay has handed the event to the workers (channels/notify/relay.py). Rows
    # written before the relay existed are False: they were announced on commit.
    relay_pending = models.BooleanField(_("通知の引き渡し待ち"), default=True, editable=False)

    class Meta:
        verbose_name = _("予約履歴")
        verbose_name_plural = _("予約履歴")
        ordering = ["created_at", "id"]
        indexes = [
            # Only the rows still waiting: the relay's scan stays small however long the
            # history grows.
            models.Index(
                fields=["id"],
                name="event_relay_pending",
                condition=models.Q(relay_pending=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.reservation_id} {self.kind}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("ReservationEvent rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("ReservationEvent rows are append-only")


class Vaccination(models.Model):
    """One administered (or attempted) dose, shaped like a FHIR Immunization.

    A record is never edited in place: a correction writes a new version with the same
    `record_id` and marks the old one superseded, so exports can say 新規 / 訂正 / 取消.
    """

    class Outcome(models.TextChoices):
        VACCINATED = "vaccinated", _("接種")
        PRESCREEN_ONLY = "prescreen_only", _("予診のみ")
        NOT_VACCINATED = "not_vaccinated", _("接種せず")

    class Source(models.TextChoices):
        OUR_SITE = "our_site", _("本システムの会場")
        VRS_IMPORT = "vrs_import", _("VRS・台帳からの取込")
        SELF_REPORT = "self_report", _("本人申告（接種済証）")

    class Status(models.TextChoices):
        ACTIVE = "active", _("有効")
        SUPERSEDED = "superseded", _("訂正済み（旧版）")
        CANCELLED = "cancelled", _("取消")

    class CopayCategory(models.TextChoices):
        """自己負担区分 as the municipal 予防接種台帳 records it (docs/register_export.md)."""

        CHARGED = "1", _("自己負担あり")
        EXEMPT_WELFARE = "2", _("免除（生活保護）")
        EXEMPT_TAX = "3", _("免除（住民税非課税）")
        FULL_PRICE = "4", _("全額自己負担（任意接種・定期接種の対象外）")
        # A類 定期接種 and 臨時・特例臨時接種 cost the resident nothing by law.
        PUBLIC = "5", _("自己負担なし（A類定期接種・臨時接種・特例臨時接種）")

    record_id = models.UUIDField(_("記録ID"), default=uuid.uuid4, editable=False)
    version = models.PositiveIntegerField(_("版"), default=1)
    status = models.CharField(
        _("状態"), max_length=12, choices=Status.choices, default=Status.ACTIVE
    )
    resident = models.ForeignKey(
        "reservations.Resident", on_delete=models.PROTECT, related_name="vaccinations"
    )
    reservation = models.ForeignKey(
        Reservation, on_delete=models.PROTECT, null=True, blank=True, related_name="vaccinations"
    )
    ticket = models.ForeignKey(
        "reservations.Ticket", on_delete=models.PROTECT, null=True, blank=True
    )
    campaign = models.ForeignKey(
        "reservations.Campaign", on_delete=models.PROTECT, null=True, blank=True
    )
    vaccine = models.ForeignKey("reservations.Vaccine", on_delete=models.PROTECT)
    # Copied from the vaccine when recorded, so dose histories per antigen are one indexed read.
    antigen = models.CharField(_("対象疾病"), max_length=20, choices=Antigen.choices)
    dose_number = models.PositiveSmallIntegerField(_("接種回数"))
    vaccinated_on = models.DateField(_("接種日"))
    vaccinated_at = models.DateTimeField(_("接種日時"), null=True, blank=True)
    outcome = models.CharField(
        _("結果"), max_length=20, choices=Outcome.choices, default=Outcome.VACCINATED
    )
    lot_number = models.CharField(_("ロット番号"), max_length=20, blank=True)
    site = models.ForeignKey("reservations.Site", on_delete=models.PROTECT, null=True, blank=True)
    site_name = models.CharField(_("接種会場名"), max_length=100, blank=True)
    # Where the dose was given (VRS 接種自治体コード); differs from the resident's municipality
    # for doses given elsewhere and imported from VRS.
    given_in_municipality_code = models.CharField(_("接種自治体コード"), max_length=6, blank=True)
    doctor_name = models.CharField(_("医師名"), max_length=40, blank=True)
    # Blank is 未記録: doses recorded before the field existed, and imports, which VRS sends
    # without it. The register export refuses a dose until it is recorded.
    copay_category = models.CharField(
        _("自己負担区分"), max_length=1, choices=CopayCategory.choices, blank=True
    )
    source = models.CharField(
        _("記録元"), max_length=20, choices=Source.choices, default=Source.OUR_SITE
    )
    confirmed = models.BooleanField(
        _("自治体確認済み"), default=False, help_text=_("確認済みの記録は訂正手続きでのみ変更")
    )
    override_reason = models.TextField(_("例外の理由"), blank=True)
    change_reason = models.TextField(
        _("訂正・取消の理由"), blank=True, help_text=_("第2版以降の記録に必須")
    )
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("登録日時"), auto_now_add=True)
    # The 接種履歴登録日時 VRS gave an imported dose; our own doses use created_at.
    registered_at = models.DateTimeField(_("接種履歴登録日時（取込）"), null=True, blank=True)

    class Meta:
        verbose_name = _("接種記録")
        verbose_name_plural = _("接種記録")
        ordering = ["resident", "vaccinated_on", "dose_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["record_id", "version"], name="%(app_label)s_%(class)s_unique_version"
            ),
            models.UniqueConstraint(
                fields=["record_id"],
                condition=Q(status="active"),
                name="%(app_label)s_%(class)s_one_active_version",
            ),
            models.CheckConstraint(
                condition=Q(version=1) | ~Q(change_reason=""),
                name="%(app_label)s_%(class)s_correction_has_reason",
                violation_error_message=_("訂正・取消には理由が必要です。"),
            ),
        ]
        indexes = [models.Index(fields=["resident", "antigen", "status"])]
        permissions = [
            ("export_vrs", _("VRS形式で接種記録を出力する")),
            ("correct_vaccination", _("接種記録を訂正・取消する")),
            ("confirm_vaccination", _("接種記録を自治体確認済みにする")),
            ("reconcile_vrs", _("VRSの台帳と突合し他所での接種を取り込む")),
        ]

    def __str__(self) -> str:
        return f"{self.resident_id} #{self.dose_number} {self.vaccinated_on}"

    @property
    def registered_at_or_created(self) -> dt.datetime:
        return self.registered_at or self.created_at

    @property
    def counts_as_dose(self) -> bool:
        return self.status == self.Status.ACTIVE and self.outcome == self.Outcome.VACCINATED
