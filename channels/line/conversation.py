"""The chat: linking a LINE account to residents, then booking, checking, changing, cancelling.

`conversation_handle` takes one parsed webhook event of a locked `LineAccount` and returns the
messages to send back. The account row remembers the last question (`step`) and the answers so
far (`data`). Every id that arrives in postback data is re-checked here against the database
and against this account's own links: a tapped button is a request, never a proof.
"""

from __future__ import annotations

import datetime as dt
import logging
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from linebot.v3.messaging import Action, Message, MessageAction
from linebot.v3.webhooks import (
    Event,
    FollowEvent,
    MessageEvent,
    PostbackEvent,
    TextMessageContent,
    UnfollowEvent,
)

from channels.line import messages as m
from channels.line.models import LineAccount, LineLink
from reservations.exceptions import ReservationError
from reservations.identifiers import (
    IdentifierError,
    format_reservation_code,
    normalize_ticket_number,
    parse_birth_date,
)
from reservations.models import Channel, Municipality, Reservation, Site, Slot
from reservations.selectors import (
    active_reservations,
    reservation_list_for_resident,
    slot_list,
    slot_list_available,
)
from reservations.services.booking import (
    Requester,
    reservation_cancel,
    reservation_change,
    reservation_confirm,
    reservation_hold,
)
from reservations.services.credentials import resident_authenticate

logger = logging.getLogger(__name__)

REQUESTER = Requester(channel=Channel.LINE)
# How far ahead the chat offers days; the booking window of each day still decides.
SEARCH_DAYS = 60
# Quick replies for dates leave room for the date picker and "stop".
MAX_DATE_CHOICES = 11

STEP_NONE = ""
STEP_LINK_TICKET = "link_ticket"
STEP_LINK_BIRTH = "link_birth"
STEP_CONFIRM_HOLD = "confirm_hold"
STEP_CONFIRM_CHANGE = "confirm_change"
STEP_CONFIRM_CANCEL = "confirm_cancel"
STEP_CHOOSING = "choosing"


@dataclass
class Turn:
    account: LineAccount
    now: dt.datetime
    event_id: str

    def go(self, step: str, **data: Any) -> None:
        self.account.step = step
        self.account.data = data
        self.account.step_changed_at = self.now


def _municipality() -> Municipality | None:
    return Municipality.objects.filter(code=settings.HOME_MUNICIPALITY_CODE).first()


def _call_centre() -> str:
    municipality = _municipality()
    return municipality.call_centre_phone if municipality is not None else ""


def _normalize_command(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def _stop_action() -> Action:
    return MessageAction(label=_("やめる"), text=m.COMMAND_STOP)


# --- Entry -----------------------------------------------------------------------------------


def conversation_handle(*, account: LineAccount, event: Event, now: dt.datetime) -> list[Message]:
    turn = Turn(account=account, now=now, event_id=str(getattr(event, "webhook_event_id", "")))
    if isinstance(event, UnfollowEvent):
        _unfollow(turn)
        return []
    if isinstance(event, FollowEvent):
        return _follow(turn)
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
    _release_hold(turn)
    turn.go(STEP_NONE)
    return True


def _release_hold(turn: Turn) -> None:
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


# --- Follow, unfollow, linking --------------------------------------------------------------


def _follow(turn: Turn) -> list[Message]:
    account = turn.account
    account.is_following = True
    account.followed_at = turn.now
    turn.go(STEP_LINK_TICKET)
    greeting = _(
        "友だち追加ありがとうございます。こちらはワクチン接種の予約窓口です。\n"
        "はじめに、接種券に記載の「接種券番号」（10桁）を送ってください。"
    )
    return [m.text(greeting, actions=[_stop_action()])]


def _unfollow(turn: Turn) -> None:
    _release_hold(turn)
    account = turn.account
    account.is_following = False
    account.unfollowed_at = turn.now
    turn.go(STEP_NONE)
    LineLink.objects.filter(account=account, is_active=True).update(
        is_active=False, deactivated_at=turn.now
    )


def _ask_ticket(turn: Turn, *, lead: str = "") -> list[Message]:
    turn.go(STEP_LINK_TICKET)
    body = _("接種券に記載の「接種券番号」（10桁）を送ってください。")
    return [m.text(f"{lead}\n{body}" if lead else body, actions=[_stop_action()])]


def _on_ticket_number(turn: Turn, typed: str) -> list[Message]:
    try:
        number = normalize_ticket_number(typed)
    except IdentifierError as exc:
        return [m.text(str(exc.message), actions=[_stop_action()])]
    turn.go(STEP_LINK_BIRTH, ticket=number)
    return [
        m.text(
            _("生年月日を送ってください（例：1950年4月1日、昭和25年4月1日、S25.4.1）。"),
            actions=[_stop_action()],
        )
    ]


def _on_birth_date(turn: Turn, typed: str) -> list[Message]:
    try:
        birth_date = parse_birth_date(typed, today=timezone.localdate(turn.now))
    except IdentifierError as exc:
        return [m.text(str(exc.message), actions=[_stop_action()])]
    try:
        ticket = resident_authenticate(
            municipality_code=settings.HOME_MUNICIPALITY_CODE,
            ticket_number=turn.account.data.get("ticket", ""),
            birth_date=birth_date,
            client_key=f"line:{turn.account.line_user_id}",
            now=turn.now,
        )
    except ReservationError as exc:
        if exc.code == "credentials_invalid":
            return _ask_ticket(turn, lead=str(exc.message))
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
            actions=[
                *m.menu_actions(),
                MessageAction(label=_("家族を追加"), text=m.COMMAND_ADD_PERSON),
            ],
        )
    ]


