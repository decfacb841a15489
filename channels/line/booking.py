"""Booking in the LINE chat: choosing who (among this account's linked residents), then the
vaccine (asked only when more than one could be booked: flu and COVID-19 at one site, say),
the site, the day and the time, holding the seat and confirming or abandoning the hold. A
change of an existing booking walks the same steps with the booking's id along (`r` in the
postback data) and ends in the change question; `channels.line.managing` starts that walk and
answers the question. The chosen vaccine travels as `v` in the postback data.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from linebot.v3.messaging import Action, Message

from channels.line import messages as m
from channels.line import notices
from channels.line.linking import ask_ticket
from channels.line.models import LineLink
from channels.line.turn import (
    REQUESTER,
    STEP_CHOOSING,
    STEP_CONFIRM_CHANGE,
    STEP_CONFIRM_HOLD,
    STEP_NONE,
    Turn,
    active_links,
    call_centre,
    chat_site,
    own_link,
    own_reservation,
    postback_field,
    postback_int,
    release_hold,
    stale,
    stop_action,
)
from reservations.identifiers import format_reservation_code
from reservations.localized import localized
from reservations.models import Channel, Reservation, Site, Slot, Vaccine
from reservations.selectors import (
    active_reservations,
    slot_list,
    slot_list_available,
    slot_timing,
)
from reservations.services.booking import reservation_confirm, reservation_hold

# How far ahead the chat offers days; the booking window of each day still decides.
SEARCH_DAYS = 60
# Quick replies for dates leave room for the date picker and "stop".
MAX_DATE_CHOICES = 11


# --- Choosing who, where, when ---------------------------------------------------------------


def choose_person(turn: Turn) -> list[Message]:
    links = active_links(turn)
    if not links:
        return ask_ticket(turn, lead=_("予約の前に、接種券でご本人の確認をします。"))
    if len(links) == 1:
        return choose_vaccine(turn, links[0])
    turn.go(STEP_CHOOSING)
    actions: list[Action] = [
        m.postback(link.resident.name, a="who", l=link.pk)
        for link in links[: m.MAX_QUICK_REPLIES - 2]
    ]
    actions += [m.command(m.COMMAND_ADD_PERSON), stop_action()]
    return [m.text(_("どなたの予約ですか？"), actions=actions)]


def _available(
    turn: Turn,
    link: LineLink,
    *,
    site_id: int | None = None,
    vaccine_id: int | None = None,
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
            vaccine_id=vaccine_id,
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
                vaccine_id=vaccine_id,
                campaign_id=moving,
                now=turn.now,
            )
            if a.slot.operating_day.is_open_for_booking(turn.now)
            and a.slot.pk != _slot_of(change_id)
        ]
    return [(a.slot, a.seats_left, a.mark) for a in available if a.seats_left > 0]


def _no_online_change_note(turn: Turn, slot: Slot) -> str:
    """Said beside a time whose change deadline has passed (offered late because the day's
    window allows it: selectors.slot_timing), so nobody books it expecting to change it here."""
    timing = slot_timing(day=slot.operating_day, starts_at=slot.starts_at, now=turn.now)
    if timing.changeable_online:
        return ""
    return _(
        "この日時は、予約後にLINEやWebで変更・キャンセルできません。変更・キャンセルは"
        "コールセンター（%(phone)s）へお電話ください。"
    ) % {"phone": call_centre(turn)}


def _slot_of(reservation_id: int) -> int | None:
    return Reservation.objects.filter(pk=reservation_id).values_list("slot_id", flat=True).first()


def _no_seats(turn: Turn, lead: str = "") -> list[Message]:
    phone = call_centre(turn)
    body = _("現在、予約できる空き枠がありません。")
    if phone:
        body += _("お急ぎの方はコールセンター（%(phone)s）にお電話ください。") % {"phone": phone}
    return [m.with_menu(f"{lead}\n{body}" if lead else body)]


def _along(*, vaccine_id: int | None, change_id: int | None) -> dict[str, int]:
    """What every later postback of this walk carries: the vaccine chosen, the booking moved."""
    along = {}
    if vaccine_id is not None:
        along["v"] = vaccine_id
    if change_id is not None:
        along["r"] = change_id
    return along


def _remembered(**data: int | None) -> dict[str, int]:
    """The walk so far, as the account keeps it (a core refusal offers the days again)."""
    return {key: value for key, value in data.items() if value is not None}


def choose_vaccine(
    turn: Turn, link: LineLink, *, change: Reservation | None = None
) -> list[Message]:
    """Ask which vaccine when more than one could be booked; with one, go on to the sites."""
    change_id = change.pk if change is not None else None
    slots = _available(turn, link, change_id=change_id)
    vaccines: dict[int, Vaccine] = {}
    for slot, _seats, _mark in slots:
        vaccines.setdefault(slot.operating_day.vaccine_id, slot.operating_day.vaccine)
    if len(vaccines) <= 1:
        only = next(iter(vaccines), None)
        # The times just read are all of that one vaccine: not read again for the sites.
        return choose_site(turn, link, vaccine_id=only, change=change, slots=slots)
    turn.go(STEP_CHOOSING, **_remembered(link=link.pk, change=change_id))
    offered = list(vaccines.values())[: m.MAX_QUICK_REPLIES - 1]
    actions: list[Action] = [
        m.postback(
            m.vaccine_name(vaccine),
            a="vac",
            l=link.pk,
            **_along(vaccine_id=vaccine.pk, change_id=change_id),
        )
        for vaccine in offered
    ]
    actions.append(stop_action())
    # The buttons hold 20 characters: the question names each vaccine in full, with what it
    # protects against (a product name alone does not say "COVID-19").
    listed = "\n".join(
        f"・{m.vaccine_name(vaccine)}（{vaccine.get_antigen_display()}）" for vaccine in offered
    )
    question = _("%(name)s 様は次のワクチンを予約できます。どのワクチンにしますか？") % {
        "name": link.resident.name
    }
    return [m.text(f"{question}\n{listed}", actions=actions)]


def choose_site(
    turn: Turn,
    link: LineLink,
    *,
    vaccine_id: int | None = None,
    change: Reservation | None = None,
    slots: list[tuple[Slot, int, str]] | None = None,
) -> list[Message]:
    change_id = change.pk if change is not None else None
    if slots is None:
        slots = _available(turn, link, vaccine_id=vaccine_id, change_id=change_id)
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
                    actions=[m.command(m.COMMAND_CHECK), stop_action()],
                )
            ]
        return _no_seats(turn)
    extra = _along(vaccine_id=vaccine_id, change_id=change_id)
    turn.go(STEP_CHOOSING, **_remembered(link=link.pk, vaccine=vaccine_id, change=change_id))
    actions: list[Action] = [
        m.postback(m.site_name(site), a="site", l=link.pk, s=site.pk, **extra)
        for site in list(sites.values())[: m.MAX_QUICK_REPLIES - 1]
    ]
    actions.append(stop_action())
    who = link.resident.name
    return [m.text(_("%(name)s 様の接種会場を選んでください。") % {"name": who}, actions=actions)]


def choose_date(
    turn: Turn,
    link: LineLink,
    site: Site,
    *,
    vaccine_id: int | None = None,
    change_id: int | None,
) -> list[Message]:
    slots = _available(turn, link, site_id=site.pk, vaccine_id=vaccine_id, change_id=change_id)
    days: dict[dt.date, str] = {}
    for slot, _seats, mark in slots:
        day = timezone.localtime(slot.starts_at).date()
        # The best mark of the day: ○ if any time has plenty of seats.
        if days.get(day) != "○":
            days[day] = mark if days.get(day) is None or mark == "○" else days[day]
    if not days:
        return _no_seats(turn, _("%(site)s には空きがありません。") % {"site": localized(site)})
    extra = _along(vaccine_id=vaccine_id, change_id=change_id)
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
    actions.append(stop_action())
    question = _("%(site)s の希望日を選んでください。") % {"site": localized(site)}
    return [m.text(question, actions=actions)]


def _choose_time(
    turn: Turn,
    link: LineLink,
    site: Site,
    day: dt.date,
    *,
    vaccine_id: int | None,
    change_id: int | None,
) -> list[Message]:
    slots = _available(
        turn, link, site_id=site.pk, vaccine_id=vaccine_id, day=day, change_id=change_id
    )
    if not slots:
        lead = _("%(day)s は空きがありません。別の日を選んでください。") % {
            "day": m.format_day(day)
        }
        again = choose_date(turn, link, site, vaccine_id=vaccine_id, change_id=change_id)
        return [m.text(lead), *again][:5]
    extra = {"r": change_id} if change_id else {}
    # LINE takes five messages per request: 4 carousels of 12 times plus the heading.
    carousels = m.slot_carousels(slots[: 4 * m.MAX_BUBBLES], action="slot", l=link.pk, **extra)
    # LINE shows only the last message's quick replies.
    carousels[-1].quick_reply = m.quick_reply([stop_action()])
    heading = _("%(day)s の時間を選んでください。") % {"day": m.format_day(day)}
    note = _no_online_change_note(turn, slots[0][0])  # the deadline is the day's
    return [m.text(f"{heading}\n{note}" if note else heading), *carousels]


# --- Postbacks -------------------------------------------------------------------------------


def _change_target(turn: Turn, fields: dict[str, list[str]]) -> tuple[bool, int | None]:
    """(ok, reservation id being changed or None). A change id must be one of ours."""
    change_id = postback_int(fields, "r")
    if change_id is None:
        return True, None
    return own_reservation(turn, change_id) is not None, change_id


def _vaccine_choice(fields: dict[str, list[str]]) -> tuple[bool, int | None]:
    """(ok, vaccine id chosen or None). A vaccine id must name a vaccine."""
    vaccine_id = postback_int(fields, "v")
    if vaccine_id is None:
        return postback_field(fields, "v") == "", None
    return Vaccine.objects.filter(pk=vaccine_id).exists(), vaccine_id


def pb_who(turn: Turn, fields: dict[str, list[str]], params: dict[str, str]) -> list[Message]:
    link = own_link(turn, postback_field(fields, "l"))
    if link is None:
        return stale()
    return choose_vaccine(turn, link)


def pb_vaccine(turn: Turn, fields: dict[str, list[str]], params: dict[str, str]) -> list[Message]:
    link = own_link(turn, postback_field(fields, "l"))
    ok, change_id = _change_target(turn, fields)
    vaccine_ok, vaccine_id = _vaccine_choice(fields)
    if link is None or not ok or not vaccine_ok or vaccine_id is None:
        return stale()
    change = own_reservation(turn, change_id) if change_id is not None else None
    return choose_site(turn, link, vaccine_id=vaccine_id, change=change)


def pb_site(turn: Turn, fields: dict[str, list[str]], params: dict[str, str]) -> list[Message]:
    link = own_link(turn, postback_field(fields, "l"))
    site = chat_site(turn, postback_int(fields, "s"))
    ok, change_id = _change_target(turn, fields)
    vaccine_ok, vaccine_id = _vaccine_choice(fields)
    if link is None or site is None or not ok or not vaccine_ok:
        return stale()
    turn.go(
        STEP_CHOOSING,
        **_remembered(link=link.pk, site=site.pk, vaccine=vaccine_id, change=change_id),
    )
    return choose_date(turn, link, site, vaccine_id=vaccine_id, change_id=change_id)


def pb_date(turn: Turn, fields: dict[str, list[str]], params: dict[str, str]) -> list[Message]:
    link = own_link(turn, postback_field(fields, "l"))
    site = chat_site(turn, postback_int(fields, "s"))
    ok, change_id = _change_target(turn, fields)
    vaccine_ok, vaccine_id = _vaccine_choice(fields)
    raw_day = params.get("date") or postback_field(fields, "d")
    try:
        day = dt.date.fromisoformat(raw_day)
    except ValueError:
        day = None
    if link is None or site is None or not ok or not vaccine_ok or day is None:
        return stale()
    today = timezone.localdate(turn.now)
    if not today <= day <= today + dt.timedelta(days=SEARCH_DAYS):
        return [
            m.text(_("その日は選べません。")),
            *choose_date(turn, link, site, vaccine_id=vaccine_id, change_id=change_id),
        ]
    turn.go(
        STEP_CHOOSING,
        **_remembered(link=link.pk, site=site.pk, vaccine=vaccine_id, change=change_id),
    )
    return _choose_time(turn, link, site, day, vaccine_id=vaccine_id, change_id=change_id)


def pb_slot(turn: Turn, fields: dict[str, list[str]], params: dict[str, str]) -> list[Message]:
    link = own_link(turn, postback_field(fields, "l"))
    ok, change_id = _change_target(turn, fields)
    slot_id = postback_int(fields, "t")
    slot = (
        Slot.objects.select_related("operating_day__site", "operating_day__vaccine")
        .filter(
            pk=slot_id,
            operating_day__site__is_active=True,
            operating_day__site__municipality__code=turn.municipality_code,
        )
        .first()
        if slot_id is not None
        else None
    )
    if link is None or slot is None or not ok:
        return stale()
    if change_id is not None:
        turn.go(STEP_CONFIRM_CHANGE, link=link.pk, change=change_id, slot=slot.pk)
        current = own_reservation(turn, change_id)
        assert current is not None
        question = _(
            "%(name)s 様の予約（%(code)s）を次の日時に変更しますか？\n%(slot)s %(site)s"
        ) % {
            "name": link.resident.name,
            "code": format_reservation_code(current.code),
            "slot": m.format_slot(slot),
            "site": m.site_label(slot),
        }
        vaccine_name = m.vaccine_name(slot.operating_day.vaccine)
        vaccine = _("ワクチン：%(vaccine)s") % {"vaccine": vaccine_name}
        note = _no_online_change_note(turn, slot)
        return [
            m.text(
                "\n".join(filter(None, (question, vaccine, note))),
                actions=[
                    m.postback(_("変更する"), a="change_yes", r=change_id, t=slot.pk),
                    stop_action(),
                ],
            )
        ]
    release_hold(turn)
    hold = reservation_hold(
        ticket=link.ticket,
        slot=slot,
        requester=REQUESTER,
        # A redelivered or re-run event finds its first hold instead of holding again.
        idempotency_key=f"line:{turn.event_id}",
        now=turn.now,
    )
    turn.go(
        STEP_CONFIRM_HOLD,
        link=link.pk,
        site=slot.operating_day.site_id,
        vaccine=slot.operating_day.vaccine_id,
        hold=hold.pk,
    )
    hold = own_reservation(turn, hold.pk) or hold
    minutes = settings.RESERVATION_HOLD_MINUTES
    bubble = m.reservation_bubble(
        hold,
        title=_("まだ予約は確定していません"),
        buttons=[
            m.button(_("予約を確定する"), primary=True, a="confirm", r=hold.pk),
            m.button(_("やめる"), a="abort", r=hold.pk),
        ],
    )
    held = _(
        "この内容で%(minutes)d分間、席を仮押さえしました。内容を確かめて「予約を確定する」を押してください。"
    ) % {"minutes": minutes}
    note = _no_online_change_note(turn, slot)
    return [
        m.text(f"{held}\n{note}" if note else held),
        *m.flex(_("予約内容の確認"), [bubble]),
    ]


def pb_confirm(turn: Turn, fields: dict[str, list[str]], params: dict[str, str]) -> list[Message]:
    hold_id = postback_int(fields, "r")
    hold = own_reservation(turn, hold_id)
    if hold is None:
        return stale()
    if turn.account.data.get("hold") != hold.pk and hold.status != Reservation.Status.CONFIRMED:
        return stale()
    booked = reservation_confirm(reservation=hold, requester=REQUESTER, now=turn.now)
    turn.go(STEP_NONE)
    booked = own_reservation(turn, booked.pk) or booked
    # The one confirmation of this booking on LINE: channels.notify pushes nothing for a
    # booking confirmed in the chat (channels.notify.outbox).
    return [notices.notice_message(booked, notices.CONFIRMATION, menu=True)]


def pb_abort(turn: Turn, fields: dict[str, list[str]], params: dict[str, str]) -> list[Message]:
    release_hold(turn)
    turn.go(STEP_NONE)
    return [m.with_menu(_("予約を取りやめました。仮押さえした枠は解放しました。"))]
