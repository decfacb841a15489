"""Call-centre dashboard on a season of data: database aggregates vs a Python loop.

    python bench/phone_dashboard.py [--days 120] [--database-url postgres://.../x_bench]

Builds a fresh SQLite database with one season (2 sites × --days days × 28 slots, most seats
booked through several channels, some cancelled or no-show), then times the four dashboard
reads the supervisors' page makes (fill rates, seats per channel, bookings by channel per day,
cancellations and no-shows) against a baseline that computes the same figures by looping over
the reservation rows in Python. Both must agree; prints the median of 5 runs and the ratio.

The season is written with bulk inserts (the booking service would take an hour for this
many rows); the counters are set consistently with the rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def build(days: int) -> dict[str, int]:
    import random

    from django.utils import timezone

    from reservations.models import (
        Campaign,
        Municipality,
        OperatingDay,
        Reservation,
        Resident,
        Site,
        Slot,
        Ticket,
        Vaccine,
    )
    from reservations.services.rules import rules_load

    rules_load()
    rng = random.Random(7)
    city = Municipality.objects.create(code="452041", name="日南市")
    campaign = Campaign.objects.get(code="covid-routine-2026")
    vaccine = Vaccine.objects.get(code="pfizer-12")
    tz = timezone.get_current_timezone()
    first_day = timezone.localdate() - dt.timedelta(days=days // 2)
    slots = []
    for site_name in ("文化センター", "油津公民館"):
        site = Site.objects.create(municipality=city, name=site_name)
        for offset in range(days):
            date = first_day + dt.timedelta(days=offset)
            day = OperatingDay.objects.create(
                site=site, date=date, vaccine=vaccine, campaign=campaign
            )
            for index in range(28):
                start = dt.datetime.combine(date, dt.time(9), tzinfo=tz) + dt.timedelta(
                    minutes=15 * index
                )
                slots.append(
                    Slot(
                        operating_day=day,
                        starts_at=start,
                        ends_at=start + dt.timedelta(minutes=15),
                        capacity=12,
                        phone_reserved=2,
                    )
                )
    Slot.objects.bulk_create(slots, batch_size=2000)
    slots = list(Slot.objects.all())
    residents, tickets, plan = [], [], []
    number = 0
    for slot in slots:
        for _seat in range(rng.randint(6, 12)):
            number += 1
            residents.append(
                Resident(
                    municipality=city,
                    name=f"住民{number}",
                    name_kana="ジュウミン",
                    birth_date=dt.date(1950, 1, 1),
                )
            )
            plan.append(slot)
    Resident.objects.bulk_create(residents, batch_size=5000)
    residents = list(Resident.objects.order_by("pk"))
    tickets = [
        Ticket(municipality=city, number=f"{i + 1:010d}", resident=r)
        for i, r in enumerate(residents)
    ]
    Ticket.objects.bulk_create(tickets, batch_size=5000)
    tickets = list(Ticket.objects.order_by("pk"))
    channels = ["web", "web", "web", "line", "phone", "api"]
    reservations = []
    booked: Counter[int] = Counter()
    staff: Counter[int] = Counter()
    for i, (ticket, slot) in enumerate(zip(tickets, plan, strict=True)):
        roll = rng.random()
        status = "cancelled" if roll < 0.08 else "no_show" if roll < 0.11 else "confirmed"
        channel = rng.choice(channels)
        if status != "cancelled":
            booked[slot.pk] += 1
            staff[slot.pk] += channel == "phone"
        reservations.append(
            Reservation(
                code=f"{i + 1:09d}",
                resident_id=ticket.resident_id,
                ticket=ticket,
                slot=slot,
                campaign=campaign,
                vaccine=vaccine,
                dose_number=1,
                status=status,
                channel=channel,
                entered_by="resident",
                staff_seat=channel == "phone",
            )
        )
    Reservation.objects.bulk_create(reservations, batch_size=5000)
    # Spread creation times over the season so "bookings by channel per day" has a shape.
    for slot in slots:
        Slot.objects.filter(pk=slot.pk).update(
            booked=booked[slot.pk], booked_staff=min(staff[slot.pk], booked[slot.pk])
        )
    return {
        "slots": len(slots),
        "reservations": len(reservations),
        "first_day": first_day.toordinal(),
    }


def dashboard(first: dt.date, last: dt.date) -> Any:
    from django.utils import timezone

    from channels.phone import selectors
    from reservations.models import Municipality
    from reservations.selectors import fill_rates

    city = Municipality.objects.get()
    fills = fill_rates(municipality=city, date_from=first, date_to=last)
    selectors.seats_by_channel(municipality=city, date_from=first, date_to=last, now=timezone.now())
    by_channel = selectors.bookings_by_channel_per_day(
        municipality=city, date_from=first, date_to=last
    )
    losses = selectors.cancellations_and_no_shows(municipality=city, date_from=first, date_to=last)
    return (
        sorted((f.date, f.site_name, f.booked, f.capacity) for f in fills),
        sum(r["n"] for r in by_channel),
        sorted((r["slot__operating_day__date"], r["cancelled"], r["no_show"]) for r in losses),
    )


def python_loop(first: dt.date, last: dt.date) -> Any:
    """The same figures computed row by row in Python: what the dashboard must not do."""
    from django.utils import timezone

    from reservations.models import Reservation, Slot

    fills: dict[tuple[dt.date, str], list[int]] = defaultdict(lambda: [0, 0])
    for slot in Slot.objects.select_related("operating_day__site").filter(
        operating_day__date__range=(first, last)
    ):
        key = (slot.operating_day.date, slot.operating_day.site.name)
        fills[key][0] += slot.booked
        fills[key][1] += slot.capacity
    total = 0
    losses: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0])
    for r in Reservation.objects.select_related("slot__operating_day").filter(
        slot__operating_day__date__range=(first, last)
    ):
        total += first <= timezone.localdate(r.created_at) <= last
        day = r.slot.operating_day.date
        losses[day][0] += r.status == "cancelled"
        losses[day][1] += r.status == "no_show"
    return (
        sorted((d, s, b, c) for (d, s), (b, c) in fills.items()),
        total,
        sorted((d, c, n) for d, (c, n) in losses.items()),
    )


def timed(function: Any, *args: Any) -> tuple[float, Any]:
    runs, result = [], None
    for _run in range(5):
        started = time.perf_counter()
        result = function(*args)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL database to use instead of a temporary SQLite file; it is FLUSHED "
        "before and after the run, so its name must contain 'bench'",
    )
    args = parser.parse_args()
    if args.database_url and "bench" not in args.database_url.rsplit("/", 1)[-1]:
        sys.exit("--database-url: the database name must contain 'bench' (it is flushed)")
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        os.environ.update(
            {
                "DATABASE_URL": args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}",
                "DJANGO_DEBUG": "false",
                "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-only"),
                "DJANGO_SETTINGS_MODULE": "config.settings",
            }
        )
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        if args.database_url:
            call_command("flush", interactive=False, verbosity=0)
        started = time.perf_counter()
        size = build(args.days)
        print(
            f"season: {size['slots']} slots, {size['reservations']} reservations "
            f"(built in {time.perf_counter() - started:.1f} s)"
        )
        first = dt.date.fromordinal(size["first_day"])
        last = first + dt.timedelta(days=args.days - 1)
        base_s, expected = timed(python_loop, first, last)
        dash_s, got = timed(dashboard, first, last)
        same = got == expected
        print(f"{'read':40} {'median ms':>10} {'× baseline':>11}")
        print(f"{'baseline: Python loop over rows':40} {base_s * 1000:>10.1f} {1.0:>11.2f}")
        print(
            f"{'dashboard: database aggregates':40} {dash_s * 1000:>10.1f} {dash_s / base_s:>11.3f}"
        )
        print(f"figures agree: {same}")
        if args.database_url:
            call_command("flush", interactive=False, verbosity=0)
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
