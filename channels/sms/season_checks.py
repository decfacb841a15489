"""The SMS channel's part of the pre-opening check (reservations.season_check): confirmations
and reminders must reach residents, under a sender they recognise as their city."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.utils.translation import gettext_noop

from channels.sms.backends import backend_path
from reservations.season_check import CheckScope, Finding, warning

# Backends that keep messages on this machine (the embedded default and tests).
LOCAL_BACKENDS = frozenset(
    {
        "channels.sms.backends.local.ConsoleBackend",
        "channels.sms.backends.local.FileBackend",
        "channels.sms.backends.local.LocmemBackend",
    }
)


def check_sms(scope: CheckScope) -> Iterable[Finding]:
    if backend_path() in LOCAL_BACKENDS:
        yield warning(
            "sms_not_sent",
            gettext_noop(
                "SMSの送信先が %(backend)s のため、住民にSMSが届きません"
                "（予約確認・リマインダー）。SMS_BACKEND に送信事業者を設定してください。"
            ),
            backend=str(settings.SMS_BACKEND),
        )
    if not scope.municipality.sms_sender_label.strip():
        yield warning(
            "sms_sender_missing",
            gettext_noop(
                "自治体のSMSの差出人表示が設定されていません。SMSは共通の「%(default)s」で届き、"
                "市からの連絡と気付かれにくくなります。"
            ),
            default=str(settings.SMS_SENDER_NAME),
        )
