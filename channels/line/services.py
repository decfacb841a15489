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
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from linebot.v3.messaging import Message
from linebot.v3.webhooks import Event, UnsendEvent

from channels.line import messages as m
from channels.line.client import credentials_for
from channels.line.conversation import conversation_handle
from channels.line.models import LineAccount, LineWebhookEvent, SimulatorDelivery
from channels.line.outbound import LinePushError, LinePushRetryable, line_push, line_reply
from channels.line.payloads import IncomingEvent

logger = logging.getLogger(__name__)

# The LINE console's "Verify" button used to send a dummy event from this user.
CONSOLE_VERIFY_USER_ID = "Udeadbeefdeadbeefdeadbeefdeadbeef"


def line_events_store(
    *, events: list[IncomingEvent], official_account_id: int | None = None
) -> list[int]:
    """Store each event once, by webhookEventId; return the ids of new rows.

    `official_account_id` is the account whose webhook received them (None: the settings').

    `events` come from `payloads.webhook_events_read`, which keeps only the types the chat acts
    on, in active mode, from one-to-one chats, with ids and timestamps the columns take. A
    redelivered event finds its row already there and is not stored again. An unsend empties
    the stored message at once, before any worker runs.
    """
    now = timezone.now()
    rows: list[tuple[Any, ...]] = []
    taken_back: set[tuple[str, str]] = set()
    for incoming in events:
        event = incoming.event
        if incoming.line_user_id == CONSOLE_VERIFY_USER_ID:
            continue
        redelivery = bool(event.delivery_context and event.delivery_context.is_redelivery)
        rows.append(
            (
                incoming.webhook_event_id,
                official_account_id,
                incoming.line_user_id,
                event.type,
                event.timestamp,
                redelivery,
                event.to_json(),
                incoming.message_id,
                now,
            )
        )
        # A message redelivered after its unsend (its first delivery failed) must not bring
        # the taken-back words back into the database.
        if isinstance(event, UnsendEvent) or (redelivery and incoming.message_id):
            taken_back.add((incoming.line_user_id, incoming.message_id))
    if not rows:
        return []
    new_ids = _insert_new(rows)
    if taken_back:
        _unsent_messages_forget(pairs=taken_back, now=now)
    return new_ids


def _unsent_messages_forget(*, pairs: set[tuple[str, str]], now: dt.datetime) -> int:
    """Empty the stored content of every message among `pairs` that its sender unsent.

    Only the row's bare facts stay (who, when, that it was unsent). A message not yet handled
    is marked handled: the resident took it back, so the chat does not answer it.
    """
    candidates = Q()
    for line_user_id, message_id in pairs:
        candidates |= Q(line_user_id=line_user_id, message_id=message_id)
    unsent = Q()
    for line_user_id, message_id in LineWebhookEvent.objects.filter(
        candidates, event_type="unsend"
    ).values_list("line_user_id", "message_id"):
        unsent |= Q(line_user_id=line_user_id, message_id=message_id)
    if not unsent:
        return 0
    return LineWebhookEvent.objects.filter(
        unsent, event_type="message", unsent_at__isnull=True
    ).update(payload="", unsent_at=now, processed_at=Coalesce("processed_at", Value(now)))


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
            "official_account_id",
            "line_user_id",
            "event_type",
            "sent_at_ms",
            "is_redelivery",
            "payload",
            "message_id",
            "received_at",
        )
    )
    placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
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
    # The account the event came to, which answers it (None: the settings' account).
    official_account_id: int | None
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
        official_account_id=row.official_account_id,
        line_user_id=row.line_user_id,
        reply_token=getattr(event, "reply_token", None),
        reply_token_fresh=_reply_token_fresh(row, now),
        messages=replies[:5],
    )


def _next_pending(line_user_id: str, official_account_id: int | None) -> Outgoing | None:
    now = timezone.now()
    with transaction.atomic():
        account, _created = LineAccount.objects.get_or_create(
            line_user_id=line_user_id, official_account_id=official_account_id
        )
        # The per-user lock: one person's events are handled one at a time, oldest first, even
        # when several workers got tasks for them. (SQLite: IMMEDIATE already serialises.)
        account = LineAccount.objects.select_for_update().get(pk=account.pk)
        row = (
            LineWebhookEvent.objects.filter(
                line_user_id=line_user_id,
                official_account_id=official_account_id,
                processed_at__isnull=True,
            )
            .order_by("sent_at_ms", "pk")
            .first()
        )
        if row is None:
            return None
        # The chat speaks the language this resident chose in it, else the site's: LINE's
        # servers send no meaningful Accept-Language, and in-process mode must not take the
        # language of the request that happened to run this.
        with translation.override(account.language or settings.LANGUAGE_CODE):
            return _handle_one(account, row, now)