def _active_links(turn: Turn) -> list[LineLink]:
    return list(
        LineLink.objects.filter(account=turn.account, is_active=True)
        .select_related("resident", "ticket")
        .order_by("linked_at", "pk")
    )


def _link(turn: Turn, raw_id: str) -> LineLink | None:
    """The link named in postback data, only if it is this account's and still active."""
    if not raw_id.isdigit():
        return None
    return (
        LineLink.objects.filter(pk=int(raw_id), account=turn.account, is_active=True)
        .select_related("resident", "ticket")
        .first()
    )


# --- Text ------------------------------------------------------------------------------------


def _on_text(turn: Turn, raw: str, *, expired: bool) -> list[Message]:
    command = _normalize_command(raw)
    if command == m.COMMAND_STOP:
        _release_hold(turn)
        turn.go(STEP_NONE)
        return [m.with_menu(_("手続きを中止しました。"))]
    if command == m.COMMAND_BOOK:
        _release_hold(turn)
        return _choose_person(turn)
    if command in (m.COMMAND_CHECK, m.COMMAND_CANCEL):
        _release_hold(turn)
        return _list_bookings(turn)
    if command == m.COMMAND_INQUIRY:
        return [_inquiry()]
    if command == m.COMMAND_ADD_PERSON:
        _release_hold(turn)
        return _ask_ticket(turn)
    if expired:
        return [_expired_message()]
    if turn.account.step == STEP_LINK_TICKET:
        return _on_ticket_number(turn, raw)
    if turn.account.step == STEP_LINK_BIRTH:
        return _on_birth_date(turn, raw)
    if not _active_links(turn):
        return _ask_ticket(turn, lead=_("予約の前に、接種券でご本人の確認をします。"))
    return [m.with_menu(_("メニューからお選びください。"))]


def _inquiry() -> Message:
    phone = _call_centre()
    lines = [_("お問い合わせはコールセンターで承ります。")]
    if phone:
        lines.append(_("電話：%(phone)s") % {"phone": phone})
    if settings.LINE_INQUIRY_TEXT:
        lines.append(settings.LINE_INQUIRY_TEXT)
    return m.with_menu("\n".join(lines))


# --- Choosing who, where, when ---------------------------------------------------------------


def _choose_person(turn: Turn) -> list[Message]:
    links = _active_links(turn)
    if not links:
        return _ask_ticket(turn, lead=_("予約の前に、接種券でご本人の確認をします。"))
    if len(links) == 1:
        return _choose_site(turn, links[0])
    turn.go(STEP_CHOOSING)
    actions: list[Action] = [
        m.postback(link.resident.name, a="who", l=link.pk)
        for link in links[: m.MAX_QUICK_REPLIES - 2]
    ]
    actions += [MessageAction(label=_("家族を追加"), text=m.COMMAND_ADD_PERSON), _stop_action()]
    return [m.text(_("どなたの予約ですか？"), actions=actions)]


