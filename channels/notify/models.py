"""Outbound messages derived from reservation events, and staff-approved broadcasts."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from reservations.models import OperatingDay


class OutboundMessage(models.Model):
    """One message to one resident about one event, through one channel.

    At most one row per (event, channel): the event → message step can run any number of
    times (after commit, from the sweep, twice at once) and still makes one message. A failed
    SMS is followed by a `call_list` row for the same event, so operators phone the resident.

    `retry_key` is created with the row and sent with every attempt (LINE's X-Line-Retry-Key,
    the SMS gateway's tag), so an attempt whose answer was lost can be recognised.

    Health follow-up's messages (channels.notify.followups) are rows of the same table, sent by
    the same state machine: they carry the follow-up and its day instead of an event (at most
    one per follow-up, day, purpose and channel), or the reviewed photo whose outcome they
    tell; `resident` is set only when the person followed is a resident.
    """

    class Channel(models.TextChoices):
        LINE = "line", _("LINE")
        SMS = "sms", _("SMS")
        # An automated call (channels/voice) to a resident with neither LINE nor SMS.
        VOICE = "voice", _("自動音声電話")
        CALL_LIST = "call_list", _("電話連絡リスト")

    class Purpose(models.TextChoices):
        CONFIRMATION = "confirmation", _("予約確定")
        CHANGE = "change", _("予約変更")
        CANCELLATION = "cancellation", _("予約取消")
        DAY_CANCELLED = "day_cancelled", _("会場都合の中止")
        REMINDER = "reminder", _("前日のお知らせ")
        FOLLOWUP_INVITATION = "followup_invitation", _("健康観察の案内")
        FOLLOWUP_REMINDER = "followup_reminder", _("健康観察の催促")
        FOLLOWUP_PHOTO_RESULT = "followup_photo", _("健康観察の写真の確認結果")

    class Status(models.TextChoices):
        QUEUED = "queued", _("送信待ち")
        SENDING = "sending", _("送信中")
        UNKNOWN = "unknown", _("送信結果不明（確認してから再送）")
        SENT = "sent", _("送信済み")
        DELIVERED = "delivered", _("配信済み")
        UNDELIVERABLE = "undeliverable", _("不達")
        FAILED = "failed", _("送信失敗")
        CANCELLED = "cancelled", _("送信中止")

    class CallReason(models.TextChoices):
        NO_MOBILE = "no_mobile", _("携帯電話番号なし")
        NO_CONSENT = "no_consent", _("SMS受信の同意なし")
        SMS_FAILED = "sms_failed", _("SMS送信失敗")
        UNDELIVERABLE = "undeliverable", _("SMS不達")
        VOICE_NOT_REACHED = "voice_not_reached", _("自動音声電話がつながらない")
        VOICE_CALLBACK = "voice_callback", _("自動音声電話で折り返しを希望")

    # A status only moves to a higher rank (receipts arriving late or twice change nothing).
    RANK = {
        Status.QUEUED: 0,
        Status.SENDING: 1,
        Status.UNKNOWN: 1,
        Status.SENT: 2,
        Status.DELIVERED: 3,
        Status.UNDELIVERABLE: 3,
        Status.FAILED: 3,
        Status.CANCELLED: 3,
    }
    FINAL_STATUSES = (Status.DELIVERED, Status.UNDELIVERABLE, Status.FAILED, Status.CANCELLED)

    event = models.ForeignKey(
        "reservations.ReservationEvent",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    reservation = models.ForeignKey(
        "reservations.Reservation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    resident = models.ForeignKey(
        "reservations.Resident", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    followup = models.ForeignKey(
        "followup.FollowUp",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("健康観察"),
    )
    followup_date = models.DateField(_("観察日"), null=True, blank=True)
    photo = models.ForeignKey(
        "followup.FollowUpPhoto",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("確認した写真"),
    )
    broadcast = models.ForeignKey(
        "notify.Broadcast", on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    channel = models.CharField(_("経路"), max_length=10, choices=Channel.choices)
    purpose = models.CharField(_("用件"), max_length=20, choices=Purpose.choices)
    language = models.CharField(_("言語"), max_length=10, default="ja")
    address = models.CharField(
        _("宛先"), max_length=64, help_text=_("SMSは電話番号（E.164）、LINEはユーザーID")
    )
    body = models.TextField(_("本文"))
    segments = models.PositiveSmallIntegerField(_("SMS通数"), default=0)
    status = models.CharField(
        _("状態"), max_length=15, choices=Status.choices, default=Status.QUEUED
    )
    call_reason = models.CharField(
        _("電話連絡の理由"), max_length=20, choices=CallReason.choices, blank=True
    )
    retry_key = models.UUIDField(_("再送キー"), default=uuid.uuid4, unique=True, editable=False)
    not_before = models.DateTimeField(_("送信可能になる日時"), null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("送信試行回数"), default=0)
    attempt_started_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(_("最後のエラー"), blank=True)
    provider = models.CharField(_("送信事業者"), max_length=30, blank=True)
    provider_message_id = models.CharField(_("事業者のメッセージID"), max_length=100, blank=True)
    sent_at = models.DateTimeField(_("送信日時"), null=True, blank=True)
    final_at = models.DateTimeField(_("確定日時"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("電話連絡した職員"),
    )
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("通知メッセージ")
        verbose_name_plural = _("通知メッセージ")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "channel"], name="notify_one_per_event_channel"
            ),
            models.UniqueConstraint(
                fields=["followup", "followup_date", "purpose", "channel"],
                condition=models.Q(followup__isnull=False, photo__isnull=True),
                name="notify_one_per_followup_day_purpose_channel",
            ),
            models.UniqueConstraint(
                fields=["photo", "channel"],
                condition=models.Q(photo__isnull=False),
                name="notify_one_per_photo_channel",
            ),
            # A message is about a booking's event or about a follow-up, never neither.
            models.CheckConstraint(
                condition=models.Q(event__isnull=False, reservation__isnull=False)
                | models.Q(followup__isnull=False, followup_date__isnull=False),
                name="notify_event_or_followup",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "channel"]),
            models.Index(fields=["provider", "provider_message_id"]),
            models.Index(fields=["followup", "followup_date"]),
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.purpose} {self.address} {self.status}"


class Broadcast(models.Model):
    """The notice that tells everyone booked on a cancelled operating day.

    The cancellation itself, asked for by one member of staff and approved by a second, is the
    core's `DayCancellation`; this row is how the residents hear of it: each through their own
    channel, from one template, at night only when `send_in_quiet_hours`. The recipients are the
    bookings the cancellation ended; nobody types a list.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("承認待ち")
        SENDING = "sending", _("送信中")
        DONE = "done", _("送信完了")

    cancellation = models.OneToOneField(
        "reservations.DayCancellation",
        on_delete=models.PROTECT,
        related_name="broadcast",
        verbose_name=_("稼働日の中止"),
    )
    status = models.CharField(
        _("状態"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    send_in_quiet_hours = models.BooleanField(
        _("夜間も送る"),
        default=False,
        help_text=_("翌朝では間に合わない中止（夜間の台風接近など）のときだけ"),
    )
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)

    class Meta:
        verbose_name = _("会場中止のお知らせ")
        verbose_name_plural = _("会場中止のお知らせ")
        ordering = ["-created_at"]
        permissions = [("approve_broadcast", _("会場中止のお知らせを承認して送信する"))]

    def __str__(self) -> str:
        return f"{self.operating_day} ({self.get_status_display()})"

    # The cancellation's facts, read through: the staff screen and the tests speak of "the
    # broadcast's" day and approver, which are the cancellation's.
    @property
    def operating_day(self) -> OperatingDay:
        return self.cancellation.operating_day

    @property
    def created_by(self) -> Any:
        return self.cancellation.requested_by

    @property
    def approved_by(self) -> Any:
        return self.cancellation.approved_by

    @property
    def approved_at(self) -> dt.datetime | None:
        return self.cancellation.approved_at

    @property
    def cancelled_reservations(self) -> int:
        return self.cancellation.cancelled_reservations
