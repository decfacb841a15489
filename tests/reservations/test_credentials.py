"""Resident sign-in: one error for unknown ticket and wrong birth date; atomic attempt limits."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from reservations.exceptions import (
    CredentialsInvalid,
    PermissionDenied,
    ReservationError,
    TooManyAttempts,
)
from reservations.models import CredentialAttempt, Ticket
from reservations.services.credentials import (
    credentials_ticket_locks,
    credentials_unlock,
    resident_authenticate,
)
from tests.world import World, jst, staff_with

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
    for number, born in ((ticket.number, D(1950, 4, 2)), ("0000000000", D(1950, 4, 1))):
        with pytest.raises(CredentialsInvalid) as failure:
            resident_authenticate(municipality_code="452041", ticket_number=number, birth_date=born)
        errors.append((failure.value.code, str(failure.value.message), failure.value.detail))
    # The tries left are counted per number whether or not a ticket has it: the same answer.
    assert errors[0] == errors[1]
    assert errors[0][2] == {"attempts_left": 4, "lock_minutes": 15}
    assert "あと4回間違えると、この接種券番号は15分間ロックされます。" in errors[0][1]
    # Something that is not a ticket number at all has no counter and no tries to tell.
    with pytest.raises(CredentialsInvalid) as malformed:
        resident_authenticate(
            municipality_code="452041", ticket_number="12345", birth_date=D(1950, 4, 1)
        )
    assert str(malformed.value.message) == str(CredentialsInvalid.default_message)


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


@pytest.mark.django_db
@override_settings(CREDENTIALS_CLIENT_FAILURE_LIMIT=3)
def test_a_blocked_client_cannot_raise_any_tickets_counter(world: World) -> None:
    """Issue 17: a client refused for its own failures used to go on charging every ticket it
    tried, and the owner, with the right birth date from another address, then got 429."""
    start = jst(2026, 11, 2, 9)
    owner = world.resident(D(1950, 4, 1))
    # The owner mistyped four times (of five) earlier, on the phone and at home.
    for address in ("198.51.100.7", "198.51.100.7", "2001:db8::/64", "2001:db8::/64"):
        with pytest.raises(CredentialsInvalid):
            resident_authenticate(
                municipality_code="452041",
                ticket_number=owner.number,
                birth_date=D(1950, 1, 1),
                client_key=address,
                now=start,
            )
    # A stranger uses up its own limit on other numbers...
    for guess in range(3):
        with pytest.raises(CredentialsInvalid):
            resident_authenticate(
                municipality_code="452041",
                ticket_number=f"77777{guess:05d}",
                birth_date=D(1999, 1, 1),
                client_key="203.0.113.5",
                now=start,
            )
    before = dict(CredentialAttempt.objects.values_list("key", "attempts"))
    # ...then tries 50 numbers, the owner's and 49 real tickets among them.
    tickets = [owner] + [world.resident(D(1950, 4, 1)) for _i in range(49)]
    for ticket in tickets:
        with pytest.raises(TooManyAttempts) as refused:
            resident_authenticate(
                municipality_code="452041",
                ticket_number=ticket.number,
                birth_date=D(1999, 1, 1),
                client_key="203.0.113.5",
                now=start + dt.timedelta(minutes=1),
            )
        assert refused.value.locked == "client"
    assert dict(CredentialAttempt.objects.values_list("key", "attempts")) == before
    assert before[f"ticket:452041:{owner.number}"] == 4
    # The owner, from home, still signs in (and is forgiven the four mistypes).
    assert (
        resident_authenticate(
            municipality_code="452041",
            ticket_number=owner.number,
            birth_date=D(1950, 4, 1),
            client_key="198.51.100.7",
            now=start + dt.timedelta(minutes=2),
        )
        == owner
    )
    # The blocked client is refused even with the right facts, as before.
    with pytest.raises(TooManyAttempts):
        resident_authenticate(
            municipality_code="452041",
            ticket_number=owner.number,
            birth_date=D(1950, 4, 1),
            client_key="203.0.113.5",
            now=start + dt.timedelta(minutes=2),
        )


@pytest.mark.django_db
def test_it_tells_the_tries_left_and_how_long_a_lock_lasts(world: World) -> None:
    ticket = world.resident(D(1950, 4, 1))
    start = jst(2026, 11, 2, 9)

    def fail(at: dt.datetime) -> CredentialsInvalid:
        with pytest.raises(CredentialsInvalid) as failure:
            resident_authenticate(
                municipality_code="452041",
                ticket_number=ticket.number,
                birth_date=D(1950, 1, 1),
                now=at,
            )
        return failure.value

    assert [fail(start).attempts_left for _i in range(4)] == [4, 3, 2, 1]
    # The fifth failure, ten minutes on, locks the number for a whole window from now.
    last = fail(start + dt.timedelta(minutes=10))
    assert (last.attempts_left, last.lock_minutes) == (0, 15)
    assert last.retry_after == start + dt.timedelta(minutes=25)
    assert "この接種券番号での確認に続けて失敗したため、15分間ロックしました。" in str(last.message)
    assert "09:25以降（約15分後）" in str(last.message) and "0987-00-0000" in str(last.message)
    with pytest.raises(TooManyAttempts) as locked:
        resident_authenticate(
            municipality_code="452041",
            ticket_number=ticket.number,
            birth_date=D(1950, 4, 1),
            now=start + dt.timedelta(minutes=16),
        )
    assert locked.value.retry_after == start + dt.timedelta(minutes=25)
    assert (locked.value.lock_minutes, locked.value.locked) == (15, "ticket")
    assert "09:25以降（約9分後）" in str(locked.value.message)
    with translation.override("en"):
        english = str(locked.value.message)
    assert "locked for 15 min" in english and "09:25" in english, english
    other = world.resident(D(1950, 4, 1))
    assert credentials_ticket_locks(
        tickets=[ticket, other], now=start + dt.timedelta(minutes=16)
    ) == {ticket.pk: start + dt.timedelta(minutes=25)}
    later = start + dt.timedelta(minutes=26)
    assert credentials_ticket_locks(tickets=[ticket], now=later) == {}
    assert (
        resident_authenticate(
            municipality_code="452041",
            ticket_number=ticket.number,
            birth_date=D(1950, 4, 1),
            now=later,
        )
        == ticket
    )


@pytest.mark.django_db
def test_an_operator_lifts_a_tickets_lock(world: World) -> None:
    ticket = world.resident(D(1950, 4, 1))
    start = jst(2026, 11, 2, 9)
    for _i in range(5):
        with pytest.raises(CredentialsInvalid):
            resident_authenticate(
                municipality_code="452041",
                ticket_number=ticket.number,
                birth_date=D(1950, 1, 1),
                client_key="203.0.113.5",
                now=start,
            )
    assert credentials_ticket_locks(tickets=[ticket], now=start)
    with pytest.raises(PermissionDenied):
        credentials_unlock(ticket=ticket, actor=staff_with("clerk", "view_reservation"))
    assert credentials_ticket_locks(tickets=[ticket], now=start)
    assert credentials_unlock(ticket=ticket, actor=world.operator) is True
    assert credentials_unlock(ticket=ticket, actor=world.operator) is False
    assert not credentials_ticket_locks(tickets=[ticket], now=start)
    assert (
        resident_authenticate(
            municipality_code="452041",
            ticket_number=ticket.number,
            birth_date=D(1950, 4, 1),
            now=start,
        )
        == ticket
    )
    # Only the ticket's lock is lifted: the address that made the failures keeps its count.
    assert CredentialAttempt.objects.get(key="client:203.0.113.5").attempts == 5


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


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@override_settings(CREDENTIALS_CLIENT_FAILURE_LIMIT=20)
def test_one_client_charges_no_more_tickets_than_its_limit_concurrently(world: World) -> None:
    """50 wrong guesses at once from one address, each at another resident's number: the
    client's limit is claimed first, so only the 20 it allows reach a ticket's counter."""
    tickets = [world.resident(D(1950, 4, 1)) for _i in range(50)]
    barrier = threading.Barrier(len(tickets))
    results: list[str] = []
    lock = threading.Lock()

    def attempt(ticket: Ticket) -> None:
        try:
            barrier.wait()
            resident_authenticate(
                municipality_code="452041",
                ticket_number=ticket.number,
                birth_date=D(1900, 1, 1),
                client_key="203.0.113.5",
            )
            code = "ok"
        except ReservationError as error:
            code = error.code
        finally:
            connection.close()
        with lock:
            results.append(code)

    threads = [threading.Thread(target=attempt, args=(t,)) for t in tickets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert Counter(results) == {"credentials_invalid": 20, "too_many_attempts": 30}
    charged = CredentialAttempt.objects.filter(key__startswith="ticket:")
    assert charged.count() == 20 and {row.attempts for row in charged} == {1}
    assert CredentialAttempt.objects.get(key="client:203.0.113.5").attempts == 20


@pytest.mark.django_db
def test_a_sign_in_that_passes_reads_twice_and_writes_nothing(world: World) -> None:
    ticket = world.resident(D(1950, 4, 1))
    with CaptureQueriesContext(connection) as queries:
        resident_authenticate(
            municipality_code="452041",
            ticket_number=ticket.number,
            birth_date=D(1950, 4, 1),
            client_key="203.0.113.5",
        )
    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) == 2 and all(sql.startswith("SELECT") for sql in statements)
    assert not CredentialAttempt.objects.exists()


@pytest.mark.django_db
def test_a_sign_in_that_passes_forgives_the_tickets_failures(world: World) -> None:
    ticket = world.resident(D(1950, 4, 1))
    start = jst(2026, 11, 2, 9)

    def sign_in(born: dt.date) -> Ticket:
        return resident_authenticate(
            municipality_code="452041", ticket_number=ticket.number, birth_date=born, now=start
        )

    for _round in range(2):
        for _i in range(4):
            with pytest.raises(CredentialsInvalid):
                sign_in(D(1950, 1, 1))
        assert sign_in(D(1950, 4, 1)) == ticket
        assert not CredentialAttempt.objects.filter(key__startswith="ticket:").exists()
    # The forgiveness does not outlast the failures that follow it.
    for _i in range(5):
        with pytest.raises(CredentialsInvalid):
            sign_in(D(1950, 1, 1))
    with pytest.raises(TooManyAttempts):
        sign_in(D(1950, 4, 1))


@pytest.mark.django_db
@override_settings(CREDENTIALS_CLIENT_FAILURE_LIMIT=3)
def test_a_client_counts_its_failures_only(world: World) -> None:
    tickets = [world.resident(D(1950, 4, 1)) for _i in range(3)]

    def sign_in(ticket: Ticket, born: dt.date) -> Ticket:
        return resident_authenticate(
            municipality_code="452041",
            ticket_number=ticket.number,
            birth_date=born,
            client_key="203.0.113.5",
        )

    # A desk signing many people in from one address is never stopped by its successes...
    for _i in range(10):
        sign_in(tickets[0], D(1950, 4, 1))
    with pytest.raises(CredentialsInvalid):
        sign_in(tickets[1], D(1999, 1, 1))
    with pytest.raises(CredentialsInvalid):
        sign_in(tickets[2], D(1999, 1, 1))
    # ...nor does a success wipe its failures: the third one is still its last.
    sign_in(tickets[0], D(1950, 4, 1))
    with pytest.raises(CredentialsInvalid):
        sign_in(tickets[1], D(1999, 1, 1))
    with pytest.raises(TooManyAttempts):
        sign_in(tickets[0], D(1950, 4, 1))


def _file_database(path: Path, *, timeout: float) -> BaseDatabaseWrapper:
    """A connection like the embedded default's (WAL, IMMEDIATE) to a SQLite file."""
    default = connections["default"]
    settings_dict = {**default.settings_dict, "NAME": str(path)}
    settings_dict["OPTIONS"] = {**settings_dict["OPTIONS"], "timeout": timeout}
    return type(default)(settings_dict, alias="default")