def _available(
    turn: Turn,
    link: LineLink,
    *,
    site_id: int | None = None,
    day: dt.date | None = None,
    change_id: int | None = None,
) -> list[tuple[Slot, int, str]]:
    """Times with seats this resident could take. For a change, the booking being moved
    would count against the rules, so any open time of the same campaign is offered and
    reservation_change judges the rules on the chosen one."""
    today = timezone.localdate(turn.now)
    date_from = day or today
    date_to = day or today + dt.timedelta(days=SEARCH_DAYS)
    if change_id is None:
        available = slot_list_available(
            resident=link.resident,
            date_from=date_from,
            date_to=date_to,
            channel=Channel.LINE,
            site_id=site_id,
            now=turn.now,
        )
    else:
        moving = (
            Reservation.objects.filter(pk=change_id).values_list("campaign_id", flat=True).first()
        )
        available = [
            a
            for a in slot_list(
                municipality=link.resident.municipality,
                date_from=date_from,
                date_to=date_to,
                channel=Channel.LINE,
                site_id=site_id,
                campaign_id=moving,
                now=turn.now,
            )
            if a.slot.operating_day.booking_opens_on()
            <= today
            <= a.slot.operating_day.booking_closes_after()
            and a.slot.pk != _slot_of(change_id)
        ]
    return [(a.slot, a.seats_left, a.mark) for a in available if a.seats_left > 0]


def _slot_of(reservation_id: int) -> int | None:
    return Reservation.objects.filter(pk=reservation_id).values_list("slot_id", flat=True).first()


def _no_seats(lead: str = "") -> list[Message]:
    phone = _call_centre()
    body = _("現在、予約できる空き枠がありません。")
    if phone:
        body += _("お急ぎの方はコールセンター（%(phone)s）にお電話ください。") % {"phone": phone}
    return [m.with_menu(f"{lead}\n{body}" if lead else body)]


def _choose_site(turn: Turn, link: LineLink, *, change: Reservation | None = None) -> list[Message]:
    slots = _available(turn, link, change_id=change.pk if change else None)
    sites: dict[int, Site] = {}
    for slot, _seats, _mark in slots:
        sites.setdefault(slot.operating_day.site_id, slot.operating_day.site)
    if not sites:
        turn.go(STEP_NONE)
        if change is None and active_reservations(resident_id=link.resident_id):
            return [
                m.text(
                    _("%(name)s 様はすでに予約があります。予約確認からご確認ください。")
                    % {"name": link.resident.name},
                    actions=[
                        MessageAction(label=_("予約確認"), text=m.COMMAND_CHECK),
                        _stop_action(),
                    ],
                )
            ]
        return _no_seats()
    extra = {"r": change.pk} if change is not None else {}
    turn.go(STEP_CHOOSING, link=link.pk, **({"change": change.pk} if change else {}))
    actions: list[Action] = [
        m.postback(site.short_name or site.name, a="site", l=link.pk, s=site.pk, **extra)
        for site in list(sites.values())[: m.MAX_QUICK_REPLIES - 1]
    ]
    actions.append(_stop_action())
    who = link.resident.name
    return [m.text(_("%(name)s 様の接種会場を選んでください。") % {"name": who}, actions=actions)]


def _choose_date(turn: Turn, link: LineLink, site: Site, *, change_id: int | None) -> list[Message]:
    slots = _available(turn, link, site_id=site.pk, change_id=change_id)
    days: dict[dt.date, str] = {}
    for slot, _seats, mark in slots:
        day = timezone.localtime(slot.starts_at).date()
        # The best mark of the day: ○ if any time has plenty of seats.
        if days.get(day) != "○":
            days[day] = mark if days.get(day) is None or mark == "○" else days[day]
    if not days:
        return _no_seats(_("%(site)s には空きがありません。") % {"site": site.name})
    extra = {"r": change_id} if change_id else {}
    ordered = sorted(days)
    actions: list[Action] = [
        m.postback(
            f"{m.format_day(day)}{days[day]}",
            a="date",
            l=link.pk,
            s=site.pk,
            d=day.isoformat(),
            **extra,
        )
        for day in ordered[:MAX_DATE_CHOICES]
    ]
    actions.append(
        m.date_picker(
            _("カレンダーで選ぶ"),
            initial=ordered[0],
            first=ordered[0],
            last=ordered[-1],
            a="date",
            l=link.pk,
            s=site.pk,
            **extra,
        )
    )
    actions.append(_stop_action())
    return [m.text(_("%(site)s の希望日を選んでください。") % {"site": site.name}, actions=actions)]


