"""Writes of the LINE channel: storing webhook events once, and processing them in order.

Bookings are never written here: the conversation calls the core services for that.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone, translation
from linebot.v3.messaging import Message
from linebot.v3.webhooks import (
    Event,
    EventMode,
    FollowEvent,
    MessageEvent,
    PostbackEvent,
    UnfollowEvent,
    UserSource,
)

from channels.line import messages as m
from channels.line.conversation import conversation_handle
from channels.line.models import LineAccount, LineWebhookEvent
from channels.line.outbound import LinePushError, LinePushRetryable, line_push, line_reply

logger = logging.getLogger(__name__)

# The LINE console's "Verify" button used to send a dummy event from this user.
CONSOLE_VERIFY_USER_ID = "Udeadbeefdeadbeefdeadbeefdeadbeef"
# The event types the chat acts on; every other type is acknowledged and dropped.
HANDLED_EVENTS = (FollowEvent, UnfollowEvent, MessageEvent, PostbackEvent)


def line_events_store(*, events: list[Event]) -> list[int]:
    """Store each event we act on once, by webhookEventId; return the ids of new rows.

    Standby-mode events (another module owns the chat), group chats and unknown types are
    dropped. A redelivered event finds its row already there and is not stored again.
    """
    rows: list[tuple[Any, ...]] = []
    for event in events:
        if not isinstance(event, HANDLED_EVENTS) or event.mode != EventMode.ACTIVE:
            continue
        if not isinstance(event.source, UserSource) or not event.source.user_id:
            continue
        if event.source.user_id == CONSOLE_VERIFY_USER_ID:
            continue
        redelivery = bool(event.delivery_context and event.delivery_context.is_redelivery)
        rows.append(
            (
                event.webhook_event_id,
                event.source.user_id,
                event.type,
                event.timestamp,
                redelivery,
                event.to_json(),
                timezone.now(),
            )
        )
    if not rows:
        return []
    return _insert_new(rows)


def _insert_new(rows: list[tuple[Any, ...]]) -> list[int]:
    """One INSERT … ON CONFLICT DO NOTHING RETURNING: the unique webhookEventId decides, in
    the database, which events are new, with no read first and no race between redeliveries
    arriving together. (PostgreSQL and SQLite ≥ 3.35 both support it; get_or_create needs
    four statements per event, and this runs on every webhook request.)"""
    table = connection.ops.quote_name(LineWebhookEvent._meta.db_table)
    columns = ", ".join(
        connection.ops.quote_name(name)
        for name in (
            "webhook_event_id",
            "line_user_id",
            "event_type",
            "sent_at_ms",
            "is_redelivery",
            "payload",
            "received_at",
        )
    )
    placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(rows))
    params: list[Any] = [
        connection.ops.adapt_datetimefield_value(value) if isinstance(value, dt.datetime) else value
        for row in rows
        for value in row
    ]
    conflict = connection.ops.quote_name("webhook_event_id")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES {placeholders} "  # noqa: S608 - names from the model, values as parameters
            f"ON CONFLICT ({conflict}) DO NOTHING RETURNING id",
            params,
        )
        return sorted(int(row[0]) for row in cursor.fetchall())


@dataclass(frozen=True)
class Outgoing:
    """What one handled event sends back, decided inside the transaction, sent after it."""

    webhook_event_id: str
    line_user_id: str
    reply_token: str | None
    reply_token_fresh: bool
    messages: list[Message]


def _reply_token_fresh(row: LineWebhookEvent, now: dt.datetime) -> bool:
    if row.is_redelivery:
        # A redelivered event's token is probably spent or stale: push instead.
        return False
    age_seconds = now.timestamp() - row.sent_at_ms / 1000
    return age_seconds < settings.LINE_REPLY_TOKEN_MAX_AGE_SECONDS


def _handle_one(account: LineAccount, row: LineWebhookEvent, now: dt.datetime) -> Outgoing:
    event = Event.from_json(row.payload)
    try:
        # A savepoint: a bug in one event rolls back only its own writes, and the event is
        # still marked handled, so it cannot block this person's later messages forever.
        with transaction.atomic():
            replies = conversation_handle(account=account, event=event, now=now)
            account.save()
    except Exception:
        logger.exception("LINE event %s failed", row.webhook_event_id)
        account.refresh_from_db()
        replies = [m.with_menu(m.sorry_text())]
    row.processed_at = now
    row.save(update_fields=["processed_at"])
    return Outgoing(
        webhook_event_id=row.webhook_event_id,
        line_user_id=row.line_user_id,
        reply_token=getattr(event, "reply_token", None),
        reply_token_fresh=_reply_token_fresh(row, now),
        messages=replies[:5],
    )


def _next_pending(line_user_id: str) -> Outgoing | None:
    now = timezone.now()
    with transaction.atomic():
        account, _created = LineAccount.objects.get_or_create(line_user_id=line_user_id)
        # The per-user lock: one person's events are handled one at a time, oldest first, even
        # when several workers got tasks for them. (SQLite: IMMEDIATE already serialises.)
        account = LineAccount.objects.select_for_update().get(pk=account.pk)
        row = (
            LineWebhookEvent.objects.filter(line_user_id=line_user_id, processed_at__isnull=True)
            .order_by("sent_at_ms", "pk")
            .first()
        )
        if row is None:
            return None
        return _handle_one(account, row, now)


class PushLater(Protocol):
    """Queues a push LINE could not take now, to be retried with the same retry key.

    The caller supplies it (the Celery task passes `line_push_task.delay`) instead of this
    module importing `channels.line.tasks`: that module imports this one to run the chat, so
    importing it back would be a cycle, and the writes here stay free of the task queue.
    """

    def __call__(self, *, to: str, messages: list[dict[str, Any]], retry_key: str) -> object: ...


def retry_key_for(webhook_event_id: str) -> str:
    """The same event always pushes with the same key, so a re-run never delivers twice."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"line-webhook-event:{webhook_event_id}"))


def line_outgoing_send(outgoing: Outgoing, *, push_later: PushLater) -> None:
    """Reply while the token is fresh, else push with a retry key derived from the event."""
    if not outgoing.messages:
        return
    if (
        outgoing.reply_token
        and outgoing.reply_token_fresh
        and line_reply(reply_token=outgoing.reply_token, messages=outgoing.messages)
    ):
        return
    key = retry_key_for(outgoing.webhook_event_id)
    try:
        line_push(to=outgoing.line_user_id, messages=outgoing.messages, retry_key=key)
    except LinePushRetryable:
        try:
            push_later(
                to=outgoing.line_user_id,
                messages=[message.to_dict() for message in outgoing.messages],
                retry_key=key,
            )
        except Exception:
            # In-process (no broker) the retries run here and may all fail; the event is
            # handled either way, and LINE must still get its 200.
            logger.exception("LINE answer to %s could not be delivered", outgoing.webhook_event_id)
    except LinePushError:
        logger.exception("LINE refused the answer to %s", outgoing.webhook_event_id)


def line_events_process(*, line_user_id: str, push_later: PushLater) -> int:
    """Handle every stored, unhandled event of one LINE user in order; return how many.

    Each event commits on its own (with its conversation step) before its answer is sent,
    so the lock is never held during a call to LINE.
    """
    handled = 0
    while True:
        # The chat speaks the site's language whatever the request that ran this (in-process
        # mode) asked for: LINE's servers send no meaningful Accept-Language.
        with translation.override(settings.LANGUAGE_CODE):
            outgoing = _next_pending(line_user_id)
        if outgoing is None:
            return handled
        handled += 1
        line_outgoing_send(outgoing, push_later=push_later)
