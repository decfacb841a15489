"""The notification relay: committed events reach the workers in batches, each once, without a
publish per booking; a crash between publish and mark costs a second task, never a second
message; the command stops cleanly on a signal; the sweep relays what no relay process did."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import threading
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError

from channels.notify import relay, tasks
from channels.notify.delivery import SweepReport
from channels.notify.models import OutboundMessage
from channels.notify.relay import RelayPass, events_relay, events_relay_drain, relay_run
from config.celery import app
from reservations.models import Reservation, ReservationEvent
from reservations.services.booking import reservation_hold
from reservations.services.reminders import reminders_record_due
from tests.channels.notify.conftest import SLOT_DAY, book, last_event
from tests.racing import race
from tests.world import World, jst

Kind = ReservationEvent.Kind


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch, settings: Any) -> list[list[int]]:
    """What the relay hands to the workers: each notify_events_task publish, in order (the
    task itself does not run). Production's hand-off: the booking publishes nothing itself."""
    settings.NOTIFY_HANDOFF = "relay"
    batches: list[list[int]] = []
    lock = threading.Lock()

    def publish(event_ids: list[int]) -> None:
        with lock:
            batches.append(list(event_ids))

    monkeypatch.setattr(tasks.notify_events_task, "delay", publish)
    return batches


@pytest.fixture
def in_process_tasks() -> Any:
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def _pending() -> list[int]:
    pending = ReservationEvent.objects.filter(relay_pending=True).order_by("pk")
    return list(pending.values_list("pk", flat=True))


def _held(world: World, now: dt.datetime) -> Reservation:
    return reservation_hold(
        ticket=world.resident(dt.date(1951, 5, 5), name="日南 保留"),
        slot=world.slot(SLOT_DAY, 11),
        requester=world.web,
        book_next_dose=False,
        now=now,
    )


def test_every_way_the_core_writes_an_event_leaves_it_pending(
    world: World, now: dt.datetime, published: list[list[int]]
) -> None:
    # The booking statement (seat, reservation and event at once), event_record (the hold),
    # and the reminder scan's bulk insert all set the outbox flag with the row itself.
    booked = book(world, world.resident(), now)
    held = _held(world, now)
    [reminder_id] = reminders_record_due(remind_at=dt.time(10), now=jst(2026, 11, 9, 10, 0))
    expected = [last_event(booked, Kind.BOOKED).pk, last_event(held, Kind.HELD).pk, reminder_id]
    assert _pending() == sorted(expected)


