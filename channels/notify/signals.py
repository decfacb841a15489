"""Wiring: committed ReservationEvents become messages; a stored SMS receipt is applied; the end
of an automated call moves its message on."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from channels.sms.models import SmsReceipt
from channels.voice.models import VoiceCall
from reservations.models import ReservationEvent


def on_events_recorded(sender: Any, events: list[ReservationEvent], **kwargs: Any) -> None:
    """The core wrote these events (reservations.signals.events_recorded), each with its outbox
    flag set (relay_pending). With NOTIFY_HANDOFF "relay" there is nothing to do here: the
    relay process finds them after the commit, and the booking pays for no broker round trip.
    With "on_commit" (the embedded default, no relay process), this process runs the relay for
    exactly these events once they commit (channels.notify.relay)."""
    if settings.NOTIFY_HANDOFF != "on_commit":
        return
    from channels.notify.relay import events_relay

    event_ids = [event.pk for event in events]
    # After commit only: a rolled-back booking must not be announced. If the process dies
    # before this runs, the events stay pending for the sweep's relay pass. robust: a failed
    # hand-over (a broker outage, an SMS error in-process) must not turn a committed booking
    # into an error page; it leaves the events pending, or their messages to the sweep.
    transaction.on_commit(
        lambda: events_relay(batch=len(event_ids), event_ids=event_ids), robust=True
    )


def on_receipt_recorded(sender: Any, receipt: SmsReceipt, **kwargs: Any) -> None:
    from channels.notify.delivery import receipt_apply

    receipt_apply(receipt=receipt)


def on_call_finished(sender: Any, call: VoiceCall, **kwargs: Any) -> None:
    """channels.voice.signals.call_finished: inside the transaction that records the call's
    end, so the message's next state is committed with it (or not at all)."""
    from channels.notify.voice import voice_call_finished

    voice_call_finished(call=call)
