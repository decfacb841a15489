"""The audit trail of exports (the VRS layouts and the municipal register): who exported what,
when, and which file came out."""

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
        REGISTER = "register", _("予防接種台帳向け（1回1行、全接種事業）")

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
    # The register file is one programme's doses (Program.code); blank for the VRS layouts.
    program_code = models.CharField(_("接種事業"), max_length=40, blank=True)
    # Whose residents the file holds, one municipality per file (blank: a batch from before
    # files were per municipality, when the deployment had one).
    municipality_code = models.CharField(_("自治体コード"), max_length=6, blank=True)
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


class ReconcileRun(models.Model):
    """One reading of a VRS ledger or 予防接種台帳 file against our records, previewed or applied.

    Append-only, like ExportBatch: the file is identified by its SHA-256, the report says what was
    (or would be) imported and cancelled. A web preview keeps the file's bytes until it is applied
    or the retention purge removes them (they hold ticket numbers), so "apply" acts on exactly the
    file that was previewed; applying writes a second row that points at the preview.
    """

    class Mode(models.TextChoices):
        PREVIEW = "preview", _("確認のみ（変更なし）")
        APPLIED = "applied", _("反映済み")
        REFUSED = "refused", _("読み取れないため中止")

    class Via(models.TextChoices):
        COMMAND = "command", _("コマンド")
        WEB = "web", _("突合画面")

    mode = models.CharField(_("結果"), max_length=10, choices=Mode.choices)
    via = models.CharField(_("実行方法"), max_length=10, choices=Via.choices)
    municipality_code = models.CharField(_("自治体コード"), max_length=6)
    file_name = models.CharField(_("ファイル名"), max_length=200, blank=True)
    file_size = models.PositiveBigIntegerField(_("ファイルの大きさ（バイト）"), default=0)
    sha256 = models.CharField(_("ファイルのSHA-256"), max_length=64)
    layout = models.CharField(_("ファイルの形式"), max_length=100, blank=True)
    reason = models.TextField(_("反映の理由"), blank=True)
    rows = models.PositiveIntegerField(_("行数"), default=0)
    known = models.PositiveIntegerField(_("既知の接種"), default=0)
    imported = models.PositiveIntegerField(_("取り込んだ接種"), default=0)
    cancelled = models.PositiveIntegerField(_("他所接種済みで取り消す予約"), default=0)
    conflicts = models.PositiveIntegerField(_("食い違い"), default=0)
    findings = models.PositiveIntegerField(_("確認事項"), default=0)
    problems = models.PositiveIntegerField(_("取り込めなかった行"), default=0)
    # Lists of sentences (first REPORT_LINES_KEPT of each kind): what a reviewer reads.
    report = models.JSONField(_("報告"), default=dict, blank=True)
    content = models.BinaryField(_("ファイルの内容（反映まで保持）"), null=True, blank=True)
    preview = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="applications",
        verbose_name=_("反映のもとになった確認"),
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("実行した職員"),
    )
    requested_by_name = models.CharField(_("実行者名"), max_length=150, blank=True)
    started_at = models.DateTimeField(_("開始日時"))
    finished_at = models.DateTimeField(_("終了日時"), auto_now_add=True)

    class Meta:
        verbose_name = _("VRS・台帳の突合履歴")
        verbose_name_plural = _("VRS・台帳の突合履歴")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(mode="applied") | ~models.Q(reason=""),
                name="%(app_label)s_%(class)s_applied_has_reason",
                violation_error_message=_("反映には理由が必要です。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mode} {self.file_name} {self.sha256[:12]}"
