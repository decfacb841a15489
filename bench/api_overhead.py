"""Benchmark: what the REST API adds to a booking, against the core service call it wraps.

    python bench/api_overhead.py [--database-url postgres://postgres@127.0.0.1:5432/madoguchi_bench_api]
        [--bookings 300] [--show-statements]

A report, not a test. One process, one connection, bookings one after another (no contention:
bench/booking_contention.py measures that). It drops and creates the bench database (its name
must contain `bench`, server 127.0.0.1 only), migrates, loads the rules, builds 日南市 with one
site and enough slots, residents and an operator token, then books `--bookings` residents:

1. core: `reservation_book(...)` directly (the baseline);
2. api: `POST /api/v1/reservations/` through the whole WSGI stack in-process (middleware, token
   authentication, validation, the per-ticket sign-in limit, the booking, the rendered answer);
3. api + Idempotency-Key: the same with a fresh key per request (the claim row and the stored
   answer);
4. api replay: the same key and body again (served from the stored answer).

It prints ms per booking, SQL statements per booking and the ratio of each to the core;
`--show-statements` also lists the statements of one booking (with and without a key) and the
code that sent each. The
clock is moved to 2026-11-02 09:00 JST (time-machine) so the season's rules apply.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchdb import database_drop, database_recreate

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

JST = dt.timezone(dt.timedelta(hours=9))
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=JST)


def _setup(database_url: str) -> None:
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SECRET_KEY": "bench",
            "DJANGO_DEBUG": "false",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_LOG_LEVEL": "ERROR",
        }
    )
    os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("load_rules", verbosity=0)


def _cast(bookings: int) -> tuple[list[Any], list[int], str]:
    """Tickets, slot ids (one seat per booking, spread over slots) and an operator token."""
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    from reservations import roles
    from reservations.models import (
        Campaign,
        Municipality,
        OperatingDay,
        Resident,
        Site,
        Slot,
        Ticket,
        Vaccine,
    )

    roles.ensure_staff_groups()
    city = Municipality.objects.create(code="452041", name="日南市", call_centre_phone="0")
    site = Site.objects.create(municipality=city, name="日南市文化センター")
    campaign = Campaign.objects.get(code="covid-routine-2026")
    vaccine = Vaccine.objects.get(code="pfizer-12")
    day = OperatingDay.objects.create(
        site=site, date=dt.date(2026, 11, 10), vaccine=vaccine, campaign=campaign
    )
    slots = []
    for index in range(48):
        start = dt.datetime(2026, 11, 10, 9, 0, tzinfo=JST) + dt.timedelta(minutes=10 * index)
        slots.append(
            Slot.objects.create(
                operating_day=day,
                starts_at=start,
                ends_at=start + dt.timedelta(minutes=10),
                capacity=4 * bookings // 48 + 4,
            ).pk
        )
    tickets = []
    for number in range(1, 4 * bookings + 1):
        resident = Resident.objects.create(
            municipality=city, name="日南 花子", birth_date=dt.date(1950, 4, 1)
        )
        tickets.append(
            Ticket.objects.create(municipality=city, number=f"{number:010d}", resident=resident)
        )
    operator = User.objects.create_user("operator", password=None, is_staff=True)
    operator.groups.add(Group.objects.get(name=roles.OPERATORS))
    return tickets, slots, Token.objects.create(user=operator).key


def _measure(label: str, calls: list[Callable[[], object]]) -> tuple[str, float, float]:
    from django.db import connection

    statements = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    times = []
    with connection.execute_wrapper(count):
        for call in calls:
            started = time.perf_counter()
            call()
            times.append((time.perf_counter() - started) * 1000)
    return label, statistics.mean(times), statements / len(calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/madoguchi_bench_api"
    )
    parser.add_argument("--bookings", type=int, default=300)
    parser.add_argument(
        "--show-statements",
        action="store_true",
        help="also print the SQL of one booking through the API, with and without a key",
    )
    args = parser.parse_args()
    database_recreate(args.database_url)
    try:
        _setup(args.database_url)
        import time_machine

        with time_machine.travel(NOW, tick=True):
            _run(args.bookings, show_statements=args.show_statements)
    finally:
        from django.db import connections

        connections.close_all()
        database_drop(args.database_url)


def _statements_of(call: Callable[[], object]) -> list[str]:
    """Each SQL statement `call` sends, shortened, with the project code that sent it."""
    import traceback

    from django.db import connection

    seen: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        ours = [
            f"{frame.filename.removeprefix(str(ROOT) + '/')}:{frame.lineno} {frame.name}"
            for frame in traceback.extract_stack()
            if frame.filename.startswith(str(ROOT))
            and "/.venv/" not in frame.filename
            and "/bench/" not in frame.filename
        ]
        sent_by = " < ".join(reversed(ours[-3:]))
        seen.append(f"{' '.join(sql.split())[:110]}\n      {sent_by}")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        call()
    return seen


def _run(bookings: int, *, show_statements: bool = False) -> None:
    from django.test import Client

    from reservations.models import Actor, Channel
    from reservations.services.booking import Requester, reservation_book

    tickets, slots, token = _cast(bookings)
    from django.contrib.auth.models import User

    requester = Requester(
        channel=Channel.API, actor=Actor.OPERATOR, user=User.objects.get(username="operator")
    )
    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="localhost")
    groups = [tickets[i * bookings : (i + 1) * bookings] for i in range(4)]

    def body(ticket: Any, index: int) -> dict[str, Any]:
        return {
            "municipality_code": "452041",
            "ticket_number": ticket.number,
            "birth_date": "1950-04-01",
            "slot": slots[index % len(slots)],
        }

    def post(ticket: Any, index: int, key: str | None = None) -> Callable[[], object]:
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}

        def call() -> object:
            response = client.post(
                "/api/v1/reservations/",
                body(ticket, index),
                content_type="application/json",
                **headers,  # type: ignore[arg-type]
            )
            assert response.status_code == 201, response.content
            return response

        return call

    runs = [
        _measure(
            "core: reservation_book",
            [
                (
                    lambda t=t, i=i: reservation_book(
                        ticket=t, slot=slots[i % len(slots)], requester=requester
                    )
                )
                for i, t in enumerate(groups[0])
            ],
        ),
        _measure("api: POST /reservations/", [post(t, i) for i, t in enumerate(groups[1])]),
        _measure(
            "api + Idempotency-Key",
            [post(t, i, f"k{i}") for i, t in enumerate(groups[2])],
        ),
        _measure(
            "api replay (same key and body)",
            [post(t, i, f"k{i}") for i, t in enumerate(groups[2])],
        ),
    ]
    if show_statements:
        extra = tickets[-2:]  # the fourth group is never booked by the runs above
        for label, call in (
            ("api: POST /reservations/", post(extra[0], 0)),
            ("api + Idempotency-Key", post(extra[1], 1, "show-statements")),
        ):
            print(f"-- {label}")
            for number, sql in enumerate(_statements_of(call), 1):
                print(f"{number:3} {sql}")
    base = runs[0][1]
    print(f"{bookings} sequential bookings per run, one process, PostgreSQL")
    print(f"{'run':34} {'ms/booking':>11} {'SQL/booking':>12} {'ratio to core':>14}")
    for label, ms, sql in runs:
        print(f"{label:34} {ms:11.2f} {sql:12.1f} {ms / base:14.2f}")


if __name__ == "__main__":
    main()
