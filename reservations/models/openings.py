"""The record of the pre-opening check: each run for a cohort opening, and the overrides."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from reservations.models.rules import CohortOpening


class OpeningCheck(models.Model):
    """One run of the pre-opening check (`reservations.season_check`) for one cohort opening,
    with its findings, and the administrator's override of its errors when one was given.

    Append-only: a run is never changed, except that an override is written onto it once. A
    later run whose errors are all among those an override accepted stays open and names that
    override in `covered_by`, so the audit trail shows who accepted what, when and why.
    Written only by `reservations.services.openings`.
    """

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("自動（開始前の定期チェック）")
        ADMIN = "admin", _("管理画面")
        COMMAND = "command", _("コマンド")

    opening = models.ForeignKey(
        CohortOpening,
        on_delete=models.CASCADE,
        related_name="checks",
        verbose_name=_("年代別の予約受付開始"),
    )
    ran_at = models.DateTimeField(_("実行日時"))
    trigger = models.CharField(_("実行のきっかけ"), max_length=10, choices=Trigger.choices)
    # [{"severity", "code", "message" (the Japanese msgid), "params"}]: translated when shown.
    findings = models.JSONField(_("チェック結果"), default=list)
    error_codes = models.JSONField(_("エラーのコード"), default=list)
    blocked = models.BooleanField(_("受付開始を止めた"))
    covered_by = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("適用した承認"),
    )
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("承認した管理者"),
    )
    overridden_at = models.DateTimeField(_("承認日時"), null=True, blank=True)
    override_reason = models.TextField(_("承認の理由"), blank=True)

    class Meta:
        verbose_name = _("開始前チェック")
        verbose_name_plural = _("開始前チェック")
        ordering = ["-ran_at", "-id"]
        permissions = [
            ("override_openingcheck", _("開始前チェックのエラーを承認して予約受付を開始する"))
        ]
        indexes = [models.Index(fields=["opening", "-ran_at"], name="openingcheck_latest")]
        constraints = [
            # An override names who, when and why, or it is not one.
            models.CheckConstraint(
                condition=(
                    Q(overridden_by__isnull=True, overridden_at__isnull=True, override_reason="")
                    | (
                        Q(overridden_by__isnull=False, overridden_at__isnull=False)
                        & ~Q(override_reason="")
                    )
                ),
                name="%(app_label)s_%(class)s_override_complete",
                violation_error_message=_("承認には管理者、日時、理由が必要です。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.opening} {self.ran_at:%Y-%m-%d %H:%M}"

    @property
    def is_override(self) -> bool:
        return self.overridden_at is not None
