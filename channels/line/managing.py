"""Managing existing bookings in the LINE chat: listing the confirmed, upcoming bookings of
every linked resident (a paired dose inside the bubble of the dose it belongs to), and the
change and cancel buttons with their confirmations. A change picks its new site, day and time
through the steps of `channels.line.booking`; only its final "yes" is answered here.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from linebot.v3.messaging import Message

from channels.line import messages as m
from channels.line import notices
from channels.line.booking import choose_vaccine
from channels.line.linking import ask_ticket
from channels.line.models import LineLink
from channels.line.turn import (
    REQUESTER,
    STEP_CONFIRM_CANCEL,
    STEP_CONFIRM_CHANGE,
    STEP_NONE,
    Turn,
    active_links,
    own_reservation,
    postback_int,
    stale,
    stop_action,
)
from reservations.identifiers import format_reservation_code
from reservations.models import Reservation
from reservations.selectors import reservation_list_for_resident
from reservations.services.booking import reservation_cancel, reservation_change


def list_bookings(turn: Turn) -> list[Message]:
    links = active_links(turn)
    if not links:
        return ask_ticket(turn, lead=_("予約の確認の前に、接種券でご本人の確認をします。"))
    turn.go(STEP_NONE)
    bubbles = []
    for link in links:
        reservations = reservation_list_for_resident(resident=link.resident).filter(
            status=Reservation.Status.CONFIRMED, slot__starts_at__gt=turn.now
        )
        shown = {r.next_dose_id for r in reservations if r.next_dose_id}
        for reservation in reservations:
            if reservation.pk in shown:
                continue  # shown inside the bubble of the dose it is paired with
            bubbles.append(
                m.reservation_bubble(
                    reservation,
                    title=_("%(name)s 様の予約") % {"name": link.resident.name},
                    buttons=[
                        m.button(_("日時を変更"), a="change", r=reservation.pk),
                        m.button(_("キャンセル"), a="cancel", r=reservation.pk),
                    ],
                )
            )
    if not bubbles:
        return [m.with_menu(_("現在、確定している予約はありません。"))]
    # Five messages per request: up to 4 carousels of 12 bookings, then the menu.
    return [
        *m.flex(_("予約の一覧"), bubbles)[:4],
        m.with_menu(_("変更・キャンセルはボタンからどうぞ。")),
    ]


# --- Postbacks -------------------------------------------------------------------------------


def pb_change(turn: Turn, fields: dict[str, list[str]], params: dict[str, str]) -> list[Message]:
    reservation = own_reservation(turn, postback_int(fields, "r"))
    if reservation is None or not reservation.is_active:
        return stale()
    link = LineLink.objects.filter(
        account=turn.account, resident=reservation.resident, is_active=True
    ).first()
    if link is None:
        return stale()
    return choose_vaccine(turn, link, change=reservation)


def pb_change_yes(
    turn: Turn, fields: dict[str, list[str]], params: dict[str, str]
) -> list[Message]:
    reservation = own_reservation(turn, postback_int(fields, "r"))
    slot_id = postback_int(fields, "t")
    data = turn.account.data
    if (
        reservation is None
        or turn.account.step != STEP_CONFIRM_CHANGE
        or data.get("change") != reservation.pk
        or data.get("slot") != slot_id
        or slot_id is None
    ):
        return stale()
    changed = reservation_change(
        reservation=reservation, slot=slot_id, requester=REQUESTER, now=turn.now
    )
    turn.go(STEP_NONE)
    changed = own_reservation(turn, changed.pk) or changed
    # The one notice of this change on LINE (channels.notify pushes none for the chat's own).
    return [notices.notice_message(changed, notices.CHANGE, menu=True)]


def pb_cancel(turn: Turn, fields: dict[str, list[str]], params: dict[str, str]) -> list[Message]:
    reservation = own_reservation(turn, postback_int(fields, "r"))
    if reservation is None or not reservation.is_active:
        return stale()
    turn.go(STEP_CONFIRM_CANCEL, cancel=reservation.pk)
    note = _("セット予約の次の回もキャンセルされます。") if reservation.next_dose_id else ""
    question = _("%(name)s 様の予約（%(code)s、%(slot)s）をキャンセルしますか？%(note)s") % {
        "name": reservation.resident.name,
        "code": format_reservation_code(reservation.code),
        "slot": m.format_slot(reservation.slot),
        "note": note,
    }
    vaccine = _("ワクチン：%(vaccine)s") % {"vaccine": m.vaccine_name(reservation.vaccine)}
    return [
        m.text(
            f"{question}\n{vaccine}",
            actions=[
                m.postback(_("キャンセルする"), a="cancel_yes", r=reservation.pk),
                stop_action(),
            ],
        )
    ]


def pb_cancel_yes(
    turn: Turn, fields: dict[str, list[str]], params: dict[str, str]
) -> list[Message]:
    reservation = own_reservation(turn, postback_int(fields, "r"))
    if (
        reservation is None
        or turn.account.step != STEP_CONFIRM_CANCEL
        or turn.account.data.get("cancel") != reservation.pk
    ):
        return stale()
    cancelled = reservation_cancel(reservation=reservation, requester=REQUESTER, now=turn.now)
    turn.go(STEP_NONE)
    cancelled = own_reservation(turn, cancelled.pk) or cancelled
    return [notices.notice_message(cancelled, notices.CANCELLATION, menu=True)]
