"""Cancelling a day (typhoon): four eyes, one template per recipient, resumable, no copies."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User

from channels.notify.broadcasts import (
    SecondApproverRequired,
    broadcast_approve,
    broadcast_create,
    broadcast_messages_create,
    broadcast_progress,
)
from channels.notify.delivery import message_deliver, messages_sweep
from channels.notify.models import Broadcast, OutboundMessage
from channels.voice.backends import CallStatus
from channels.voice.models import VoiceCall
from channels.voice.services import call_status_record
from reservations.exceptions import PermissionDenied, SlotFull
from reservations.models import Reservation, Slot
from tests.channels.notify.conftest import SLOT_DAY, book
from tests.channels.sms.standin import GatewayStandIn
from tests.world import World, jst, staff_with

Status = OutboundMessage.Status
DAYTIME = jst(2026, 11, 9, 15, 0)


_staff = staff_with


@pytest.fixture
def author(db: None) -> User:
    return _staff("author", "add_broadcast", "approve_broadcast", "cancel_operating_day")


@pytest.fixture
def approver(db: None) -> User:
    return _staff("approver", "approve_broadcast", "cancel_operating_day")


@pytest.fixture
def day_with_bookings(world: World, now: dt.datetime) -> list[Reservation]:
    mobile = book(world, world.resident(), now, hour=10)
    landline_ticket = world.resident(name="日南 太郎")
    landline_ticket.resident.phone = "+81987000000"
    landline_ticket.resident.save()
    landline = book(world, landline_ticket, now, hour=11)
    return [mobile, landline]


def test_needs_a_second_person(
    world: World, author: User, day_with_bookings: list[Reservation]
) -> None:
    day = day_with_bookings[0].slot.operating_day
    broadcast = broadcast_create(operating_day=day, user=author)
    with pytest.raises(SecondApproverRequired):
        broadcast_approve(broadcast=broadcast, user=author)
    with pytest.raises(PermissionDenied):
        broadcast_approve(broadcast=broadcast, user=_staff("clerk"))
    assert Reservation.objects.filter(status="confirmed").count() == 2
    assert Broadcast.objects.get().status == Broadcast.Status.DRAFT


def test_only_permitted_staff_prepare_one(world: World) -> None:
    with pytest.raises(PermissionDenied):
        broadcast_create(operating_day=world.day(SLOT_DAY), user=_staff("clerk"))


def test_approval_cancels_the_day_and_tells_everyone_once(
    world: World,
    now: dt.datetime,
    author: User,
    approver: User,
    day_with_bookings: list[Reservation],
    http_sms: GatewayStandIn,
) -> None:
    day = day_with_bookings[0].slot.operating_day
    broadcast = broadcast_create(operating_day=day, user=author)
    approved = broadcast_approve(broadcast=broadcast, user=approver, now=DAYTIME)
    assert approved.status == Broadcast.Status.SENDING and approved.cancelled_reservations == 2
    assert set(Reservation.objects.values_list("status", "cancel_reason").distinct()) == {
        ("cancelled", "by_municipality")
    }
    # Nobody can book the cancelled day any more.
    with pytest.raises(SlotFull):
        book(world, world.resident(name="日南 次郎"), now, hour=10)
    assert all(slot.capacity == 0 for slot in Slot.objects.filter(operating_day=day))
    # Approving again does nothing more.
    assert broadcast_approve(broadcast=approved, user=approver).cancelled_reservations == 2

    to_deliver = broadcast_messages_create(broadcast=approved, now=DAYTIME)
    messages = OutboundMessage.objects.filter(broadcast=approved)
    assert sorted(messages.values_list("channel", flat=True)) == ["call_list", "sms"]
    assert all(m.purpose == "day_cancelled" for m in messages)
    assert len(to_deliver) == 1
    [sms] = messages.filter(channel="sms")
    assert "中止" in sms.body and day_with_bookings[0].code in sms.body

    assert message_deliver(message_id=to_deliver[0], now=DAYTIME).status == Status.SENT
    progress = broadcast_progress(broadcast=approved)
    assert progress["recipients"] == 2 and progress["sent"] == 1 and progress["to_call"] == 1

    # Resuming after a crash: nothing new is made and nobody gets a second copy.
    again = broadcast_messages_create(broadcast=approved, now=DAYTIME)
    assert again == [] and messages.count() == 2
    for message_id in again:
        message_deliver(message_id=message_id, now=DAYTIME)
    assert len(http_sms.messages) == 1
    messages_sweep()
    assert Broadcast.objects.get().status == Broadcast.Status.DONE


def test_resume_after_a_crash_mid_broadcast(
    author: User, approver: User, day_with_bookings: list[Reservation], http_sms: GatewayStandIn
) -> None:
    day = day_with_bookings[0].slot.operating_day
    broadcast = broadcast_approve(
        broadcast=broadcast_create(operating_day=day, user=author), user=approver, now=DAYTIME
    )
    # The process died after the day was cancelled, before any message was made.
    assert OutboundMessage.objects.count() == 0
    [sms_id] = broadcast_messages_create(broadcast=broadcast, now=DAYTIME)
    message_deliver(message_id=sms_id, now=DAYTIME)
    assert broadcast_messages_create(broadcast=broadcast, now=DAYTIME) == []
    assert len(http_sms.messages) == 1


def test_broadcast_waits_for_morning_unless_urgent(
    author: User, approver: User, day_with_bookings: list[Reservation], http_sms: GatewayStandIn
) -> None:
    night = jst(2026, 11, 9, 23, 0)
    day = day_with_bookings[0].slot.operating_day
    broadcast = broadcast_approve(
        broadcast=broadcast_create(operating_day=day, user=author), user=approver, now=night
    )
    [sms_id] = broadcast_messages_create(broadcast=broadcast, now=night)
    assert message_deliver(message_id=sms_id, now=night).status == "deferred"
    Broadcast.objects.filter(pk=broadcast.pk).update(send_in_quiet_hours=True)
    OutboundMessage.objects.filter(pk=sms_id).update(not_before=None)
    assert message_deliver(message_id=sms_id, now=night).status == Status.SENT


def test_a_broadcast_is_done_only_once_its_calls_have_ended(
    world: World,
    author: User,
    approver: User,
    day_with_bookings: list[Reservation],
    http_sms: GatewayStandIn,
    settings: Any,
) -> None:
    # The landline resident is called (console backend: the call rings in the simulator).
    settings.VOICE_BACKEND = "console"
    settings.VOICE_SIMULATOR = True
    world.municipality.voice_calls_enabled = True
    world.municipality.save()
    day = day_with_bookings[0].slot.operating_day
    approved = broadcast_approve(
        broadcast=broadcast_create(operating_day=day, user=author), user=approver, now=DAYTIME
    )
    for message_id in broadcast_messages_create(broadcast=approved, now=DAYTIME):
        assert message_deliver(message_id=message_id, now=DAYTIME).status == Status.SENT
    [voice] = OutboundMessage.objects.filter(broadcast=approved, channel="voice")

    # Placed is not heard: the call still rings, and could yet be called again.
    messages_sweep()
    assert Broadcast.objects.get().status == Broadcast.Status.SENDING

    call = VoiceCall.objects.get(reference=str(voice.retry_key))
    call_status_record(call=call, status=CallStatus("completed", 40), now=DAYTIME)
    voice.refresh_from_db()
    assert voice.status == Status.DELIVERED
    messages_sweep()
    assert Broadcast.objects.get().status == Broadcast.Status.DONE
