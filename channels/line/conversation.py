"""The chat: linking a LINE account to residents, then booking, checking, changing, cancelling.

`conversation_handle` takes one parsed webhook event of a locked `LineAccount` and returns the
messages to send back. The account row remembers the last question (`step`) and the answers so
far (`data`). This module only routes: an idle question expires here, then each event goes to
its flow (`linking`, `booking`, `managing`), which re-checks every id that arrives in postback
data against the database and against this account's own links (`turn`): a tapped button is a
request, never a proof.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from linebot.v3.messaging import Message
from linebot.v3.webhooks import (
    Event,
    FollowEvent,
    MessageEvent,
    PostbackEvent,
    TextMessageContent,
    UnfollowEvent,
    UnsendEvent,
)

from channels.line import booking, contact, linking, managing
from channels.line import messages as m
from channels.line.models import LineAccount
from channels.line.turn import (
    STEP_CONTACT_CODE,
    STEP_CONTACT_PHONE,
    STEP_LINK_BIRTH,
    STEP_LINK_TICKET,
    STEP_NONE,
    Turn,
    active_links,
    call_centre,
    chat_site,
    own_link,
    postback_field,
    release_hold,
    stop_action,
)
from reservations.exceptions import ReservationError

# --- Entry -----------------------------------------------------------------------------------


def conversation_handle(*, account: LineAccount, event: Event, now: dt.datetime) -> list[Message]:
    turn = Turn(
        account=account,
        now=now,
        event_id=str(getattr(event, "webhook_event_id", "")),
        message_id=str(getattr(event.message, "id", "")) if isinstance(event, MessageEvent) else "",
    )
    if isinstance(event, UnsendEvent):
        # The stored message was emptied when the unsend arrived; this forgets what the chat
        # kept from it. Nothing is sent back: an unsend is not a question.
        linking.forget_unsent(turn, event.unsend.message_id)
        return []
    if isinstance(event, UnfollowEvent):
        linking.unfollow(turn)
        return []
    if isinstance(event, FollowEvent):
        return linking.follow(turn)
    expired = _expire_if_idle(turn)
    if isinstance(event, MessageEvent):
        if not isinstance(event.message, TextMessageContent):
            return [m.with_menu(_("メニューからお選びください。"))]
        return _on_text(turn, event.message.text, expired=expired)
    if isinstance(event, PostbackEvent):
        if expired:
            return [_expired_message()]
        params = event.postback.params or {}
        return _on_postback(turn, event.postback.data or "", params)
    return []


def _expired_message() -> Message:
    return m.with_menu(
        _("時間が経ったため、手続きを最初からやり直してください。仮押さえした枠は解放しました。")
    )


def _expire_if_idle(turn: Turn) -> bool:
    account = turn.account
    if not account.step or account.step_changed_at is None:
        return False
    idle = dt.timedelta(minutes=settings.LINE_CONVERSATION_IDLE_MINUTES)
    if turn.now - account.step_changed_at < idle:
        return False
    release_hold(turn)
    turn.go(STEP_NONE)
    return True


# --- Text ------------------------------------------------------------------------------------


def _on_text(turn: Turn, raw: str, *, expired: bool) -> list[Message]:
    language = m.language_of(raw)
    if language is not None:
        return _switch_language(turn, language)
    command = m.command_of(raw)
    if command == m.COMMAND_STOP:
        release_hold(turn)
        turn.go(STEP_NONE)
        return [m.with_menu(_("手続きを中止しました。"))]
    if command == m.COMMAND_BOOK:
        release_hold(turn)
        return booking.choose_person(turn)
    if command in (m.COMMAND_CHECK, m.COMMAND_CANCEL):
        release_hold(turn)
        return managing.list_bookings(turn)
    if command == m.COMMAND_INQUIRY:
        return [_inquiry(turn)]
    if command == m.COMMAND_ADD_PERSON:
        release_hold(turn)
        return linking.ask_ticket(turn)
    if command == m.COMMAND_CONTACT:
        release_hold(turn)
        return contact.choose_person(turn)
    if expired:
        return [_expired_message()]
    if turn.account.step == STEP_LINK_TICKET:
        return linking.on_ticket_number(turn, raw)
    if turn.account.step == STEP_LINK_BIRTH:
        return linking.on_birth_date(turn, raw)
    if turn.account.step == STEP_CONTACT_PHONE:
        return contact.on_phone(turn, raw)
    if turn.account.step == STEP_CONTACT_CODE:
        return contact.on_code(turn, raw)
    if not active_links(turn):
        return linking.ask_ticket(turn, lead=_("予約の前に、接種券でご本人の確認をします。"))
    return [m.with_menu(_("メニューからお選びください。"))]


def _switch_language(turn: Turn, language: str) -> list[Message]:
    """Speak `language` in this chat from now on (this answer included). The question being
    asked stays open: a resident typing their ticket number is asked for it again, now in the
    language they can read; buttons already sent keep working."""
    turn.account.language = language
    with translation.override(language):
        # Translators: said in the language just chosen; in English: "From now on, we will
        # reply in English."
        lead = _("これからは日本語でご案内します。")
        if turn.account.step in (STEP_LINK_TICKET, STEP_LINK_BIRTH):
            return linking.ask_again(turn, lead=lead)
        return [m.with_menu(lead)]


def _inquiry(turn: Turn) -> Message:
    phone = call_centre(turn)
    lines = [_("お問い合わせはコールセンターで承ります。")]
    if phone:
        lines.append(_("電話：%(phone)s") % {"phone": phone})
    if settings.LINE_INQUIRY_TEXT:
        lines.append(settings.LINE_INQUIRY_TEXT)
    return m.with_menu("\n".join(lines))


# --- Postbacks -------------------------------------------------------------------------------


def _on_postback(turn: Turn, data: str, params: dict[str, str]) -> list[Message]:
    fields = parse_qs(data, keep_blank_values=True, max_num_fields=10)
    action = postback_field(fields, "a")
    handler = _POSTBACKS.get(action)
    if handler is None:
        return [m.with_menu(_("このボタンは使えません。メニューからやり直してください。"))]
    try:
        return handler(turn, fields, params)
    except ReservationError as exc:
        return _core_error(turn, exc)


_POSTBACKS = {
    "who": booking.pb_who,
    "vac": booking.pb_vaccine,
    "site": booking.pb_site,
    "date": booking.pb_date,
    "slot": booking.pb_slot,
    "confirm": booking.pb_confirm,
    "abort": booking.pb_abort,
    "change": managing.pb_change,
    "change_yes": managing.pb_change_yes,
    "cancel": managing.pb_cancel,
    "cancel_yes": managing.pb_cancel_yes,
    "contact": contact.pb_contact,
    "phone": contact.pb_phone,
    "sms": contact.pb_sms,
}


# The answer to a core refusal from any postback handler. It lives with the dispatch rather
# than in `turn`: for a lost seat it offers the days again, which is `booking`'s step, and
# `turn` must not import a flow.
def _core_error(turn: Turn, exc: ReservationError) -> list[Message]:
    """A core refusal: its sentence (it already says what to do) and the way forward."""
    message = str(exc.message)
    if exc.code in ("slot_full", "hold_expired", "second_dose_unavailable", "not_eligible"):
        link = own_link(turn, str(turn.account.data.get("link", "")))
        site = chat_site(turn, turn.account.data.get("site"))
        if link is not None and site is not None:
            again = booking.choose_date(
                turn,
                link,
                site,
                vaccine_id=turn.account.data.get("vaccine"),
                change_id=turn.account.data.get("change"),
            )
            return [m.text(message), *again]
    if exc.code == "already_booked":
        turn.go(STEP_NONE)
        return [m.text(message, actions=[m.command(m.COMMAND_CHECK), stop_action()])]
    turn.go(STEP_NONE)
    phone = call_centre(turn)
    if phone and exc.code in ("change_deadline_passed", "outside_booking_window", "invalid_state"):
        message += "\n" + _("コールセンター：%(phone)s") % {"phone": phone}
    return [m.with_menu(message)]
