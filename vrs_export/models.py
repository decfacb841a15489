"""The audit trail of VRS exports: who exported what, when, and which file came out."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ExportBatch(models.Model):
    """One run of the export, written or refused. Written rows are never changed afterwards.

    `high_water_id` is the largest Vaccination id the run considered; `--since-last` exports
    only versions above the previous written events batch's mark. Every correction is a new
    row with a new id, so a fixed record is picked up by the next delta.
    """

    class Format(models.TextChoices):
        LEDGER = "ledger", _("予防接種台帳向け（1人1行）")
        EVENTS = "events", _("接種記録（1回1行、処理区分つき）")

    class Encoding(models.TextChoices):
        UTF8 = "utf-8", _("UTF-8（BOMなし）")
        UTF8_SIG = "utf-8-sig", _("UTF-8（BOMつき、Excel向け）")
        CP932 = "cp932", _("Shift_JIS（CP932）")

    class Status(models.TextChoices):
        WRITTEN = "written", _("出力済み")
        REFUSED = "refused", _("不備のため出力せず")

    class Via(models.TextChoices):
        COMMAND = "command", _("コマンド")
        WEB = "web", _("ダウンロード画面")

    format = models.CharField(_("形式"), max_length=10, choices=Format.choices)
    encoding = models.CharField(_("文字コード"), max_length=10, choices=Encoding.choices)
    date_from = models.DateField(_("接種日（から）"))
    date_to = models.DateField(_("接種日（まで）"))
    since_last = models.BooleanField(_("前回からの差分のみ"), default=False)
    skip_invalid = models.BooleanField(_("不備のある記録を除いて出力"), default=False)
    status = models.CharField(_("結果"), max_length=10, choices=Status.choices)
    row_count = models.PositiveIntegerField(_("出力行数"), default=0)
    invalid_count = models.PositiveIntegerField(_("不備のある記録"), default=0)
    sha256 = models.CharField(_("ファイルのSHA-256"), max_length=64, blank=True)
    file_name = models.CharField(_("ファイル名"), max_length=200, blank=True)
    high_water_id = models.BigIntegerField(null=True, blank=True)
    problems = models.JSONField(_("不備の例"), default=list, blank=True)
    via = models.CharField(_("出力方法"), max_length=10, choices=Via.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("出力した職員"),
    )
    requested_by_name = models.CharField(_("出力者名"), max_length=150, blank=True)
    started_at = models.DateTimeField(_("開始日時"))
    finished_at = models.DateTimeField(_("終了日時"), auto_now_add=True)

    class Meta:
        verbose_name = _("VRS出力履歴")
        verbose_name_plural = _("VRS出力履歴")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["format", "status", "-id"])]

    def __str__(self) -> str:
        return f"{self.format} {self.date_from}–{self.date_to} ({self.status})"