def _choose_time(
    turn: Turn, link: LineLink, site: Site, day: dt.date, *, change_id: int | None
) -> list[Message]:
    slots = _available(turn, link, site_id=site.pk, day=day, change_id=change_id)
    if not slots:
        lead = _("%(day)s は空きがありません。別の日を選んでください。") % {
            "day": m.format_day(day)
        }
        return [m.text(lead), *_choose_date(turn, link, site, change_id=change_id)][:5]
    extra = {"r": change_id} if change_id else {}
    # LINE takes five messages per request: 4 carousels of 12 times plus the heading.
    carousels = m.slot_carousels(slots[: 4 * m.MAX_BUBBLES], action="slot", l=link.pk, **extra)
    # LINE shows only the last message's quick replies.
    carousels[-1].quick_reply = m.quick_reply([_stop_action()])
    heading = m.text(_("%(day)s の時間を選んでください。") % {"day": m.format_day(day)})
    return [heading, *carousels]


# --- Postbacks -------------------------------------------------------------------------------


def _field(fields: dict[str, list[str]], name: str) -> str:
    values = fields.get(name) or [""]
    return values[0]


def _on_postback(turn: Turn, data: str, params: dict[str, str]) -> list[Message]:
    fields = parse_qs(data, keep_blank_values=True, max_num_fields=10)
    action = _field(fields, "a")
    handler = _POSTBACKS.get(action)
    if handler is None:
        return [m.with_menu(_("このボタンは使えません。メニューからやり直してください。"))]
    try:
        return handler(turn, fields, params)
    except ReservationError as exc:
        return _core_error(turn, exc)


def _stale() -> list[Message]:
    return [m.with_menu(_("このボタンは使えなくなりました。メニューからやり直してください。"))]


def _int(fields: dict[str, list[str]], name: str) -> int | None:
    raw = _field(fields, name)
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


def _site(raw_id: int | None) -> Site | None:
    if raw_id is None:
        return None
    return Site.objects.filter(
        pk=raw_id, is_active=True, municipality__code=settings.HOME_MUNICIPALITY_CODE
    ).first()


def _own_reservation(turn: Turn, raw_id: int | None) -> Reservation | None:
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
            "resident", "slot__operating_day__site", "next_dose__slot__operating_day__site"
        )
        .first()
    )


def _change_target(turn: Turn, fields: dict[str, list[str]]) -> tuple[bool, int | None]:
    """(ok, reservation id being changed or None). A change id must be one of ours."""
    change_id = _int(fields, "r")
    if change_id is None:
        return True, None
    return _own_reservation(turn, change_id) is not None, change_id


def _pb_who(turn: Turn, fields: dict[str, list[str]], params: dict[str, str]) -> list[Message]:
    link = _link(turn, _field(fields, "l"))
    if link is None:
        return _stale()
    return _choose_site(turn, link)


def _pb_site(turn: Turn, fields: dict[str, list[str]], params: dict[str, str]) -> list[Message]:
    link = _link(turn, _field(fields, "l"))
    site = _site(_int(fields, "s"))
    ok, change_id = _change_target(turn, fields)
    if link is None or site is None or not ok:
        return _stale()
    turn.go(
        STEP_CHOOSING, link=link.pk, site=site.pk, **({"change": change_id} if change_id else {})
    )
    return _choose_date(turn, link, site, change_id=change_id)


def _pb_date(turn: Turn, fields: dict[str, list[str]], params: dict[str, str]) -> list[Message]:
    link = _link(turn, _field(fields, "l"))
    site = _site(_int(fields, "s"))
    ok, change_id = _change_target(turn, fields)
    raw_day = params.get("date") or _field(fields, "d")
    try:
        day = dt.date.fromisoformat(raw_day)
    except ValueError:
        day = None
    if link is None or site is None or not ok or day is None:
        return _stale()
    today = timezone.localdate(turn.now)
    if not today <= day <= today + dt.timedelta(days=SEARCH_DAYS):
        return [
            m.text(_("その日は選べません。")),
            *_choose_date(turn, link, site, change_id=change_id),
        ]
    turn.go(
        STEP_CHOOSING, link=link.pk, site=site.pk, **({"change": change_id} if change_id else {})
    )
    return _choose_time(turn, link, site, day, change_id=change_id)


