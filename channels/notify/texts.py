"""Message texts, one per purpose, in Japanese, English and やさしい日本語 (ja-easy).

Every text names the sender (【日南市ワクチン予約】), the 予約番号, the date and time, the site's
short name and the call-centre number. Confirmations and reminders are kept to one SMS segment
(70 characters) where the data allows: when the site's full name does not fit, its short name
is used, and only if even that does not fit does the message take a second segment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from channels.notify.models import OutboundMessage
from channels.sms.text import MAX_BODY_CHARS, make_sms_safe, segment_count
from reservations.localized import EASY_JAPANESE, localized
from reservations.models import Municipality, Reservation

Purpose = OutboundMessage.Purpose

_JA_WEEKDAYS = "月火水木金土日"
_EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# The purposes about a booking, each with its text here (follow-up's texts are in
# channels.notify.followups).
BOOKING_PURPOSES = (
    Purpose.CONFIRMATION,
    Purpose.CHANGE,
    Purpose.CANCELLATION,
    Purpose.DAY_CANCELLED,
    Purpose.REMINDER,
)
# Purposes that should fit one segment whenever the site name allows.
ONE_SEGMENT_PURPOSES = (Purpose.CONFIRMATION, Purpose.REMINDER)


@dataclass(frozen=True)
class RenderedText:
    body: str
    segments: int


def _format_date(moment: dt.datetime, language: str) -> str:
    local = timezone.localtime(moment)
    if language == "en":
        return f"{_EN_WEEKDAYS[local.weekday()]} {local.month}/{local.day}"
    return f"{local.month}/{local.day}({_JA_WEEKDAYS[local.weekday()]})"


def _format_time(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment):%H:%M}"


def sender_label(municipality: Municipality, language: str) -> str:
    if language == "en" and settings.SMS_SENDER_NAME_EN:
        return str(settings.SMS_SENDER_NAME_EN)
    return municipality.sms_sender_label or str(settings.SMS_SENDER_NAME)


def _template(purpose: str) -> str:
    # Japanese first: these msgids are what most residents read; English comes from the
    # notify catalogue for residents who chose it.
    if purpose == Purpose.CONFIRMATION:
        return _("【%(sender)s】予約確定 番号%(code)s %(date)s%(time)s %(site)s 問合せ%(phone)s")
    if purpose == Purpose.CHANGE:
        return _("【%(sender)s】予約変更 番号%(code)s %(date)s%(time)s %(site)s 問合せ%(phone)s")
    if purpose == Purpose.CANCELLATION:
        return _("【%(sender)s】予約取消 番号%(code)s %(date)s%(time)s %(site)s 問合せ%(phone)s")
    if purpose == Purpose.REMINDER:
        return _("【%(sender)s】明日%(time)s %(site)s 番号%(code)s 接種券持参 問合せ%(phone)s")
    if purpose == Purpose.DAY_CANCELLED:
        return _(
            "【%(sender)s】%(date)s%(time)sの%(site)sでの接種は中止となり、予約（番号%(code)s）を"
            "取り消しました。再予約・お問合せは%(phone)sへ"
        )
    raise ValueError(f"no text for purpose {purpose!r}")


def text_language(language: str) -> str:
    """The language a text is written in: English or やさしい日本語 for residents who chose
    them, Japanese for everyone else (an unknown code included)."""
    return language if language in ("en", EASY_JAPANESE) else "ja"


def _site_names(reservation: Reservation, language: str) -> list[str]:
    site = reservation.slot.operating_day.site
    if language == "en" and site.name_en.strip():
        # The English name only: a Japanese short name would be no shorter to an English reader.
        return [make_sms_safe(localized(site, language=language))]
    names = [make_sms_safe(site.name)]
    if site.short_name and make_sms_safe(site.short_name) != names[0]:
        names.append(make_sms_safe(site.short_name))
    return names


def render(*, purpose: str, reservation: Reservation, language: str) -> RenderedText:
    """The message text for this purpose, in the resident's language (see text_language)."""
    language = text_language(language)
    municipality = reservation.resident.municipality
    slot = reservation.slot
    with translation.override(language):
        template = _template(purpose)
        fields = {
            "sender": make_sms_safe(sender_label(municipality, language)),
            "code": reservation.code,
            "date": _format_date(slot.starts_at, language),
            "time": _format_time(slot.starts_at),
            "phone": make_sms_safe(
                municipality.call_centre_phone or settings.NOTIFY_CALL_CENTRE_PHONE
            ),
        }
        candidates = [
            template % {**fields, "site": name} for name in _site_names(reservation, language)
        ]
    body = candidates[0]
    if purpose in ONE_SEGMENT_PURPOSES and segment_count(body) > 1:
        fitting = [text for text in candidates if segment_count(text) == 1]
        body = fitting[0] if fitting else min(candidates, key=len)
    if len(body) > MAX_BODY_CHARS:
        body = body[: MAX_BODY_CHARS - 1] + "…"
    return RenderedText(body=body, segments=segment_count(body))
