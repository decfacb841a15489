"""Notifications through LINE: a linked, following resident hears by push with the message's
retry key (never twice), one card per booking naming the vaccine, in the chat's language; an
unlinked or refused push falls back to SMS, then the phone list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from channels.line.models import LineAccount, LineLink
from channels.line.notices import notice_message
from channels.line.outbound import line_push
from channels.line.standin import StandInLine, standin_start
from channels.notify import delivery
from channels.notify.delivery import message_deliver, messages_sweep
from channels.notify.models import OutboundMessage
from channels.notify.outbox import messages_create_for_event
from reservations.models import Channel as BookingChannel
from reservations.models import Reservation, ReservationEvent, Ticket
from reservations.services.booking import Requester, reservation_cancel, reservation_hold
from reservations.services.reminders import reminders_record_due
from tests.channels.notify.conftest import SLOT_DAY, book, last_event
from tests.channels.sms.standin import GatewayStandIn
from tests.world import World

Status = OutboundMessage.Status
Channel = OutboundMessage.Channel
USER = "U0123456789abcdef0123456789abcdef"


@pytest.fixture
def line(settings: Any) -> Iterator[StandInLine]:
    state, server = standin_start(access_token="test-access-token")
    settings.LINE_CHANNEL_SECRET = "test-channel-secret"
    settings.LINE_CHANNEL_ACCESS_TOKEN = "test-access-token"
    settings.LINE_API_BASE_URL = state.url
    yield state
    server.shutdown()
    server.server_close()


def link(ticket: Ticket, now: dt.datetime, *, language: str = "") -> LineAccount:
    account = LineAccount.objects.create(line_user_id=USER, language=language)
    LineLink.objects.create(account=account, resident=ticket.resident, ticket=ticket, linked_at=now)
    return account


def booking_message(reservation: Reservation, now: dt.datetime) -> OutboundMessage:
    [message] = messages_create_for_event(
        event_id=last_event(reservation, ReservationEvent.Kind.BOOKED).pk, now=now
    )
    return message


def test_a_linked_resident_hears_by_line_exactly_once(
    world: World, now: dt.datetime, daytime: dt.datetime, line: StandInLine
) -> None:
    ticket = world.resident()
    link(ticket, now)
    reservation = book(world, ticket, now)
    message = booking_message(reservation, now)
    assert (message.channel, message.address) == (Channel.LINE, USER)

    # An earlier attempt reached LINE but its answer was lost (the message is left "unknown"):
    # the retry key was accepted then, so the new attempt is answered 409 and counts as sent.
    card = notice_message(reservation, message.purpose)
    line_push(to=USER, messages=[card], retry_key=str(message.retry_key))
    OutboundMessage.objects.filter(pk=message.pk).update(status=Status.UNKNOWN)
    assert message_deliver(message_id=message.pk, now=daytime).status == Status.SENT

    [push] = line.accepted("push")
    assert push.body["to"] == USER
    assert [m["altText"] for m in push.body["messages"]] == [message.body]
    assert [c.status for c in line.calls] == [200, 409]
    stored = OutboundMessage.objects.get(pk=message.pk)
    assert (stored.provider, stored.provider_message_id) == ("line", str(message.retry_key))


def test_without_a_line_channel_configured_the_link_is_not_used(
    world: World, now: dt.datetime, http_sms: GatewayStandIn
) -> None:
    ticket = world.resident()
    link(ticket, now)
    assert booking_message(book(world, ticket, now), now).channel == Channel.SMS


def test_an_unfollow_before_sending_sends_the_sms_instead(
    world: World,
    now: dt.datetime,
    daytime: dt.datetime,
    line: StandInLine,
    http_sms: GatewayStandIn,
) -> None:
    ticket = world.resident()
    account = link(ticket, now)
    message = booking_message(book(world, ticket, now), now)
    account.is_following = False
    account.save()

    assert message_deliver(message_id=message.pk, now=daytime).status == Status.CANCELLED
    assert OutboundMessage.objects.get(pk=message.pk).last_error == "line_unlinked"
    assert line.calls == []
    sms = OutboundMessage.objects.get(event_id=message.event_id, channel=Channel.SMS)
    assert sms.status == Status.QUEUED and sms.address == ticket.resident.phone
    assert message_deliver(message_id=sms.pk, now=daytime).status == Status.SENT
    assert len(http_sms.messages) == 1


def test_a_push_line_refuses_goes_to_the_phone_list_without_a_mobile(
    world: World, now: dt.datetime, daytime: dt.datetime, line: StandInLine
) -> None:
    ticket = world.resident()
    ticket.resident.phone = ""
    ticket.resident.save()
    link(ticket, now)
    message = booking_message(book(world, ticket, now), now)
    line.fail_next(400)

    assert message_deliver(message_id=message.pk, now=daytime).status == Status.FAILED
    call = OutboundMessage.objects.get(event_id=message.event_id, channel=Channel.CALL_LIST)
    assert call.call_reason == OutboundMessage.CallReason.NO_MOBILE
    assert line.accepted() == []


def test_the_push_is_the_card_naming_the_vaccine(
    world: World, now: dt.datetime, daytime: dt.datetime, line: StandInLine
) -> None:
    ticket = world.resident()
    link(ticket, now)
    reservation = book(world, ticket, now, hour=14)
    message = booking_message(reservation, now)
    # The stored body is the card's one line: what the office reads in the admin and the
    # phone list reads out if LINE refuses.
    code = reservation.code
    assert message.body == (
        "予約が確定しました：コミナティ筋注（12歳以上用） 11月10日(火) 14:00〜 "
        f"日南市文化センター 予約番号 {code[:3]}-{code[3:6]}-{code[6:]}"
    )
    assert message.segments == 0
    assert message_deliver(message_id=message.pk, now=daytime).status == Status.SENT
    [push] = line.accepted("push")
    [card] = push.body["messages"]
    assert card["type"] == "flex" and card["altText"] == message.body
    assert card["contents"]["body"]["contents"][0]["text"] == "予約が確定しました"


def test_a_chat_that_chose_english_gets_english(
    world: World, now: dt.datetime, daytime: dt.datetime, line: StandInLine
) -> None:
    ticket = world.resident()
    link(ticket, now, language="en")
    message = booking_message(book(world, ticket, now), now)
    assert message.language == "en"
    assert message.body.startswith("Your booking is confirmed")
    assert "Comirnaty (ages 12 and over)" in message.body and "Tue 10/11" in message.body
    message_deliver(message_id=message.pk, now=daytime)
    [push] = line.accepted("push")
    assert push.body["messages"][0]["altText"] == message.body


def test_a_booking_made_in_the_chat_is_not_pushed_again(
    world: World, now: dt.datetime, line: StandInLine
) -> None:
    from reservations.services.booking import reservation_book

    ticket = world.resident()
    link(ticket, now)
    in_chat = Requester(channel=BookingChannel.LINE)
    reservation = reservation_book(
        ticket=ticket, slot=world.slot(SLOT_DAY), requester=in_chat, book_next_dose=False, now=now
    )
    message = booking_message(reservation, now)
    # The chat answered with the card itself: recorded as sent there, nothing left to push.
    assert (message.channel, message.status, message.provider) == ("line", "sent", "line_chat")
    assert messages_sweep(now=now).to_deliver == []
    assert line.calls == []


def test_a_reminder_is_a_card_too(world: World, now: dt.datetime, line: StandInLine) -> None:
    ticket = world.resident()
    link(ticket, now)
    reservation = book(world, ticket, now)
    day_before = dt.datetime(2026, 11, 9, 10, 0, tzinfo=now.tzinfo)
    [event_id] = reminders_record_due(remind_at=dt.time(10, 0), now=day_before)
    [message] = messages_create_for_event(event_id=event_id, now=day_before)
    assert message.body.startswith("接種の予約日が近づきました：コミナティ筋注")
    assert message_deliver(message_id=message.pk, now=day_before).status == Status.SENT
    [push] = line.accepted("push")
    [card] = push.body["messages"]
    texts = str(card["contents"])
    assert "持ち物" in texts and reservation.code[:3] in texts


def test_a_hold_given_back_makes_no_message_on_any_channel(
    world: World, now: dt.datetime, line: StandInLine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket = world.resident()
    link(ticket, now)
    held = reservation_hold(
        ticket=ticket, slot=world.slot(SLOT_DAY), requester=world.web, book_next_dose=False, now=now
    )
    reservation_cancel(reservation=held, requester=world.web, now=now)
    cancelled = last_event(held, ReservationEvent.Kind.CANCELLED)
    ReservationEvent.objects.filter(pk=cancelled.pk).update(relay_pending=False)
    assert messages_create_for_event(event_id=cancelled.pk, now=now) == []
    # Not "missing" either: the sweep does not look at it again every minute.
    looked_at: list[int] = []
    monkeypatch.setattr(
        delivery,
        "messages_create_for_event",
        lambda *, event_id, now: looked_at.append(event_id) or [],
    )
    messages_sweep(now=now)
    assert looked_at == []
    assert not OutboundMessage.objects.exists()