def _pb_slot(turn: Turn, fields: dict[str, list[str]], params: dict[str, str]) -> list[Message]:
    link = _link(turn, _field(fields, "l"))
    ok, change_id = _change_target(turn, fields)
    slot_id = _int(fields, "t")
    slot = (
        Slot.objects.select_related("operating_day__site")
        .filter(
            pk=slot_id,
            operating_day__site__is_active=True,
            operating_day__site__municipality__code=settings.HOME_MUNICIPALITY_CODE,
        )
        .first()
        if slot_id is not None
        else None
    )
    if link is None or slot is None or not ok:
        return _stale()
    if change_id is not None:
        turn.go(STEP_CONFIRM_CHANGE, link=link.pk, change=change_id, slot=slot.pk)
        current = _own_reservation(turn, change_id)
        assert current is not None
        question = _(
            "%(name)s 様の予約（%(code)s）を次の日時に変更しますか？\n%(slot)s %(site)s"
        ) % {
            "name": link.resident.name,
            "code": format_reservation_code(current.code),
            "slot": m.format_slot(slot),
            "site": m.site_label(slot),
        }
        return [
            m.text(
                question,
                actions=[
                    m.postback(_("変更する"), a="change_yes", r=change_id, t=slot.pk),
                    _stop_action(),
                ],
            )
        ]
    _release_hold(turn)
    hold = reservation_hold(
        ticket=link.ticket,
        slot=slot,
        requester=REQUESTER,
        # A redelivered or re-run event finds its first hold instead of holding again.
        idempotency_key=f"line:{turn.event_id}",
        now=turn.now,
    )
    turn.go(STEP_CONFIRM_HOLD, link=link.pk, site=slot.operating_day.site_id, hold=hold.pk)
    hold = _own_reservation(turn, hold.pk) or hold
    minutes = settings.RESERVATION_HOLD_MINUTES
    bubble = m.reservation_bubble(
        hold,
        title=_("まだ予約は確定していません"),
        buttons=[
            m.button(_("予約を確定する"), primary=True, a="confirm", r=hold.pk),
            m.button(_("やめる"), a="abort", r=hold.pk),
        ],
    )
    return [
        m.text(
            _(
                "この内容で%(minutes)d分間、席を仮押さえしました。内容を確かめて「予約を確定する」を押してください。"
            )
            % {"minutes": minutes}
        ),
        *m.flex(_("予約内容の確認"), [bubble]),
    ]


def _pb_confirm(turn: Turn, fields: dict[str, list[str]], params: dict[str, str]) -> list[Message]:
    hold_id = _int(fields, "r")
    hold = _own_reservation(turn, hold_id)
    if hold is None:
        return _stale()
    if turn.account.data.get("hold") != hold.pk and hold.status != Reservation.Status.CONFIRMED:
        return _stale()
    booked = reservation_confirm(reservation=hold, requester=REQUESTER, now=turn.now)
    turn.go(STEP_NONE)
    booked = _own_reservation(turn, booked.pk) or booked
    bubble = m.reservation_bubble(booked, title=_("予約が確定しました"), buttons=[])
    what_to_bring = booked.slot.operating_day.site.what_to_bring
    lines = [
        _("予約が確定しました。予約番号は %(code)s です。")
        % {"code": format_reservation_code(booked.code)}
    ]
    if what_to_bring:
        lines.append(_("持ち物：%(items)s") % {"items": what_to_bring})
    return [*m.flex(_("予約が確定しました"), [bubble]), m.with_menu("\n".join(lines))]


def _pb_abort(turn: Turn, fields: dict[str, list[str]], params: dict[str, str]) -> list[Message]:
    _release_hold(turn)
    turn.go(STEP_NONE)
    return [m.with_menu(_("予約を取りやめました。仮押さえした枠は解放しました。"))]


def _pb_change(turn: Turn, fields: dict[str, list[str]], params: dict[str, str]) -> list[Message]:
    reservation = _own_reservation(turn, _int(fields, "r"))
    if reservation is None or not reservation.is_active:
        return _stale()
    link = LineLink.objects.filter(
        account=turn.account, resident=reservation.resident, is_active=True
    ).first()
    if link is None:
        return _stale()
    return _choose_site(turn, link, change=reservation)


