"""The notice of a cancelled operating day, told to everyone booked on it (a typhoon). The
cancellation and its four-eyes approval are the core's (`reservations.services.days`): staff
prepare a notice (`broadcast_create`, which asks for the cancellation), a second member of
staff approves it (`broadcast_approve`, which has the core cancel the day, each event carrying
the notice's id); the messages are made for those cancellation events
(`broadcast_messages_create`, also how a broadcast resumes after a crash), the sweep marks it
done when nothing is left to send (`_broadcasts_finish`), and `broadcast_progress` counts for
the staff screen. The messages themselves are made by `channels.notify.outbox` and sent by
`channels.notify.delivery`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Count

from channels.notify.models import Broadcast, OutboundMessage
from channels.notify.outbox import deliverable_ids, messages_create_for_event
from channels.notify.transports import TRANSPORTS
from reservations.exceptions import PermissionDenied, SecondApproverRequired
from reservations.models import OperatingDay, ReservationEvent
from reservations.services.days import operating_day_cancel_approve, operating_day_cancel_request

if TYPE_CHECKING:
    from django.contrib.auth.models import User

Message = OutboundMessage
Status = OutboundMessage.Status
Kind = ReservationEvent.Kind


def broadcast_create(
    *, operating_day: OperatingDay, user: User, send_in_quiet_hours: bool = False
) -> Broadcast:
    """Prepare the notice, and with it ask for the day's cancellation; nothing happens until a
    second member of staff approves. Preparing it again returns the one already prepared."""
    if not user.has_perm("notify.add_broadcast"):
        raise PermissionDenied()
    with transaction.atomic():
        cancellation = operating_day_cancel_request(operating_day=operating_day, user=user)
        broadcast, _created = Broadcast.objects.get_or_create(
            cancellation=cancellation, defaults={"send_in_quiet_hours": send_in_quiet_hours}
        )
    return broadcast


def broadcast_approve(
    *, broadcast: Broadcast, user: User, now: dt.datetime | None = None
) -> Broadcast:
    """A second member of staff approves: the core cancels the day, and every resident booked
    on it is told. Approving again (or twice at once) changes nothing."""
    if not user.has_perm("notify.approve_broadcast"):
        raise PermissionDenied()
    with transaction.atomic():
        # Lock the notice: two approvals at once must start it once (the core locks the
        # cancellation for the same reason).
        current = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if current.status != Broadcast.Status.DRAFT:
            return current
        operating_day_cancel_approve(
            cancellation=current.cancellation, user=user, now=now, broadcast=current.pk
        )
        current.status = Broadcast.Status.SENDING
        current.save(update_fields=["status"])
        current.cancellation.refresh_from_db()
    return current


def broadcast_messages_create(*, broadcast: Broadcast, now: dt.datetime | None = None) -> list[int]:
    """Create any missing message for the broadcast's events; returns ids to deliver. This is
    also how a broadcast resumes after a crash: existing messages are reused, never copied."""
    events = ReservationEvent.objects.filter(
        kind=Kind.CANCELLED, data__broadcast=broadcast.pk
    ).order_by("pk")
    to_deliver: list[int] = []
    for event_id in events.values_list("pk", flat=True):
        to_deliver += deliverable_ids(messages_create_for_event(event_id=event_id, now=now))
    return to_deliver


def _broadcasts_finish() -> None:
    for broadcast in Broadcast.objects.filter(status=Broadcast.Status.SENDING):
        pending = broadcast.messages.filter(
            channel__in=list(TRANSPORTS), status__in=[Status.QUEUED, Status.SENDING, Status.UNKNOWN]
        ) | broadcast.messages.filter(
            # A call placed is not a call heard: it may still ring, or be called again after
            # busy or no answer (channels.notify.voice), until its end says delivered or not.
            channel=Message.Channel.VOICE,
            status=Status.SENT,
        )
        events = ReservationEvent.objects.filter(kind=Kind.CANCELLED, data__broadcast=broadcast.pk)
        if not pending.exists() and broadcast.messages.count() >= events.count():
            Broadcast.objects.filter(pk=broadcast.pk).update(status=Broadcast.Status.DONE)


def broadcast_progress(*, broadcast: Broadcast) -> dict[str, int]:
    """Counts for the staff screen: recipients, and messages by channel and status."""
    counts: dict[str, int] = {
        "recipients": ReservationEvent.objects.filter(
            kind=Kind.CANCELLED, data__broadcast=broadcast.pk
        ).count()
    }
    rows = broadcast.messages.values("channel", "status").annotate(n=Count("pk"))
    for row in rows:
        counts[f"{row['channel']}:{row['status']}"] = row["n"]
    counts["sent"] = broadcast.messages.filter(
        channel__in=list(TRANSPORTS), status__in=[Status.SENT, Status.DELIVERED]
    ).count()
    counts["to_call"] = broadcast.messages.filter(
        channel=Message.Channel.CALL_LIST, status=Status.QUEUED
    ).count()
    return counts


__all__ = [
    "SecondApproverRequired",
    "broadcast_approve",
    "broadcast_create",
    "broadcast_messages_create",
    "broadcast_progress",
]
