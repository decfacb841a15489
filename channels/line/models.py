"""LINE channel state: the municipalities' own official accounts, received webhook events,
links to residents, and each chat's progress.

None of these rows is a booking: reservations are written by the core services only.

A deployment talks to LINE through one official account per municipality that has one
(`LineOfficialAccount`, webhook /line/m/<code>/webhook/), plus the account configured in
settings (LINE_CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN; webhook /line/webhook/), which serves
HOME_MUNICIPALITY_CODE: a single-city installation needs no row here. Rows that belong to one
account name it in `official_account`; empty means the settings' account.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class LineOfficialAccount(models.Model):
    """A municipality's own LINE official account (one Messaging API channel).

    The secret and the token are stored as given, like LINE_CHANNEL_SECRET and
    LINE_CHANNEL_ACCESS_TOKEN in settings: the webhook needs the secret itself to check each
    signature and the token is sent to LINE on every call, so neither can be hashed, and the
    project has no encryption of fields at rest. The admin never shows them back (write-only).
    """

    municipality = models.OneToOneField(
        "reservations.Municipality",
        on_delete=models.PROTECT,
        related_name="line_official_account",
        verbose_name=_("自治体"),
    )
    channel_id = models.CharField(
        _("チャネルID"),
        max_length=20,
        validators=[RegexValidator(r"^[0-9]+$", _("チャネルIDは半角数字で入力してください。"))],
        help_text=_("LINE Developersコンソールの「チャネル基本設定」にある数字です。"),
    )
    channel_secret = models.CharField(_("チャネルシークレット"), max_length=64)
    channel_access_token = models.CharField(_("チャネルアクセストークン"), max_length=1000)
    # Off: its webhook answers 404 and nothing is sent with its token (residents linked in it
    # get their notices by SMS or phone instead). Deactivate rather than delete: its chats
    # and links keep their rows.
    is_active = models.BooleanField(_("有効"), default=True)
    created_at = models.DateTimeField(_("登録日時"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    class Meta:
        verbose_name = _("LINE公式アカウント")
        verbose_name_plural = _("LINE公式アカウント")
        ordering = ["municipality__code"]

    def __str__(self) -> str:
        return str(self.municipality)


class LineWebhookEvent(models.Model):
    """One webhook event as LINE sent it, stored once by its webhookEventId.

    The unique id turns a redelivery into a no-op; `processed_at` marks the event handled, so a
    task that runs twice (a worker lost mid-task, a second enqueue) does nothing the second time.
    """

    webhook_event_id = models.CharField(max_length=64, unique=True)
    # The account whose webhook received it (empty: the settings' account). A LINE user id
    # is only unique within one provider, so the chat is (account, user id).
    official_account = models.ForeignKey(
        LineOfficialAccount, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    line_user_id = models.CharField(max_length=64, db_index=True)
    event_type = models.CharField(max_length=30)
    # Milliseconds since the epoch, as LINE sent it: events of one user are handled in this order.
    sent_at_ms = models.BigIntegerField()
    is_redelivery = models.BooleanField(default=False)
    # The event's own JSON (not the whole request body): re-parsed by the SDK in the task.
    # Emptied when the resident unsends the message, and the row deleted after
    # RETENTION_LINE_WEBHOOK_DAYS: residents type ticket numbers and birth dates into it.
    payload = models.TextField()
    # Message events: the message's id; unsend events: the id of the message taken back.
    message_id = models.CharField(max_length=64, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # When the resident unsent this message; all that is kept of it from then on.
    unsent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("LINE受信イベント")
        verbose_name_plural = _("LINE受信イベント")
        indexes = [
            models.Index(
                fields=["line_user_id", "sent_at_ms", "id"],
                condition=Q(processed_at__isnull=True),
                name="line_event_pending_idx",
            ),
            # An unsend finds the message it takes back; most events carry no message id.
            models.Index(
                fields=["line_user_id", "message_id"],
                condition=~Q(message_id=""),
                name="line_event_message_idx",
            ),
            # The retention purge deletes by age.
            models.Index(fields=["received_at"], name="line_event_received_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.webhook_event_id}"


# The languages the chat speaks: Japanese first, English for residents who choose it.
CHAT_LANGUAGES = [("ja", "日本語"), ("en", "English")]


class LineAccount(models.Model):
    """A LINE user who added the city's account, and where their chat stands.

    The row is also the per-user lock: events of one user are processed while holding it, so
    two workers never interleave one person's conversation.

    One row per official account and user id: LINE gives a person the same user id in every
    channel of one provider, so two cities' accounts under one provider see the same id, and
    each keeps its own chat and links. Links made here belong to this account's municipality.
    """

    # Empty: the account configured in settings, which serves HOME_MUNICIPALITY_CODE.
    official_account = models.ForeignKey(
        LineOfficialAccount,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="line_users",
        verbose_name=_("LINE公式アカウント"),
    )
    line_user_id = models.CharField(max_length=64, db_index=True)
    is_following = models.BooleanField(_("友だち登録中"), default=True)
    # The conversation: which question we asked last, and what was answered so far.
    step = models.CharField(max_length=30, default="", blank=True)
    data = models.JSONField(default=dict, blank=True)
    step_changed_at = models.DateTimeField(null=True, blank=True)
    # The language the resident chose in the chat ("" until they choose: the site's language).
    # The chat speaks it, and notices pushed to this account are written in it.
    language = models.CharField(
        _("チャットの言語"), max_length=10, blank=True, default="", choices=CHAT_LANGUAGES
    )
    followed_at = models.DateTimeField(null=True, blank=True)
    unfollowed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("LINEアカウント")
        verbose_name_plural = _("LINEアカウント")
        constraints = [
            # Two constraints, because NULLs are distinct in a unique constraint.
            models.UniqueConstraint(
                fields=["line_user_id"],
                condition=Q(official_account__isnull=True),
                name="line_account_unique_settings_user",
            ),
            models.UniqueConstraint(
                fields=["official_account", "line_user_id"],
                condition=Q(official_account__isnull=False),
                name="line_account_unique_official_user",
            ),
        ]

    def __str__(self) -> str:
        return self.line_user_id


class LineLink(models.Model):
    """A resident proven to this LINE account with ticket number + birth date.

    One LINE account may hold several residents (a family); each booking names one of them.
    Unfollowing deactivates every link of the account: no push goes to a blocked account, and
    coming back means proving the tickets again.
    """

    account = models.ForeignKey(LineAccount, on_delete=models.CASCADE, related_name="links")
    resident = models.ForeignKey(
        "reservations.Resident", on_delete=models.PROTECT, related_name="line_links"
    )
    # The ticket that was proven; bookings made in chat use it.
    ticket = models.ForeignKey("reservations.Ticket", on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(_("有効"), default=True)
    linked_at = models.DateTimeField(_("連携日時"))
    deactivated_at = models.DateTimeField(_("解除日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("LINE連携")
        verbose_name_plural = _("LINE連携")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "resident"], name="line_link_unique_account_resident"
            )
        ]
        indexes = [models.Index(fields=["resident", "is_active"])]

    def __str__(self) -> str:
        return f"{self.account_id} → {self.resident_id}"


class SimulatorDelivery(models.Model):
    """A request the bot made to the built-in stand-in for LINE's API (chat simulator only)."""

    line_user_id = models.CharField(max_length=64, db_index=True)
    kind = models.CharField(max_length=10)  # user (what was typed) | reply | push
    messages = models.JSONField(default=list)
    retry_key = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("シミュレーターの送信記録")
        verbose_name_plural = _("シミュレーターの送信記録")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} → {self.line_user_id}"
