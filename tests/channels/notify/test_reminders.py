"""The day-before reminder: found by a scan, once, never stale, never at night."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from channels.notify import tasks
from channels.notify.delivery import message_deliver
from channels.notify.models import OutboundMessage
from channels.notify.outbox import messages_create_for_event
from channels.sms.backends import local
from config.celery import app
from reservations.models import Reservation
from reservations.services.booking import reservation_cancel, reservation_change
from reservations.services.reminders import reminders_record_due
from tests.channels.notify.conftest import SLOT_DAY, book
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


def test_the_scan_task_sends_every_reminder_in_batches_of_events(
    world: World,
    now: dt.datetime,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.SMS_BACKEND = "locmem"
    settings.SMS_RATE_LIMIT_PER_SECOND = 0
    settings.NOTIFY_REMINDER_TIME = TEN
    settings.NOTIFY_HANDOFF = "on_commit"  # the scan's process hands its batches over itself
    bookings = [
        book(world, world.resident(dt.date(1950, 4, day), name=f"日南 {day}"), now, hour=hour)
        for day, hour in ((1, 10), (2, 11), (3, 14))
    ]
    monkeypatch.setattr(tasks, "EVENTS_PER_TASK", 2)
    batches: list[list[int]] = []
    monkeypatch.setattr(
        tasks.notify_events_task,
        "delay",
        lambda event_ids: (batches.append(list(event_ids)), tasks.notify_events_task(event_ids)),
    )
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True  # the deliveries run in-process, as without a broker
    local.outbox.clear()
    try:
        with (
            time_machine.travel(DAY_BEFORE_10, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            tasks.reminder_scan_task()
    finally:
        app.conf.task_always_eager = previous
    assert [len(batch) for batch in batches] == [2, 1]
    reminders = OutboundMessage.objects.filter(purpose=OutboundMessage.Purpose.REMINDER)
    assert sorted(m.reservation_id for m in reminders) == sorted(b.pk for b in bookings)
    assert {m.status for m in reminders} == {Status.SENT}
    assert len(local.outbox) == 3
    local.outbox.clear()