class PushLater(Protocol):
    """Queues a push LINE could not take now, to be retried with the same retry key.

    The caller supplies it (the Celery task passes `line_push_task.delay`) instead of this
    module importing `channels.line.tasks`: that module imports this one to run the chat, so
    importing it back would be a cycle, and the writes here stay free of the task queue.
    """

    def __call__(
        self,
        *,
        to: str,
        messages: list[dict[str, Any]],
        retry_key: str,
        official_account_id: int | None,
    ) -> object: ...


def retry_key_for(webhook_event_id: str) -> str:
    """The same event always pushes with the same key, so a re-run never delivers twice."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"line-webhook-event:{webhook_event_id}"))


def line_outgoing_send(outgoing: Outgoing, *, push_later: PushLater) -> None:
    """Reply while the token is fresh, else push with a retry key derived from the event."""
    if not outgoing.messages:
        return
    # The answer goes out as the account the event came to: a user id means nothing to
    # another channel, and the token must be that channel's.
    credentials = credentials_for(outgoing.official_account_id)
    if credentials is None:
        logger.warning("LINE account of %s is off: no answer sent", outgoing.webhook_event_id)
        return
    if (
        outgoing.reply_token
        and outgoing.reply_token_fresh
        and line_reply(
            reply_token=outgoing.reply_token, messages=outgoing.messages, credentials=credentials
        )
    ):
        return
    key = retry_key_for(outgoing.webhook_event_id)
    try:
        line_push(
            to=outgoing.line_user_id,
            messages=outgoing.messages,
            retry_key=key,
            credentials=credentials,
        )
    except LinePushRetryable:
        try:
            push_later(
                to=outgoing.line_user_id,
                messages=[message.to_dict() for message in outgoing.messages],
                retry_key=key,
                official_account_id=outgoing.official_account_id,
            )
        except Exception:
            # In-process (no broker) the retries run here and may all fail; the event is
            # handled either way, and LINE must still get its 200.
            logger.exception("LINE answer to %s could not be delivered", outgoing.webhook_event_id)
    except LinePushError:
        logger.exception("LINE refused the answer to %s", outgoing.webhook_event_id)


def line_events_process(
    *, line_user_id: str, push_later: PushLater, official_account_id: int | None = None
) -> int:
    """Handle every stored, unhandled event of one LINE user of one official account (None:
    the settings' account) in order; return how many.

    Each event commits on its own (with its conversation step) before its answer is sent,
    so the lock is never held during a call to LINE.
    """
    handled = 0
    while True:
        outgoing = _next_pending(line_user_id, official_account_id)
        if outgoing is None:
            return handled
        handled += 1
        line_outgoing_send(outgoing, push_later=push_later)


# --- Retention (registered with reservations.retention in LineConfig.ready) ------------------


def line_webhook_events_purge(*, now: dt.datetime, dry_run: bool) -> int:
    """Delete received events older than RETENTION_LINE_WEBHOOK_DAYS, handled or not.

    Their payloads carry what residents typed (ticket numbers, birth dates). A row is needed
    for seconds to run the chat and for about a day to recognise LINE's redeliveries; an
    event still unhandled after the retention period would get an answer nobody expects.
    """
    cutoff = now - dt.timedelta(days=settings.RETENTION_LINE_WEBHOOK_DAYS)
    expired = LineWebhookEvent.objects.filter(received_at__lt=cutoff)
    if dry_run:
        return expired.count()
    deleted, _by_model = expired.delete()
    return deleted


def line_simulator_transcripts_purge(*, now: dt.datetime, dry_run: bool) -> int:
    """The chat simulator's transcripts hold what staff typed as a resident would: same period."""
    cutoff = now - dt.timedelta(days=settings.RETENTION_LINE_WEBHOOK_DAYS)
    expired = SimulatorDelivery.objects.filter(created_at__lt=cutoff)
    if dry_run:
        return expired.count()
    deleted, _by_model = expired.delete()
    return deleted


def line_chat_states_purge(*, now: dt.datetime, dry_run: bool) -> int:
    """Clear the question and the answers so far of chats idle for RETENTION_CHAT_STATE_HOURS.

    The chat gives up on an idle question by itself, but only when the next message comes; an
    abandoned chat would otherwise keep a ticket number waiting for its birth date for ever.
    A seat it held is released by the core's own hold expiry.
    """
    cutoff = now - dt.timedelta(hours=settings.RETENTION_CHAT_STATE_HOURS)
    idle = LineAccount.objects.filter(step_changed_at__lt=cutoff).exclude(step="", data={})
    if dry_run:
        return idle.count()
    # The WHERE is checked again after any row lock (a worker mid-event): a chat that moved
    # on meanwhile has a fresh step_changed_at and is left alone.
    return idle.update(step="", data={}, step_changed_at=now)
