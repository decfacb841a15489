"""What every flow of the LINE chat shares: one `Turn` (the locked account, the clock, the
event being handled and the municipality the chat serves), the steps the account can be in,
the requester the core sees, and the small helpers several flows use: the call centre's
number, the "stop" button, giving back an unconfirmed hold, reading postback fields, and
re-checking every id a postback carries against the database and this account's own links (a
tapped button is a request, never a proof). Nothing here imports a flow or the router, so any
of them can import it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from linebot.v3.messaging import Action, Message

from channels.line import messages as m
from channels.line.models import LineAccount, LineLink
from reservations.exceptions import ReservationError
from reservations.models import Channel, Municipality, Reservation, Site
from reservations.services.booking import Requester, reservation_cancel

logger = logging.getLogger(__name__)

REQUESTER = Requester(channel=Channel.LINE)

STEP_NONE = ""
STEP_LINK_TICKET = "link_ticket"
STEP_LINK_BIRTH = "link_birth"
STEP_CONFIRM_HOLD = "confirm_hold"
STEP_CONFIRM_CHANGE = "confirm_change"
STEP_CONFIRM_CANCEL = "confirm_cancel"
STEP_CHOOSING = "choosing"
STEP_CONTACT_PHONE = "contact_phone"
STEP_CONTACT_CODE = "contact_code"


@dataclass
class Turn:
    account: LineAccount
    now: dt.datetime
    event_id: str
    # The id of the message being handled (message events only): a step that keeps something
    # read from it remembers the id, so an unsend of that message can forget it too.
    message_id: str = ""

    def go(self, step: str, **data: Any) -> None:
        self.account.step = step
        self.account.data = data
        self.account.step_changed_at = self.now

    @property
    def municipality_code(self) -> str:
        """The municipality this chat serves: its official account's; the settings' account
        serves HOME_MUNICIPALITY_CODE. Its sites, slots and tickets are the only ones here."""
        official = self.account.official_account
        if official is not None:
            return official.municipality.code
        return str(settings.HOME_MUNICIPALITY_CODE)

    @cached_property
    def municipality(self) -> Municipality | None:
        return Municipality.objects.filter(code=self.municipality_code).first()


def call_centre(turn: Turn) -> str:
    municipality = turn.municipality
    return municipality.call_centre_phone if municipality is not None else ""


def stop_action() -> Action:
    return m.command(m.COMMAND_STOP)


def release_hold(turn: Turn) -> None:
    """Give back a seat held in this chat that was never confirmed."""
    hold_id = turn.account.data.get("hold")
    if not hold_id:
        return
    hold = Reservation.objects.filter(pk=hold_id, status=Reservation.Status.HELD).first()
    if hold is not None:
        try:
            reservation_cancel(reservation=hold, requester=REQUESTER, now=turn.now)
        except ReservationError:
            # Already gone (expired or confirmed elsewhere): nothing left to release.
            logger.info("hold %s could not be released", hold_id)


# --- This account's links --------------------------------------------------------------------


def active_links(turn: Turn) -> list[LineLink]:
    return list(
        LineLink.objects.filter(account=turn.account, is_active=True)
        .select_related("resident", "ticket")
        .order_by("linked_at", "pk")
    )


def own_link(turn: Turn, raw_id: str) -> LineLink | None:
    """The link named in postback data, only if it is this account's and still active."""
    if not (raw_id.isascii() and raw_id.isdigit()):  # int() refuses '²', which isdigit() takes
        return None
    return (
        LineLink.objects.filter(pk=int(raw_id), account=turn.account, is_active=True)
        .select_related("resident", "ticket")
        .first()
    )


# --- Postback data ---------------------------------------------------------------------------


def postback_field(fields: dict[str, list[str]], name: str) -> str:
    values = fields.get(name) or [""]
    return values[0]


def stale() -> list[Message]:
    return [m.with_menu(_("このボタンは使えなくなりました。メニューからやり直してください。"))]


def postback_int(fields: dict[str, list[str]], name: str) -> int | None:
    raw = postback_field(fields, name)
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 12 else None


def chat_site(turn: Turn, raw_id: int | None) -> Site | None:
    """An active site of the municipality this chat serves (never another city's)."""
    if raw_id is None:
        return None
    return Site.objects.filter(
        pk=raw_id, is_active=True, municipality__code=turn.municipality_code
    ).first()


def own_reservation(turn: Turn, raw_id: int | None) -> Reservation | None:
    """A booking of a resident linked to this account (never someone else's)."""
    if raw_id is None:
        return None
    return (
        Reservation.objects.filter(
            pk=raw_id,
            resident__line_links__account=turn.account,
            resident__line_links__is_active=True,
        )
        .select_related(
            "resident__municipality",
            "vaccine",
            "slot__operating_day__site",
            "next_dose__slot__operating_day__site",
        )
        .first()
    )
