"""SMS fan-out: 10,000 reminders due at once, sent by real Celery workers over Redis to the
loopback stand-in gateway, against a baseline that posts the same 10,000 requests directly
with the same concurrency. Prints messages/s for both, the ratio (target >= 0.5) and the
duplicate count (must be 0).

    python bench/sms_fanout.py [--database-url postgres://postgres@127.0.0.1:5432/madoguchi_i5_bench]
        [--broker-url redis://127.0.0.1:6379/5] [--messages 10000] [--concurrency 4] [--keep]

Set-up (not timed): a fresh database, rules, 10,000 residents with a confirmed booking for
tomorrow (bulk-inserted: booking is not what is measured here). Timed: one
`reminder_scan_task` through the broker, as beat runs it; the workers record the reminder
events, turn them into messages and deliver every one to the stand-in ("due -> sent"). The
baseline posts the identical requests from `--concurrency` processes. `--isolated-fanout` also
times delivery alone (the same messages reset and sent again).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from benchdb import database_drop, database_recreate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN, SERVICE_ID = "bench-token", "bench-svc"


def _env(database_url: str, broker_url: str, gateway_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "DJANGO_SECRET_KEY": "bench",
        "DJANGO_DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_LOG_LEVEL": "WARNING",
        "SMS_BACKEND": "http",
        "SMS_HTTP_BASE_URL": gateway_url,
        "SMS_HTTP_TOKEN": TOKEN,
        "SMS_HTTP_SERVICE_ID": SERVICE_ID,
        # Measure our pipeline, not the contracted rate: the bucket is still consulted.
        "SMS_RATE_LIMIT_PER_SECOND": "100000",
        "SMS_RATE_LIMIT_BURST": "100000",
        "NOTIFY_REMINDER_TIME": "00:00",
        # No quiet hours, so the run does not depend on the time of day.
        "NOTIFY_QUIET_HOURS_START": "00:00",
        "NOTIFY_QUIET_HOURS_END": "00:00",
    }


# --- the stand-in gateway, in its own process ---------------------------------------------------


def _serve_gateway(port_queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from tests.channels.sms.standin import GatewayStandIn

    standin = GatewayStandIn(token=TOKEN, service_id=SERVICE_ID)
    port_queue.put(standin.start())
    signal.pause()


def gateway_stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/_stats", timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read())  # type: ignore[no-any-return]


def wait_until(check: Callable[[], bool], what: str, *, poll: float = 0.2) -> None:
    """Wait while progress is being made; give up after two minutes without any."""
    last_change, last_seen = time.monotonic(), None
    started = last_report = time.monotonic()
    while not check():
        seen = gateway_stats(os.environ["SMS_HTTP_BASE_URL"])["posts"]
        if seen != last_seen:
            last_change, last_seen = time.monotonic(), seen
        if time.monotonic() - last_report > 30:
            last_report = time.monotonic()
            print(
                f"  ... {what}: {seen} posts at the gateway after {last_report - started:.0f} s",
                flush=True,
            )
        if time.monotonic() - last_change > 120:
            raise SystemExit(f"no progress for two minutes waiting for {what}")
        time.sleep(poll)


# --- set-up --------------------------------------------------------------------------------------


def build_bookings(count: int) -> None:
    """`count` residents, each with a confirmed booking tomorrow (Japan time)."""
    from django.db import transaction
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
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    municipality = Municipality.objects.create(
        code="452041",
        name="日南市",
        call_centre_phone="0987-00-0000",
        sms_sender_label="日南市ワクチン予約",
    )
    site = Site.objects.create(municipality=municipality, name="日南市文化センター")
    vaccine = Vaccine.objects.get(code="pfizer-12")
    campaign = Campaign.objects.get(code="covid-routine-2026")
    day = OperatingDay.objects.create(site=site, date=tomorrow, vaccine=vaccine, campaign=campaign)
    per_slot = 100
    slots = []
    for index in range((count + per_slot - 1) // per_slot):
        start = timezone.make_aware(dt.datetime.combine(tomorrow, dt.time(9))) + dt.timedelta(
            minutes=5 * index
        )
        booked = min(per_slot, count - index * per_slot)
        slots.append(
            Slot(
                operating_day=day,
                starts_at=start,
                ends_at=start + dt.timedelta(minutes=5),
                capacity=per_slot,
                booked=booked,
            )
        )
    with transaction.atomic():
        slots = Slot.objects.bulk_create(slots)
        residents = Resident.objects.bulk_create(
            Resident(
                municipality=municipality,
                name=f"住民{i}",
                birth_date=dt.date(1950, 1, 1),
                phone=f"+8190{12_000_000 + i:08d}",
            )
            for i in range(count)
        )
        tickets = Ticket.objects.bulk_create(
            Ticket(municipality=municipality, number=f"{i + 1:010d}", resident=resident)
            for i, resident in enumerate(residents)
        )
        # Fixture rows for the benchmark only; the application books through the services.
        Reservation.objects.bulk_create(
            Reservation(
                code=f"{100000000 + i}",
                resident=resident,
                ticket=ticket,
                slot=slots[i // per_slot],
                campaign=campaign,
                vaccine=vaccine,
                dose_number=1,
                status=Reservation.Status.CONFIRMED,
                channel="web",
                entered_by="resident",
            )
            for i, (resident, ticket) in enumerate(zip(residents, tickets, strict=True))
        )


# --- the baseline ----------------------------------------------------------------------------


def _post_chunk(args: tuple[str, list[dict[str, str]]]) -> int:
    import requests

    url, forms = args
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    for form in forms:
        response = session.post(f"{url}/messages", data=form, timeout=(3.05, 10))
        response.raise_for_status()
    return len(forms)


def baseline(url: str, forms: list[dict[str, str]], concurrency: int) -> float:
    chunks = [(url, forms[i::concurrency]) for i in range(concurrency)]
    # spawn, not fork: this process has threads (the ORM, the broker client).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(concurrency, mp_context=context) as pool:
        # Start and warm every process (imports, one connection) before the clock starts.
        assert sum(pool.map(_post_chunk, [(url, []) for _ in range(concurrency)])) == 0
        started = time.perf_counter()
        assert sum(pool.map(_post_chunk, chunks)) == len(forms)
        return time.perf_counter() - started


# --- main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/madoguchi_i5_bench"
    )
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--isolated-fanout", action="store_true", help="also time delivery alone (doubles the run)"
    )
    options = parser.parse_args()

    port_queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    gateway = multiprocessing.Process(target=_serve_gateway, args=(port_queue,), daemon=True)
    gateway.start()
    gateway_url = port_queue.get(timeout=30)
    env = _env(options.database_url, options.broker_url, gateway_url)
    os.environ.update(env)

    database_recreate(options.database_url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env={**os.environ},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    import django

    django.setup()
    from django.db import connection

    from channels.notify.models import OutboundMessage
    from config.celery import app
    from reservations.identifiers import phone_to_national_digits

    started = time.perf_counter()
    build_bookings(options.messages)
    print(
        f"set-up: {options.messages} confirmed bookings for tomorrow in "
        f"{time.perf_counter() - started:.1f} s"
    )
    app.control.purge()
    connection.close()

    log = ROOT / "var" / "bench-sms-worker.log"
    log.parent.mkdir(exist_ok=True)
    from tests.workers import celery_worker_argv

    worker = subprocess.Popen(
        celery_worker_argv(
            concurrency=options.concurrency, loglevel="WARNING", name="sms-bench@%h"
        ),
        cwd=ROOT,
        env={**os.environ},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        ping_deadline = time.monotonic() + 60
        while not app.control.ping(timeout=1.0):
            if time.monotonic() > ping_deadline or worker.poll() is not None:
                raise SystemExit(f"worker did not start; see {log}")
        # Phase 1: the scan, as beat would run it, and event -> message in the workers.
        from channels.notify.tasks import deliver_message_task, reminder_scan_task

        phase1_started = time.perf_counter()
        reminder_scan_task.delay()
        wait_until(lambda: OutboundMessage.objects.count() >= options.messages, "messages")
        phase1 = time.perf_counter() - phase1_started
        not_sms = OutboundMessage.objects.exclude(channel="sms").count()
        if not_sms:
            raise SystemExit(f"{not_sms} messages are not SMS; the fixture numbers are wrong")
        # The workers have been sending since the first message existed; wait for the rest.
        wait_until(lambda: gateway_stats(gateway_url)["messages"] >= options.messages, "sends")
        end_to_end = time.perf_counter() - phase1_started
        unsent = OutboundMessage.objects.exclude(status="sent").count()

        phase2 = None
        if options.isolated_fanout:
            # Delivery alone: the same messages sent again from scratch (rows reset to queued
            # with new retry keys), timed without the scan and message creation.
            import uuid

            before = gateway_stats(gateway_url)["messages"]
            for message in OutboundMessage.objects.only("pk"):
                OutboundMessage.objects.filter(pk=message.pk).update(
                    status="queued", retry_key=uuid.uuid4(), attempts=0, provider_message_id=""
                )
            ids = list(OutboundMessage.objects.values_list("pk", flat=True))
            connection.close()
            phase2_started = time.perf_counter()
            for message_id in ids:
                deliver_message_task.delay(message_id)
            wait_until(
                lambda: gateway_stats(gateway_url)["messages"] >= before + options.messages,
                "fan-out",
                poll=0.05,
            )
            phase2 = time.perf_counter() - phase2_started
        time.sleep(2)  # anything still in flight would show up as a duplicate
        stats = gateway_stats(gateway_url)
        duplicates = stats["messages"] - stats["distinct"]

        forms = [
            {
                "service_id": SERVICE_ID,
                "to": phone_to_national_digits(m.address),
                "body": m.body,
                "tags": f"baseline-{m.pk}",
            }
            for m in OutboundMessage.objects.only("address", "body")
        ]
        baseline_seconds = baseline(gateway_url, forms, options.concurrency)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
        gateway.terminate()
        connection.close()
        if not options.keep:
            database_drop(options.database_url)

    rate_workers = options.messages / end_to_end
    rate_baseline = options.messages / baseline_seconds
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end")
    print(
        f"phase 1  scan + event->message (workers): {phase1:7.1f} s "
        f"({options.messages / phase1:7.0f} messages/s)"
    )
    print(
        f"end to end (scan, messages and sends overlapping): {end_to_end:7.1f} s "
        f"({options.messages / end_to_end:7.0f} messages/s); not sent afterwards: {unsent}"
    )
    print(f"{'run':28} {'seconds':>8} {'messages/s':>11}")
    print(f"{'workers over Redis (due->sent)':28} {end_to_end:8.2f} {rate_workers:11.0f}")
    if phase2 is not None:
        print(f"{'workers, delivery alone':28} {phase2:8.2f} {options.messages / phase2:11.0f}")
    print(f"{'baseline (direct POSTs)':28} {baseline_seconds:8.2f} {rate_baseline:11.0f}")
    print(f"ratio workers/baseline: {rate_workers / rate_baseline:.2f} (target >= 0.5)")
    print(f"duplicates at the gateway: {duplicates} (must be 0)")
    return 1 if duplicates else 0


if __name__ == "__main__":
    sys.exit(main())
