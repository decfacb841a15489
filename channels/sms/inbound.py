"""Residents' replies, for the providers that forward them: STOP turns SMS off.

Japanese domestic direct-connect gateways (the `http` backend) are one-way: a reply never
reaches us, so residents stop SMS on the web, in LINE or by phone. Twilio forwards replies to
the number's incoming-message webhook as a signed form (`From`, `Body`, `MessageSid`); that is
the one reader here. A reply that says STOP (停止, ていし, in any width or case) turns SMS off
for every resident with that number and sends one SMS saying so; any other text is ignored.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from channels.sms.models import SmsInbound
from channels.sms.signals import stop_received
from reservations.identifiers import normalize_phone
from reservations.models import Actor
from reservations.services.contact import PhoneInvalid, contact_sms_stop_for_phone
from reservations.services.requester import Requester

# Compared after NFKC, case folding and trimming: "ＳＴＯＰ", " Stop ", "ﾃｲｼ" all match.
STOP_WORDS = frozenset({"stop", "停止", "ていし", "テイシ", "配信停止"})
# The channel recorded on the resident's consent and its history.
CHANNEL = "sms"


class InboundRejected(Exception):
    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status, self.code = status, code


@dataclass(frozen=True)
class InboundSms:
    provider_message_id: str
    sender: str
    body: str


def is_stop(body: str) -> bool:
    folded = unicodedata.normalize("NFKC", body).strip().casefold()
    # A closing full stop or exclamation mark is still a STOP ("停止。", "STOP!").
    return folded.rstrip("。.!！ ") in STOP_WORDS


def _read_twilio(request: HttpRequest) -> InboundSms:
    # Twilio signs the URL it called plus the form fields; behind a proxy that URL is the
    # public one set as the webhook, not what Django sees.
    url = settings.TWILIO_INBOUND_URL or request.build_absolute_uri()
    form = {key: request.POST.get(key, "") for key in request.POST}
    signature = request.headers.get("X-Twilio-Signature", "")
    if not settings.TWILIO_AUTH_TOKEN or not RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(
        url, form, signature
    ):
        raise InboundRejected(403, "inbound_unauthenticated")
    sid, sender = form.get("MessageSid", ""), form.get("From", "")
    if not sid or not sender or len(sid) > 100:
        raise InboundRejected(400, "inbound_fields_missing")
    return InboundSms(provider_message_id=sid, sender=sender, body=form.get("Body", ""))


READERS = {"twilio": _read_twilio}


def inbound_receive(*, provider: str, request: HttpRequest) -> str:
    """Authenticate a forwarded reply and act on it. Returns what was done: "stopped" (SMS
    turned off for that number's residents, or already off), "ignored" (not a STOP, or from a
    number that is not one), "duplicate" (this reply was acted on before)."""
    reader = READERS.get(provider)
    if reader is None:
        raise InboundRejected(404, "unknown_provider")
    reply = reader(request)
    if not is_stop(reply.body):
        return "ignored"
    requester = Requester(channel=CHANNEL, actor=Actor.RESIDENT)
    try:
        with transaction.atomic():
            record = SmsInbound.objects.create(
                provider=provider,
                provider_message_id=reply.provider_message_id,
                action=SmsInbound.Action.STOP,
            )
            stopped = contact_sms_stop_for_phone(phone=reply.sender, requester=requester)
            record.residents_stopped = len(stopped)
            record.save(update_fields=["residents_stopped"])
            stop_received.send(
                sender=InboundSms, phone=normalize_phone(reply.sender), now=timezone.now()
            )
    except IntegrityError:
        return "duplicate"
    except PhoneInvalid:
        # A short code or an alphanumeric sender: no resident has it.
        return "ignored"
    return "stopped"
