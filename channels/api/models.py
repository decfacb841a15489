"""Stored responses for the Idempotency-Key header (a retried POST gets the first answer), and
partner systems' API keys."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager


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


class Scope(models.TextChoices):
    """What a partner system may do through the API; each view names the one it needs."""

    READ_AVAILABILITY = "read_availability", _("空き枠の参照")
    READ_RESERVATIONS = "read_reservations", _("予約の参照")
    BOOK = "book", _("予約の登録")
    CHANGE = "change", _("予約の変更・取消")
    RECORD_VACCINATIONS = "record_vaccinations", _("接種記録の登録")


# One boolean column per scope: the database holds exactly these, and the admin shows
# checkboxes. A JSON list could hold any string, and SQLite cannot check its members.
SCOPE_FIELDS: dict[str, str] = {
    Scope.READ_AVAILABILITY: "may_read_availability",
    Scope.READ_RESERVATIONS: "may_read_reservations",
    Scope.BOOK: "may_book",
    Scope.CHANGE: "may_change",
    Scope.RECORD_VACCINATIONS: "may_record_vaccinations",
}


class PartnerKeyManager(APIKeyManager):
    def get_usable_keys(self) -> models.QuerySet[Any]:
        # Authentication needs the key's user on every request: one query, not two.
        return super().get_usable_keys().select_related("user")


class PartnerKey(AbstractAPIKey):
    """The API key of one partner system (call centre, portal, venue system).

    The library stores only the key's prefix and a SHA-512 hash (the key is random and long,
    so a fast hash is enough); the clear key is shown once, when the admin creates it. The key
    authenticates as `user`, so the user's permissions still apply; the key can only narrow
    them, to its scopes and to its municipalities' data.
    """

    objects: ClassVar[PartnerKeyManager] = PartnerKeyManager()

    partner = models.CharField(_("連携先システム"), max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="partner_keys",
        verbose_name=_("代理する職員アカウント"),
        help_text=_("キーはこのアカウントとして認証され、その権限の範囲でだけ操作できます。"),
    )
    # At least one: the admin form requires it. A key left with none reaches no data (every
    # view filters by this set), so forgetting it fails closed.
    municipalities = models.ManyToManyField(
        "reservations.Municipality", related_name="partner_keys", verbose_name=_("対象自治体")
    )
    may_read_availability = models.BooleanField(_("空き枠の参照"), default=False)
    may_read_reservations = models.BooleanField(_("予約の参照"), default=False)
    may_book = models.BooleanField(_("予約の登録"), default=False)
    may_change = models.BooleanField(_("予約の変更・取消"), default=False)
    may_record_vaccinations = models.BooleanField(_("接種記録の登録"), default=False)

    class Meta:
        ordering = ("-created",)  # the library's, newest first
        verbose_name = _("連携先APIキー")
        verbose_name_plural = _("連携先APIキー")

    def __str__(self) -> str:
        return f"{self.partner} ({self.name})"

    def has_scope(self, scope: str) -> bool:
        return bool(getattr(self, SCOPE_FIELDS[scope]))

    @cached_property
    def municipality_ids(self) -> frozenset[int]:
        """Read once per request: the key object lives as long as the request."""
        return frozenset(self.municipalities.values_list("pk", flat=True))

    @cached_property
    def municipality_codes(self) -> frozenset[str]:
        return frozenset(self.municipalities.values_list("code", flat=True))