def _on_file(path: Path, work: Callable[[], Any], *, timeout: float = 20) -> Any:
    """Run `work` in this thread against the file instead of the test database, then give
    the thread its test database back (the test's teardown must flush that one)."""
    test_database = connections["default"]
    connections["default"] = _file_database(path, timeout=timeout)
    try:
        return work()
    finally:
        connections["default"].close()
        connections["default"] = test_database


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@override_settings(CREDENTIALS_CLIENT_FAILURE_LIMIT=3)
def test_on_embedded_sqlite_sign_ins_do_not_queue_for_the_writer(
    world: World, tmp_path: Path
) -> None:
    """Issue 17: residents signing in at once got "database is locked" from the counter.

    Every sign-in used to write the counters (claim, give back, forgive): four to six turns at
    SQLite's single writer lock, each behind whatever held it, waiting by polling (not in
    order) for at most the busy timeout. A sign-in that passes now only reads, which WAL never
    blocks."""
    if connection.vendor != "sqlite":
        pytest.skip("the embedded default's locking (PostgreSQL has row locks)")
    tickets = [world.resident(D(1950, 4, 1)) for _i in range(100)]
    database = tmp_path / "embedded.sqlite3"
    connection.cursor().execute("VACUUM INTO %s", [str(database)])

    def sign_in(ticket: Ticket) -> Callable[[], Any]:
        return lambda: (
            resident_authenticate(
                municipality_code="452041",
                ticket_number=ticket.number,
                birth_date=D(1950, 4, 1),
                client_key="127.0.0.1",  # one address: a load test, a desk, a proxy
            ).pk
        )

    # While another request holds the writer's lock (a booking), a sign-in goes through.
    writer = sqlite3.connect(database, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("BEGIN IMMEDIATE")
    try:
        assert _on_file(database, sign_in(tickets[0]), timeout=0.5) == tickets[0].pk
    finally:
        writer.execute("ROLLBACK")
        writer.close()

    # A hundred at once from one address, each on its own connection as under runserver.
    barrier = threading.Barrier(len(tickets))

    def resident(ticket: Ticket) -> Callable[[], Any]:
        def run() -> Any:
            barrier.wait()
            return [sign_in(ticket)() for _again in range(2)]

        return run

    results: list[Any] = [None] * len(tickets)

    def run(index: int) -> None:
        try:
            results[index] = _on_file(database, resident(tickets[index]))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(tickets))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == [[t.pk, t.pk] for t in tickets]
