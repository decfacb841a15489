"""Health follow-up (健康観察): questionnaires and their alert rules as data, the people
followed, their follow-ups and the answers.

A questionnaire is versioned: a published version never changes (its questions, choices and
rules are frozen), so an answer always means what the version it answered asked. A change is
the next version, a draft until published (services.questionnaire_new_version / _publish).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from reservations.models import Resident


class Questionnaire(models.Model):
    """One version of a questionnaire. `code` names the questionnaire across versions
    (`home-care`); at most one version of a code is active, the one new follow-ups use."""

    code = models.SlugField(_("コード"), max_length=40)
    version = models.PositiveIntegerField(_("版"), default=1)
    title = models.CharField(_("名称"), max_length=100)
    title_en = models.CharField(_("名称（英語）"), max_length=100, blank=True)
    is_active = models.BooleanField(
        _("使用中"), default=False, help_text=_("新しい健康観察に使う版（コードごとに1つ）")
    )
    published_at = models.DateTimeField(
        _("公開日時"),
        null=True,
        blank=True,
        help_text=_("空欄は下書き。公開した版は変更できません"),
    )
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)

    class Meta:
        verbose_name = _("質問票")
        verbose_name_plural = _("質問票")
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["code", "version"],
                name="%(app_label)s_%(class)s_unique_version",
                violation_error_message=_("このコードと版の質問票はすでにあります。"),
            ),
            models.UniqueConstraint(
                fields=["code"],
                condition=Q(is_active=True),
                name="%(app_label)s_%(class)s_one_active_version",
                violation_error_message=_("使用中にできる版はコードごとに1つです。"),
            ),
            models.CheckConstraint(
                condition=Q(is_active=False) | Q(published_at__isnull=False),
                name="%(app_label)s_%(class)s_active_is_published",
                violation_error_message=_("下書きの版は使用中にできません。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title}（{self.code} 第{self.version}版）"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class Question(models.Model):
    """One question of a questionnaire version. `key` is what answers and rules use."""

    class Kind(models.TextChoices):
        NUMBER = "number", _("数値")
        SINGLE = "single", _("1つ選ぶ")
        MULTIPLE = "multiple", _("複数選ぶ")
        TEXT = "text", _("自由記述")
        PHOTO = "photo", _("写真")

    questionnaire = models.ForeignKey(
        Questionnaire, on_delete=models.CASCADE, related_name="questions"
    )
    order = models.PositiveSmallIntegerField(_("順番"), default=0)
    key = models.SlugField(_("キー"), max_length=40)
    kind = models.CharField(_("種類"), max_length=10, choices=Kind.choices)
    label = models.CharField(_("質問"), max_length=200)
    label_en = models.CharField(_("質問（英語）"), max_length=200, blank=True)
    label_easy = models.CharField(_("質問（やさしい日本語）"), max_length=200, blank=True)
    unit = models.CharField(_("単位"), max_length=10, blank=True, help_text=_("例：℃、%、回/分"))
    min_value = models.DecimalField(
        _("最小値"), max_digits=8, decimal_places=3, null=True, blank=True
    )
    max_value = models.DecimalField(
        _("最大値"), max_digits=8, decimal_places=3, null=True, blank=True
    )
    decimal_places = models.PositiveSmallIntegerField(
        _("小数点以下の桁数"), default=0, validators=[MaxValueValidator(3)]
    )
    required = models.BooleanField(_("回答必須"), default=True)

    class Meta:
        verbose_name = _("質問")
        verbose_name_plural = _("質問")
        ordering = ["questionnaire", "order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["questionnaire", "key"],
                name="%(app_label)s_%(class)s_unique_key",
                violation_error_message=_("このキーの質問はこの質問票にすでにあります。"),
            ),
            models.CheckConstraint(
                condition=Q(min_value__isnull=True)
                | Q(max_value__isnull=True)
                | Q(min_value__lte=F("max_value")),
                name="%(app_label)s_%(class)s_min_not_above_max",
                violation_error_message=_("最小値は最大値以下にしてください。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.label}"


class Choice(models.Model):
    """One choice of a single/multiple question. A model rather than a JSON list on the
    question: the database keeps keys unique per question, the admin edits choices as rows,
    and each of the three labels is a field of its own."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    order = models.PositiveSmallIntegerField(_("順番"), default=0)
    key = models.SlugField(_("キー"), max_length=40)
    label = models.CharField(_("選択肢"), max_length=100)
    label_en = models.CharField(_("選択肢（英語）"), max_length=100, blank=True)
    label_easy = models.CharField(_("選択肢（やさしい日本語）"), max_length=100, blank=True)
    is_exclusive = models.BooleanField(
        _("ほかと一緒に選べない"), default=False, help_text=_("「なし」のような選択肢")
    )

    class Meta:
        verbose_name = _("選択肢")
        verbose_name_plural = _("選択肢")
        ordering = ["question", "order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["question", "key"],
                name="%(app_label)s_%(class)s_unique_key",
                violation_error_message=_("このキーの選択肢はこの質問にすでにあります。"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.label}"


class AlertLevel(models.TextChoices):
    """How urgently staff should look at an answer. Also an answer's level ("none")."""

    NONE = "none", _("なし")
    YELLOW = "yellow", _("黄（注意）")
    RED = "red", _("赤（至急）")


class AlertRule(models.Model):
    """When an answer raises an alert: `question_key` compared with `threshold` (≤ / ≥) or
    a choice chosen, on `consecutive_days` days in a row ending on the answer's date."""

    class Condition(models.TextChoices):
        AT_MOST = "lte", _("以下（≤）")
        AT_LEAST = "gte", _("以上（≥）")
        CHOSEN = "chosen", _("選択肢を選んだ")

    questionnaire = models.ForeignKey(
        Questionnaire, on_delete=models.CASCADE, related_name="alert_rules"
    )
    order = models.PositiveSmallIntegerField(_("順番"), default=0)
    question_key = models.SlugField(_("質問のキー"), max_length=40)
    condition = models.CharField(_("条件"), max_length=10, choices=Condition.choices)
    threshold = models.DecimalField(
        _("しきい値"), max_digits=8, decimal_places=3, null=True, blank=True
    )
    choice_key = models.SlugField(_("選択肢のキー"), max_length=40, blank=True)
    consecutive_days = models.PositiveSmallIntegerField(
        _("連続日数"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(14)],
        help_text=_("1は当日のみ、2は当日と前日の両方"),
    )
    level = models.CharField(
        _("レベル"),
        max_length=10,
        choices=[
            (AlertLevel.RED, AlertLevel.RED.label),
            (AlertLevel.YELLOW, AlertLevel.YELLOW.label),
        ],
    )
    message = models.CharField(_("職員に表示するメッセージ"), max_length=200)

    class Meta:
        verbose_name = _("アラート条件")
        verbose_name_plural = _("アラート条件")
        ordering = ["questionnaire", "order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(condition__in=["lte", "gte"], threshold__isnull=False, choice_key="")
                    | (Q(condition="chosen", threshold__isnull=True) & ~Q(choice_key=""))
                ),
                name="%(app_label)s_%(class)s_operand_fits_condition",
                violation_error_message=_(
                    "≤・≥にはしきい値だけを、「選択肢を選んだ」には選択肢のキーだけを指定してください。"
                ),
            ),
            models.CheckConstraint(
                condition=Q(consecutive_days__gte=1),
                name="%(app_label)s_%(class)s_at_least_one_day",
            ),
            models.CheckConstraint(
                condition=Q(level__in=["red", "yellow"]),
                name="%(app_label)s_%(class)s_level_red_or_yellow",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.question_key} {self.condition} → {self.level}"


