"""Every staff read of personal data, from every surface, reaches the one audit trail.

The core and the channels other than the call centre (venue, exports, admin, API) report a read
here; the trail itself is the call centre app's append-only RecordAccess table, which connects
the one receiver (channels/phone/apps.py). The core never imports a channel, so the report goes
through a signal; a deployment without a receiver refuses to show personal data rather than show
it unrecorded (AuditTrailMissing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.dispatch import Signal
from django.http import HttpRequest

from reservations.client_address import client_address

# Where the member of staff read (経路): the values of phone.RecordAccess.Channel.
PHONE = "phone"
VENUE = "venue"
EXPORTS = "exports"
ADMIN = "admin"
API = "api"
COMMAND = "command"
FOLLOWUP = "followup"
VOICE = "voice"

# Sent once per read with user, channel, client_address, reads (list[ReadOf]), detail, at.
personal_data_read = Signal()


class AuditTrailMissing(ImproperlyConfigured):
    pass


@dataclass(frozen=True)
class ReadOf:
    """One person whose data was shown, and what of theirs beyond the read's own detail
    (e.g. the booking's code on a list of bookings).

    A person is a resident, or someone a municipality knows without a Resident row (a person
    on a health centre's follow-up list): then `resident_id` is None and `subject` names them
    ("followup.person:12"). A read names at least one of the two."""

    resident_id: int | None
    municipality_id: int | None
    detail: Mapping[str, Any] = field(default_factory=dict)
    subject: str = ""

    def __post_init__(self) -> None:
        if self.resident_id is None and not self.subject:
            raise ValueError("a read names a resident or a subject")


def request_address(request: HttpRequest | None) -> str:
    """The client's address as the trail stores it (blank for a command-line run)."""
    if request is None:
        return ""
    address = client_address(request.META)
    return str(address) if address is not None else ""


def personal_data_shown(
    *,
    user: Any,
    channel: str,
    reads: Iterable[ReadOf],
    detail: Mapping[str, Any],
    now: dt.datetime,
    request: HttpRequest | None = None,
    client_address: str | None = None,
) -> None:
    """Record that `user` was shown the data of each person in `reads` (one audit row each,
    `detail` describing what was shown: a list, a page, a file). Nothing is written for an
    empty list. The client's address comes from `request`, or is given as `client_address`
    by a service that outlives its request (an export)."""
    reads = list(reads)
    if not reads:
        return
    answers = personal_data_read.send(
        sender=ReadOf,
        user=user,
        channel=channel,
        client_address=request_address(request) if client_address is None else client_address,
        reads=reads,
        detail=dict(detail),
        at=now,
    )
    if not answers:
        raise AuditTrailMissing("No audit trail is connected to reservations.audit.")
