"""The call centre's own records: who works for which municipality, the call log, the audit
trail of record openings, staff sign-in failures, and the events that move call volume."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class OperatorAssignment(models.Model):
    """Which municipality's residents a member of staff may see. Staff without a row work for
    HOME_MUNICIPALITY_CODE (a single-city installation needs no setup)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="phone_assignment",
        verbose_name=_("職員"),
    )
    municipality = models.ForeignKey(
        "reservations.Municipality", on_delete=models.PROTECT, verbose_name=_("担当自治体")
    )

    class Meta:
        verbose_name = _("オペレーターの担当自治体")
        verbose_name_plural = _("オペレーターの担当自治体")

    def __str__(self) -> str:
        return f"{self.user} → {self.municipality}"


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
    """Append-only audit row: a member of staff opened or changed a resident's record."""

    class Action(models.TextChoices):
        VIEWED = "viewed", _("閲覧")
        BOOKED = "booked", _("予約")
        CHANGED = "changed", _("予約変更")
        CANCELLED = "cancelled", _("キャンセル")
        CONTACT_UPDATED = "contact", _("連絡先の変更")
        REFUSED = "refused", _("処理できず")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("職員")
    )
    resident = models.ForeignKey(
        "reservations.Resident", on_delete=models.PROTECT, related_name="+", verbose_name=_("住民")
    )
    action = models.CharField(_("操作"), max_length=10, choices=Action.choices)
    call = models.ForeignKey(Call, on_delete=models.SET_NULL, null=True, blank=True)
    detail = models.JSONField(_("内容"), default=dict, blank=True)
    at = models.DateTimeField(_("日時"), db_index=True)

    class Meta:
        verbose_name = _("住民記録の監査")
        verbose_name_plural = _("住民記録の監査")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.user} {self.action} {self.resident_id}"


class StaffLoginThrottle(models.Model):
    """Failed console sign-ins per username, counted in the database so every web process
    sees the same count and a lock survives restarts."""

    username = models.CharField(max_length=150, unique=True)
    failures = models.PositiveIntegerField(default=0)
    first_failure_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("ログイン失敗")
        verbose_name_plural = _("ログイン失敗")

    def __str__(self) -> str:
        return f"{self.username}: {self.failures}"


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
