"""Benchmark: what each resident page costs, in SQL statements and milliseconds per request.

    python bench/web_pages.py [--database-url postgres://postgres@127.0.0.1:5432/madoguchi_bench_web]
        [--residents 60] [--days 90] [--cache-url redis://127.0.0.1:6379/11] [--keep]
        [--profile FILE]

A report, not a test. One process, one connection, residents one after another (no
contention: bench/web_booking.py measures the flow under load). It drops and creates the bench
database (its name must contain `bench`, server 127.0.0.1 only), migrates, loads the rules and
builds 日南市 with two sites, each open every day for `--days` days from 2026-11-03 (closed
days skipped) with 15 slots a day (09:00-16:30, 30 minutes) of 6 seats, one of them kept for
the call centre until 24 hours before; the booking window is open for the whole grid, as on
the first day of a season. A fifth of the slots are partly taken (their counters raised
directly: only the counters are read by these pages), so the day list shows ○, △ and ×.

Then `--residents` residents, each with a fresh browser (django.test.Client), walk the whole
booking path through the WSGI stack in-process, at 2026-11-02 09:00 JST (time-machine):

    home GET, sign-in POST, person page, book GET (no choice; vaccine + site; + date),
    hold POST, confirm GET, confirm POST, reservation detail

picking a random day with seats and a random free time from the pages it was shown (the
notification hand-off of each booking is detached: it is not a page's cost). It prints,
per page, the SQL statements per request and the mean and p50 milliseconds. Sessions are
whatever the settings choose (SESSION_ENGINE from CACHE_URL); `--cache-url` sets CACHE_URL
for this run (e.g. a Redis database to use and flush). The first two residents warm the
process up (imports, template and rule caches) and are not counted.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchdb import (
    database_drop,
    database_recreate,
    django_setup,
    manage,
    residents_with_tickets,
)

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

JST = dt.timezone(dt.timedelta(hours=9))
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=JST)  # inside covid-routine-2026
FIRST_DAY = dt.date(2026, 11, 3)
MUNICIPALITY = "452041"  # 日南市
CAMPAIGN = "covid-routine-2026"
VACCINE = "pfizer-12"
WARMUP_RESIDENTS = 2
NOTIFY_DISPATCH_UID = "notify-event"  # channels/notify/apps.py
PAGES = (
    "home GET",
    "sign-in POST",
    "person page",
    "book GET (no choice)",
    "book GET (vaccine + site)",
    "book GET (+ date)",
    "hold POST",
    "confirm GET",
    "confirm POST",
    "reservation detail",
)


def world_build(*, days: int, residents: int) -> None:
    from django.db.models import F

    from reservations.models import Campaign, Municipality, Site, Slot, Vaccine
    from reservations.services.slots import operating_days_generate

    city = Municipality.objects.create(
        code=MUNICIPALITY, name="日南市", call_centre_phone="0987-00-0000"
    )
    campaign = Campaign.objects.get(code=CAMPAIGN)
    vaccine = Vaccine.objects.get(code=VACCINE)
    for name in ("日南市文化センター", "油津公民館"):
        operating_days_generate(
            site=Site.objects.create(municipality=city, name=name),
            vaccine=vaccine,
            campaign=campaign,
            date_from=FIRST_DAY,
            date_to=FIRST_DAY + dt.timedelta(days=days - 1),
            weekdays=range(7),
            opens_at=dt.time(9),
            closes_at=dt.time(17),
            slot_minutes=30,
            capacity=6,
            phone_reserved=1,
            phone_reserve_release_hours=24,
            booking_opens_days_before=days + 30,
            booking_closes_days_before=1,
        )
    rng = random.Random(0)
    slot_ids = list(Slot.objects.order_by("pk").values_list("pk", flat=True))
    for taken, share in ((5, 0.05), (4, 0.05), (2, 0.10)):
        chosen = rng.sample(slot_ids, int(len(slot_ids) * share))
        Slot.objects.filter(pk__in=chosen, booked=0).update(booked=F("booked") + taken)
    residents_with_tickets(
        city,
        residents,
        name="日南 花子",
        name_kana="ニチナン ハナコ",
        born_from=dt.date(1950, 4, 1),
        phone=lambda _i: "+819012345678",
    )
    print(
        f"grid: {Site.objects.count()} sites, {Slot.objects.count()} slots "
        f"from {FIRST_DAY} for {days} days; {residents} residents"
    )


class Meter:
    """SQL statements and wall time of each request, by page."""

    def __init__(self) -> None:
        self.statements = 0
        self.ms: dict[str, list[float]] = defaultdict(list)
        self.sql: dict[str, list[int]] = defaultdict(list)

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.statements += 1
        return execute(sql, params, many, context)

    def request(self, page: str, call: Any, *, expect: int) -> Any:
        before = self.statements
        started = time.perf_counter()
        response = call()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != expect:
            raise SystemExit(
                f"{page}: HTTP {response.status_code}, expected {expect}\n"
                + response.content.decode()[:3000]
            )
        self.ms[page].append(elapsed)
        self.sql[page].append(self.statements - before)
        return response


def resident_flow(meter: Meter, ticket: Any, rng: random.Random) -> None:
    from django.test import Client

    browser = Client(HTTP_HOST="localhost")
    meter.request("home GET", lambda: browser.get("/"), expect=200)
    born = ticket.resident.birth_date
    form = {
        "municipality": MUNICIPALITY,
        "ticket_number": ticket.number,
        "birth_era": "western",
        "birth_year": str(born.year),
        "birth_month": str(born.month),
        "birth_day": str(born.day),
        "booking_for": "resident",
        "relationship": "",
    }
    signed_in = meter.request("sign-in POST", lambda: browser.post("/", form), expect=302)
    person_url = signed_in["Location"]
    meter.request("person page", lambda: browser.get(person_url), expect=200)
    book_url = f"{person_url}book/"
    page = meter.request("book GET (no choice)", lambda: browser.get(book_url), expect=200)
    html = page.content.decode()
    option = rng.choice(re.findall(r'<option value="(\d+-\d+)"', html))
    sites = re.search(r'name="site">(.*?)</select>', html, re.S)
    assert sites is not None, "one vaccine: the page offers the sites at once"
    site = rng.choice(re.findall(r'<option value="(\d+)"', sites.group(1)))
    query = {"option": option, "site": site}
    page = meter.request(
        "book GET (vaccine + site)", lambda: browser.get(book_url, query), expect=200
    )
    dates = re.findall(r"date=(\d{4}-\d{2}-\d{2})#times", page.content.decode())
    query["date"] = rng.choice(dates[:30])
    page = meter.request("book GET (+ date)", lambda: browser.get(book_url, query), expect=200)
    free = re.findall(r'name="slot" id="slot-\d+" value="(\d+)">', page.content.decode())
    key = re.search(r'name="key" value="([^"]+)"', page.content.decode())
    assert key is not None
    hold = {**query, "slot": rng.choice(free), "key": key.group(1)}
    held = meter.request("hold POST", lambda: browser.post(book_url, hold), expect=302)
    confirm_url = held["Location"]
    meter.request("confirm GET", lambda: browser.get(confirm_url), expect=200)
    booked = meter.request(
        "confirm POST", lambda: browser.post(confirm_url, {"action": "confirm"}), expect=302
    )
    meter.request("reservation detail", lambda: browser.get(booked["Location"]), expect=200)


def run(residents: int, profile: str = "") -> None:
    from django.conf import settings
    from django.db import connection

    from reservations.models import Reservation, Ticket

    tickets = list(Ticket.objects.select_related("resident").order_by("pk"))
    rng = random.Random(1)
    warm = Meter()
    for ticket in tickets[:WARMUP_RESIDENTS]:
        resident_flow(warm, ticket, rng)
    meter = Meter()
    profiler = cProfile.Profile() if profile else None
    with connection.execute_wrapper(meter):
        if profiler is not None:
            profiler.enable()
        for ticket in tickets[WARMUP_RESIDENTS:]:
            resident_flow(meter, ticket, rng)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
    booked = Reservation.objects.filter(status=Reservation.Status.CONFIRMED).count()
    counted = len(tickets) - WARMUP_RESIDENTS
    print(
        f"{counted} residents, one after another, one process, PostgreSQL; "
        f"sessions: {settings.SESSION_ENGINE}; {booked} bookings confirmed"
    )
    print(f"{'page':28} {'SQL/request':>12} {'ms mean':>9} {'ms p50':>8}")
    total_sql = total_ms = 0.0
    for page in PAGES:
        sql = statistics.mean(meter.sql[page])
        mean = statistics.mean(meter.ms[page])
        total_sql += sql
        total_ms += mean
        print(f"{page:28} {sql:12.1f} {mean:9.2f} {statistics.median(meter.ms[page]):8.2f}")
    print(f"{'whole flow':28} {total_sql:12.1f} {total_ms:9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/madoguchi_bench_web"
    )
    parser.add_argument("--residents", type=int, default=60)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--cache-url", default="", help="CACHE_URL for this run (flushed)")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument(
        "--profile", default="", help="write a cProfile of the measured flows to this file"
    )
    args = parser.parse_args()
    os.environ.pop("CELERY_BROKER_URL", None)  # notifications run in-process, as with no broker
    if args.cache_url:
        os.environ["CACHE_URL"] = args.cache_url
    database_recreate(args.database_url)
    try:
        manage(args.database_url, "migrate")
        manage(args.database_url, "load_rules")
        django_setup(args.database_url)
        # The notification of each booking is not a page's cost (bench/sms_fanout.py, the
        # outbox relay): without a broker it would run inside the confirm POST.
        from reservations.signals import events_recorded

        events_recorded.disconnect(dispatch_uid=NOTIFY_DISPATCH_UID)
        import time_machine
        from django.core.cache import cache

        if args.cache_url:
            cache.clear()
        with time_machine.travel(NOW, tick=True):
            world_build(days=args.days, residents=args.residents + WARMUP_RESIDENTS)
            run(args.residents, args.profile)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            database_drop(args.database_url)


if __name__ == "__main__":
    main()
