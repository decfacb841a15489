"""Resident sign-in with municipality + ticket number + birth date, limited against guessing.

The limit lives in the core, in the database, so web, LINE, phone and API share one counter per
ticket: 2021's national centres let anyone try ticket numbers freely. A failed check *claims*
an attempt with a conditional UPDATE; a check that passes is decided by reading the counters
after the check. Either way the answer is decided against the counter as it stands at one
moment after the facts were compared, so concurrent guesses cannot learn more than the limit
allows (a read-then-write throttle, DRF's for example, would let a burst through), and the
usual sign-in (right facts, no failures to forgive) writes nothing: on SQLite it never waits
for the one writer's lock (issue 17: "database is locked" in the counter under 100 residents).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NoReturn

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


@dataclass(frozen=True)
class _Limit:
    key: str
    limit: int
    window: dt.timedelta


def _claim_attempt(*, limit: _Limit, now: dt.datetime) -> dt.datetime | None:
    """Take one attempt from the key's window. Returns None if taken, else when to retry.

    Each transaction is a few statements with no other work inside: on SQLite (IMMEDIATE) it
    holds the single writer's lock only that long."""
    with transaction.atomic():
        # Start a fresh window when the old one is over (conditional, so only one request
        # resets it).
        CredentialAttempt.objects.filter(
            key=limit.key, window_started_at__lte=now - limit.window
        ).update(window_started_at=now, attempts=0)
        taken = CredentialAttempt.objects.filter(key=limit.key, attempts__lt=limit.limit).update(
            attempts=F("attempts") + 1
        )
        if taken:
            return None
        row = CredentialAttempt.objects.filter(key=limit.key).first()
        if row is not None:
            return row.window_ends_at(limit.window)
    try:
        with transaction.atomic():
            CredentialAttempt.objects.create(key=limit.key, window_started_at=now, attempts=1)
        return None
    except IntegrityError:
        # Another request created the row first; claim against it like everyone else.
        return _claim_attempt(limit=limit, now=now)


def _call_centre_phone(code: str) -> str:
    municipality = Municipality.objects.filter(code=code).first()
    return municipality.call_centre_phone if municipality is not None else ""


def _refuse(*, limits: list[_Limit], code: str, now: dt.datetime) -> NoReturn:
    """A failed check: count it against every limit, in order. Raises CredentialsInvalid while
    the limits allow the answer, else TooManyAttempts (the guess then taught nothing)."""
    for limit in limits:
        retry_after = _claim_attempt(limit=limit, now=now)
        if retry_after is not None:
            raise TooManyAttempts(
                retry_after=retry_after, call_centre_phone=_call_centre_phone(code)
            )
    raise CredentialsInvalid()


def _admit(*, limits: list[_Limit], ticket: Ticket, now: dt.datetime) -> None:
    """A passed check: refuse it all the same while a limit is used up (the lock says nothing
    about correctness), else forgive the ticket's failures.

    The counters are read after the check, by a statement of their own. A failed guess is
    decided when its claim runs, also after its check; deciding a right guess at the same kind
    of moment means a guess refused for the limit cannot tell whether it was right. (Reading
    the counters with the ticket, before the check, would let a burst of guesses all see "no
    failures yet" and the right one among them through however many came before it.)"""
    counters = {
        row.key: row
        for row in CredentialAttempt.objects.filter(key__in=[limit.key for limit in limits])
    }
    for limit in limits:
        row = counters.get(limit.key)
        if row is None or row.window_started_at <= now - limit.window:
            continue
        if row.attempts >= limit.limit:
            raise TooManyAttempts(
                retry_after=row.window_ends_at(limit.window),
                call_centre_phone=ticket.municipality.call_centre_phone,
            )
    # Success forgives the ticket's failures: the ones read above, so a failure counted since
    # stays counted. The client's count is left as it is: an assisted-booking desk signs many
    # people in from one address, but one address alternating a known ticket with guesses
    # still runs out. The only write of a sign-in that passes, and only after failures.
    seen = counters.get(limits[0].key)
    if seen is not None:
        CredentialAttempt.objects.filter(
            pk=seen.pk, attempts=seen.attempts, window_started_at=seen.window_started_at
        ).delete()


def resident_authenticate(
    *,
    municipality_code: str,
    ticket_number: str,
    birth_date: dt.date,
    client_key: str | None = None,
    now: dt.datetime | None = None,
) -> Ticket:
    """Return the ticket (with its resident and municipality) if the three facts match an
    issued ticket.

    Unknown ticket, void ticket and wrong birth date all raise the same CredentialsInvalid.
    `client_key` (e.g. the client's IP address, a LINE user id) adds a second, wider limit on
    failures. Call it outside a transaction: the attempt counters must commit even when
    sign-in fails. Two reads when the facts match and nothing needs forgiving.
    """
    now = now or timezone.now()
    try:
        code = normalize_municipality_code(municipality_code)
        number = normalize_ticket_number(ticket_number)
    except IdentifierError:
        raise CredentialsInvalid() from None
    limits = [
        _Limit(
            f"ticket:{code}:{number}",
            settings.CREDENTIALS_TICKET_FAILURE_LIMIT,
            dt.timedelta(minutes=settings.CREDENTIALS_TICKET_WINDOW_MINUTES),
        )
    ]
    if client_key:
        limits.append(
            _Limit(
                f"client:{client_key}"[:120],
                settings.CREDENTIALS_CLIENT_FAILURE_LIMIT,
                dt.timedelta(minutes=settings.CREDENTIALS_CLIENT_WINDOW_MINUTES),
            )
        )
    ticket = (
        Ticket.objects.select_related("resident", "municipality")
        .filter(municipality__code=code, number=number, status=Ticket.Status.ISSUED)
        .first()
    )
    if ticket is None or ticket.resident.birth_date != birth_date:
        _refuse(limits=limits, code=code, now=now)
    _admit(limits=limits, ticket=ticket, now=now)
    return ticket