def _pb_change_yes(
    turn: Turn, fields: dict[str, list[str]], params: dict[str, str]
) -> list[Message]:
    reservation = _own_reservation(turn, _int(fields, "r"))
    slot_id = _int(fields, "t")
    data = turn.account.data
    if (
        reservation is None
        or turn.account.step != STEP_CONFIRM_CHANGE
        or data.get("change") != reservation.pk
        or data.get("slot") != slot_id
        or slot_id is None
    ):
        return _stale()
    changed = reservation_change(
        reservation=reservation, slot=slot_id, requester=REQUESTER, now=turn.now
    )
    turn.go(STEP_NONE)
    changed = _own_reservation(turn, changed.pk) or changed
    bubble = m.reservation_bubble(changed, title=_("予約を変更しました"), buttons=[])
    return [
        *m.flex(_("予約を変更しました"), [bubble]),
        m.with_menu(
            _("予約を変更しました。予約番号は %(code)s です。")
            % {"code": format_reservation_code(changed.code)}
        ),
    ]


def _pb_cancel(turn: Turn, fields: dict[str, list[str]], params: dict[str, str]) -> list[Message]:
    reservation = _own_reservation(turn, _int(fields, "r"))
    if reservation is None or not reservation.is_active:
        return _stale()
    turn.go(STEP_CONFIRM_CANCEL, cancel=reservation.pk)
    note = _("セット予約の次の回もキャンセルされます。") if reservation.next_dose_id else ""
    return [
        m.text(
            _("%(name)s 様の予約（%(code)s、%(slot)s）をキャンセルしますか？%(note)s")
            % {
                "name": reservation.resident.name,
                "code": format_reservation_code(reservation.code),
                "slot": m.format_slot(reservation.slot),
                "note": note,
            },
            actions=[
                m.postback(_("キャンセルする"), a="cancel_yes", r=reservation.pk),
                _stop_action(),
            ],
        )
    ]


def _pb_cancel_yes(
    turn: Turn, fields: dict[str, list[str]], params: dict[str, str]
) -> list[Message]:
    reservation = _own_reservation(turn, _int(fields, "r"))
    if (
        reservation is None
        or turn.account.step != STEP_CONFIRM_CANCEL
        or turn.account.data.get("cancel") != reservation.pk
    ):
        return _stale()
    reservation_cancel(reservation=reservation, requester=REQUESTER, now=turn.now)
    turn.go(STEP_NONE)
    return [
        m.with_menu(
            _("予約（%(code)s）をキャンセルしました。")
            % {"code": format_reservation_code(reservation.code)}
        )
    ]


_POSTBACKS = {
    "who": _pb_who,
    "site": _pb_site,
    "date": _pb_date,
    "slot": _pb_slot,
    "confirm": _pb_confirm,
    "abort": _pb_abort,
    "change": _pb_change,
    "change_yes": _pb_change_yes,
    "cancel": _pb_cancel,
    "cancel_yes": _pb_cancel_yes,
}


# --- Listing bookings, errors ----------------------------------------------------------------


def _list_bookings(turn: Turn) -> list[Message]:
    links = _active_links(turn)
    if not links:
        return _ask_ticket(turn, lead=_("予約の確認の前に、接種券でご本人の確認をします。"))
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


def _core_error(turn: Turn, exc: ReservationError) -> list[Message]:
    """A core refusal: its sentence (it already says what to do) and the way forward."""
    message = str(exc.message)
    if exc.code in ("slot_full", "hold_expired", "second_dose_unavailable", "not_eligible"):
        link = _link(turn, str(turn.account.data.get("link", "")))
        site = _site(turn.account.data.get("site"))
        if link is not None and site is not None:
            change_id = turn.account.data.get("change")
            return [m.text(message), *_choose_date(turn, link, site, change_id=change_id)]
    if exc.code == "already_booked":
        turn.go(STEP_NONE)
        return [
            m.text(
                message,
                actions=[MessageAction(label=_("予約確認"), text=m.COMMAND_CHECK), _stop_action()],
            )
        ]
    turn.go(STEP_NONE)
    phone = _call_centre()
    if phone and exc.code in ("change_deadline_passed", "outside_booking_window", "invalid_state"):
        message += "\n" + _("コールセンター：%(phone)s") % {"phone": phone}
    return [m.with_menu(message)]
