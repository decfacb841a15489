"""Automated outbound calls: every attempt, what became of it, and the keys pressed.

A call is made for someone else's record (`reference`: for notify, the outbound message's
retry key) and plays a flow registered by that caller (channels.voice.flows). The voice
channel knows numbers, lines, calling hours and the provider; what is said and what a key
does belong to the flow.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class VoiceCall(models.Model):
    """One attempt to call one number.

    While a call is placed and not finished it holds one of the provider's lines (`line`,
    0 … VOICE_MAX_CONCURRENT_CALLS-1). The unique constraint on (provider, line) is what
    keeps the number of simultaneous calls at the limit across every worker: a line is taken
    by writing its number, and a second call writing the same number fails."""

    class Result(models.TextChoices):
        PLACING = "placing", _("発信準備中")
        RINGING = "ringing", _("呼び出し中")
        IN_PROGRESS = "in_progress", _("通話中")
        ANSWERED = "answered", _("応答あり")
        MACHINE = "machine", _("留守番電話")
        BUSY = "busy", _("話し中")
        NO_ANSWER = "no_answer", _("応答なし")
        FAILED = "failed", _("発信失敗")

    OPEN_RESULTS = (Result.PLACING, Result.RINGING, Result.IN_PROGRESS)
    # Results after which the number may be tried again later.
    RETRY_RESULTS = (Result.BUSY, Result.NO_ANSWER)

    reference = models.CharField(_("用件の参照"), max_length=64)
    attempt = models.PositiveSmallIntegerField(_("何回目の発信"), default=1)
    flow = models.CharField(_("音声案内の種類"), max_length=30)
    language = models.CharField(_("言語"), max_length=10, default="ja")
    to = models.CharField(_("発信先"), max_length=20)
    municipality = models.ForeignKey(
        "reservations.Municipality",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("自治体"),
    )
    resident = models.ForeignKey(
        "reservations.Resident",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("住民"),
    )
    provider = models.CharField(_("通話事業者"), max_length=30)
    provider_call_id = models.CharField(_("事業者の通話ID"), max_length=64, blank=True)
    line = models.PositiveSmallIntegerField(_("使用中の回線"), null=True, blank=True)
    result = models.CharField(
        _("結果"), max_length=12, choices=Result.choices, default=Result.PLACING
    )
    answered_by = models.CharField(_("応答の判定"), max_length=30, blank=True)
    last_error = models.TextField(_("エラー"), blank=True)
    placed_at = models.DateTimeField(_("発信日時"))
    answered_at = models.DateTimeField(_("応答日時"), null=True, blank=True)
    ended_at = models.DateTimeField(_("終了日時"), null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(_("通話時間（秒）"), default=0)

    class Meta:
        verbose_name = _("自動音声電話")
        verbose_name_plural = _("自動音声電話")
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["reference", "attempt"], name="voice_one_per_attempt"),
            models.UniqueConstraint(
                fields=["provider", "line"],
                condition=models.Q(line__isnull=False),
                name="voice_one_call_per_line",
            ),
            models.UniqueConstraint(
                fields=["provider", "provider_call_id"],
                condition=~models.Q(provider_call_id=""),
                name="voice_provider_call_once",
            ),
        ]
        indexes = [
            models.Index(fields=["resident", "placed_at"]),
            models.Index(fields=["municipality", "placed_at"]),
            models.Index(fields=["result", "placed_at"]),
        ]
        permissions = [("use_voice_simulator", _("自動音声電話のシミュレーターを使う"))]

    def __str__(self) -> str:
        return f"{self.flow} {self.to} #{self.attempt} {self.result}"

    @property
    def is_open(self) -> bool:
        return self.result in self.OPEN_RESULTS

    @property
    def flow_display(self) -> str:
        """The flow as staff read it (前日のお知らせ), not its registered name."""
        from channels.voice.labels import flow_label

        return flow_label(self.flow)


class VoiceKeyPress(models.Model):
    """What the person pressed at one question of a call, and what it did."""

    class Action(models.TextChoices):
        CONFIRMED = "confirmed", _("予約を確認")
        CANCEL_ASKED = "cancel_asked", _("キャンセルの確認を案内")
        CANCELLED = "cancelled", _("予約をキャンセル")
        CANCEL_REFUSED = "cancel_refused", _("キャンセルできず")
        CALLBACK = "callback", _("折り返し電話を希望")
        REPEAT = "repeat", _("もう一度案内")
        ANSWER = "answer", _("回答を記録")
        ANSWERS_SAVED = "answers_saved", _("回答を保存")
        INVALID = "invalid", _("無効な入力")
        NONE = "none", _("操作なし")

    call = models.ForeignKey(VoiceCall, on_delete=models.CASCADE, related_name="keys")
    step = models.CharField(_("質問"), max_length=40)
    digits = models.CharField(_("押されたボタン"), max_length=20, blank=True)
    action = models.CharField(_("結果"), max_length=20, choices=Action.choices)
    detail = models.CharField(_("内容"), max_length=200, blank=True)
    pressed_at = models.DateTimeField(_("日時"))

    class Meta:
        verbose_name = _("押されたボタン")
        verbose_name_plural = _("押されたボタン")
        ordering = ["pressed_at", "id"]

    def __str__(self) -> str:
        return f"{self.step}: {self.digits} → {self.action}"
