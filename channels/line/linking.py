"""Linking a LINE account to residents: following and unfollowing the account (an unfollow
gives back any hold and deactivates every link), asking for the ticket number and then the
birth date, and on a match linking that resident's ticket to this account. The other flows
come here (`ask_ticket`) whenever nobody is linked yet or the user adds a family member.

Only tickets of the municipality the chat serves are linked (`Turn.municipality_code`): each
municipality's official account is that city's window. A ticket of another municipality,
proven with its birth date, is refused in words that name where it can be used.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from linebot.v3.messaging import Message

from channels.line import messages as m
from channels.line.models import LineLink, LineOfficialAccount
from channels.line.turn import (
    STEP_LINK_BIRTH,
    STEP_LINK_TICKET,
    STEP_NONE,
    Turn,
    release_hold,
    stop_action,
)
from reservations.exceptions import CredentialsInvalid, ReservationError
from reservations.identifiers import IdentifierError, normalize_ticket_number, parse_birth_date
from reservations.localized import localized
from reservations.models import Ticket
from reservations.services.credentials import resident_authenticate


def follow(turn: Turn) -> list[Message]:
    account = turn.account
    account.is_following = True
    account.followed_at = turn.now
    turn.go(STEP_LINK_TICKET)
    greeting = _(
        "友だち追加ありがとうございます。こちらはワクチン接種の予約窓口です。\n"
        "はじめに、接種券に記載の「接種券番号」（10桁）を送ってください。"
    )
    # The first question already offers English: a resident who cannot read it finds the
    # one word they can.
    return [m.text(greeting, actions=[m.language_switch(), stop_action()])]


def unfollow(turn: Turn) -> None:
    release_hold(turn)
    account = turn.account
    account.is_following = False
    account.unfollowed_at = turn.now
    turn.go(STEP_NONE)
    LineLink.objects.filter(account=account, is_active=True).update(
        is_active=False, deactivated_at=turn.now
    )


def forget_unsent(turn: Turn, message_id: str) -> None:
    """The resident unsent a message: if the ticket number waiting for its birth date came
    from it, forget the number and wait for a ticket number again."""
    data = turn.account.data
    if turn.account.step == STEP_LINK_BIRTH and message_id and data.get("message") == message_id:
        turn.go(STEP_LINK_TICKET)


def ask_ticket(turn: Turn, *, lead: str = "") -> list[Message]:
    turn.go(STEP_LINK_TICKET)
    body = _("接種券に記載の「接種券番号」（10桁）を送ってください。")
    return [
        m.text(f"{lead}\n{body}" if lead else body, actions=[m.language_switch(), stop_action()])
    ]


def _ask_birth_date(lead: str = "") -> list[Message]:
    body = _("生年月日を送ってください（例：1950年4月1日、昭和25年4月1日、S25.4.1）。")
    return [m.text(f"{lead}\n{body}" if lead else body, actions=[stop_action()])]


def ask_again(turn: Turn, *, lead: str) -> list[Message]:
    """The linking question this chat is waiting on, asked again (after a language switch):
    the ticket number already given is kept."""
    if turn.account.step == STEP_LINK_BIRTH:
        return _ask_birth_date(lead)
    return ask_ticket(turn, lead=lead)


def on_ticket_number(turn: Turn, typed: str) -> list[Message]:
    try:
        number = normalize_ticket_number(typed)
    except IdentifierError as exc:
        return [m.text(str(exc.message), actions=[stop_action()])]
    turn.go(STEP_LINK_BIRTH, ticket=number, message=turn.message_id)
    return _ask_birth_date()


def on_birth_date(turn: Turn, typed: str) -> list[Message]:
    try:
        birth_date = parse_birth_date(typed, today=timezone.localdate(turn.now))
    except IdentifierError as exc:
        return [m.text(str(exc.message), actions=[stop_action()])]
    number = turn.account.data.get("ticket", "")
    try:
        ticket = resident_authenticate(
            municipality_code=turn.municipality_code,
            ticket_number=number,
            birth_date=birth_date,
            client_key=f"line:{turn.account.line_user_id}",
            now=turn.now,
        )
    except CredentialsInvalid as exc:
        # The core's sentence says how many tries the number has left, or that this one
        # locked it; a locked number is not asked for again (it would only be refused).
        message = _elsewhere(turn, number, birth_date) or str(exc.message)
        if exc.attempts_left != 0:
            return ask_ticket(turn, lead=message)
        turn.go(STEP_NONE)
        return [m.with_menu(message)]
    except ReservationError as exc:
        turn.go(STEP_NONE)
        return [m.with_menu(str(exc.message))]
    link, created = LineLink.objects.get_or_create(
        account=turn.account,
        resident=ticket.resident,
        defaults={"ticket": ticket, "linked_at": turn.now},
    )
    if not created:
        link.ticket = ticket
        link.is_active = True
        link.linked_at = turn.now
        link.deactivated_at = None
        link.save(update_fields=["ticket", "is_active", "linked_at", "deactivated_at"])
    turn.go(STEP_NONE)
    return [
        m.text(
            _(
                "%(name)s 様の接種券を確認し、このLINEと連携しました。\n"
                "ご家族の分も予約する場合は「家族を追加」を選んでください。"
            )
            % {"name": ticket.resident.name},
            actions=[*m.menu_actions(), m.command(m.COMMAND_ADD_PERSON)],
        )
    ]


def _elsewhere(turn: Turn, number: str, birth_date: dt.date) -> str:
    """Why a ticket of another municipality cannot be linked here, if the number and the birth
    date match one ("" otherwise). Both facts are the ticket's credentials, so naming its city
    tells nothing to anyone who does not hold them; the failed attempt still counted against
    this LINE user, which limits guessing."""
    ticket = (
        Ticket.objects.filter(
            number=number, status=Ticket.Status.ISSUED, resident__birth_date=birth_date
        )
        .exclude(municipality__code=turn.municipality_code)
        .select_related("municipality")
        .first()
    )
    if ticket is None:
        return ""
    other = ticket.municipality
    here = turn.municipality
    names = {
        "other": localized(other) or other.code,
        "here": (localized(here) or here.code) if here is not None else turn.municipality_code,
    }
    has_line = other.code == settings.HOME_MUNICIPALITY_CODE or (
        LineOfficialAccount.objects.filter(municipality=other, is_active=True).exists()
    )
    if has_line:
        return (
            _(
                "この接種券は%(other)sの接種券です。このLINEでは%(here)sの接種券だけを登録できます。"
                "%(other)sのLINE公式アカウントを友だち追加して、そちらで登録してください。"
            )
            % names
        )
    return (
        _(
            "この接種券は%(other)sの接種券です。このLINEでは%(here)sの接種券だけを登録できます。"
            "%(other)sの予約方法は、接種券に同封の案内をご覧ください。"
        )
        % names
    )
