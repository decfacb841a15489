"""Resident sign-in with municipality + ticket number + birth date, limited against guessing.

The limit lives in the core, in the database, so web, LINE, phone and API share one counter per
ticket: 2021's national centres let anyone try ticket numbers freely. A failed check *claims*
an attempt with a conditional UPDATE; a check that passes is decided by reading the counters
after the check. Either way the answer is decided against the counter as it stands at one
moment after the facts were compared, so concurrent guesses cannot learn more than the limit
allows (a read-then-write throttle, DRF's for example, would let a burst through), and the
usual sign-in (right facts, no failures to forgive) writes nothing: on SQLite it never waits
for the one writer's lock (issue 17: "database is locked" in the counter under 100 residents).

A client's own limit is checked before any ticket's, so a stranger cannot lock residents out
from an address that is already refused, and a failure tells the resident how many tries the
ticket number has left and how long its lock would last. The call centre, having verified a
caller by other means, can lift a ticket number's lock (`credentials_unlock`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NoReturn

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, DateTimeField, F, Value, When
from django.utils import timezone

from reservations.exceptions import (
    LOCKED_CLIENT,
    LOCKED_TICKET,
    CredentialsInvalid,
    PermissionDenied,
    TooManyAttempts,
)
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
    locked: str  # what the lock names to the resident: LOCKED_TICKET or LOCKED_CLIENT

    @property
    def minutes(self) -> int:
        return int(self.window.total_seconds() // 60)


@dataclass(frozen=True)
class _Claim:
    taken: bool  # False: the limit was used up already, nothing was counted
    attempts: int  # the count after this claim (the full count when not taken)
    ends_at: dt.datetime  # when the window, or the lock once the limit is reached, ends


def _ticket_limit(code: str, number: str) -> _Limit:
    return _Limit(
        f"ticket:{code}:{number}",
        settings.CREDENTIALS_TICKET_FAILURE_LIMIT,
        dt.timedelta(minutes=settings.CREDENTIALS_TICKET_WINDOW_MINUTES),
        LOCKED_TICKET,
    )


def _client_limit(client_key: str) -> _Limit:
    return _Limit(
        f"client:{client_key}"[:120],
        settings.CREDENTIALS_CLIENT_FAILURE_LIMIT,
        dt.timedelta(minutes=settings.CREDENTIALS_CLIENT_WINDOW_MINUTES),
        LOCKED_CLIENT,
    )


def _claim_attempt(*, limit: _Limit, now: dt.datetime) -> _Claim:
    """Take one attempt from the key's window, if any is left.

    Each transaction is a few statements with no other work inside: on SQLite (IMMEDIATE) it
    holds the single writer's lock only that long."""
    with transaction.atomic():
        # Start a fresh window when the old one (or the lock) is over (conditional, so only
        # one request resets it).
        CredentialAttempt.objects.filter(
            key=limit.key, window_started_at__lte=now - limit.window
        ).update(window_started_at=now, attempts=0)
        # The claim itself: one conditional UPDATE, so concurrent failures cannot all see
        # "one left" and pass together (PostgreSQL re-checks the condition after waiting for
        # the row lock; SQLite has one writer at a time).
        taken = CredentialAttempt.objects.filter(key=limit.key, attempts__lt=limit.limit).update(
            attempts=F("attempts") + 1,
            # The claim that uses up the limit starts the lock, so a lock lasts one whole
            # window from the failure that caused it: what the resident is told ("locked for
            # 15 minutes"), however early in the window the first failure came.
            window_started_at=Case(
                When(attempts=limit.limit - 1, then=Value(now)),
                default=F("window_started_at"),
                output_field=DateTimeField(),
            ),
        )
        # Read back in the same transaction: after a claim the row is still this request's
        # (PostgreSQL's row lock, SQLite's writer lock, both held until commit), so the count
        # is the one this claim made, which the attempts left are told from.
        row = CredentialAttempt.objects.filter(key=limit.key).first()
        if row is not None:
            return _Claim(bool(taken), row.attempts, row.window_ends_at(limit.window))
    try:
        with transaction.atomic():
            row = CredentialAttempt.objects.create(key=limit.key, window_started_at=now, attempts=1)
        return _Claim(True, 1, row.window_ends_at(limit.window))
    except IntegrityError:
        # Another request created the row first; claim against it like everyone else.
        return _claim_attempt(limit=limit, now=now)


def _call_centre_phone(code: str) -> str:
    municipality = Municipality.objects.filter(code=code).first()
    return municipality.call_centre_phone if municipality is not None else ""


def _locked(limit: _Limit, *, until: dt.datetime, phone: str, now: dt.datetime) -> TooManyAttempts:
    return TooManyAttempts(
        retry_after=until,
        lock_minutes=limit.minutes,
        locked=limit.locked,
        call_centre_phone=phone,
        now=now,
    )