def test_a_booking_publishes_nothing_with_the_relay(
    world: World,
    now: dt.datetime,
    published: list[list[int]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        booked = book(world, world.resident(), now)
    assert callbacks == [] and published == []
    assert _pending() == [last_event(booked, Kind.BOOKED).pk]


def test_a_pass_hands_over_the_notifiable_events_once_and_marks_all(
    world: World, now: dt.datetime, published: list[list[int]]
) -> None:
    first = last_event(book(world, world.resident(), now), Kind.BOOKED)
    held = last_event(_held(world, now), Kind.HELD)  # residents hear nothing of a hold
    second = last_event(
        book(world, world.resident(dt.date(1950, 6, 1), name="日南 次郎"), now, hour=14),
        Kind.BOOKED,
    )
    # An event from before the relay existed was announced on commit: never handed over again.
    ReservationEvent.objects.filter(pk=first.pk).update(relay_pending=False)

    done = events_relay(batch=100)

    assert done == RelayPass(claimed=2, handed_over=1, tasks=1)
    assert published == [[second.pk]]
    assert _pending() == []
    assert held.pk not in published[0]
    assert events_relay(batch=100) == RelayPass()
    assert published == [[second.pk]]


def test_batches_are_claimed_oldest_first_and_split_into_tasks(
    world: World, now: dt.datetime, published: list[list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "EVENTS_PER_TASK", 2)
    events = [
        last_event(
            book(world, world.resident(dt.date(1950, 4, day), name=f"日南 {day}"), now, hour=hour),
            Kind.BOOKED,
        ).pk
        for day, hour in ((1, 9), (2, 10), (3, 11), (4, 13), (5, 14))
    ]
    assert events_relay(batch=3) == RelayPass(claimed=3, handed_over=3, tasks=2)
    assert published == [events[:2], events[2:3]]
    assert _pending() == events[3:]
    # Until the outbox is empty: the full batch is followed by a partial one.
    assert events_relay_drain(batch=1, max_batches=10) == RelayPass(2, 2, 2)
    assert published[2:] == [[events[3]], [events[4]]]


def test_a_failed_publish_leaves_the_events_pending(
    world: World, now: dt.datetime, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kombu.exceptions import OperationalError as BrokerError

    settings.NOTIFY_HANDOFF = "relay"
    event = last_event(book(world, world.resident(), now), Kind.BOOKED)

    def broker_down(event_ids: list[int]) -> None:
        raise BrokerError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(tasks.notify_events_task, "delay", broker_down)
    with pytest.raises(BrokerError):
        events_relay(batch=100)
    assert _pending() == [event.pk]


def test_a_crash_between_publish_and_mark_publishes_again_but_makes_one_message(
    world: World,
    now: dt.datetime,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    locmem_sms: list[Any],
    in_process_tasks: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.NOTIFY_HANDOFF = "relay"
    event = last_event(book(world, world.resident(), now), Kind.BOOKED)
    published: list[list[int]] = []

    def publish_then_die(event_ids: list[int]) -> None:
        published.append(list(event_ids))  # reached the broker…
        raise SystemExit("relay killed")  # …then the process died before its commit

    monkeypatch.setattr(tasks.notify_events_task, "delay", publish_then_die)
    with pytest.raises(SystemExit):
        events_relay(batch=100)
    assert _pending() == [event.pk]  # the mark was rolled back with the process

    monkeypatch.setattr(tasks.notify_events_task, "delay", published.append)
    assert events_relay(batch=100).handed_over == 1
    assert published == [[event.pk], [event.pk]] and _pending() == []

    # The workers run both tasks: one message, one SMS.
    with django_capture_on_commit_callbacks(execute=True):
        for event_ids in published:
            tasks.notify_events_task(event_ids)
    [message] = OutboundMessage.objects.filter(event=event)
    assert message.status == OutboundMessage.Status.SENT
    assert len(locmem_sms) == 1


def test_the_sweep_relays_what_no_relay_process_did(
    world: World,
    now: dt.datetime,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    published: list[list[int]],
) -> None:
    settings.NOTIFY_RELAY_BATCH = 2
    events = [
        last_event(
            book(world, world.resident(dt.date(1950, 4, day), name=f"日南 {day}"), now, hour=hour),
            Kind.BOOKED,
        ).pk
        for day, hour in ((1, 9), (2, 10), (3, 11))
    ]
    pending_at_message_sweep: list[list[int]] = []

    def message_sweep() -> SweepReport:
        pending_at_message_sweep.append(_pending())
        return SweepReport()

    monkeypatch.setattr(tasks, "messages_sweep", message_sweep)
    tasks.sweep_task()
    # The message sweep first (it leaves pending events to the relay), then two passes (a full
    # batch, then the rest): the sweep never makes the messages of a batch just handed over.
    assert pending_at_message_sweep == [events]
    assert published == [events[:2], events[2:]]


def test_the_relay_retries_a_lost_database_without_a_busy_loop(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    outcomes: list[Any] = [
        OperationalError("server closed the connection unexpectedly"),
        OperationalError("connection refused"),
        RelayPass(claimed=5, handed_over=5, tasks=1),  # a full batch: the next pass at once
        RelayPass(claimed=1, handed_over=1, tasks=1),
    ]

    def pass_(*, batch: int) -> RelayPass:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    class Clock(threading.Event):
        """Records the waits instead of sleeping; the loop stops once the script is done."""

        waits: list[float] = []  # noqa: RUF012 - one instance

        def wait(self, timeout: float | None = None) -> bool:
            self.waits.append(timeout or 0.0)
            if not outcomes:
                self.set()
            return self.is_set()

    monkeypatch.setattr(relay, "events_relay", pass_)
    stop = Clock()
    with caplog.at_level(logging.INFO, logger="channels.notify.relay"):
        relay_run(poll=0.2, batch=5, stop=stop)
    # Two failures back off (0.4 s, 0.8 s); the full batch is followed at once, the partial
    # one by the poll interval.
    assert stop.waits == [0.4, 0.8, 0.2]
    failures = [r.getMessage() for r in caplog.records if "pass failed" in r.getMessage()]
    assert len(failures) == 2 and "OperationalError" in failures[0]
    assert any("succeed again" in r.getMessage() for r in caplog.records)


@pytest.fixture
def production_kinds(settings: Any, tmp_path: Any) -> None:
    """The kinds of SMS backend and cache the command accepts with debug off (config/checks.py):
    one that sends through a provider's API (locmem stands in) and a cache processes share."""
    settings.SMS_BACKEND = "locmem"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }


def test_the_command_refuses_unsafe_production_settings() -> None:
    # The test settings: debug off, console SMS, one process's cache.
    with pytest.raises(CommandError, match=r"madoguchi\.E002[\s\S]*madoguchi\.E003"):
        call_command("notify_relay", "--poll=1")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_the_command_relays_until_a_signal_stops_it(
    production_kinds: None,
    world: World,
    now: dt.datetime,
    published: list[list[int]],
    stop_signal: signal.Signals,
    caplog: pytest.LogCaptureFixture,
) -> None:
    event = last_event(book(world, world.resident(), now), Kind.BOOKED)
    before = signal.getsignal(stop_signal)
    # The signal arrives while the command waits between polls, as from a process manager:
    # sent once the command has put its handler in place, however slowly it starts.
    stop_sender = threading.Event()

    def send_when_handled() -> None:
        while not stop_sender.wait(0.05):
            if signal.getsignal(stop_signal) != before:
                stop_sender.wait(0.3)  # a few polls first
                os.kill(os.getpid(), stop_signal)
                return

    sender = threading.Thread(target=send_when_handled, daemon=True)
    sender.start()
    try:
        with caplog.at_level(logging.INFO, logger="channels.notify.relay"):
            call_command("notify_relay", "--poll=0.05", "--batch=10")
    finally:
        stop_sender.set()
        sender.join()
    assert published == [[event.pk]] and _pending() == []
    assert signal.getsignal(stop_signal) == before  # the test process's handler is back
    messages = [r.getMessage() for r in caplog.records]
    assert f"notify relay: {stop_signal.name} received, stopping" in messages
    assert "notify relay: stopped after 1 events, 1 handed to the workers" in messages


@pytest.mark.parametrize("bad", [["--poll=0"], ["--poll=nan"], ["--batch=0"]])
def test_the_command_refuses_bad_options(production_kinds: None, bad: list[str]) -> None:
    with pytest.raises(CommandError, match="poll|batch"):
        call_command("notify_relay", *bad)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_relays_never_hand_over_the_same_event(
    world: World, now: dt.datetime, published: list[list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    notifiable = [
        last_event(
            book(
                world,
                world.resident(dt.date(1950, 1, 1) + dt.timedelta(days=n), name=f"日南 {n}"),
                now,
                hour=9 + n % 8,
                day=SLOT_DAY + dt.timedelta(days=n // 8),
            ),
            Kind.BOOKED,
        ).pk
        for n in range(48)
    ]
    publish = tasks.notify_events_task.delay

    def slow_publish(event_ids: list[int]) -> None:
        # A broker round trip while the batch is locked: the other relays must skip it.
        threading.Event().wait(0.01)
        publish(event_ids)

    monkeypatch.setattr(tasks.notify_events_task, "delay", slow_publish)

    def drain() -> int:
        handed = 0
        while (done := events_relay(batch=3)).claimed:
            handed += done.handed_over
        return handed

    results = race([drain] * 4)
    assert [r for r in results if not isinstance(r, int)] == []
    handed_over = [event_id for batch in published for event_id in batch]
    assert sorted(handed_over) == sorted(notifiable)  # each exactly once
    assert sum(results) == len(notifiable)
    assert sum(1 for r in results if r) > 1  # they did run side by side
    assert _pending() == []
