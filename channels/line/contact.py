"""A resident's own contact details in the LINE chat: the mobile number on record (masked),
a new one verified by the code sent to it by SMS and typed back here, and SMS on or off.

The core keeps the rules (`reservations.services.contact`): a number becomes the resident's
only with the right code, codes are limited per hour and per number, SMS needs a mobile number.
This flow asks, passes what was typed, and says the core's sentence when it refuses. Every id a
postback carries is checked against this account's own links (`turn.own_link`).
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from linebot.v3.messaging import Action, Message

from channels.line import messages as m
from channels.line.linking import ask_ticket
from channels.line.models import LineLink
from channels.line.turn import (
    REQUESTER,
    STEP_CHOOSING,
    STEP_CONTACT_CODE,
    STEP_CONTACT_PHONE,
    STEP_NONE,
    Turn,
    active_links,
    own_link,
    postback_field,
    stale,
    stop_action,
)
from reservations.exceptions import ReservationError
from reservations.identifiers import is_mobile_phone
from reservations.services.contact import (
    VerificationCodeMalformed,
    VerificationCodeWrong,
    contact_phone_change_confirm,
    contact_phone_change_start,
    contact_sms_set,
    phone_masked,
)


def choose_person(turn: Turn) -> list[Message]:
    links = active_links(turn)
    if not links:
        return ask_ticket(turn, lead=_("連絡先の確認の前に、接種券でご本人の確認をします。"))
    if len(links) == 1:
        return show(turn, links[0])
    turn.go(STEP_CHOOSING)
    actions: list[Action] = [
        m.postback(link.resident.name, a="contact", l=link.pk)
        for link in links[: m.MAX_QUICK_REPLIES - 1]
    ]
    actions.append(stop_action())
    return [m.text(_("どなたの連絡先ですか？"), actions=actions)]


def _has_mobile(link: LineLink) -> bool:
    return bool(link.resident.phone) and is_mobile_phone(link.resident.phone)


def show(turn: Turn, link: LineLink, *, lead: str = "") -> list[Message]:
    """The details on record and only the buttons that can do something for them."""
    turn.go(STEP_NONE)
    resident = link.resident
    phone = phone_masked(resident.phone) if resident.phone else _("登録なし")
    if not _has_mobile(link):
        sms = _("携帯電話の番号がないため、SMSは届きません")
    elif resident.sms_consent:
        sms = _("受け取る")
    else:
        sms = _("受け取らない")
    lines = [
        _("%(name)s 様の連絡先") % {"name": resident.name},
        _("電話番号：%(phone)s") % {"phone": phone},
        _("SMSでのお知らせ：%(sms)s") % {"sms": sms},
        # This chat proves the link, so notices come here; SMS is what LINE falls back on.
        _("予約のお知らせはこのLINEに届きます。SMSはLINEに届かないときに使います。"),
    ]
    if lead:
        lines.insert(0, lead)
    actions: list[Action] = [
        m.postback(
            _("携帯番号を変更") if _has_mobile(link) else _("携帯番号を登録"), a="phone", l=link.pk
        )
    ]
    if _has_mobile(link):
        if resident.sms_consent:
            actions.append(m.postback(_("SMSを止める"), a="sms", l=link.pk, on=0))
        else:
            actions.append(m.postback(_("SMSを受け取る"), a="sms", l=link.pk, on=1))
    actions += m.menu_actions()
    return [m.text("\n".join(lines), actions=actions)]


def _ask_phone(turn: Turn, link: LineLink, *, lead: str = "") -> list[Message]:
    turn.go(STEP_CONTACT_PHONE, link=link.pk)
    body = _(
        "新しい携帯電話の番号を送ってください（例：090-1234-5678）。"
        "その番号に確認コードをSMSで送ります。"
    )
    return [m.text(f"{lead}\n{body}" if lead else body, actions=[stop_action()])]


def _link_in_step(turn: Turn) -> LineLink | None:
    return own_link(turn, str(turn.account.data.get("link", "")))


def on_phone(turn: Turn, typed: str) -> list[Message]:
    """A number typed in answer to "the new number?": a code goes to it by SMS."""
    link = _link_in_step(turn)
    if link is None:
        turn.go(STEP_NONE)
        return stale()
    try:
        verification = contact_phone_change_start(
            resident=link.resident, phone=typed, requester=REQUESTER, now=turn.now
        )
    except ReservationError as exc:
        if exc.code == "verification_rate_limited":
            return show(turn, link, lead=str(exc.message))
        # Not a number, or not a mobile one: the core's sentence says which; ask again.
        return [m.text(str(exc.message), actions=[stop_action()])]
    turn.go(STEP_CONTACT_CODE, link=link.pk)
    return [
        m.text(
            _(
                "%(phone)s に確認コード（6けた）をSMSで送りました。"
                "届いた数字をこのトークに送ってください（%(minutes)d分間有効）。"
            )
            % {
                "phone": phone_masked(verification.phone),
                "minutes": int((verification.expires_at - turn.now).total_seconds() // 60),
            },
            actions=[m.postback(_("番号を入れ直す"), a="phone", l=link.pk), stop_action()],
        )
    ]


def on_code(turn: Turn, typed: str) -> list[Message]:
    """The code typed back: right, the number is the resident's (SMS on); wrong, try again."""
    link = _link_in_step(turn)
    if link is None:
        turn.go(STEP_NONE)
        return stale()
    try:
        contact_phone_change_confirm(
            resident=link.resident, code=typed, requester=REQUESTER, now=turn.now
        )
    except (VerificationCodeMalformed, VerificationCodeWrong) as exc:
        again = m.postback(_("番号を入れ直す"), a="phone", l=link.pk)
        return [m.text(str(exc.message), actions=[again, stop_action()])]
    except ReservationError as exc:
        # Expired, locked, or no code pending: a new code is the way on.
        return _ask_phone(turn, link, lead=str(exc.message))
    return show(turn, link, lead=_("携帯電話の番号を登録しました。SMSでのお知らせも受け取れます。"))


# --- Postbacks -------------------------------------------------------------------------------


def pb_contact(turn: Turn, fields: dict[str, list[str]], params: dict[str, str]) -> list[Message]:
    link = own_link(turn, postback_field(fields, "l"))
    if link is None:
        return stale()
    return show(turn, link)


def pb_phone(turn: Turn, fields: dict[str, list[str]], params: dict[str, str]) -> list[Message]:
    link = own_link(turn, postback_field(fields, "l"))
    if link is None:
        return stale()
    return _ask_phone(turn, link)


def pb_sms(turn: Turn, fields: dict[str, list[str]], params: dict[str, str]) -> list[Message]:
    link = own_link(turn, postback_field(fields, "l"))
    wanted = postback_field(fields, "on")
    if link is None or wanted not in ("0", "1"):
        return stale()
    allowed = wanted == "1"
    # A ReservationError (no mobile number any more) is answered by the router's core-error
    # reply, which says what to do.
    contact_sms_set(resident=link.resident, allowed=allowed, requester=REQUESTER, now=turn.now)
    done = (
        _("SMSでのお知らせを受け取る設定にしました。")
        if allowed
        else _("SMSでのお知らせを止めました。")
    )
    return show(turn, link, lead=done)
