"""SMS that belong to no booking: the code that verifies a resident's new mobile number, and
the notice that SMS has been stopped after a STOP reply.

The core asks for them with `reservations.signals.contact_sms_requested`, inside the
transaction that records the request; they go once it commits, from a Celery task. They do not
go through the outbox (`OutboundMessage`): its rows hang off a booking's event and keep their
bodies for staff to read, and a verification code must not be readable by anyone but the
resident. The code travels only in the task's arguments (the broker holds them until the task
runs) and in the SMS. The transport is the same one confirmations use, with its shared rate
limit and its error classes; a code is worth nothing once it has expired, so retries stop then.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from channels.notify.models import OutboundMessage
from channels.notify.texts import sender_label, text_language
from channels.notify.transports import (
    TRANSPORTS,
    AmbiguousDeliveryError,
    PermanentDeliveryError,
    Throttled,
    TransientDeliveryError,
)
from channels.sms.text import MAX_BODY_CHARS, make_sms_safe
from reservations.models import Resident
from reservations.services.contact import CODE_LIFETIME, SMS_STOPPED, SMS_VERIFICATION_CODE

logger = logging.getLogger(__name__)

# A notice of a stop is still worth sending for this long (an SMS provider outage).
STOPPED_NOTICE_LIFETIME = dt.timedelta(hours=6)
# Waits between tries: doubled from the first, never longer than the last.
RETRY_FIRST_SECONDS = 5.0
RETRY_MAX_SECONDS = 60.0


def contact_sms_text(*, resident: Resident, purpose: str, code: str = "") -> str:
    """The text of a contact SMS, in the resident's language (see texts.text_language)."""
    language = text_language(resident.preferred_language)
    municipality = resident.municipality
    with translation.override(language):
        sender = make_sms_safe(sender_label(municipality, language))
        if purpose == SMS_VERIFICATION_CODE:
            body = _(
                "【%(sender)s】確認コード %(code)s（%(minutes)s分間有効）。"
                "心当たりがなければ、このSMSは無視してください。"
            ) % {
                "sender": sender,
                "code": code,
                "minutes": int(CODE_LIFETIME.total_seconds() // 60),
            }
        elif purpose == SMS_STOPPED:
            phone = municipality.call_centre_phone or settings.NOTIFY_CALL_CENTRE_PHONE
            if phone:
                body = _(
                    "【%(sender)s】SMSでのお知らせを停止しました。"
                    "再開は予約サイトか、コールセンター%(phone)sへ"
                ) % {"sender": sender, "phone": make_sms_safe(phone)}
            else:
                body = _(
                    "【%(sender)s】SMSでのお知らせを停止しました。再開は予約サイトからできます。"
                ) % {"sender": sender}
        else:
            raise ValueError(f"no text for contact SMS {purpose!r}")
    return body[:MAX_BODY_CHARS]


def on_contact_sms_requested(
    sender: Any,
    resident: Resident,
    phone: str,
    purpose: str,
    code: str,
    expires_at: dt.datetime | None,
    **kwargs: Any,
) -> None:
    """The core asked for a contact SMS: hand it to a worker once the request commits.

    One broker round trip from the web process (the embedded default runs the task there and
    then): a resident waiting for a code is worth it, and these are rare next to bookings."""
    body = contact_sms_text(resident=resident, purpose=purpose, code=code)
    give_up_at = expires_at or timezone.now() + STOPPED_NOTICE_LIFETIME
    reference = str(uuid.uuid4())
    transaction.on_commit(
        lambda: contact_sms_send_task.delay(phone, body, reference, give_up_at.isoformat()),
        robust=True,
    )


def contact_sms_send(*, to: str, body: str, reference: str, checked: bool = False) -> None:
    """One attempt through the SMS transport. `checked`: an earlier attempt may have reached
    the provider, so ask it first and send nothing if it did. Raises the transport's errors
    (and Throttled) for the task to act on."""
    transport = TRANSPORTS[OutboundMessage.Channel.SMS]
    # Not saved: the transport reads only the address, body and retry key (the provider's
    # reference for a look-up after a lost answer).
    message = OutboundMessage(
        channel=OutboundMessage.Channel.SMS,
        address=to,
        body=body,
        retry_key=uuid.UUID(reference),
    )
    transport.take_capacity(message)
    if checked and transport.find_previous(message) is not None:
        return
    transport.send(message)


@shared_task(bind=True, max_retries=None, ignore_result=True)
def contact_sms_send_task(
    self: Task,  # type: ignore[type-arg]
    to: str,
    body: str,
    reference: str,
    give_up_at: str,
    checked: bool = False,
) -> str:
    """Send one contact SMS; try again after a transient failure until `give_up_at` (a code's
    expiry). Returns what happened: sent, expired, refused or retrying."""
    if timezone.now() >= dt.datetime.fromisoformat(give_up_at):
        logger.warning("contact SMS %s not sent: past its use", reference)
        return "expired"
    try:
        contact_sms_send(to=to, body=body, reference=reference, checked=checked)
    except PermanentDeliveryError as error:
        logger.warning("contact SMS %s refused by the provider: %s", reference, error)
        return "refused"
    except (Throttled, TransientDeliveryError) as error:
        wait = error.wait if isinstance(error, Throttled) else error.retry_after
        checked = checked or isinstance(error, AmbiguousDeliveryError)
        if self.request.is_eager:
            # In-process mode has no broker to wait in; the resident can ask for a new code.
            logger.warning("contact SMS %s not sent: %s", reference, error)
            return "failed"
        backoff = min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2**self.request.retries)
        raise self.retry(
            args=(to, body, reference, give_up_at, checked), countdown=max(backoff, wait or 0)
        ) from error
    return "sent"


__all__ = [
    "contact_sms_send",
    "contact_sms_send_task",
    "contact_sms_text",
    "on_contact_sms_requested",
]