def _refuse(*, ticket: _Limit, client: _Limit | None, code: str, now: dt.datetime) -> NoReturn:
    """A failed check: count it against the client's limit, then the ticket's. Raises
    CredentialsInvalid (with the ticket number's tries left) while the limits allow the
    answer, else TooManyAttempts (the guess then taught nothing).

    The client's limit is claimed first and, once used up, alone: a client refused for its own
    failures charges no ticket, so a stranger whose address is already blocked cannot go on to
    lock residents out by trying their numbers (issue 17: 50 tickets tried from one blocked
    address used to raise all 50 counters). Two transactions, not one: each holds the writer
    only for its own claim, and a ticket claim that follows a client claim is still at most one
    per failure the client's limit allowed."""
    if client is not None:
        claim = _claim_attempt(limit=client, now=now)
        if not claim.taken:
            raise _locked(client, until=claim.ends_at, phone=_call_centre_phone(code), now=now)
    claim = _claim_attempt(limit=ticket, now=now)
    if not claim.taken:
        raise _locked(ticket, until=claim.ends_at, phone=_call_centre_phone(code), now=now)
    attempts_left = max(0, ticket.limit - claim.attempts)
    raise CredentialsInvalid(
        attempts_left=attempts_left,
        lock_minutes=ticket.minutes,
        # This failure used up the limit: the number is locked from now on, say until when.
        retry_after=claim.ends_at if attempts_left == 0 else None,
        call_centre_phone=_call_centre_phone(code) if attempts_left == 0 else "",
        now=now,
    )


def _admit(
    *, ticket_limit: _Limit, client: _Limit | None, ticket: Ticket, now: dt.datetime
) -> None:
    """A passed check: refuse it all the same while a limit is used up (the lock says nothing
    about correctness), else forgive the ticket's failures.

    The counters are read after the check, by a statement of their own. A failed guess is
    decided when its claim runs, also after its check; deciding a right guess at the same kind
    of moment means a guess refused for the limit cannot tell whether it was right. (Reading
    the counters with the ticket, before the check, would let a burst of guesses all see "no
    failures yet" and the right one among them through however many came before it.)"""
    # The client's lock is named first, as in _refuse: a blocked address hears about its own
    # lock, not about a ticket's it may not know.
    limits = [limit for limit in (client, ticket_limit) if limit is not None]
    counters = {
        row.key: row
        for row in CredentialAttempt.objects.filter(key__in=[limit.key for limit in limits])
    }
    for limit in limits:
        row = counters.get(limit.key)
        if row is None or row.window_started_at <= now - limit.window:
            continue
        if row.attempts >= limit.limit:
            raise _locked(
                limit,
                until=row.window_ends_at(limit.window),
                phone=ticket.municipality.call_centre_phone,
                now=now,
            )
    # Success forgives the ticket's failures: the ones read above, so a failure counted since
    # stays counted. The client's count is left as it is: an assisted-booking desk signs many
    # people in from one address, but one address alternating a known ticket with guesses
    # still runs out. The only write of a sign-in that passes, and only after failures.
    seen = counters.get(ticket_limit.key)
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
    `client_key` (e.g. the client's address, reservations/client_address.py; a LINE user id) adds
    a second, wider limit on failures. Call it outside a transaction: the attempt counters
    must commit even when sign-in fails. Two reads when the facts match and nothing needs
    forgiving.
    """
    now = now or timezone.now()
    try:
        code = normalize_municipality_code(municipality_code)
        number = normalize_ticket_number(ticket_number)
    except IdentifierError:
        raise CredentialsInvalid() from None
    ticket_limit = _ticket_limit(code, number)
    client = _client_limit(client_key) if client_key else None
    ticket = (
        Ticket.objects.select_related("resident", "municipality")
        .filter(municipality__code=code, number=number, status=Ticket.Status.ISSUED)
        .first()
    )
    if ticket is None or ticket.resident.birth_date != birth_date:
        _refuse(ticket=ticket_limit, client=client, code=code, now=now)
    _admit(ticket_limit=ticket_limit, client=client, ticket=ticket, now=now)
    return ticket


def credentials_ticket_locks(
    *, tickets: Iterable[Ticket], now: dt.datetime | None = None
) -> dict[int, dt.datetime]:
    """When each locked ticket number's sign-in lock ends, by ticket id (tickets that are not
    locked are left out). For the call centre, which opens residents without their credentials
    and can lift a lock. One read, given the tickets with their municipalities."""
    now = now or timezone.now()
    limits = {
        ticket.pk: _ticket_limit(ticket.municipality.code, ticket.number) for ticket in tickets
    }
    keys = [limit.key for limit in limits.values()]
    rows = {row.key: row for row in CredentialAttempt.objects.filter(key__in=keys)}
    locks: dict[int, dt.datetime] = {}
    for ticket_id, limit in limits.items():
        row = rows.get(limit.key)
        if row is None or row.window_started_at <= now - limit.window:
            continue
        if row.attempts >= limit.limit:
            locks[ticket_id] = row.window_ends_at(limit.window)
    return locks


def credentials_unlock(*, ticket: Ticket, actor: Any) -> bool:
    """Clear the failures counted against a ticket number, after a member of staff has
    verified the caller by other means. Returns whether anything was cleared.

    Only the ticket's counter: the address that made the failures stays limited. `actor` must
    hold reservations.book_on_behalf (the operators' permission to act for a resident); the
    channel that calls this records who did it in its own audit trail."""
    if not actor.has_perm("reservations.book_on_behalf"):
        raise PermissionDenied()
    limit = _ticket_limit(ticket.municipality.code, ticket.number)
    deleted, _rows = CredentialAttempt.objects.filter(key=limit.key).delete()
    return bool(deleted)
