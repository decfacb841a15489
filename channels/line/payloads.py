"""Reading a webhook body: the signature on the raw bytes, then each event checked for the
shape we store before the SDK's models see it.

LINE redelivers anything not answered 200, so a body that LINE signed but that we cannot use is
acknowledged and dropped, never answered 500: nothing here raises. Each event is judged on its
own; one odd event does not drop its neighbours. The limits below are the columns of
`LineWebhookEvent` and what PostgreSQL accepts (no NUL in text, bigint timestamps), checked
here so that a value the database would refuse never reaches it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from linebot.v3 import SignatureValidator
from linebot.v3.webhooks import (
    Event,
    FollowEvent,
    MessageEvent,
    PostbackEvent,
    UnfollowEvent,
    UnsendEvent,
)

logger = logging.getLogger(__name__)

# The event types the chat acts on; every other type is acknowledged and dropped.
HANDLED_TYPES = frozenset({"follow", "unfollow", "message", "postback", "unsend"})
HANDLED_EVENTS = (FollowEvent, UnfollowEvent, MessageEvent, PostbackEvent, UnsendEvent)
# Ids are stored in CharField(max_length=64) columns; LINE's are 26 (ULID) to 33 characters.
MAX_ID_LENGTH = 64
# LINE sends milliseconds since the epoch of the moment it sent the event; anything outside
# 2000..2100 is not LINE's clock, and would overflow the bigint column long before 1e30.
MIN_TIMESTAMP_MS = 946_684_800_000
MAX_TIMESTAMP_MS = 4_102_444_800_000
# LINE's deepest event (a message with mentions or emojis) is about five levels deep; a deeper
# event is not from LINE's schema, and walking it would only cost time.
MAX_EVENT_DEPTH = 16


def signature_valid(*, body: bytes, signature: str, secret: str) -> bool:
    """X-Line-Signature, checked by the SDK's validator on the body as received (re-encoded
    JSON would not match). LINE sends UTF-8 JSON: a body that is not UTF-8 is not LINE's."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(SignatureValidator(secret).validate(text, signature))


@dataclass(frozen=True)
class IncomingEvent:
    """One event of a kind we act on, with the values we store already checked."""

    event: Event
    webhook_event_id: str
    line_user_id: str
    # The message's own id (message events) or the unsent message's id (unsend events).
    message_id: str


def webhook_events_read(body: bytes) -> list[IncomingEvent]:
    """The events of a signed body that the chat acts on; anything else is left out."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        # Not JSON, not UTF-8, a 5,000-digit number, or nested past Python's recursion limit.
        logger.info("LINE webhook body is not readable JSON; acknowledged and dropped")
        return []
    events = document.get("events") if isinstance(document, dict) else None
    if not isinstance(events, list):
        logger.info("LINE webhook body has no event list; acknowledged and dropped")
        return []
    read = []
    for index, raw in enumerate(events):
        try:
            incoming = _event_read(raw)
        except Exception:
            # A shape nobody foresaw: still LINE's signed body, still answered 200. Logged with
            # its traceback (never the event: it may carry a resident's words) to be fixed.
            logger.warning("LINE webhook event %d could not be read", index, exc_info=True)
            incoming = None
        if incoming is None:
            # The position only: the event itself may carry a resident's words.
            logger.debug("LINE webhook event %d dropped", index)
            continue
        read.append(incoming)
    return read


def _event_read(raw: Any) -> IncomingEvent | None:
    if not isinstance(raw, dict) or _depth(raw) > MAX_EVENT_DEPTH:
        return None
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in HANDLED_TYPES or raw.get("mode") != "active":
        return None
    source = raw.get("source")
    if not isinstance(source, dict) or source.get("type") != "user":
        # Group and room chats are not ours to answer.
        return None
    webhook_event_id = raw.get("webhookEventId")
    line_user_id = source.get("userId")
    timestamp = raw.get("timestamp")
    if not (_is_id(webhook_event_id) and _is_id(line_user_id)):
        return None
    if type(timestamp) is not int or not MIN_TIMESTAMP_MS <= timestamp <= MAX_TIMESTAMP_MS:
        return None
    try:
        event = Event.from_dict(raw)
    except Exception:
        # The SDK's generated models raise ValueError, TypeError, KeyError or AttributeError
        # for shapes they were not written for; any of them means "not an event we can use".
        return None
    if not isinstance(event, HANDLED_EVENTS):
        return None
    message_id = ""
    if isinstance(event, MessageEvent):
        message_id = getattr(event.message, "id", "")
    elif isinstance(event, UnsendEvent):
        message_id = event.unsend.message_id
    # An unsend must name its message: an empty id would match every stored message without one.
    if (message_id or isinstance(event, UnsendEvent)) and not _is_id(message_id):
        return None
    return IncomingEvent(
        event=event,
        webhook_event_id=str(webhook_event_id),
        line_user_id=str(line_user_id),
        message_id=str(message_id or ""),
    )


def _is_id(value: Any) -> bool:
    """An identifier LINE could have made: 1..64 printable ASCII characters (no NUL, no
    control characters, nothing a column or a log line would choke on)."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_ID_LENGTH
        and value.isascii()
        and value.isprintable()
    )


def _depth(node: Any) -> int:
    """How deeply a parsed JSON value nests, found without recursion."""
    deepest = 0
    stack = [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_EVENT_DEPTH:
            return level
        if isinstance(current, dict):
            stack.extend((child, level + 1) for child in current.values())
        elif isinstance(current, list):
            stack.extend((child, level + 1) for child in current)
    return deepest