class FollowedPerson(models.Model):
    """Someone a municipality follows: a resident on its list, or a person known only from a
    health centre's list (imported by followup_import), hence their own name and phone."""

    municipality = models.ForeignKey(
        "reservations.Municipality", on_delete=models.PROTECT, related_name="followed_people"
    )
    resident = models.ForeignKey(
        "reservations.Resident",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="followed_as",
        verbose_name=_("住民"),
    )
    name = models.CharField(_("氏名"), max_length=100)
    phone = models.CharField(_("電話番号（E.164）"), max_length=20)
    birth_date = models.DateField(_("生年月日"))
    address_number = models.CharField(_("宛名番号"), max_length=20, blank=True)
    ticket_number = models.CharField(_("接種券番号"), max_length=10, blank=True)
    proxy_phone = models.CharField(_("代理人電話番号（E.164）"), max_length=20, blank=True)
    language = models.CharField(
        _("言語"),
        max_length=10,
        default="ja",
        choices=[("ja", "日本語"), ("ja-easy", "やさしい日本語"), ("en", "English")],
        help_text=_("SMSと回答ページの言語（回答ページでは本人が切り替えられます）"),
    )
    sms_stopped_at = models.DateTimeField(
        _("SMS停止の日時"),
        null=True,
        blank=True,
        help_text=_("「停止」「STOP」の返信を受けた日時。以後この番号へ健康観察のSMSは送りません"),
    )
    created_at = models.DateTimeField(_("登録日時"), auto_now_add=True)

    class Meta:
        verbose_name = _("健康観察の対象者")
        verbose_name_plural = _("健康観察の対象者")
        ordering = ["municipality", "name", "id"]
        indexes = [
            models.Index(fields=["municipality", "phone"]),
            # A household's page looks people up by either number (answering.py).
            models.Index(fields=["municipality", "proxy_phone"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.birth_date:%Y-%m-%d})"

    @property
    def first_name(self) -> str:
        """What the answer page and the messages call the person: the given name when the
        name is written 「姓 名」, else the whole name (nothing else about them is shown)."""
        parts = self.name.replace("\u3000", " ").split()
        return parts[-1] if len(parts) > 1 else self.name


class FollowUp(models.Model):
    """One person followed with one questionnaire version on given days.

    The days are `start_date` plus each of `day_offsets` (a count of N days is stored as
    0..N-1), so both kinds of schedule are one list. The personal link's token is stored only
    as a hash (services.followup_token_hash).
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("実施中")
        ENDED = "ended", _("終了")

    class EndReason(models.TextChoices):
        LAST_DAY = "last_day", _("最終日を過ぎた")
        STAFF = "staff", _("職員が終了")
        STOP_REPLY = "stop_reply", _("本人の停止の返信")

    person = models.ForeignKey(
        FollowedPerson, on_delete=models.PROTECT, related_name="followups", verbose_name=_("対象者")
    )
    questionnaire = models.ForeignKey(
        Questionnaire, on_delete=models.PROTECT, related_name="followups", verbose_name=_("質問票")
    )
    start_date = models.DateField(_("開始日"))
    day_offsets = models.JSONField(
        _("観察日（開始日からの日数）"), help_text=_("例：[0, 1, 2] は開始日から3日間")
    )
    last_date = models.DateField(_("最終日"))
    cutoff_time = models.TimeField(_("回答の締切時刻"), default=dt.time(17, 0))
    reminder_time = models.TimeField(_("催促の時刻"), default=dt.time(12, 0))
    status = models.CharField(
        _("状態"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    ended_at = models.DateTimeField(_("終了日時"), null=True, blank=True)
    end_reason = models.CharField(
        _("終了の理由"), max_length=20, choices=EndReason.choices, blank=True
    )
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("終了した職員"),
    )
    # The last day whose invitation / reminder was handed to the outbox (channels.notify):
    # what the staff's cohort shows as 案内済み / 催促済み, and what makes the next scan skip it.
    invited_for = models.DateField(_("案内した観察日"), null=True, blank=True, editable=False)
    # When: a reminder or the call list follows only an invitation made before their time.
    invited_at = models.DateTimeField(_("案内した日時"), null=True, blank=True, editable=False)
    reminded_for = models.DateField(_("催促した観察日"), null=True, blank=True, editable=False)
    token_salt = models.CharField(max_length=32, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("登録した職員"),
    )
    created_at = models.DateTimeField(_("登録日時"))

    class Meta:
        verbose_name = _("健康観察")
        verbose_name_plural = _("健康観察")
        ordering = ["-start_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(last_date__gte=F("start_date")),
                name="%(app_label)s_%(class)s_last_date_after_start",
            ),
            models.CheckConstraint(
                condition=(Q(status="active", ended_at__isnull=True, end_reason=""))
                | (Q(status="ended", ended_at__isnull=False) & ~Q(end_reason="")),
                name="%(app_label)s_%(class)s_ended_has_time_and_reason",
            ),
        ]
        indexes = [models.Index(fields=["status", "start_date", "last_date"])]

    def __str__(self) -> str:
        return f"{self.person} {self.questionnaire.code} {self.start_date:%Y-%m-%d}"

    @property
    def resident(self) -> Resident | None:
        """The resident followed, if any (the admin's audit trail reads it)."""
        return self.person.resident

    def dates(self) -> list[dt.date]:
        return [self.start_date + dt.timedelta(days=offset) for offset in self.day_offsets]

    def has_day(self, day: dt.date) -> bool:
        return (day - self.start_date).days in self.day_offsets


class FollowUpAnswer(models.Model):
    """The answer of one follow-up for one date. A correction replaces it in place and moves
    what it replaced into `history` (newest last): one row per date keeps "the answer of the
    day" a unique lookup, and a correction stays visible to staff."""

    followup = models.ForeignKey(FollowUp, on_delete=models.PROTECT, related_name="answers")
    for_date = models.DateField(_("観察日"))
    values = models.JSONField(_("回答"), default=dict)
    alert_level = models.CharField(
        _("アラート"), max_length=10, choices=AlertLevel.choices, default=AlertLevel.NONE
    )
    alerts = models.JSONField(_("アラートの内容"), default=list, blank=True)
    answered_at = models.DateTimeField(_("回答日時"))
    answered_by_proxy = models.BooleanField(_("代理人の回答"), default=False)
    history = models.JSONField(_("訂正前の回答"), default=list, blank=True)
    # Staff's handling of an alert: acknowledged (someone is on it), then resolved with a
    # note. Both are audited (channels.followup.staff).
    acknowledged_at = models.DateTimeField(_("確認日時"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("確認した職員"),
    )
    resolved_at = models.DateTimeField(_("対応済みの日時"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("対応した職員"),
    )
    resolution_note = models.TextField(_("対応の記録"), blank=True)

    class Meta:
        verbose_name = _("健康観察の回答")
        verbose_name_plural = _("健康観察の回答")
        ordering = ["followup", "for_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["followup", "for_date"],
                name="%(app_label)s_%(class)s_one_per_date",
                violation_error_message=_("この日の回答はすでにあります。"),
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(acknowledged_at__isnull=False),
                name="%(app_label)s_%(class)s_resolved_after_acknowledged",
            ),
        ]
        indexes = [models.Index(fields=["alert_level", "for_date"])]

    def __str__(self) -> str:
        return f"{self.followup_id} {self.for_date:%Y-%m-%d} {self.alert_level}"


class FollowUpCall(models.Model):
    """A person staff must phone about one day of a follow-up: a red answer (at once, at the
    top of the list) or no answer by the cut-off, or no message reached them. One row per
    (follow-up, date, reason); the member of staff who phoned records the outcome on it."""

    class Reason(models.TextChoices):
        RED_ALERT = "red_alert", _("赤のアラート")
        SILENT = "silent", _("締切までに回答なし")
        NOT_REACHED = "not_reached", _("SMS・LINEが届かない")

    class Outcome(models.TextChoices):
        REACHED = "reached", _("本人・家族と話せた")
        NOT_REACHED = "not_reached", _("つながらなかった")

    # Lower first on the list: red answers at the top.
    PRIORITY = {Reason.RED_ALERT: 0, Reason.SILENT: 1, Reason.NOT_REACHED: 1}

    followup = models.ForeignKey(
        FollowUp, on_delete=models.PROTECT, related_name="calls", verbose_name=_("健康観察")
    )
    for_date = models.DateField(_("観察日"))
    reason = models.CharField(_("理由"), max_length=20, choices=Reason.choices)
    priority = models.PositiveSmallIntegerField(_("優先度"), default=1)
    created_at = models.DateTimeField(_("登録日時"))
    done_at = models.DateTimeField(_("電話した日時"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("電話した職員"),
    )
    outcome = models.CharField(_("結果"), max_length=20, choices=Outcome.choices, blank=True)
    note = models.TextField(_("メモ"), blank=True)

    class Meta:
        verbose_name = _("健康観察の電話確認")
        verbose_name_plural = _("健康観察の電話確認")
        ordering = ["done_at", "priority", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["followup", "for_date", "reason"],
                name="%(app_label)s_%(class)s_one_per_day_and_reason",
            ),
            models.CheckConstraint(
                condition=Q(done_at__isnull=True, outcome="")
                | (Q(done_at__isnull=False) & ~Q(outcome="")),
                name="%(app_label)s_%(class)s_done_has_outcome",
            ),
        ]
        indexes = [models.Index(fields=["done_at", "priority", "created_at"])]

    def __str__(self) -> str:
        return f"{self.followup_id} {self.for_date:%Y-%m-%d} {self.reason}"


class FollowUpPhoto(models.Model):
    """A photo answer (a home test kit): stored outside the web root with its metadata
    stripped, reviewed by a doctor, deleted after FOLLOWUP_PHOTO_RETENTION_DAYS."""

    class Status(models.TextChoices):
        PENDING = "pending", _("確認待ち")
        CONFIRMED = "confirmed", _("確認済み（陽性を確認）")
        REJECTED = "rejected", _("確認できない")

    followup = models.ForeignKey(
        FollowUp, on_delete=models.PROTECT, related_name="photos", verbose_name=_("健康観察")
    )
    for_date = models.DateField(_("観察日"))
    question_key = models.SlugField(_("質問のキー"), max_length=40)
    # A random name under FOLLOWUP_PHOTO_ROOT; "" once the file is deleted.
    stored_name = models.CharField(max_length=80, blank=True, editable=False)
    content_type = models.CharField(_("形式"), max_length=20)
    size_bytes = models.PositiveIntegerField(_("大きさ（バイト）"))
    uploaded_at = models.DateTimeField(_("送信日時"))
    status = models.CharField(
        _("状態"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    reviewed_at = models.DateTimeField(_("確認日時"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("確認した医師"),
    )
    reason = models.CharField(_("理由"), max_length=200, blank=True)
    deleted_at = models.DateTimeField(_("削除日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("健康観察の写真")
        verbose_name_plural = _("健康観察の写真")
        ordering = ["uploaded_at", "id"]
        permissions = [("review_photo", _("写真を確認する（医師）"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="pending", reviewed_at__isnull=True)
                | (~Q(status="pending") & Q(reviewed_at__isnull=False)),
                name="%(app_label)s_%(class)s_reviewed_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(reason=""),
                name="%(app_label)s_%(class)s_rejected_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["status", "uploaded_at"])]

    def __str__(self) -> str:
        return f"{self.followup_id} {self.for_date:%Y-%m-%d} {self.status}"
