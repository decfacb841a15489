"""Outbound LINE messages: the API that channels/notify calls, and replies in chat.

For notify (one outbound row per event and channel, each with a `retry_key` UUID):

    recipient = line_recipient_for(resident_id=reservation.resident_id)
    if recipient is not None:
        card = notice_message(reservation, purpose)  # channels.line.notices
        line_push(to=recipient.line_user_id, messages=[card], retry_key=str(row.retry_key),
                  resident_id=reservation.resident_id)

A push goes out with the token of the official account the resident is linked in (their
municipality's own, or the settings' one): `line_push` finds it from the user id and the
resident, or the chat passes the credentials of the account it answers in.

`line_push` sends with `X-Line-Retry-Key`, so calling it again with the same key after LINE
accepted the first call delivers nothing twice (LINE answers 409, counted as sent). It raises
`LinePushRetryable` for 429, 5xx and network failures (retry later with the SAME key, honouring
`retry_after` when given) and `LinePushRejected` for other 4xx (do not retry).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import urllib3
from django.db.models import Q
from linebot.v3.messaging import (
    ApiException,
    Message,
    PushMessageRequest,
    ReplyMessageRequest,
    TextMessage,
)
from pydantic.v1 import ValidationError

from channels.line.client import (
    LineCredentials,
    credentials_for,
    messaging_api,
    request_timeout,
)
from channels.line.models import LineAccount, LineLink

logger = logging.getLogger(__name__)

# LINE refuses more than five messages in one reply or push request.
MAX_MESSAGES_PER_REQUEST = 5
# The Messaging API's limit for one text message.
MAX_TEXT_LENGTH = 5000


class LinePushError(Exception):
    """Base for push failures; `status` is LINE's HTTP status (0 when no answer came)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class LinePushRetryable(LinePushError):
    """429, 5xx, timeout or connection failure: try again later with the same retry key."""

    def __init__(self, message: str, *, status: int = 0, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class LinePushRejected(LinePushError):
    """LINE refused the request (400, 401, 403, …): retrying the same request cannot help."""


@dataclass(frozen=True)
class LineRecipient:
    line_user_id: str
    # The language chosen in that chat ("" if none was: the resident's own then).
    language: str
    # The official account the link was made in (None: the settings' account).
    official_account_id: int | None = None


def _sending_accounts() -> Q:
    """Links in the settings' account or in a municipality's account still switched on.
    (Whether the settings' account is configured is notify's question: `is_configured`.)"""
    return Q(account__official_account__isnull=True) | Q(account__official_account__is_active=True)


def _latest_links(resident_id: int) -> list[LineLink]:
    return list(
        LineLink.objects.filter(
            _sending_accounts(),
            resident_id=resident_id,
            is_active=True,
            account__is_following=True,
        )
        .select_related("account")
        .order_by("-linked_at", "-pk")
    )


def line_recipient_for(*, resident_id: int) -> LineRecipient | None:
    """The LINE user to push to for this resident (linked, and still following the account),
    with the language their chat speaks.

    With several accounts linked (the resident and a daughter, say), the latest link wins.
    """
    links = _latest_links(resident_id)
    if not links:
        return None
    account = links[0].account
    return LineRecipient(account.line_user_id, account.language, account.official_account_id)


def line_user_id_for(*, resident_id: int) -> str | None:
    """The LINE user to push to for this resident (see `line_recipient_for`)."""
    recipient = line_recipient_for(resident_id=resident_id)
    return recipient.line_user_id if recipient is not None else None


def line_text_messages(text: str) -> list[Message]:
    """Plain text as LINE messages: split at line ends to fit the per-message limit."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > MAX_TEXT_LENGTH:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:MAX_TEXT_LENGTH])
            line = line[MAX_TEXT_LENGTH:]
        if len(current) + len(line) > MAX_TEXT_LENGTH:
            chunks.append(current)
            current = ""
        current += line
    if current.strip():
        chunks.append(current)
    if len(chunks) > MAX_MESSAGES_PER_REQUEST:
        raise ValueError("text too long for one LINE request")
    return [
        TextMessage(text=chunk.rstrip("\n"), quick_reply=None, quote_token=None) for chunk in chunks
    ]


def _retry_after(exc: ApiException) -> float | None:
    headers = exc.headers or {}
    raw = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def _check_batch(messages: list[Message]) -> None:
    if not 1 <= len(messages) <= MAX_MESSAGES_PER_REQUEST:
        raise ValueError(f"a LINE request carries 1 to 5 messages, not {len(messages)}")


def line_sender_for(*, line_user_id: str, resident_id: int | None = None) -> int | None:
    """The official account (id; None: the settings' account) to push to this user through.

    With the resident: the account of their latest link held by this user id, as
    `line_recipient_for` chose it. Without: the account this user id is in; the same id in
    two accounts (one provider) goes by the one they follow, most recently added.
    """
    if resident_id is not None:
        for link in _latest_links(resident_id):
            if link.account.line_user_id == line_user_id:
                return link.account.official_account_id
    account = (
        LineAccount.objects.filter(line_user_id=line_user_id)
        .order_by("-is_following", "-followed_at", "-pk")
        .values_list("official_account_id", flat=True)
        .first()
    )
    return account


def line_push(
    *,
    to: str,
    messages: list[Message],
    retry_key: str,
    credentials: LineCredentials | None = None,
    resident_id: int | None = None,
) -> None:
    """Push `messages` (1-5) to one LINE user, at most once per `retry_key` (a UUID string).

    Sent as `credentials` (the chat passes its account's), else as the account the user is in
    (`line_sender_for`, exact when given the resident the message is for). An account that
    was switched off refuses: `LinePushRejected`, so notify sends by SMS or phone instead."""
    _check_batch(messages)
    key = str(uuid.UUID(retry_key))  # LINE wants the canonical hexadecimal UUID form
    if credentials is None:
        credentials = credentials_for(line_sender_for(line_user_id=to, resident_id=resident_id))
        if credentials is None:
            raise LinePushRejected("the LINE account of this user is not active")
    try:
        with messaging_api(credentials) as api:
            api.push_message(
                PushMessageRequest(to=to, messages=messages, notification_disabled=False),
                x_line_retry_key=key,
                _request_timeout=request_timeout(),
            )
    except ApiException as exc:
        status = exc.status or 0
        if status == 409:
            # The same retry key was accepted before: the messages went out then.
            logger.info("LINE push %s already accepted (409)", key)
            return
        if status == 429 or status >= 500 or status == 0:
            raise LinePushRetryable(
                f"LINE push failed with {status}", status=status, retry_after=_retry_after(exc)
            ) from exc
        raise LinePushRejected(
            f"LINE refused the push: {status} {exc.body!r}", status=status
        ) from exc
    except urllib3.exceptions.HTTPError as exc:
        raise LinePushRetryable(f"LINE push did not complete: {exc}") from exc
    except ValidationError:
        # LINE answered 2xx (errors raise before parsing); only its body surprised the SDK.
        logger.warning("LINE push %s accepted with an unexpected response body", key)


def line_reply(
    *, reply_token: str, messages: list[Message], credentials: LineCredentials | None = None
) -> bool:
    """Reply with a token, as the account that received the event (default: the settings'
    one). False when LINE refused the token (expired or used): push instead.
    Network failures and 5xx also return False: the caller falls back to a push with a retry
    key, which cannot double-deliver, whereas a reply cannot be retried safely."""
    _check_batch(messages)
    try:
        with messaging_api(credentials) as api:
            api.reply_message(
                ReplyMessageRequest(
                    reply_token=reply_token, messages=messages, notification_disabled=False
                ),
                _request_timeout=request_timeout(),
            )
    except ApiException as exc:
        logger.info("LINE reply refused (%s): falling back to push", exc.status)
        return False
    except urllib3.exceptions.HTTPError as exc:
        logger.warning("LINE reply failed (%s): falling back to push", exc)
        return False
    except ValidationError:
        logger.warning("LINE reply accepted with an unexpected response body")
    return True
