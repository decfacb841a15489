"""The day-before reminder: found by a scan, once, never stale, never at night."""

from __future__ import annotations

import datetime as dt

from channels.notify.models import OutboundMessage
from channels.notify.services import message_deliver, messages_create_for_event
from reservations.models import Reservation
from reservations.services.booking import reservation_cancel, reservation_change
from reservations.services.reminders import reminders_record_due
from tests.channels.notify.conftest import SLOT_DAY
from tests.channels.sms.standin import GatewayStandIn
from tests.world import World, jst

TEN = dt.time(10, 0)
DAY_BEFORE_10 = jst(2026, 11, 9, 10, 0)
Status = OutboundMessage.Status


def test_nothing_before_the_reminder_time(booked: Reservation) -> None:
    assert reminders_record_due(remind_at=TEN, now=jst(2026, 11, 9, 9, 59)) == []
    assert reminders_record_due(remind_at=TEN, now=jst(2026, 11, 8, 12, 0)) == []


def test_one_reminder_per_booking(booked: Reservation) -> None:
    [event_id] = reminders_record_due(remind_at=TEN, now=DAY_BEFORE_10)
    assert reminders_record_due(remind_at=TEN, now=DAY_BEFORE_10 + dt.timedelta(minutes=5)) == []
    [message] = messages_create_for_event(event_id=event_id, now=DAY_BEFORE_10)
    assert message.purpose == OutboundMessage.Purpose.REMINDER
    assert "明日10:00" in message.body and booked.code in message.body
    assert message.segments == 1


def test_reminder_is_sent(booked: Reservation, http_sms: GatewayStandIn) -> None:
    [event_id] = reminders_record_due(remind_at=TEN, now=DAY_BEFORE_10)
    [message] = messages_create_for_event(event_id=event_id, now=DAY_BEFORE_10)
    assert message_deliver(message_id=message.pk, now=DAY_BEFORE_10).status == Status.SENT
    assert len(http_sms.messages) == 1


def test_cancelled_booking_gets_no_reminder(
    world: World, booked: Reservation, now: dt.datetime
) -> None:
    reservation_cancel(reservation=booked, requester=world.web, now=now)
    assert reminders_record_due(remind_at=TEN, now=DAY_BEFORE_10) == []


def test_change_after_the_scan_makes_the_reminder_stale(
    world: World, booked: Reservation, http_sms: GatewayStandIn
) -> None:
    [event_id] = reminders_record_due(remind_at=TEN, now=DAY_BEFORE_10)
    [message] = messages_create_for_event(event_id=event_id, now=DAY_BEFORE_10)
    later_day = SLOT_DAY + dt.timedelta(days=7)
    reservation_change(
        reservation=booked,
        slot=world.slot(later_day, 14),
        requester=world.phone(),
        now=DAY_BEFORE_10,
    )
    assert message_deliver(message_id=message.pk, now=DAY_BEFORE_10).status == Status.CANCELLED
    assert http_sms.posts == 0
    # The moved booking is reminded the day before its new date.
    assert len(reminders_record_due(remind_at=TEN, now=jst(2026, 11, 16, 10, 0))) == 1


def test_reminder_waits_for_the_morning(
    settings: object, booked: Reservation, http_sms: GatewayStandIn
) -> None:
    late = jst(2026, 11, 9, 22, 0)
    [event_id] = reminders_record_due(remind_at=dt.time(21, 30), now=late)
    [message] = messages_create_for_event(event_id=event_id, now=late)
    assert message.not_before == jst(2026, 11, 10, 8, 0)
    assert message_deliver(message_id=message.pk, now=late).status == "deferred"
    assert message_deliver(message_id=message.pk, now=jst(2026, 11, 10, 7, 59)).status == "deferred"
    assert http_sms.posts == 0
    assert message_deliver(message_id=message.pk, now=jst(2026, 11, 10, 8, 0)).status == Status.SENT


def test_too_late_reminder_is_dropped(booked: Reservation, http_sms: GatewayStandIn) -> None:
    [event_id] = reminders_record_due(remind_at=TEN, now=DAY_BEFORE_10)
    [message] = messages_create_for_event(event_id=event_id, now=DAY_BEFORE_10)
    after_slot = jst(2026, 11, 10, 10, 30)
    assert message_deliver(message_id=message.pk, now=after_slot).status == Status.CANCELLED
