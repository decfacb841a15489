"""The one LINE message about a booking: a Flex card naming the vaccine, the day and time, the
site and the 予約番号, with an alt text saying the same in one line (what the phone's lock
screen and the chat list show).

Both ways a resident hears about a booking on LINE use it: the chat's answer when they book,
change or cancel in the chat (`channels.line.booking`, `channels.line.managing`), and the push
of `channels.notify` when the booking was made elsewhere (web, phone, venue) or the city writes
to them (reminder, a cancelled day). Which of the two a booking gets, never both, is decided in
`channels.notify.outbox`.

Purposes are `channels.notify`'s (OutboundMessage.Purpose values), spelled here as strings:
the notify app imports this one, not the other way round.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from linebot.v3.messaging import FlexBubble, FlexComponent, FlexMessage, FlexText

from channels.line import messages as m
from reservations.identifiers import format_reservation_code
from reservations.localized import localized
from reservations.models import Reservation

CONFIRMATION = "confirmation"
CHANGE = "change"
CANCELLATION = "cancellation"
REMINDER = "reminder"
DAY_CANCELLED = "day_cancelled"

TITLES = {
    CONFIRMATION: gettext_noop("予約が確定しました"),
    CHANGE: gettext_noop("予約を変更しました"),
    CANCELLATION: gettext_noop("予約をキャンセルしました"),
    REMINDER: gettext_noop("接種の予約日が近づきました"),
    DAY_CANCELLED: gettext_noop("会場の都合で接種を中止しました"),
}
# Notices of a booking still to come say what to bring; the others have no visit to prepare.
_BRING_FOR = (CONFIRMATION, CHANGE, REMINDER)


def notice_title(purpose: str) -> str:
    return _(TITLES[purpose])


def notice_alt_text(reservation: Reservation, purpose: str) -> str:
    """The notice in one line: what happened, the vaccine, day, time, site and 予約番号."""
    slot = reservation.slot
    start = timezone.localtime(slot.starts_at)
    return _("%(title)s：%(vaccine)s %(day)s %(time)s〜 %(site)s 予約番号 %(code)s") % {
        "title": notice_title(purpose),
        "vaccine": m.vaccine_name(reservation.vaccine),
        "day": m.format_day(start.date()),
        "time": f"{start:%H:%M}",
        "site": m.site_label(slot),
        "code": format_reservation_code(reservation.code),
    }


def _call_centre(reservation: Reservation) -> str:
    municipality = reservation.resident.municipality
    return str(municipality.call_centre_phone or settings.NOTIFY_CALL_CENTRE_PHONE)


def notice_bubble(reservation: Reservation, purpose: str) -> FlexBubble:
    rows: list[FlexComponent] = m.reservation_rows(reservation)
    site = reservation.slot.operating_day.site
    what_to_bring = localized(site, "what_to_bring").strip()
    if purpose in _BRING_FOR and what_to_bring:
        rows.append(m.labelled_line(_("持ち物"), what_to_bring))
    if purpose == DAY_CANCELLED:
        rows.append(
            FlexText(
                text=_(
                    "この予約は取り消しました。別の日時をご予約ください。お問い合わせ：%(phone)s"
                )
                % {"phone": _call_centre(reservation)},
                size="sm",
                wrap=True,
            )
        )
    return m.bubble(notice_title(purpose), rows, [])


def notice_message(reservation: Reservation, purpose: str, *, menu: bool = False) -> FlexMessage:
    """The card as one message; `menu` adds the chat's menu as quick replies (the chat's
    answer ends a step, so it offers the next one)."""
    return FlexMessage(
        alt_text=notice_alt_text(reservation, purpose),
        contents=notice_bubble(reservation, purpose),
        quick_reply=m.quick_reply(m.menu_actions()) if menu else None,
    )
