"""Celery tasks of the LINE channel: thin, they take ids and call a service."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from linebot.v3.messaging import PushMessageRequest

from channels.line.client import credentials_for
from channels.line.models import LineWebhookEvent
from channels.line.outbound import LinePushRetryable, line_push
from channels.line.services import line_events_process

logger = logging.getLogger(__name__)


# acks_late + reject_on_worker_lost: a worker killed mid-task leaves the message queued; the
# rerun is harmless because handled events are marked in the same transaction as their effect.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def line_event_process_task(event_id: int) -> int:
    found = (
        LineWebhookEvent.objects.filter(pk=event_id)
        .values_list("line_user_id", "official_account_id")
        .first()
    )
    if found is None:
        return 0
    line_user_id, official_account_id = found
    # The service gets the retry queue from here rather than importing this module, which
    # imports it: see `PushLater`.
    return line_events_process(
        line_user_id=line_user_id,
        official_account_id=official_account_id,
        push_later=line_push_task.delay,
    )


@shared_task(bind=True, acks_late=True, max_retries=8)
def line_push_task(
    self: Any,
    *,
    to: str,
    messages: list[dict[str, Any]],
    retry_key: str,
    official_account_id: int | None = None,
) -> None:
    """Retry a chat answer that LINE could not take (429, 5xx, timeout), as the account that
    received the event (None: the settings' account; also for tasks queued before accounts
    were per municipality). The retry key makes a retry after an unseen success a no-op at
    LINE (409)."""
    request = PushMessageRequest.from_dict({"to": to, "messages": messages})
    credentials = credentials_for(official_account_id)
    if credentials is None:
        # Switched off since: nothing may go out in its name any more.
        logger.warning("LINE answer %s dropped: its account is off", retry_key)
        return
    try:
        line_push(
            to=to, messages=list(request.messages), retry_key=retry_key, credentials=credentials
        )
    except LinePushRetryable as exc:
        countdown = exc.retry_after or min(600, 5 * 2**self.request.retries)
        raise self.retry(exc=exc, countdown=countdown) from exc
