"""Notifications through LINE: a linked, following resident hears by push with the message's
retry key (never twice); an unlinked or refused push falls back to SMS, then the phone list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from channels.line.models import LineAccount, LineLink
from channels.line.outbound import line_push, line_text_messages
from channels.line.standin import StandInLine, standin_start
from channels.notify.delivery import message_deliver
from channels.notify.models import OutboundMessage
from channels.notify.outbox import messages_create_for_event
from reservations.models import Reservation, ReservationEvent, Ticket
from tests.channels.notify.conftest import book, last_event
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


def link(ticket: Ticket, now: dt.datetime) -> LineAccount:
    account = LineAccount.objects.create(line_user_id=USER)
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
    message = booking_message(book(world, ticket, now), now)
    assert (message.channel, message.address) == (Channel.LINE, USER)

    # An earlier attempt reached LINE but its answer was lost (the message is left "unknown"):
    # the retry key was accepted then, so the new attempt is answered 409 and counts as sent.
    line_push(to=USER, messages=line_text_messages(message.body), retry_key=str(message.retry_key))
    OutboundMessage.objects.filter(pk=message.pk).update(status=Status.UNKNOWN)
    assert message_deliver(message_id=message.pk, now=daytime).status == Status.SENT

    [push] = line.accepted("push")
    assert push.body["to"] == USER
    assert [m["text"] for m in push.body["messages"]] == [message.body]
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
