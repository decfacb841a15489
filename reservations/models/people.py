"""Residents and the vaccination tickets (接種券) that let them book."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from reservations.identifiers import SEX_FEMALE, SEX_MALE, SEX_UNKNOWN
from reservations.models.booking import Actor


class Resident(models.Model):
    """A person on the municipality's ticket list.

    There is deliberately no マイナンバー column: the register is linked by 宛名番号 and by
    (municipality code, ticket number) instead (domain.md §4). Health details are never stored;
    where eligibility needs one, only the resident's attestation flag is kept.
    """

    class Sex(models.TextChoices):
        UNKNOWN = SEX_UNKNOWN, _("不明")
        MALE = SEX_MALE, _("男性")
        FEMALE = SEX_FEMALE, _("女性")

    class Status(models.TextChoices):
        RESIDENT = "resident", _("住民")
        MOVED_OUT = "moved_out", _("転出")
        DECEASED = "deceased", _("死亡")

    municipality = models.ForeignKey(
        "reservations.Municipality", on_delete=models.PROTECT, related_name="residents"
    )
    atena_number = models.CharField(_("宛名番号"), max_length=20, blank=True)
    name = models.CharField(_("氏名"), max_length=100)
    name_kana = models.CharField(_("氏名カナ"), max_length=100, blank=True)
    birth_date = models.DateField(_("生年月日"))
    sex = models.CharField(_("性別"), max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    phone = models.CharField(_("電話番号（E.164）"), max_length=20, blank=True)
    postal_code = models.CharField(_("郵便番号"), max_length=8, blank=True)
    address = models.CharField(_("住所"), max_length=200, blank=True)
    preferred_language = models.CharField(
        _("希望言語"),
        max_length=10,
        default="ja",
        help_text=_("通知に使う言語（ja、en、やさしい日本語は ja-easy）"),
    )
    sms_consent = models.BooleanField(
        _("SMS受信"),
        default=True,
        help_text=_("予約に関するSMSを送ってよいか。住民が停止を申し出たらオフ"),
    )
    sms_consent_changed_at = models.DateTimeField(_("SMS受信の変更日時"), null=True, blank=True)
    sms_consent_changed_via = models.CharField(
        _("SMS受信の変更経路"),
        max_length=10,
        blank=True,
        help_text=_("最後にSMS受信を変更した経路（web, phone など）"),
    )
    high_risk_attested = models.BooleanField(
        _("60〜64歳の対象者申告"),
        default=False,
        help_text=_("心臓・腎臓・呼吸器の機能等の障害（1級相当）の申告あり。診断内容は保存しない"),
    )
    status = models.CharField(
        _("状態"), max_length=10, choices=Status.choices, default=Status.RESIDENT
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("住民")
        verbose_name_plural = _("住民")
        ordering = ["municipality", "name_kana", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "atena_number"],
                condition=~Q(atena_number=""),
                name="%(app_label)s_%(class)s_unique_atena_number",
                violation_error_message=_("この宛名番号の住民はすでに登録されています。"),
            )
        ]
        indexes = [models.Index(fields=["municipality", "birth_date"])]
        # Operators update a caller's number and SMS choice (services/contact.py) without
        # change_resident, which would let them edit the whole record in the admin.
        permissions = [("update_contact", _("住民の連絡先（電話番号・SMS）を更新する"))]

    def __str__(self) -> str:
        return f"{self.name} ({self.birth_date:%Y-%m-%d})"


class Ticket(models.Model):
    """A vaccination ticket (接種券): (municipality, 10-digit number) identifies it.

    A resident can hold several (a new campaign, a reissue after moving or losing one). A void
    ticket can no longer be used to sign in.
    """

    class Status(models.TextChoices):
        ISSUED = "issued", _("発行済み")
        VOID = "void", _("無効（再発行・転出など）")

    municipality = models.ForeignKey(
        "reservations.Municipality", on_delete=models.PROTECT, related_name="tickets"
    )
    number = models.CharField(_("接種券番号"), max_length=10)
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="tickets")
    status = models.CharField(
        _("状態"), max_length=10, choices=Status.choices, default=Status.ISSUED
    )
    issued_on = models.DateField(_("発行日"), null=True, blank=True)
    replaces = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replaced_by",
        verbose_name=_("再発行前の接種券"),
    )

    class Meta:
        verbose_name = _("接種券")
        verbose_name_plural = _("接種券")
        ordering = ["municipality", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "number"],
                name="%(app_label)s_%(class)s_unique_number",
                violation_error_message=_("この接種券番号はすでに登録されています。"),
            ),
            models.CheckConstraint(
                condition=Q(number__regex=r"^[0-9]{10}$"),
                name="%(app_label)s_%(class)s_number_is_10_digits",
                violation_error_message=_("接種券番号は10桁の数字です。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.municipality.code}-{self.number}"


class CredentialAttempt(models.Model):
    """A fixed-window counter of sign-in attempts for one ticket or one client address.

    A failed check *claims* an attempt with a conditional UPDATE; a check that passes reads the
    counters after it and is refused while a limit is used up, then forgives the ticket's
    failures (services/credentials.py). Only failures are counted. The claim that uses up the
    limit restarts the window, so `window_started_at` is then when the lock began and a lock
    lasts one whole window.
    """

    key = models.CharField(max_length=120, unique=True)
    window_started_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("認証試行")
        verbose_name_plural = _("認証試行")

    def __str__(self) -> str:
        return f"{self.key}: {self.attempts}"

    def window_ends_at(self, window: dt.timedelta) -> dt.datetime:
        return self.window_started_at + window


class PhoneVerification(models.Model):
    """A code sent by SMS to a mobile number, proving the resident reads messages there before
    the number becomes theirs (services/contact.py).

    Only a keyed hash of the code is stored. A code lasts a few minutes and allows a few wrong
    tries; a newer code for the same resident replaces the older one. `created_at` is the
    service's clock (not the database's), so the hourly limit counts what the service saw.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("確認待ち")
        CONFIRMED = "confirmed", _("確認済み")
        REPLACED = "replaced", _("新しいコードに置き換え")
        LOCKED = "locked", _("入力の誤りが多いため無効")

    resident = models.ForeignKey(
        Resident, on_delete=models.CASCADE, related_name="phone_verifications"
    )
    phone = models.CharField(_("確認する電話番号（E.164）"), max_length=20)
    code_hash = models.CharField(max_length=64)
    status = models.CharField(
        _("状態"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    wrong_attempts = models.PositiveSmallIntegerField(_("誤入力の回数"), default=0)
    channel = models.CharField(_("経路"), max_length=10)
    actor = models.CharField(_("申し込んだ人"), max_length=10, choices=Actor.choices)
    created_at = models.DateTimeField(_("送信日時"))
    expires_at = models.DateTimeField(_("有効期限"))
    confirmed_at = models.DateTimeField(_("確認日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("携帯電話番号の確認")
        verbose_name_plural = _("携帯電話番号の確認")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The hourly limits count a resident's codes, and a number's, sent in the last hour.
            models.Index(fields=["resident", "created_at"], name="phone_verification_resident"),
            models.Index(fields=["phone", "created_at"], name="phone_verification_phone"),
        ]

    def __str__(self) -> str:
        return f"{self.resident_id} {self.status} {self.created_at:%Y-%m-%d %H:%M}"


class ContactChange(models.Model):
    """One change of a resident's phone number or SMS consent: what, through which channel, by
    whom, when. Append-only, written by services/contact.py whoever asks (the resident on the
    web or in LINE, an operator, a partner system, a STOP reply by SMS)."""

    class Kind(models.TextChoices):
        PHONE = "phone", _("電話番号の登録・変更")
        SMS_ON = "sms_on", _("SMS受信を再開")
        SMS_OFF = "sms_off", _("SMS受信を停止")

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="contact_changes")
    kind = models.CharField(_("種類"), max_length=10, choices=Kind.choices)
    phone = models.CharField(
        _("新しい電話番号（E.164）"), max_length=20, blank=True, help_text=_("空欄は削除")
    )
    verified = models.BooleanField(
        _("確認コードで確認済み"),
        default=False,
        help_text=_("SMSで送った確認コードを本人が入力して確かめた番号"),
    )
    channel = models.CharField(_("経路"), max_length=10, help_text=_("web, line, phone, sms など"))
    actor = models.CharField(_("実施者"), max_length=10, choices=Actor.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("日時"))

    class Meta:
        verbose_name = _("連絡先の変更履歴")
        verbose_name_plural = _("連絡先の変更履歴")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["resident", "created_at"], name="contact_change_resident")]

    def __str__(self) -> str:
        return f"{self.resident_id} {self.kind} {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("ContactChange rows are append-only")
        super().save(*args, **kwargs)
