"""The cancellation of an operating day and its broadcast to everyone booked on it (a typhoon):
staff prepare it (`broadcast_create`), a second member of staff approves it, which cancels the
day (`broadcast_approve`); the messages are made for the day's cancellation events
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
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from channels.notify.models import Broadcast, OutboundMessage
from channels.notify.outbox import deliverable_ids, messages_create_for_event
from channels.notify.transports import TRANSPORTS
from reservations.exceptions import PermissionDenied, ReservationError
from reservations.models import Actor, Channel, OperatingDay, ReservationEvent
from reservations.services.booking import Requester
from reservations.services.days import operating_day_cancel

if TYPE_CHECKING:
    from django.contrib.auth.models import User

Message = OutboundMessage
Status = OutboundMessage.Status
Kind = ReservationEvent.Kind


class SecondApproverRequired(ReservationError):
    code = "second_approver_required"
    default_message = _("作成者とは別の職員が承認してください。")


def broadcast_create(
    *, operating_day: OperatingDay, user: User, send_in_quiet_hours: bool = False
) -> Broadcast:
    """Prepare the cancellation of an operating day; nothing happens until approved."""
    if not user.has_perm("notify.add_broadcast"):
        raise PermissionDenied()
    existing = Broadcast.objects.filter(operating_day=operating_day).first()
    if existing is not None:
        return existing
    return Broadcast.objects.create(
        operating_day=operating_day, created_by=user, send_in_quiet_hours=send_in_quiet_hours
    )


def broadcast_approve(
    *, broadcast: Broadcast, user: User, now: dt.datetime | None = None
) -> Broadcast:
    """A second member of staff approves: the day is cancelled and every resident booked on it
    is told. Approving again (or twice at once) changes nothing."""
    if not user.has_perm("notify.approve_broadcast"):
        raise PermissionDenied()
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the broadcast: two approvals at once must cancel the day once.
        current = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if current.status != Broadcast.Status.DRAFT:
            return current
        if current.created_by_id == user.pk:
            raise SecondApproverRequired()
        cancelled = operating_day_cancel(
            operating_day=current.operating_day,
            # Staff act for the municipality from the admin; the event records who approved.
            requester=Requester(channel=Channel.PHONE, actor=Actor.OPERATOR, user=user),
            now=now,
            broadcast=current.pk,
        )
        current.status = Broadcast.Status.SENDING
        current.approved_by = user
        current.approved_at = now
        current.cancelled_reservations = len(cancelled)
        current.save()
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
