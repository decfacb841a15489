"""Resident sign-in: one error for unknown ticket and wrong birth date; atomic attempt limits."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from django.db import connection
from django.test import override_settings

from reservations.exceptions import CredentialsInvalid, ReservationError, TooManyAttempts
from reservations.models import Ticket
from reservations.services.credentials import resident_authenticate
from tests.world import World, jst

D = dt.date


@pytest.mark.django_db
def test_it_signs_in_with_ticket_and_birth_date(world: World) -> None:
    ticket = world.resident(D(1950, 4, 1))
    found = resident_authenticate(
        municipality_code="452041", ticket_number=ticket.number, birth_date=D(1950, 4, 1)
    )
    assert found == ticket
    # What people type: full-width digits and hyphens.
    typed = "".join(chr(ord(c) + 0xFEE0) for c in ticket.number)
    found = resident_authenticate(
        municipality_code="４５２０４１",
        ticket_number=typed[:4] + "－" + typed[4:],
        birth_date=D(1950, 4, 1),
    )
    assert found == ticket


@pytest.mark.django_db
def test_it_gives_the_same_error_for_unknown_ticket_and_wrong_birth_date(world: World) -> None:
    ticket = world.resident(D(1950, 4, 1))
    errors = []
    for number, born in (
        (ticket.number, D(1950, 4, 2)),
        ("0000000000", D(1950, 4, 1)),
        ("12345", D(1950, 4, 1)),
    ):
        with pytest.raises(CredentialsInvalid) as failure:
            resident_authenticate(municipality_code="452041", ticket_number=number, birth_date=born)
        errors.append((failure.value.code, str(failure.value.message)))
    assert len(set(errors)) == 1


@pytest.mark.django_db
def test_it_refuses_a_void_ticket_like_an_unknown_one(world: World) -> None:
    # domain.md §9 scenario 16: the old ticket after a move no longer signs in.
    ticket = world.resident(D(1950, 4, 1))
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.VOID)
    with pytest.raises(CredentialsInvalid):
        resident_authenticate(
            municipality_code="452041", ticket_number=ticket.number, birth_date=D(1950, 4, 1)
        )


@pytest.mark.django_db
def test_it_locks_a_ticket_after_five_failures(world: World) -> None:
    ticket = world.resident(D(1950, 4, 1))
    start = jst(2026, 11, 2, 9)
    for _i in range(5):
        with pytest.raises(CredentialsInvalid):
            resident_authenticate(
                municipality_code="452041",
                ticket_number=ticket.number,
                birth_date=D(1950, 1, 1),
                now=start,
            )
    # Even the right birth date is refused now: the lock says nothing about correctness.
    with pytest.raises(TooManyAttempts) as locked:
        resident_authenticate(
            municipality_code="452041",
            ticket_number=ticket.number,
            birth_date=D(1950, 4, 1),
            now=start,
        )
    assert "0987-00-0000" in str(locked.value.message)
    assert locked.value.retry_after == start + dt.timedelta(minutes=15)
    after = start + dt.timedelta(minutes=16)
    assert (
        resident_authenticate(
            municipality_code="452041",
            ticket_number=ticket.number,
            birth_date=D(1950, 4, 1),
            now=after,
        )
        == ticket
    )


@pytest.mark.django_db
@override_settings(CREDENTIALS_CLIENT_FAILURE_LIMIT=3)
def test_it_limits_one_client_across_tickets(world: World) -> None:
    tickets = [world.resident(D(1950, 4, 1)) for _i in range(4)]
    for ticket in tickets[:3]:
        with pytest.raises(CredentialsInvalid):
            resident_authenticate(
                municipality_code="452041",
                ticket_number=ticket.number,
                birth_date=D(1999, 1, 1),
                client_key="203.0.113.5",
            )
    with pytest.raises(TooManyAttempts):
        resident_authenticate(
            municipality_code="452041",
            ticket_number=tickets[3].number,
            birth_date=D(1950, 4, 1),
            client_key="203.0.113.5",
        )
    # Another address is not affected.
    resident_authenticate(
        municipality_code="452041",
        ticket_number=tickets[3].number,
        birth_date=D(1950, 4, 1),
        client_key="198.51.100.7",
    )


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_lets_no_more_than_the_limit_through_concurrently(world: World) -> None:
    ticket = world.resident(D(1950, 4, 1))
    barrier = threading.Barrier(50)
    results: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            barrier.wait()
            resident_authenticate(
                municipality_code="452041", ticket_number=ticket.number, birth_date=D(1900, 1, 1)
            )
            code = "ok"
        except ReservationError as error:
            code = error.code
        finally:
            connection.close()
        with lock:
            results.append(code)

    threads = [threading.Thread(target=attempt) for _i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert Counter(results) == {"credentials_invalid": 5, "too_many_attempts": 45}
