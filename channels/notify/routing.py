"""Which channel reaches a resident: LINE if linked and following, else SMS to a mobile number
they consented to, else an automated call to any number they gave when their municipality has
turned calls on, else the operators' phone list."""

from __future__ import annotations

from dataclasses import dataclass

from channels.line.client import is_configured as line_is_configured
from channels.line.outbound import line_recipient_for, line_user_id_for
from channels.notify.models import OutboundMessage
from channels.voice.backends import voice_available
from reservations.identifiers import is_mobile_phone
from reservations.models import Municipality, Resident

Channel = OutboundMessage.Channel
CallReason = OutboundMessage.CallReason


@dataclass(frozen=True)
class Route:
    channel: str
    address: str
    call_reason: str = ""
    # LINE only: the language the resident chose in the chat ("" = none chosen there).
    language: str = ""


def line_address(resident: Resident) -> str | None:
    """The LINE user id to push to, if LINE is set up, the resident linked it and the account
    still follows us (an unfollow deactivates the link and so stops pushes)."""
    if not line_is_configured():
        return None
    return line_user_id_for(resident_id=resident.pk)


def sms_allowed(resident: Resident) -> bool:
    return bool(resident.phone) and resident.sms_consent and is_mobile_phone(resident.phone)


def calls_reach(municipality: Municipality) -> bool:
    """Whether automated calls carry this municipality's notices: it turned them on, and a
    call placed now reaches someone (a provider, or the console backend's simulator)."""
    return municipality.voice_calls_enabled and voice_available()


def voice_allowed(resident: Resident) -> bool:
    """Whether an automated call may carry their notices: a number (a landline, or a mobile
    that takes no SMS from us) and a municipality whose calls reach people."""
    return bool(resident.phone) and calls_reach(resident.municipality)


def route_without_line(resident: Resident) -> Route:
    """SMS to a mobile number they consented to, else an automated call, else the operators'
    phone list (and why)."""
    if sms_allowed(resident):
        return Route(Channel.SMS, resident.phone)
    if voice_allowed(resident):
        return Route(Channel.VOICE, resident.phone)
    reason = CallReason.NO_MOBILE
    if resident.phone and is_mobile_phone(resident.phone) and not resident.sms_consent:
        reason = CallReason.NO_CONSENT
    return Route(Channel.CALL_LIST, resident.phone, reason)


def route_for(resident: Resident) -> Route:
    recipient = line_recipient_for(resident_id=resident.pk) if line_is_configured() else None
    if recipient is not None:
        return Route(Channel.LINE, recipient.line_user_id, language=recipient.language)
    return route_without_line(resident)
