"""Delivery receipts as the providers sent them: stored first, applied afterwards."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SmsReceipt(models.Model):
    """One delivery receipt. Providers retry their callbacks, so the same receipt may arrive
    more than once; the unique constraint keeps one row, and applying it is idempotent."""

    class Outcome(models.TextChoices):
        # How far the message got, in the order it moves; an outcome never moves backwards.
        ACCEPTED = "accepted", _("受付済み")
        DELIVERED = "delivered", _("配信済み")
        UNDELIVERABLE = "undeliverable", _("不達")

    provider = models.CharField(_("事業者"), max_length=30)
    provider_message_id = models.CharField(_("事業者のメッセージID"), max_length=100)
    provider_status = models.CharField(_("事業者の状態"), max_length=40)
    outcome = models.CharField(_("結果"), max_length=20, choices=Outcome.choices)
    raw = models.JSONField(default=dict)
    received_at = models.DateTimeField(_("受信日時"), auto_now_add=True)

    class Meta:
        verbose_name = _("SMS配信結果")
        verbose_name_plural = _("SMS配信結果")
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_message_id", "provider_status"],
                name="sms_receipt_once_per_status",
            )
        ]
        indexes = [models.Index(fields=["provider", "provider_message_id"])]

    def __str__(self) -> str:
        return f"{self.provider}:{self.provider_message_id} {self.outcome}"


class SmsInbound(models.Model):
    """A resident's reply that we acted on (STOP), kept by the provider's message id so a
    provider repeating its webhook changes nothing twice. Neither the number nor the text is
    kept: what changed for which resident is in the core's contact history."""

    class Action(models.TextChoices):
        STOP = "stop", _("SMS受信の停止")

    provider = models.CharField(_("事業者"), max_length=30)
    provider_message_id = models.CharField(_("事業者のメッセージID"), max_length=100)
    action = models.CharField(_("対応"), max_length=10, choices=Action.choices)
    residents_stopped = models.PositiveSmallIntegerField(_("停止した住民の数"), default=0)
    received_at = models.DateTimeField(_("受信日時"), auto_now_add=True)

    class Meta:
        verbose_name = _("SMSの返信")
        verbose_name_plural = _("SMSの返信")
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_message_id"], name="sms_inbound_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.provider_message_id} {self.action}"
