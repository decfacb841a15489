"""SMS fan-out: reminders due at once, sent by real Celery workers over Redis to the loopback
stand-in gateway, against a baseline that posts the same requests directly with the same
concurrency. Prints messages/s for both, the ratio (target >= 0.5 at --gateway-ms 0), the
duplicate count (must be 0) and the backlog left.

    python bench/sms_fanout.py [--database-url postgres://postgres@127.0.0.1:5432/madoguchi_i5_bench]
        [--broker-url redis://127.0.0.1:6379/5] [--messages 10000] [--concurrency 4]
        [--gateway-ms 0] [--rate-limit 100000] [--isolated-fanout] [--keep]

Set-up (not timed): a fresh database, rules, `--messages` residents with a confirmed booking
for tomorrow (bulk-inserted: booking is not what is measured here). Timed: one
`reminder_scan_task` through the broker, as beat runs it; the relay (`manage.py notify_relay`)
hands the reminder events to the workers, which turn them into messages and deliver every one
to the stand-in ("due -> sent"). The baseline posts the identical requests from
`--concurrency` processes. `--isolated-fanout` also times delivery alone (the same messages
reset and handed over again in batches, as the relay's tasks do).

`--gateway-ms` is the stand-in's answer time per request (0: as fast as loopback allows; a
real provider answers in 50-300 ms). `--rate-limit` is SMS_RATE_LIMIT_PER_SECOND (and its
burst) for the workers; by default far above the run, so the pipeline is measured, not the
contract, while the shared bucket in Redis is still consulted.

Confirmations keeping up with bookings (`--bookings-per-second R --seconds S`): instead of
the fan-out, the bench commits R booking events a second for S seconds (each the event a
booking writes, announced as the core does), with the provider limit `--rate-limit` (100 if
not given), and prints the booking -> sent latency of the confirmations (p50, p90, p99, max),
the share sent within 60 s and the backlog at the end. Run it for several --concurrency
values to size the workers (bench/README.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
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

from benchdb import SECRET_KEY, database_drop, database_recreate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN, SERVICE_ID = "bench-token", "bench-svc"


def _env(database_url: str, broker_url: str, gateway_url: str, rate_limit: float) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_DEBUG": "false",
        # The workers and the relay refuse a per-process cache (config/checks.py).
        "CACHE_URL": broker_url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_LOG_LEVEL": "WARNING",
        "SMS_BACKEND": "http",
        "SMS_HTTP_BASE_URL": gateway_url,
        "SMS_HTTP_TOKEN": TOKEN,
        "SMS_HTTP_SERVICE_ID": SERVICE_ID,
        # By default our pipeline is measured, not the contracted rate: the bucket in Redis is
        # still consulted. A burst of one second's worth, like the defaults (20/s, 20).
        "SMS_RATE_LIMIT_PER_SECOND": f"{rate_limit:g}",
        "SMS_RATE_LIMIT_BURST": str(max(1, round(rate_limit))),
        # The production hand-off: the relay process turns committed events into tasks.
        "NOTIFY_HANDOFF": "relay",
        "NOTIFY_REMINDER_TIME": "00:00",
        # No quiet hours, so the run does not depend on the time of day.
        "NOTIFY_QUIET_HOURS_START": "00:00",
        "NOTIFY_QUIET_HOURS_END": "00:00",
    }


# --- the stand-in gateway, in its own process ---------------------------------------------------


def _serve_gateway(port_queue: multiprocessing.Queue, answer_seconds: float) -> None:  # type: ignore[type-arg]
    from tests.channels.sms.standin import GatewayStandIn

    standin = GatewayStandIn(token=TOKEN, service_id=SERVICE_ID, answer_seconds=answer_seconds)
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


# --- the workers and the relay ------------------------------------------------------------


class Pipeline:
    """`celery worker --concurrency=N` and one `manage.py notify_relay`, as deployed."""

    def __init__(self, concurrency: int) -> None:
        from tests.workers import celery_worker_argv

        log_dir = ROOT / "var"
        log_dir.mkdir(exist_ok=True)
        self.logs = [log_dir / "bench-sms-worker.log", log_dir / "bench-sms-relay.log"]
        argvs = [
            celery_worker_argv(concurrency=concurrency, loglevel="WARNING", name="sms-bench@%h"),
            [sys.executable, "manage.py", "notify_relay"],
        ]
        self.processes = [
            subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                argv,
                cwd=ROOT,
                env={**os.environ},
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: SIGTERM reaches the children
            )
            for argv, log in zip(argvs, self.logs, strict=True)
        ]

    def wait_ready(self) -> None:
        from config.celery import app

        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=1.0):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                raise SystemExit(f"worker or relay did not start; see {self.logs}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def backlog(broker_url: str) -> str:
    """What is left to send: messages not sent, and tasks waiting in the broker."""
    import redis

    from channels.notify.models import OutboundMessage

    unsent = OutboundMessage.objects.exclude(status="sent").count()
    queued = redis.Redis.from_url(broker_url).llen("celery")
    return f"{unsent} messages not sent, {queued} tasks in the broker"


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# --- the fan-out -------------------------------------------------------------------------------


def run_fanout(options: argparse.Namespace, gateway_url: str) -> int:
    from django.db import connection

    from channels.notify.models import OutboundMessage
    from channels.notify.tasks import MESSAGES_PER_TASK, deliver_messages_task, reminder_scan_task
    from reservations.identifiers import phone_to_national_digits

    pipeline = Pipeline(options.concurrency)
    try:
        pipeline.wait_ready()
        # Phase 1: the scan, as beat would run it; the relay and the workers make the messages.
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
            # with new retry keys), handed over in the batches enqueue_deliveries makes.
            import uuid

            before = gateway_stats(gateway_url)["messages"]
            for message in OutboundMessage.objects.only("pk"):
                OutboundMessage.objects.filter(pk=message.pk).update(
                    status="queued", retry_key=uuid.uuid4(), attempts=0, provider_message_id=""
                )
            ids = list(OutboundMessage.objects.values_list("pk", flat=True))
            connection.close()
            phase2_started = time.perf_counter()
            for start in range(0, len(ids), MESSAGES_PER_TASK):
                deliver_messages_task.delay(ids[start : start + MESSAGES_PER_TASK])
            wait_until(
                lambda: gateway_stats(gateway_url)["messages"] >= before + options.messages,
                "fan-out",
                poll=0.05,
            )
            phase2 = time.perf_counter() - phase2_started
        time.sleep(2)  # anything still in flight would show up as a duplicate
        stats = gateway_stats(gateway_url)
        duplicates = stats["messages"] - stats["distinct"]
        left = backlog(options.broker_url)

        forms = [
            {
                "service_id": SERVICE_ID,
                "to": phone_to_national_digits(m.address),
                "body": m.body,
                "tags": f"baseline-{m.pk}",
            }
            for m in OutboundMessage.objects.only("address", "body")
        ]
    finally:
        pipeline.stop()
    baseline_seconds = baseline(gateway_url, forms, options.concurrency)

    rate_workers = options.messages / end_to_end
    rate_baseline = options.messages / baseline_seconds
    print(
        f"phase 1  scan + event->message (workers): {phase1:7.1f} s "
        f"({options.messages / phase1:7.0f} messages/s)"
    )
    print(
        f"end to end (scan, messages and sends overlapping): {end_to_end:7.1f} s "
        f"({rate_workers:7.0f} messages/s); not sent afterwards: {unsent}"
    )
    print(f"{'run':28} {'seconds':>8} {'messages/s':>11}")
    print(f"{'workers over Redis (due->sent)':28} {end_to_end:8.2f} {rate_workers:11.0f}")
    if phase2 is not None:
        print(f"{'workers, delivery alone':28} {phase2:8.2f} {options.messages / phase2:11.0f}")
    print(f"{'baseline (direct POSTs)':28} {baseline_seconds:8.2f} {rate_baseline:11.0f}")
    target = " (target >= 0.5 at --gateway-ms 0)" if options.gateway_ms == 0 else ""
    print(f"ratio workers/baseline: {rate_workers / rate_baseline:.2f}{target}")
    print(f"duplicates at the gateway: {duplicates} (must be 0)")
    print(f"backlog at the end: {left}")
    return 1 if duplicates else 0


# --- confirmations at a booking rate -----------------------------------------------------------


def feed_bookings(per_second: float, seconds: float) -> tuple[int, float]:
    """Commit `per_second` booking events a second for `seconds`, on a fixed schedule (a late
    one is caught up at once, as arriving residents would not wait). Each is the event the
    booking statement writes, announced as the core announces it. Returns (events, seconds)."""
    from django.db import transaction

    from reservations.models import Reservation, ReservationEvent
    from reservations.services.events import event_record
    from reservations.services.requester import Requester

    requester = Requester(channel="web")
    reservations = list(Reservation.objects.select_related("slot").order_by("pk"))
    count = min(len(reservations), round(per_second * seconds))
    started = time.perf_counter()
    for index, reservation in enumerate(reservations[:count]):
        due = started + index / per_second
        if (pause := due - time.perf_counter()) > 0:
            time.sleep(pause)
        with transaction.atomic():
            event_record(
                reservation, ReservationEvent.Kind.BOOKED, requester, slot=reservation.slot_id
            )
    return count, time.perf_counter() - started


def run_confirmations(options: argparse.Namespace, gateway_url: str) -> int:
    from channels.notify.models import OutboundMessage

    pipeline = Pipeline(options.concurrency)
    try:
        pipeline.wait_ready()
        fed, fed_seconds = feed_bookings(options.bookings_per_second, options.seconds)
        print(f"fed {fed} bookings in {fed_seconds:.1f} s ({fed / fed_seconds:.1f}/s)", flush=True)
        fed_done = time.perf_counter()
        wait_until(
            lambda: OutboundMessage.objects.filter(status="sent").count() >= fed,
            "confirmations",
        )
        drained = time.perf_counter() - fed_done
        time.sleep(2)  # anything still in flight would show up as a duplicate
        stats = gateway_stats(gateway_url)
        left = backlog(options.broker_url)
    finally:
        pipeline.stop()
    latencies = sorted(
        (sent_at - booked_at).total_seconds()
        for sent_at, booked_at in OutboundMessage.objects.filter(status="sent").values_list(
            "sent_at", "event__created_at"
        )
    )
    within = sum(1 for seconds in latencies if seconds <= 60) / len(latencies)
    print(
        f"provider limit {options.rate_limit:g}/s, gateway answer {options.gateway_ms:g} ms, "
        f"{options.concurrency} worker processes"
    )
    print(
        "booking -> sent: "
        + ", ".join(
            f"p{round(q * 100)} {_percentile(latencies, q):.2f} s" for q in (0.5, 0.9, 0.99)
        )
        + f", max {latencies[-1]:.2f} s"
    )
    print(
        f"sent within 60 s of the booking: {within:.1%} (target >= 99%); "
        f"the last one {drained:.1f} s after the feed ended"
    )
    # Below the booking rate, the backlog grows for as long as bookings come: not sustainable.
    rate = len(latencies) / (fed_seconds + drained)
    print(f"sent {len(latencies)} / {fed}: {rate:.1f} messages/s from first booking to last send")
    duplicates = stats["messages"] - stats["distinct"]
    print(f"duplicates at the gateway: {duplicates} (must be 0)")
    print(f"backlog at the end: {left}")
    return 1 if duplicates or within < 0.99 else 0


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
    parser.add_argument(
        "--gateway-ms", type=float, default=0.0, help="the stand-in's answer time per request"
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        help="SMS_RATE_LIMIT_PER_SECOND for the workers (fan-out: 100000; confirmations: 100)",
    )
    parser.add_argument(
        "--bookings-per-second",
        type=float,
        default=None,
        help="confirmations instead of the fan-out: bookings a second to feed",
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to feed bookings")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--isolated-fanout", action="store_true", help="also time delivery alone (doubles the run)"
    )
    options = parser.parse_args()
    confirmations = options.bookings_per_second is not None
    if options.rate_limit is None:
        options.rate_limit = 100.0 if confirmations else 100_000.0
    if options.gateway_ms < 0 or options.rate_limit <= 0:
        parser.error("--gateway-ms must be >= 0 and --rate-limit > 0")
    if confirmations:
        if options.bookings_per_second <= 0 or options.seconds <= 0:
            parser.error("--bookings-per-second and --seconds must be > 0")
        options.messages = math.ceil(options.bookings_per_second * options.seconds)

    port_queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    gateway = multiprocessing.Process(
        target=_serve_gateway, args=(port_queue, options.gateway_ms / 1000), daemon=True
    )
    gateway.start()
    gateway_url = port_queue.get(timeout=30)
    env = _env(options.database_url, options.broker_url, gateway_url, options.rate_limit)
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
    import redis
    from django.db import connection

    from config.celery import app

    started = time.perf_counter()
    build_bookings(options.messages)
    print(
        f"set-up: {options.messages} confirmed bookings for tomorrow in "
        f"{time.perf_counter() - started:.1f} s; stand-in answers in {options.gateway_ms:g} ms"
    )
    app.control.purge()
    # The provider's bucket starts full, as after a quiet minute.
    redis.Redis.from_url(options.broker_url).delete("madoguchi:sms-rate:http")
    connection.close()
    try:
        if confirmations:
            status = run_confirmations(options, gateway_url)
        else:
            status = run_fanout(options, gateway_url)
    finally:
        gateway.terminate()
        connection.close()
        if not options.keep:
            database_drop(options.database_url)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end")
    return status


if __name__ == "__main__":
    sys.exit(main())
