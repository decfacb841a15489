"""Delivering a batch of messages (`messages_deliver`, `deliver_messages_task`): the same state
machine as one message, with the round trips shared. Nothing lost, nothing twice."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from unittest import mock

import pytest

from channels.notify import tasks
from channels.notify.delivery import message_deliver, messages_deliver
from channels.notify.models import OutboundMessage
from channels.notify.outbox import messages_create_for_events
from channels.notify.transports import SmsTransport
from reservations.models import ReservationEvent
from tests.channels.notify.conftest import book, last_event
from tests.channels.sms.standin import GatewayStandIn
from tests.world import World

Status = OutboundMessage.Status


@pytest.fixture
def messages(world: World, now: dt.datetime, http_sms: GatewayStandIn) -> list[OutboundMessage]:
    """Five booking confirmations by SMS, queued."""
    world.municipality.sms_sender_label = "日南市ワクチン予約"
    world.municipality.save()
    bookings = [book(world, world.resident(), now, hour=9 + index) for index in range(5)]
    events = [last_event(booking, ReservationEvent.Kind.BOOKED).pk for booking in bookings]
    created = messages_create_for_events(event_ids=events, now=now)
    assert [message.channel for message in created] == ["sms"] * 5
    return created


def _ids(messages: list[OutboundMessage]) -> list[int]:
    return [message.pk for message in messages]


def _stored(messages: list[OutboundMessage]) -> list[OutboundMessage]:
    return list(OutboundMessage.objects.filter(pk__in=_ids(messages)).order_by("pk"))


def test_a_batch_sends_each_message_once_in_four_statements(
    messages: list[OutboundMessage],
    http_sms: GatewayStandIn,
    daytime: dt.datetime,
    django_assert_num_queries: Any,
) -> None:
    # One read for the batch, then for its group: the claim, the record, the receipt lookup.
    with django_assert_num_queries(4):
        results = messages_deliver(message_ids=_ids(messages), now=daytime)
    assert {result.status for result in results.values()} == {Status.SENT}
    assert all(result.retry_in is None for result in results.values())
    sent = {message["tags"]: message["id"] for message in http_sms.messages}
    assert len(sent) == 5 and http_sms.posts == 5
    for stored in _stored(messages):
        assert stored.status == Status.SENT and stored.attempts == 1
        assert (
            stored.provider == "http" and stored.provider_message_id == sent[str(stored.retry_key)]
        )
        assert stored.sent_at is not None and stored.attempt_started_at == daytime


def test_a_redelivered_batch_sends_nothing_twice(
    messages: list[OutboundMessage], http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    messages_deliver(message_ids=_ids(messages), now=daytime)
    # The worker died after the sends, before the broker heard the ack: the batch comes again.
    again = messages_deliver(message_ids=_ids(messages), now=daytime)
    assert {result.status for result in again.values()} == {Status.SENT}
    assert http_sms.posts == 5 and len(http_sms.messages) == 5


def test_a_batch_skips_what_another_delivery_claimed_since_its_read(
    messages: list[OutboundMessage], http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    # The sweep (or a redelivered single task) sends the second message between the batch's
    # read and its claim.
    take_capacity = SmsTransport.take_capacity
    other: list[str] = []

    def the_other_delivery_first(
        self: SmsTransport, message: OutboundMessage, count: int = 1
    ) -> int:
        if not other:
            other.append("running")
            other[0] = message_deliver(message_id=messages[1].pk, now=daytime).status
        return take_capacity(self, message, count)

    with mock.patch.object(SmsTransport, "take_capacity", the_other_delivery_first):
        results = messages_deliver(message_ids=_ids(messages), now=daytime)
    assert other == [Status.SENT]
    assert results[messages[1].pk].status == Status.SENDING
    assert results[messages[1].pk].retry_in is None
    assert http_sms.posts == 5 and len({m["tags"] for m in http_sms.messages}) == 5
    assert [stored.attempts for stored in _stored(messages)] == [1] * 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_batches_send_each_message_once(
    messages: list[OutboundMessage], http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    from tests.racing import race

    ids = _ids(messages)
    outcomes = race(
        [lambda: messages_deliver(message_ids=ids, now=daytime)] * 4
        + [lambda: message_deliver(message_id=ids[2], now=daytime)] * 2
    )
    assert http_sms.posts == 5 and len({m["tags"] for m in http_sms.messages}) == 5
    assert all(
        stored.status == Status.SENT and stored.attempts == 1 for stored in _stored(messages)
    )
    assert [o for o in outcomes if isinstance(o, BaseException)] == []


def test_failures_in_a_batch_are_each_their_own(
    messages: list[OutboundMessage], http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    http_sms.script(["ok", "503", "500", "ok", "ok"])
    results = messages_deliver(message_ids=_ids(messages), now=daytime)
    statuses = [results[pk].status for pk in _ids(messages)]
    assert statuses == [Status.SENT, Status.QUEUED, Status.UNKNOWN, Status.SENT, Status.SENT]
    assert results[messages[1].pk].retry_in is not None
    assert results[messages[2].pk].retry_in is not None
    stored = _stored(messages)
    assert [m.status for m in stored] == statuses
    assert stored[1].provider_message_id == "" and stored[2].provider_message_id == ""
    # Again: the transient one is sent, the ambiguous one is looked up first and sent once.
    again = messages_deliver(message_ids=_ids(messages), now=daytime)
    assert {result.status for result in again.values()} == {Status.SENT}
    assert len(http_sms.messages) == 5 and len({m["tags"] for m in http_sms.messages}) == 5


def test_the_rate_limit_lets_part_of_a_batch_go(
    settings: Any, messages: list[OutboundMessage], http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    from channels.sms import ratelimit

    settings.SMS_RATE_LIMIT_PER_SECOND = 0.01  # one message per 100 s, after a burst of two
    settings.SMS_RATE_LIMIT_BURST = 2
    ratelimit._local_bucket.cache_clear()
    try:
        results = messages_deliver(message_ids=_ids(messages), now=daytime)
    finally:
        ratelimit._local_bucket.cache_clear()
    assert http_sms.posts == 2
    waiting = [results[pk] for pk in _ids(messages)[2:]]
    assert all(r.status == Status.QUEUED and r.retry_in and r.retry_in > 50 for r in waiting)
    # Never claimed: no attempt counted, nothing for the sweep to look up.
    for stored in _stored(messages)[2:]:
        assert stored.status == Status.QUEUED and stored.attempts == 0
        assert stored.attempt_started_at is None


def test_a_batch_past_its_deadline_hands_the_rest_back(
    messages: list[OutboundMessage], http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    results = messages_deliver(
        message_ids=_ids(messages), now=daytime, deadline=time.monotonic() - 1
    )
    assert {(r.status, r.retry_in) for r in results.values()} == {(Status.QUEUED, 0.0)}
    assert http_sms.posts == 0
    assert {stored.status for stored in _stored(messages)} == {Status.QUEUED}


def test_a_group_whose_sends_ran_long_gives_its_unsent_claims_back_untried(
    messages: list[OutboundMessage],
    http_sms: GatewayStandIn,
    daytime: dt.datetime,
    settings: Any,
) -> None:
    """A claim older than the stale limit minus one attempt would soon look cut short to the
    sweep; the batch gives such claims back (attempt count as before) instead of sending."""
    # No time at all left after a claim: every claimed message is given back.
    settings.NOTIFY_SENDING_STALE_SECONDS = settings.NOTIFY_ATTEMPT_MAX_SECONDS
    results = messages_deliver(message_ids=_ids(messages), now=daytime)
    assert {(r.status, r.retry_in) for r in results.values()} == {(Status.QUEUED, 0.0)}
    assert http_sms.posts == 0
    assert {(m.status, m.attempts) for m in _stored(messages)} == {(Status.QUEUED, 0)}


def test_a_batch_reports_missing_messages(
    messages: list[OutboundMessage], http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    results = messages_deliver(message_ids=[messages[0].pk, 10**9], now=daytime)
    assert results[10**9].status == "missing" and results[messages[0].pk].status == Status.SENT


def test_deliveries_are_handed_over_in_batches(
    monkeypatch: pytest.MonkeyPatch,
    messages: list[OutboundMessage],
    http_sms: GatewayStandIn,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(tasks, "MESSAGES_PER_TASK", 2)
    published: list[list[int]] = []

    def record(message_ids: list[int]) -> Any:
        published.append(message_ids)
        # Run here, as a worker would, whether or not the test run has a broker.
        return tasks.deliver_messages_task.apply(args=(message_ids,))

    monkeypatch.setattr(tasks.deliver_messages_task, "delay", record)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        tasks.enqueue_deliveries(_ids(messages))
    ids = _ids(messages)
    assert len(callbacks) == 3 and published == [ids[0:2], ids[2:4], ids[4:]]
    assert {stored.status for stored in _stored(messages)} == {Status.SENT}
    assert all(stored.enqueued_at is not None for stored in _stored(messages))
    assert http_sms.posts == 5
