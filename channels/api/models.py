"""Stored responses for the Idempotency-Key header: a retried POST gets the first answer."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class IdempotentRequest(models.Model):
    """One Idempotency-Key of one API user, claimed before the request runs.

    The unique constraint is what makes a concurrent duplicate lose: only one request can
    insert the (user, key) row, the other sees it and waits, replays or answers 409.
    """

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", _("処理中")
        DONE = "done", _("完了")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(_("受付キー"), max_length=80)
    # sha256 of method, path and the parsed JSON body: a different request under the same key
    # is refused instead of answered with someone else's result.
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(
        _("状態"), max_length=12, choices=State.choices, default=State.IN_PROGRESS
    )
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The rendered JSON as sent, so a replay is byte for byte the first answer.
    response_body = models.TextField(blank=True)
    claimed_at = models.DateTimeField(_("受付日時"))
    finished_at = models.DateTimeField(_("完了日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("API受付キー")
        verbose_name_plural = _("API受付キー")
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="api_idempotency_key_per_user"),
            models.CheckConstraint(
                condition=models.Q(state="in_progress") | models.Q(response_status__isnull=False),
                name="api_idempotency_done_has_response",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
