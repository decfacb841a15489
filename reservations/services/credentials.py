"""Resident sign-in with municipality + ticket number + birth date, limited against guessing.

The limit lives in the core, in the database, so web, LINE, phone and API share one counter per
ticket: 2021's national centres let anyone try ticket numbers freely. Each attempt is *claimed*
with a conditional UPDATE before the check runs; concurrent guesses therefore cannot exceed the
limit, which a read-then-write throttle (DRF's, for example) would allow.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from reservations.exceptions import CredentialsInvalid, TooManyAttempts
from reservations.identifiers import (
    IdentifierError,
    normalize_municipality_code,
    normalize_ticket_number,
)
from reservations.models import CredentialAttempt, Municipality, Ticket


def _claim_attempt(
    *, key: str, limit: int, window: dt.timedelta, now: dt.datetime
) -> dt.datetime | None:
    """Take one attempt from the key's window. Returns None if taken, else when to retry."""
    with transaction.atomic():
        # Start a fresh window when the old one is over (conditional, so only one request
        # resets it).
        CredentialAttempt.objects.filter(key=key, window_started_at__lte=now - window).update(
            window_started_at=now, attempts=0
        )
        taken = CredentialAttempt.objects.filter(key=key, attempts__lt=limit).update(
            attempts=F("attempts") + 1
        )
        if taken:
            return None
        row = CredentialAttempt.objects.filter(key=key).first()
        if row is not None:
            return row.window_ends_at(window)
    try:
        with transaction.atomic():
            CredentialAttempt.objects.create(key=key, window_started_at=now, attempts=1)
        return None
    except IntegrityError:
        # Another request created the row first; claim against it like everyone else.
        return _claim_attempt(key=key, limit=limit, window=window, now=now)


def _forgive_ticket(key: str) -> None:
    CredentialAttempt.objects.filter(key=key).delete()


def _give_back_one(key: str) -> None:
    CredentialAttempt.objects.filter(key=key, attempts__gt=0).update(attempts=F("attempts") - 1)


def resident_authenticate(
    *,
    municipality_code: str,
    ticket_number: str,
    birth_date: dt.date,
    client_key: str | None = None,
    now: dt.datetime | None = None,
) -> Ticket:
    """Return the ticket (with its resident) if the three facts match an issued ticket.

    Unknown ticket, void ticket and wrong birth date all raise the same CredentialsInvalid.
    `client_key` (e.g. the client's IP address, a LINE user id) adds a second, wider limit.
    Call it outside a transaction: the attempt counters must commit even when sign-in fails.
    """
    now = now or timezone.now()
    try:
        code = normalize_municipality_code(municipality_code)
        number = normalize_ticket_number(ticket_number)
    except IdentifierError:
        raise CredentialsInvalid() from None
    municipality = Municipality.objects.filter(code=code).first()
    phone = municipality.call_centre_phone if municipality is not None else ""

    limits = [
        (
            f"ticket:{code}:{number}",
            settings.CREDENTIALS_TICKET_FAILURE_LIMIT,
            dt.timedelta(minutes=settings.CREDENTIALS_TICKET_WINDOW_MINUTES),
        )
    ]
    if client_key:
        limits.append(
            (
                f"client:{client_key}"[:120],
                settings.CREDENTIALS_CLIENT_FAILURE_LIMIT,
                dt.timedelta(minutes=settings.CREDENTIALS_CLIENT_WINDOW_MINUTES),
            )
        )
    for key, limit, window in limits:
        retry_after = _claim_attempt(key=key, limit=limit, window=window, now=now)
        if retry_after is not None:
            raise TooManyAttempts(retry_after=retry_after, call_centre_phone=phone)

    ticket = (
        Ticket.objects.select_related("resident", "municipality")
        .filter(municipality__code=code, number=number, status=Ticket.Status.ISSUED)
        .first()
    )
    if ticket is None or ticket.resident.birth_date != birth_date:
        raise CredentialsInvalid()
    # Success forgives the ticket's failures. For the client only this attempt is returned:
    # an assisted-booking desk signs many people in from one address, but one address
    # alternating a known ticket with guesses still runs out.
    _forgive_ticket(limits[0][0])
    if client_key:
        _give_back_one(limits[1][0])
    return ticket
