"""Events → messages: which events, which channel, one row per (event, channel), the sweep."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from channels.notify.delivery import messages_sweep
from channels.notify.models import OutboundMessage
from channels.notify.outbox import messages_create_for_event, messages_create_for_events
from reservations.models import Reservation, ReservationEvent
from reservations.services.booking import reservation_cancel, reservation_change
from reservations.services.contact import resident_contact_update
from tests.channels.notify.conftest import SLOT_DAY, book, last_event
from tests.racing import race
from tests.world import World

Kind = ReservationEvent.Kind
Channel = OutboundMessage.Channel


def _messages_for(event: ReservationEvent, now: dt.datetime) -> list[OutboundMessage]:
    return messages_create_for_event(event_id=event.pk, now=now)


def test_booking_gives_one_sms_confirmation(booked: Reservation, now: dt.datetime) -> None:
    event = last_event(booked, Kind.BOOKED)
    [message] = _messages_for(event, now)
    assert message.channel == Channel.SMS
    assert message.purpose == OutboundMessage.Purpose.CONFIRMATION
    assert message.address == "+819012345678"
    assert booked.code in message.body and message.segments == 1
    assert message.retry_key is not None
    # Asking again returns the same row; nothing new is made.
    assert _messages_for(event, now) == [message]
    assert OutboundMessage.objects.count() == 1


def test_change_and_cancel_each_give_their_message(
    world: World, booked: Reservation, now: dt.datetime
) -> None:
    reservation_change(
        reservation=booked, slot=world.slot(SLOT_DAY, 11), requester=world.web, now=now
    )
    reservation_cancel(reservation=booked, requester=world.web, now=now)
    purposes = [
        _messages_for(last_event(booked, kind), now)[0].purpose
        for kind in (Kind.CHANGED, Kind.CANCELLED)
    ]
    assert purposes == ["change", "cancellation"]


def test_events_residents_do_not_hear_about(world: World, now: dt.datetime) -> None:
    from reservations.services.booking import reservation_hold

    held = reservation_hold(
        ticket=world.resident(),
        slot=world.slot(SLOT_DAY),
        requester=world.web,
        book_next_dose=False,
        now=now,
    )
    assert _messages_for(last_event(held, Kind.HELD), now) == []


@pytest.mark.parametrize(
    ("phone", "consent", "channel", "reason"),
    [
        ("+819012345678", True, "sms", ""),
        ("+819012345678", False, "call_list", "no_consent"),
        ("+81987000000", True, "call_list", "no_mobile"),  # landline
        ("+815012345678", True, "call_list", "no_mobile"),  # 050 IP phone
        ("", True, "call_list", "no_mobile"),
    ],
)
def test_channel_per_resident(
    world: World, now: dt.datetime, phone: str, consent: bool, channel: str, reason: str
) -> None:
    ticket = world.resident()
    ticket.resident.phone = phone
    ticket.resident.sms_consent = consent
    ticket.resident.save()
    reservation = book(world, ticket, now)
    [message] = _messages_for(last_event(reservation, Kind.BOOKED), now)
    assert (message.channel, message.call_reason) == (channel, reason)
    assert message.body  # the operator reads the same text out


def test_english_resident_gets_english(world: World, now: dt.datetime) -> None:
    ticket = world.resident()
    ticket.resident.preferred_language = "en"
    ticket.resident.save()
    reservation = book(world, ticket, now)
    [message] = _messages_for(last_event(reservation, Kind.BOOKED), now)
    assert "Booked" in message.body and message.language == "en"


def test_consent_service_records_who_and_when(world: World, now: dt.datetime) -> None:
    resident = world.resident().resident
    resident_contact_update(resident=resident, sms_consent=False, requester=world.phone(), now=now)
    resident.refresh_from_db()
    assert resident.sms_consent is False
    assert resident.sms_consent_changed_at == now
    assert resident.sms_consent_changed_via == "phone"


def test_a_batch_of_events_costs_four_statements(
    world: World, now: dt.datetime, django_assert_num_queries: Any
) -> None:
    # The reminder scan hands 200 events to one task: read the events, read their messages,
    # insert the missing ones, read them back.
    events = [
        last_event(book(world, world.resident(), now, hour=hour), Kind.BOOKED)
        for hour in (9, 10, 11)
    ]
    [already] = _messages_for(events[0], now)
    ids = [event.pk for event in events]
    with django_assert_num_queries(4):
        messages = messages_create_for_events(event_ids=ids, now=now)
    assert sorted(m.event_id for m in messages) == ids
    assert already in messages and all(m.pk for m in messages)
    assert OutboundMessage.objects.count() == 3
    with django_assert_num_queries(2):  # all there: nothing to insert
        assert messages_create_for_events(event_ids=ids, now=now) == messages


def test_sweep_creates_what_a_lost_task_missed(booked: Reservation, now: dt.datetime) -> None:
    assert OutboundMessage.objects.count() == 0
    # Still waiting for the relay: the relay's, not the message sweep's.
    assert messages_sweep().created == 0
    # Handed over, but the task was lost before the event was turned into a message.
    ReservationEvent.objects.update(relay_pending=False)
    report = messages_sweep()
    assert report.created == 1
    [message] = OutboundMessage.objects.all()
    assert report.to_deliver == [message.pk]
    # A second sweep soon after neither creates nor re-enqueues anything.
    again = messages_sweep()
    assert again.created == 0 and again.to_deliver == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_creators_make_one_message(world: World, now: dt.datetime) -> None:
    reservation = book(world, world.resident(), now)
    event = last_event(reservation, Kind.BOOKED)
    results = race([lambda: messages_create_for_event(event_id=event.pk, now=now)] * 8)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert OutboundMessage.objects.filter(event=event).count() == 1
