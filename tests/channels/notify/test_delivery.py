"""The delivery state machine against the stand-in gateway: nothing lost, nothing twice."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from unittest import mock

import pytest
from django.test import Client

from channels.notify.delivery import message_deliver, messages_sweep
from channels.notify.models import OutboundMessage
from channels.notify.outbox import messages_create_for_event
from channels.notify.transports import SmsTransport
from reservations.models import Reservation, ReservationEvent
from reservations.services.contact import resident_contact_update
from tests.channels.notify.conftest import last_event
from tests.channels.sms.standin import GatewayStandIn
from tests.racing import race
from tests.world import World, jst

Status = OutboundMessage.Status


@pytest.fixture
def message(booked: Reservation, now: dt.datetime, http_sms: GatewayStandIn) -> OutboundMessage:
    [created] = messages_create_for_event(
        event_id=last_event(booked, ReservationEvent.Kind.BOOKED).pk, now=now
    )
    return created


def _reload(message: OutboundMessage) -> OutboundMessage:
    return OutboundMessage.objects.get(pk=message.pk)


def test_sent_once(
    message: OutboundMessage, http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    result = message_deliver(message_id=message.pk, now=daytime)
    assert result.status == Status.SENT and result.retry_in is None
    [sent] = http_sms.messages
    stored = _reload(message)
    assert stored.provider == "http" and stored.provider_message_id == sent["id"]
    assert sent["tags"] == str(stored.retry_key) and sent["body"] == stored.body
    assert stored.attempts == 1
    # A redelivered task finds it sent and does nothing.
    assert message_deliver(message_id=message.pk, now=daytime).status == Status.SENT
    assert http_sms.posts == 1


def test_a_send_costs_four_statements(
    message: OutboundMessage,
    http_sms: GatewayStandIn,
    daytime: dt.datetime,
    django_assert_num_queries: Any,
) -> None:
    # The hot path of the reminder fan-out: read the message with what the checks need, claim
    # it (counting the attempt), record the provider's id, look for an early receipt.
    with django_assert_num_queries(4):
        assert message_deliver(message_id=message.pk, now=daytime).status == Status.SENT


def test_a_delivery_that_loses_the_claim_sends_nothing(
    message: OutboundMessage, http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    # Two deliveries of the same message (a redelivered task and the sweep) read it queued;
    # the other one claims and sends it between our read and our claim.
    take_capacity = SmsTransport.take_capacity
    other: list[str] = []

    def the_other_delivery_first(self: SmsTransport, message: OutboundMessage) -> None:
        if not other:  # only in our delivery, not again in the other one's
            other.append("running")
            other[0] = message_deliver(message_id=message.pk, now=daytime).status
        take_capacity(self, message)

    with mock.patch.object(SmsTransport, "take_capacity", the_other_delivery_first):
        ours = message_deliver(message_id=message.pk, now=daytime)
    assert other == [Status.SENT]
    assert ours.status == Status.SENDING and ours.retry_in is None
    assert http_sms.posts == 1 and _reload(message).attempts == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_deliveries_send_once(
    message: OutboundMessage, http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    results = race([lambda: message_deliver(message_id=message.pk, now=daytime).status] * 8)
    assert http_sms.posts == 1 and len(http_sms.messages) == 1
    assert results.count(Status.SENT) >= 1 and set(results) <= {Status.SENT, Status.SENDING}
    stored = _reload(message)
    assert stored.status == Status.SENT and stored.attempts == 1


def test_fails_twice_then_succeeds(
    message: OutboundMessage, http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    http_sms.script(["503", "429:7", "ok"])
    first = message_deliver(message_id=message.pk, now=daytime)
    assert first.status == Status.QUEUED and first.retry_in is not None
    second = message_deliver(message_id=message.pk, now=daytime)
    assert second.retry_in is not None and second.retry_in >= 7  # Retry-After honoured
    assert message_deliver(message_id=message.pk, now=daytime).status == Status.SENT
    assert len(http_sms.messages) == 1
    assert _reload(message).attempts == 3


def test_backoff_grows_with_jitter(
    settings: Any, message: OutboundMessage, http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    settings.SMS_RETRY_BACKOFF_SECONDS = 10
    http_sms.script(["503"] * 3)
    waits = [message_deliver(message_id=message.pk, now=daytime).retry_in for _ in range(3)]
    assert 5 <= waits[0] <= 10 and 10 <= waits[1] <= 20 and 20 <= waits[2] <= 40  # type: ignore[operator]


def test_server_error_is_checked_before_resending(
    message: OutboundMessage, http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    http_sms.script(["500"])
    assert message_deliver(message_id=message.pk, now=daytime).status == Status.UNKNOWN
    assert message_deliver(message_id=message.pk, now=daytime).status == Status.SENT
    assert len(http_sms.messages) == 1


def test_lost_answer_is_not_sent_twice(
    settings: Any, message: OutboundMessage, http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    settings.SMS_HTTP_READ_TIMEOUT = 0.3
    http_sms.script(["accept_hang:1"])
    assert message_deliver(message_id=message.pk, now=daytime).status == Status.UNKNOWN
    assert message_deliver(message_id=message.pk, now=daytime).status == Status.SENT
    assert http_sms.posts == 1 and len(http_sms.messages) == 1
    assert _reload(message).provider_message_id == http_sms.messages[0]["id"]


def test_attempt_cut_short_by_a_crash(
    message: OutboundMessage, http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    # The worker died after the gateway took the message but before we wrote it down.
    from channels.sms.backends import OutboundSms, get_backend

    get_backend().send(OutboundSms(str(message.retry_key), message.address, message.body))
    started = daytime - dt.timedelta(minutes=10)
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=Status.SENDING, attempt_started_at=started
    )
    # Still within the stale limit: someone may be sending it right now.
    assert (
        message_deliver(message_id=message.pk, now=started + dt.timedelta(seconds=5)).status
        == Status.SENDING
    )
    assert message_deliver(message_id=message.pk, now=daytime).status == Status.SENT
    assert http_sms.posts == 1


def test_sweep_finds_stale_attempts(message: OutboundMessage, http_sms: GatewayStandIn) -> None:
    from django.utils import timezone

    OutboundMessage.objects.filter(pk=message.pk).update(
        status=Status.SENDING,
        attempt_started_at=timezone.now() - dt.timedelta(hours=1),
        enqueued_at=timezone.now(),
    )
    assert messages_sweep().to_deliver == [message.pk]


def test_permanent_failure_goes_to_the_phone_list(
    settings: Any, message: OutboundMessage, http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    settings.SMS_HTTP_TOKEN = "revoked"
    assert message_deliver(message_id=message.pk, now=daytime).status == Status.FAILED
    call = OutboundMessage.objects.get(event=message.event, channel="call_list")
    assert call.call_reason == "sms_failed" and call.status == Status.QUEUED
    assert call.body == message.body


def test_gives_up_after_max_attempts(
    settings: Any, message: OutboundMessage, http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    settings.SMS_MAX_ATTEMPTS = 2
    http_sms.script(["503", "503", "ok"])
    message_deliver(message_id=message.pk, now=daytime)
    assert message_deliver(message_id=message.pk, now=daytime).status == Status.FAILED
    assert OutboundMessage.objects.filter(event=message.event, channel="call_list").exists()
    assert http_sms.messages == []


def test_opt_out_before_sending_stops_the_sms(
    world: World, message: OutboundMessage, http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    resident_contact_update(resident=message.resident, sms_consent=False, requester=world.web)
    assert message_deliver(message_id=message.pk, now=daytime).status == Status.CANCELLED
    assert http_sms.posts == 0
    call = OutboundMessage.objects.get(event=message.event, channel="call_list")
    assert call.call_reason == "no_consent"


def test_a_message_made_before_a_change_of_number_goes_to_the_new_number(
    world: World, message: OutboundMessage, http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    old_number = message.address
    resident_contact_update(resident=message.resident, phone="080-9999-0001", requester=world.web)
    assert message_deliver(message_id=message.pk, now=daytime).status == Status.SENT
    [sent] = http_sms.messages
    assert sent["to"] == "08099990001"  # the gateway's national notation
    assert _reload(message).address == "+818099990001" != old_number


def test_a_message_that_may_have_reached_the_old_number_is_not_readdressed(
    world: World, message: OutboundMessage, http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    # An attempt whose answer was lost: it is checked with the provider, not sent elsewhere.
    old_number = message.address
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=Status.UNKNOWN, attempts=1, attempt_started_at=daytime
    )
    resident_contact_update(resident=message.resident, phone="080-9999-0001", requester=world.web)
    message_deliver(message_id=message.pk, now=daytime + dt.timedelta(minutes=10))
    assert _reload(message).address == old_number
    assert all(sent["to"] != "08099990001" for sent in http_sms.messages)


def test_confirmation_goes_at_night_reminder_waits(
    message: OutboundMessage, http_sms: GatewayStandIn
) -> None:
    night = jst(2026, 11, 2, 22, 30)
    assert message_deliver(message_id=message.pk, now=night).status == Status.SENT


def test_rate_limit_throttles_without_counting_an_attempt(
    settings: Any, message: OutboundMessage, http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    from channels.sms import ratelimit

    settings.SMS_RATE_LIMIT_PER_SECOND = 0.01  # one message per 100 s
    settings.SMS_RATE_LIMIT_BURST = 1
    ratelimit._local_bucket.cache_clear()
    ratelimit.take_token("http")  # someone else just used the only token
    result = message_deliver(message_id=message.pk, now=daytime)
    assert result.status == Status.QUEUED and result.retry_in is not None and result.retry_in > 50
    stored = _reload(message)
    assert http_sms.posts == 0 and stored.attempts == 0
    assert stored.status == Status.QUEUED and stored.attempt_started_at is None  # never claimed
    ratelimit._local_bucket.cache_clear()


# --- receipts ---------------------------------------------------------------------------------


def _receipt(client: Client, provider_id: str, status: str, sent_result: str) -> None:
    response = client.post(
        "/sms/receipts/http/",
        data=json.dumps({"id": provider_id, "status": status, "sent_result": sent_result}),
        content_type="application/json",
        headers={"Authorization": "Bearer receipt-secret"},
    )
    assert response.status_code == 200


def test_receipts_only_move_forward(
    client: Client, message: OutboundMessage, http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    message_deliver(message_id=message.pk, now=daytime)
    provider_id = _reload(message).provider_message_id
    _receipt(client, provider_id, "done", "received")
    _receipt(client, provider_id, "done", "received")  # the provider retried
    _receipt(client, provider_id, "waiting", "")  # an older one, late
    assert _reload(message).status == Status.DELIVERED
    assert not OutboundMessage.objects.filter(channel="call_list").exists()


def test_undeliverable_receipt_puts_resident_on_phone_list(
    client: Client, message: OutboundMessage, http_sms: GatewayStandIn, daytime: dt.datetime
) -> None:
    message_deliver(message_id=message.pk, now=daytime)
    _receipt(client, _reload(message).provider_message_id, "done", "unconnected")
    assert _reload(message).status == Status.UNDELIVERABLE
    call = OutboundMessage.objects.get(channel="call_list")
    assert call.call_reason == "undeliverable"


def test_receipt_before_we_recorded_the_send(
    settings: Any,
    client: Client,
    message: OutboundMessage,
    http_sms: GatewayStandIn,
    daytime: dt.datetime,
) -> None:
    settings.SMS_HTTP_READ_TIMEOUT = 0.3
    http_sms.script(["accept_hang:1"])
    message_deliver(message_id=message.pk, now=daytime)  # answer lost: unknown
    _receipt(client, http_sms.messages[0]["id"], "done", "received")
    assert _reload(message).status == Status.UNKNOWN
    message_deliver(message_id=message.pk, now=daytime)  # finds it, applies the receipt
    assert _reload(message).status == Status.DELIVERED
