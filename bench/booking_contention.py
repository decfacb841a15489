"""Benchmark: concurrent bookings through `reservation_book`, against a raw-SQL baseline.

    python bench/booking_contention.py [--database-url postgres://postgres@127.0.0.1:5432/madoguchi_bench]
        [--clients 32] [--seconds 10] [--rounds 3] [--capacity 100] [--max-rate 5000]
        [--slots N] [--residents N] [--keep]
        [--notify {relay,detached}] [--notify-broker redis://127.0.0.1:6379/13]

A report, not a test (research/performance.md §1.2-1.3, goal G1). It:

1. drops and creates the bench database (PostgreSQL only), runs `migrate` and `load_rules`,
   and builds 日南市 (452041) with two sites, each with a grid of `--slots` slots of capacity
   `--capacity` (covid-routine-2026, pfizer-12, starting 2026-11-04), and `--residents`
   residents born 1950, each with a ticket. By default each grid holds `--max-rate` x
   `--seconds` x 1.25 seats, and there are residents for that many bookings on each side, so
   that neither side sells out (or runs out of residents) during a run: a side that stops
   early books at its pace only while the other still runs, which made rounds disagree. The
   output says if it happened anyway (raise `--max-rate`);
2. warm-up, one process: counts the SQL statements per `reservation_book` call
   (CaptureQueriesContext) and how much of a call is spent waiting on SQL;
3. `--rounds` rounds of two runs, core first in odd rounds and baseline first in even ones, so
   that neither always gets the quieter minute. Before each run its grid is emptied (its
   reservations and events deleted, its counters zeroed), then VACUUM ANALYZE and CHECKPOINT;
   every run therefore starts from the same tables and the same residents.
   - core run: `--clients` worker processes (spawn, each with its own connection, started
     together by a barrier) call `reservation_book(..., now=2026-11-02 09:00 JST)` for
     `--seconds` on random slots of the first grid, each attempt with a resident of the
     worker's own range;
   - baseline run: the same on the second grid with the minimal raw-SQL equivalent (psycopg, one
     transaction: conditional UPDATE of the counter, INSERT reservation, INSERT event (the same
     outbox row, pending for the relay), COMMIT);
4. prints, per round, bookings, bookings/s, p50/p99 latency and rejections of each run, their
   ratio, and the overbooking count of each grid: slots with booked > capacity or booked !=
   number of non-cancelled reservation rows. The verdict (target >= 0.5) is on the median of
   the rounds' ratios: this machine's two shared cores make any single ratio wobble by ±0.05.

What the core run includes: everything `reservation_book` does, the outbox event included, and
by default (`--notify relay`) production's notification hand-off: the clients run with
NOTIFY_HANDOFF=relay and a broker (`--notify-broker`), so a booking commits its event and
nothing else, and one `manage.py notify_relay` process runs beside them for the whole core run,
claiming the committed events and publishing `notify_events_task` batches to that Redis, on
the same CPUs as everything else. Nobody consumes the tasks (the workers' cost is not part of a
booking); the queue is emptied before and after each run. Per round the output gives the
relay's CPU per booking, the tasks it published, the events still pending when the clients
stopped (the notification backlog) and how long the relay took to hand them over. The
baseline's events are marked handed over before each run, so the relay only ever sees the
core's. `--notify detached` disconnects the hand-off and runs no relay (the core alone).

A worker stops early when every slot of its grid is known to be full ("sold out"); bookings/s is
then over the time until the sell-out, which the output says. Exit status: 0 (also when the
ratio misses the target), 1 if any grid is overbooked, a run's booking count disagrees with
the rows in the database, or the relay left events behind. The database is dropped at the end
unless `--keep`. Client and server share this machine's CPUs: compare ratios from one run, not
absolute numbers across machines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import multiprocessing as mp
import os
import platform
import queue
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
from benchdb import (
    bench_env,
    database_drop,
    database_recreate,
    django_setup,
    manage,
    passes_production_checks,
    residents_with_tickets,
)

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

JST = dt.timezone(dt.timedelta(hours=9))
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=JST)  # inside covid-routine-2026
FIRST_DAY = dt.date(2026, 11, 4)
LAST_DAY = dt.date(2027, 3, 31)  # the campaign's last day
MUNICIPALITY = "452041"  # 日南市
CAMPAIGN = "covid-routine-2026"
VACCINE = "pfizer-12"
TARGET_RATIO = 0.5
# Seats per grid and residents per side: this much more than --max-rate x --seconds.
HEADROOM = 1.25
# How long the relay may take to hand over what was pending when the clients stopped.
RELAY_DRAIN_TIMEOUT_S = 60.0
WARMUP_CALLS = 50
BARRIER_TIMEOUT_S = 180.0
NOTIFY_DISPATCH_UID = "notify-event"  # channels/notify/apps.py
RELAY_READY = b"notify relay: started"  # channels/notify/management/commands/notify_relay.py

RESERVATION_INSERT = """
    INSERT INTO reservations_reservation (
        code, resident_id, ticket_id, slot_id, campaign_id, vaccine_id, dose_number, status,
        channel, entered_by, proxy_relationship, staff_seat, override_reason, rules_applied,
        warnings, cancel_reason, created_at, updated_at
    ) VALUES (
        %s, %s, %s, %s, %s, %s, 1, 'confirmed',
        'web', 'resident', '', false, '', '[]'::jsonb,
        '[]'::jsonb, '', now(), now()
    ) RETURNING id
"""
EVENT_INSERT = """
    INSERT INTO reservations_reservationevent
        (reservation_id, kind, channel, actor, data, created_at, relay_pending)
    VALUES (%s, 'booked', 'web', 'resident',
            jsonb_build_object('slot', %s::bigint, 'dose_number', 1), now(), true)
"""
SEAT_UPDATE = """
    UPDATE reservations_slot SET booked = booked + 1
    WHERE id = %s AND booked < capacity RETURNING id
"""
GRID_EMPTY = (
    """
    DELETE FROM reservations_reservationevent e USING reservations_reservation r
    WHERE e.reservation_id = r.id AND r.slot_id = ANY(%(ids)s)
    """,
    "DELETE FROM reservations_reservation WHERE slot_id = ANY(%(ids)s)",
    "UPDATE reservations_slot SET booked = 0, booked_staff = 0 WHERE id = ANY(%(ids)s)",
    # Whatever is still pending (the warm-up's, the baseline's events) is not the next core
    # run's to hand over.
    "UPDATE reservations_reservationevent SET relay_pending = false WHERE relay_pending",
)
PENDING_COUNT = "SELECT count(*) FROM reservations_reservationevent WHERE relay_pending"
GRID_CHECK = """
    SELECT
        count(*) FILTER (WHERE s.booked > s.capacity OR s.booked <> coalesce(r.n, 0)),
        coalesce(sum(s.booked), 0),
        coalesce(sum(r.n), 0),
        coalesce(sum(s.capacity), 0)
    FROM reservations_slot s
    LEFT JOIN (
        SELECT slot_id, count(*) AS n FROM reservations_reservation
        WHERE status <> 'cancelled' AND slot_id = ANY(%(ids)s) GROUP BY slot_id
    ) r ON r.slot_id = s.id
    WHERE s.id = ANY(%(ids)s)
"""


# --- Set-up -------------------------------------------------------------------------------------


def _grid(site: Any, campaign: Any, vaccine: Any, *, slots: int, capacity: int) -> list[int]:
    """`slots` slots from FIRST_DAY on, every day 09:00-17:00 in 10-minute slots."""
    from reservations.models import Slot
    from reservations.services.slots import day_slot_times, operating_days_generate

    opens_at, closes_at, minutes = dt.time(9), dt.time(17), 10
    per_day = len(
        day_slot_times(
            opens_at=opens_at,
            closes_at=closes_at,
            break_start=None,
            break_end=None,
            slot_minutes=minutes,
        )
    )
    # Twice the days needed, for the holidays that are skipped; the extra slots are removed.
    date_to = min(FIRST_DAY + dt.timedelta(days=2 * math.ceil(slots / per_day) + 7), LAST_DAY)
    operating_days_generate(
        site=site,
        vaccine=vaccine,
        campaign=campaign,
        date_from=FIRST_DAY,
        date_to=date_to,
        weekdays=range(7),
        opens_at=opens_at,
        closes_at=closes_at,
        slot_minutes=minutes,
        capacity=capacity,
        phone_reserved=0,
        booking_opens_days_before=(LAST_DAY - NOW.date()).days + 1,
        booking_closes_days_before=1,
    )
    ids = list(
        Slot.objects.filter(operating_day__site=site)
        .order_by("starts_at")
        .values_list("pk", flat=True)
    )
    if len(ids) < slots:
        raise SystemExit(f"--slots {slots} does not fit in the campaign ({len(ids)} slots)")
    Slot.objects.filter(pk__in=ids[slots:]).delete()
    return ids[:slots]


def world_build(*, slots: int, capacity: int, residents: int) -> dict[str, Any]:
    from reservations.models import Campaign, Municipality, Site, Vaccine

    municipality = Municipality.objects.create(code=MUNICIPALITY, name="日南市")
    campaign = Campaign.objects.get(code=CAMPAIGN)
    vaccine = Vaccine.objects.get(code=VACCINE)
    core_site = Site.objects.create(municipality=municipality, name="ベンチ会場A（サービス）")
    base_site = Site.objects.create(municipality=municipality, name="ベンチ会場B（生SQL）")
    core_slots = _grid(core_site, campaign, vaccine, slots=slots, capacity=capacity)
    base_slots = _grid(base_site, campaign, vaccine, slots=slots, capacity=capacity)

    tickets = residents_with_tickets(
        municipality,
        residents,
        name="日南 太郎",
        name_kana="ニチナン タロウ",
        born_from=dt.date(1950, 1, 1),
    )
    return {
        "campaign_id": campaign.pk,
        "vaccine_id": vaccine.pk,
        "core_slots": core_slots,
        "base_slots": base_slots,
        "ticket_ids": [t.pk for t in tickets],
    }


# --- Warm-up: statements per booking ------------------------------------------------------------


def notify_env(notify: str, notify_broker: str) -> dict[str, str]:
    """Settings of the core's processes for the hand-off: production's (a broker, the relay)."""
    if notify == "relay":
        return {"CELERY_BROKER_URL": notify_broker, "NOTIFY_HANDOFF": "relay"}
    return {}


def django_setup_core(database_url: str, notify: str, notify_broker: str) -> None:
    """Django for the core run: production's hand-off (a booking commits its event; the relay
    process hands it over), or the hand-off detached (see the module doc)."""
    for name in ("CELERY_BROKER_URL", "NOTIFY_HANDOFF"):
        os.environ.pop(name, None)
    os.environ.update(notify_env(notify, notify_broker))
    django_setup(database_url)
    if notify == "relay":
        return
    from reservations.signals import events_recorded

    if not events_recorded.disconnect(dispatch_uid=NOTIFY_DISPATCH_UID):
        raise SystemExit(f"no events_recorded receiver {NOTIFY_DISPATCH_UID!r}: update the bench")


def queue_delete(broker_url: str) -> None:
    import redis

    redis.Redis.from_url(broker_url).delete("celery")


def queue_length(broker_url: str) -> int:
    import redis

    return int(redis.Redis.from_url(broker_url).llen("celery"))


class Relay:
    """One `manage.py notify_relay` process for a core run, as production runs it."""

    def __init__(self, database_url: str, broker_url: str) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix="notify-relay-", suffix=".log")  # noqa: SIM115
        env = passes_production_checks(
            {
                **os.environ,
                **bench_env(database_url),
                **notify_env("relay", broker_url),
                "DJANGO_LOG_LEVEL": "INFO",  # for its start and stop lines
            }
        )
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, str(ROOT / "manage.py"), "notify_relay"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + BARRIER_TIMEOUT_S
        while RELAY_READY not in Path(self.log.name).read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"notify_relay did not start:\n{self.output()}")
            time.sleep(0.05)
        self.cpu_start = self.cpu_seconds()

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-3000:]

    def stop(self) -> float:
        """Stop it as a process manager would (SIGTERM); its CPU seconds since the start."""
        cpu = self.cpu_seconds() - self.cpu_start
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise SystemExit(f"notify_relay ignored SIGTERM:\n{self.output()}") from None
        if self.process.returncode != 0:
            raise SystemExit(f"notify_relay failed:\n{self.output()}")
        self.log.close()
        return cpu


def pending_events(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(PENDING_COUNT).fetchone()
    assert row is not None
    return int(row[0])


def relay_drain(database_url: str) -> tuple[int, float]:
    """Events pending when the clients stopped, and how long the relay took to hand them
    over (NaN if it did not within RELAY_DRAIN_TIMEOUT_S)."""
    backlog = pending_events(database_url)
    t0 = time.monotonic()
    left = backlog
    while left and time.monotonic() - t0 < RELAY_DRAIN_TIMEOUT_S:
        time.sleep(0.05)
        left = pending_events(database_url)
    return backlog, (time.monotonic() - t0 if not left else math.nan)


def warmup(ticket_ids: list[int], slot_ids: list[int]) -> dict[str, Any]:
    """Book WARMUP_CALLS times in this process; count statements and time spent in SQL."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reservations.models import Ticket
    from reservations.services.booking import Requester, reservation_book

    rng = random.Random(0)
    requester = Requester(channel="web")
    tickets = list(Ticket.objects.filter(pk__in=ticket_ids).order_by("pk"))
    reservation_book(
        ticket=tickets[0], slot=rng.choice(slot_ids), requester=requester, now=NOW
    )  # first call: imports, connection, caches

    sql_seconds = 0.0

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal sql_seconds
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            sql_seconds += time.perf_counter() - t0

    kinds: Counter[str] = Counter()
    statements = 0
    t0 = time.perf_counter()
    with connection.execute_wrapper(timed), CaptureQueriesContext(connection) as captured:
        for ticket in tickets[1 : WARMUP_CALLS + 1]:
            reservation_book(ticket=ticket, slot=rng.choice(slot_ids), requester=requester, now=NOW)
    total = time.perf_counter() - t0
    calls = len(tickets[1 : WARMUP_CALLS + 1])
    for query in captured.captured_queries:
        statements += 1
        kinds[_statement_kind(query["sql"])] += 1
    return {
        "calls": calls + 1,
        "statements": statements / calls,
        "kinds": {kind: n / calls for kind, n in kinds.most_common()},
        "ms_per_call": 1000 * total / calls,
        "sql_ms_per_call": 1000 * sql_seconds / calls,
    }


def _statement_kind(sql: str) -> str:
    """'SELECT reservations_slot + reservations_resident FOR UPDATE', 'INSERT …', 'WITH …'."""
    verb = sql.split()[0].upper()
    if verb in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"):
        return verb
    if verb == "WITH":
        # WITH fresh AS (SELECT …), seat AS (UPDATE t …), …: name each step and what it does.
        steps = re.findall(r'(\w+) AS \((SELECT|UPDATE|INSERT INTO)\s+"?(\w+)?', sql)
        return "WITH " + "; ".join(
            f"{name}: {step.split()[0]}" + ("" if step == "SELECT" else f" {table}")
            for name, step, table in steps
        )
    if verb == "SELECT":
        outer = sql
        while (stripped := re.sub(r"\([^()]*\)", "", outer)) != outer:
            outer = stripped  # parenthesised subqueries and arguments removed
        tables = re.findall(r'\b(?:FROM|JOIN)\s+"?(\w+)"?', outer) or ["?"]
        name = f"SELECT {' + '.join(tables)}"
        inner = [t for t in re.findall(r'\b(?:FROM|JOIN)\s+"?(\w+)"?', sql) if t not in tables]
        if inner:
            name += f" (subqueries: {', '.join(dict.fromkeys(inner))})"
        if re.search(r"FOR UPDATE( OF \w+)?$", sql.rstrip()):
            return f"{name} FOR UPDATE"
        return f"{name} (exists)" if sql.lstrip().startswith('SELECT 1 AS "a"') else name
    table = re.match(r'\s*(?:INSERT INTO|UPDATE|DELETE FROM)\s+"?(\w+)"?', sql)
    return f"{verb} {table.group(1) if table else '?'}"


# --- Workers ------------------------------------------------------------------------------------


def _pick(rng: random.Random, full: Any) -> int | None:
    """A random slot index not known to be full; None once all are."""
    index = rng.randrange(len(full))
    if not full[index]:
        return index
    free = [i for i in range(len(full)) if not full[i]]
    return rng.choice(free) if free else None


def _cpu_seconds(backend_pid: int) -> tuple[float, float]:
    """CPU time used so far by this process and by its PostgreSQL backend (same machine)."""
    try:
        fields = Path(f"/proc/{backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
        server = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        server = math.nan
    return time.process_time(), server


def _result(
    ok: int,
    full_hits: int,
    rejected: Counter[str],
    latencies: array,
    start: float,
    cpu_before: tuple[float, float],
    **extra: Any,
) -> dict[str, Any]:
    end = time.monotonic()
    cpu_after = _cpu_seconds(extra.pop("backend_pid"))
    return {
        "client_cpu": cpu_after[0] - cpu_before[0],
        "server_cpu": cpu_after[1] - cpu_before[1],
        "ok": ok,
        "slot_full": full_hits,
        "rejected": dict(rejected),
        "latencies": latencies.tobytes(),
        "start": start,
        "end": end,
        **extra,
    }


def core_worker(
    number: int,
    database_url: str,
    ticket_ids: list[int],
    slot_ids: list[int],
    full: Any,
    barrier: Any,
    seconds: float,
    results: Any,
    notify: str,
    notify_broker: str,
) -> None:
    django_setup_core(database_url, notify, notify_broker)
    from django.db import DatabaseError, connection

    from reservations.exceptions import ReservationError, SlotFull
    from reservations.models import Ticket
    from reservations.services.booking import Requester, reservation_book

    rng = random.Random(1000 + number)
    requester = Requester(channel="web")
    # Pre-authenticated tickets, as a signed-in session would have them: not timed.
    tickets = list(Ticket.objects.filter(pk__in=ticket_ids).order_by("pk"))
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        (backend_pid,) = cur.fetchone()
    ok = full_hits = 0
    rejected: Counter[str] = Counter()
    latencies = array("d")
    sold_out = exhausted = False
    barrier.wait(BARRIER_TIMEOUT_S)
    cpu_before = _cpu_seconds(backend_pid)
    start = time.monotonic()
    deadline = start + seconds
    for ticket in tickets:
        if time.monotonic() >= deadline:
            break
        index = _pick(rng, full)
        if index is None:
            sold_out = True
            break
        t0 = time.perf_counter()
        try:
            reservation_book(ticket=ticket, slot=slot_ids[index], requester=requester, now=NOW)
            ok += 1
        except SlotFull:
            full_hits += 1
            full[index] = 1
        except ReservationError as exc:
            rejected[exc.code] += 1
        except DatabaseError as exc:
            rejected[f"db:{type(exc).__name__}"] += 1
        latencies.append(time.perf_counter() - t0)
    else:
        exhausted = True
    results.put(
        _result(
            ok,
            full_hits,
            rejected,
            latencies,
            start,
            cpu_before,
            backend_pid=backend_pid,
            sold_out=sold_out,
            exhausted=exhausted,
        )
    )
    connection.close()


def baseline_worker(
    number: int,
    database_url: str,
    ticket_ids: list[int],
    slot_ids: list[int],
    full: Any,
    barrier: Any,
    seconds: float,
    results: Any,
    campaign_id: int,
    vaccine_id: int,
) -> None:
    rng = random.Random(2000 + number)
    conn = psycopg.connect(database_url)  # autocommit off: one transaction per booking
    with conn.cursor() as cur:
        cur.execute(
            "SELECT id, resident_id FROM reservations_ticket WHERE id = ANY(%s) ORDER BY id",
            (ticket_ids,),
        )
        people = cur.fetchall()
        cur.execute("SELECT pg_backend_pid()")
        (backend_pid,) = cur.fetchone()
    conn.commit()
    ok = full_hits = sequence = 0
    rejected: Counter[str] = Counter()
    latencies = array("d")
    sold_out = exhausted = False
    cur = conn.cursor()
    barrier.wait(BARRIER_TIMEOUT_S)
    cpu_before = _cpu_seconds(backend_pid)
    start = time.monotonic()
    deadline = start + seconds
    for ticket_id, resident_id in people:
        if time.monotonic() >= deadline:
            break
        index = _pick(rng, full)
        if index is None:
            sold_out = True
            break
        slot_id = slot_ids[index]
        t0 = time.perf_counter()
        try:
            cur.execute(SEAT_UPDATE, (slot_id,))
            if cur.fetchone() is None:
                conn.rollback()
                full_hits += 1
                full[index] = 1
            else:
                # Never clashes with service codes: those never start with 0.
                sequence += 1
                code = f"0{number:03d}{sequence:06d}"
                cur.execute(
                    RESERVATION_INSERT,
                    (code, resident_id, ticket_id, slot_id, campaign_id, vaccine_id),
                )
                (reservation_id,) = cur.fetchone()
                cur.execute(EVENT_INSERT, (reservation_id, slot_id))
                conn.commit()
                ok += 1
        except psycopg.Error as exc:
            conn.rollback()
            rejected[f"db:{type(exc).__name__}"] += 1
        latencies.append(time.perf_counter() - t0)
    else:
        exhausted = True
    results.put(
        _result(
            ok,
            full_hits,
            rejected,
            latencies,
            start,
            cpu_before,
            backend_pid=backend_pid,
            sold_out=sold_out,
            exhausted=exhausted,
        )
    )
    conn.close()


# --- Runs ---------------------------------------------------------------------------------------


def run(
    name: str,
    target: Any,
    *,
    clients: int,
    seconds: float,
    database_url: str,
    ticket_ids: list[int],
    slot_ids: list[int],
    extra: tuple[Any, ...] = (),
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    full = ctx.RawArray("b", len(slot_ids))
    barrier = ctx.Barrier(clients)
    results = ctx.Queue()
    share = len(ticket_ids) // clients
    processes = [
        ctx.Process(
            target=target,
            args=(
                n,
                database_url,
                ticket_ids[n * share : (n + 1) * share],
                slot_ids,
                full,
                barrier,
                seconds,
                results,
                *extra,
            ),
            name=f"{name}-{n}",
        )
        for n in range(clients)
    ]
    t0 = time.monotonic()
    for process in processes:
        process.start()
    outcomes: list[dict[str, Any]] = []
    give_up = t0 + BARRIER_TIMEOUT_S + seconds + 60
    while len(outcomes) < clients:
        try:
            outcomes.append(results.get(timeout=1))
        except queue.Empty:
            failed = [p.name for p in processes if p.exitcode not in (None, 0)]
            if failed or time.monotonic() > give_up:
                for process in processes:
                    if process.is_alive():
                        process.terminate()
                raise SystemExit(f"{name} run failed: {', '.join(failed) or 'timed out'}") from None
    for process in processes:
        process.join(30)
    startup = min(o["start"] for o in outcomes) - t0

    latencies = array("d")
    rejected: Counter[str] = Counter()
    for outcome in outcomes:
        latencies.frombytes(outcome["latencies"])
        rejected.update(outcome["rejected"])
    ordered = sorted(latencies)
    elapsed = max(o["end"] for o in outcomes) - min(o["start"] for o in outcomes)
    ok = sum(o["ok"] for o in outcomes)
    calls = max(1, len(ordered))
    return {
        "client_cpu_ms": 1000 * sum(o["client_cpu"] for o in outcomes) / calls,
        "server_cpu_ms": 1000 * sum(o["server_cpu"] for o in outcomes) / calls,
        "name": name,
        "started": t0,
        "bookings": ok,
        "per_second": ok / elapsed,
        "elapsed": elapsed,
        "startup": startup,
        "calls": len(ordered),
        "p50": 1000 * _percentile(ordered, 0.50),
        "p99": 1000 * _percentile(ordered, 0.99),
        "slot_full": sum(o["slot_full"] for o in outcomes),
        "rejected": dict(rejected),
        "sold_out": any(o["sold_out"] for o in outcomes),
        "exhausted": sum(o["exhausted"] for o in outcomes),
    }


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def grid_empty_and_settle(database_url: str, slot_ids: list[int]) -> None:
    """Empty the grid of a run about to start (the residents can book again), then gather
    statistics and checkpoint, so no run pays for the set-up's or an earlier run's autovacuum
    and dirty pages."""
    with psycopg.connect(database_url) as conn:  # one transaction
        for statement in GRID_EMPTY:
            conn.execute(statement, {"ids": slot_ids})
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


def grid_check(database_url: str, slot_ids: list[int]) -> dict[str, int]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(GRID_CHECK, {"ids": slot_ids}).fetchone()
    assert row is not None
    bad, booked, rows, capacity = (int(v) for v in row)
    return {"overbooked": bad, "booked": booked, "rows": rows, "capacity": capacity}


# --- Report -------------------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    server: str,
    warm: dict[str, Any],
    rounds: list[dict[str, dict[str, Any]]],
) -> bool:
    """Print the tables; True if every invariant held."""
    print(
        f"Booking contention: {args.clients} client processes x {args.seconds:g} s per run, "
        f"{args.rounds} round(s) of a core and a baseline run; {args.slots} slots x capacity "
        f"{args.capacity} per grid ({args.slots * args.capacity} seats), "
        f"now={NOW:%Y-%m-%d %H:%M} JST"
    )
    print(f"{server}; {os.cpu_count()} CPUs shared by clients and server; Python {sys.version[:6]}")
    print(
        f"grids sized for {args.max_rate:g} bookings/s per side for {args.seconds:g} s "
        f"(x{HEADROOM}); {args.residents} residents, half for each side"
    )
    print(
        "notification hand-off: relay (production's): bookings commit their events and "
        "publish nothing; one `manage.py notify_relay` process ran during each core run, "
        f"publishing notify_events_task batches to {args.notify_broker} (not consumed)"
        if args.notify == "relay"
        else "notification hand-off: detached, no relay ran (the outbox event is still written)"
    )
    print()
    print(
        f"warm-up (1 process, {warm['calls']} calls): {warm['statements']:.1f} SQL statements "
        f"per reservation_book call (BEGIN and COMMIT included; the baseline needs 5); "
        f"{warm['ms_per_call']:.2f} ms/call, of which "
        f"{warm['sql_ms_per_call']:.2f} ms waiting on SQL "
        f"({100 * warm['sql_ms_per_call'] / warm['ms_per_call']:.0f}%)"
    )
    for kind, per_call in warm["kinds"].items():
        print(f"    {per_call:4.1f}  {kind}")
    ok = True
    ratios = []
    for number, pair in enumerate(rounds, 1):
        ratio = _round_report(number, pair)
        ratios.append(ratio)
        ok = _grids_report(pair) and ok
        ok = _relay_report(pair["core"]) and ok
    print()
    median = statistics.median(ratios)
    verdict = "met" if median >= TARGET_RATIO else "MISSED"
    print(
        f"ratio core/baseline bookings/s per round: {', '.join(f'{r:.3f}' for r in ratios)}; "
        f"median {median:.3f}  (target >= {TARGET_RATIO} x baseline: {verdict})"
    )
    print(f"1-min load average before the bench: {args.load_before:.2f}")
    return ok


def _round_report(number: int, pair: dict[str, dict[str, Any]]) -> float:
    core, base = pair["core"], pair["baseline"]
    first = "core" if core["started"] < base["started"] else "baseline"
    print()
    header = (
        f"{'round ' + str(number):<20} {'bookings':>8} {'bookings/s':>10} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'calls':>7} {'slot_full':>9} {'elapsed s':>9}  rejected by code"
    )
    print(header)
    print("-" * len(header))
    for label, result in (("core (service)", core), ("baseline (raw SQL)", base)):
        rejected = ", ".join(f"{c}={n}" for c, n in sorted(result["rejected"].items())) or "-"
        print(
            f"{label:<20} {result['bookings']:>8} {result['per_second']:>10.1f} "
            f"{result['p50']:>7.1f} {result['p99']:>7.1f} {result['calls']:>7} "
            f"{result['slot_full']:>9} {result['elapsed']:>9.2f}  {rejected}"
        )
    print(
        "CPU per call (client process + its PostgreSQL backend): "
        + "; ".join(
            f"{label} {r['client_cpu_ms']:.2f} + {r['server_cpu_ms']:.2f} ms"
            for label, r in (("core", core), ("baseline", base))
        )
    )
    ratio = core["per_second"] / base["per_second"] if base["per_second"] else math.nan
    print(
        f"ratio core/baseline bookings/s: {ratio:.3f} ({first} ran first; worker start-up, "
        f"not timed: core {core['startup']:.1f} s, baseline {base['startup']:.1f} s)"
    )
    return ratio


def _relay_report(core: dict[str, Any]) -> bool:
    relay = core.get("relay")
    if relay is None:
        return True
    drained = not math.isnan(relay["drain_s"])
    per_booking = 1000 * relay["cpu_s"] / max(1, core["bookings"])
    print(
        f"relay: {per_booking:.3f} ms CPU per booking ({relay['cpu_s']:.2f} s over its life, "
        "the clients' start-up included), "
        f"{relay['tasks']} notify_events_task published; notification backlog when the clients "
        f"stopped: {relay['backlog']} events, "
        + (
            f"handed over {1000 * relay['drain_s']:.0f} ms later"
            if drained
            else f"NOT HANDED OVER within {RELAY_DRAIN_TIMEOUT_S:g} s"
        )
    )
    return drained


def _grids_report(pair: dict[str, dict[str, Any]]) -> bool:
    ok = True
    for label, result in pair.items():
        grid = result["grid"]
        mismatch = grid["rows"] != result["bookings"]
        ok = ok and grid["overbooked"] == 0 and not mismatch
        notes = []
        if result["sold_out"]:
            notes.append("grid sold out: bookings/s is over the time until the sell-out")
        if result["exhausted"]:
            notes.append(f"{result['exhausted']} worker(s) ran out of residents")
        if mismatch:
            notes.append(f"COUNTED {result['bookings']} BOOKINGS BUT {grid['rows']} ROWS")
        print(
            f"overbooking {label:<8}: {grid['overbooked']} slots (must be 0); "
            f"seats booked {grid['booked']}/{grid['capacity']}, active rows {grid['rows']}"
            + (f"; {'; '.join(notes)}" if notes else "")
        )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/madoguchi_bench"
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of a core and a baseline run (median)"
    )
    parser.add_argument("--capacity", type=int, default=100)
    parser.add_argument(
        "--max-rate",
        type=float,
        default=5000.0,
        help="upper bound of either side's bookings/s on this machine: sizes the grids and "
        "the residents so that neither side sells out during a run",
    )
    parser.add_argument(
        "--slots", type=int, default=None, help="slots per grid (default: from --max-rate)"
    )
    parser.add_argument(
        "--residents",
        type=int,
        default=None,
        help="residents with tickets, half for each side; each booking attempt uses a "
        "different one (default: from --max-rate)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument(
        "--notify",
        choices=("relay", "detached"),
        default="relay",
        help="relay: production's hand-off, with a notify_relay process during core runs "
        "(default); detached: no hand-off at all",
    )
    parser.add_argument(
        "--notify-broker",
        default="redis://127.0.0.1:6379/13",
        help="Redis the relay publishes to (its default queue is emptied; use a db of its own)",
    )
    args = parser.parse_args()
    if min(args.clients, args.seconds, args.rounds, args.capacity, args.max_rate) <= 0:
        parser.error("--clients, --seconds, --rounds, --capacity and --max-rate must be positive")
    bookings_bound = math.ceil(args.max_rate * args.seconds * HEADROOM)
    if args.slots is None:
        args.slots = math.ceil(bookings_bound / args.capacity)
    if args.residents is None:
        args.residents = WARMUP_CALLS + 1 + 2 * bookings_bound
    if args.slots <= 0:
        parser.error("--slots must be positive")
    if args.residents < WARMUP_CALLS + 1 + 2 * args.clients:
        parser.error("--residents is too small for this many clients")

    args.load_before = os.getloadavg()[0]
    url = args.database_url
    database_recreate(url)
    django_ready = False
    try:
        manage(url, "migrate", "--no-input")
        manage(url, "load_rules")
        django_setup_core(url, args.notify, args.notify_broker)
        django_ready = True
        from django.db import connection, connections

        world = world_build(slots=args.slots, capacity=args.capacity, residents=args.residents)
        with connection.cursor() as cur:
            cur.execute("SHOW server_version")
            server = f"PostgreSQL {cur.fetchone()[0].split()[0]} on {platform.machine()}"
        tickets = world["ticket_ids"]
        warm_tickets = tickets[: WARMUP_CALLS + 1]
        pool = tickets[WARMUP_CALLS + 1 :]
        core_tickets, base_tickets = pool[: len(pool) // 2], pool[len(pool) // 2 :]

        warm = warmup(warm_tickets, world["core_slots"])
        connections.close_all()
        common = {"clients": args.clients, "seconds": args.seconds, "database_url": url}
        runs = {
            "core": {
                "target": core_worker,
                "ticket_ids": core_tickets,
                "slot_ids": world["core_slots"],
                "extra": (args.notify, args.notify_broker),
            },
            "baseline": {
                "target": baseline_worker,
                "ticket_ids": base_tickets,
                "slot_ids": world["base_slots"],
                "extra": (world["campaign_id"], world["vaccine_id"]),
            },
        }
        rounds: list[dict[str, dict[str, Any]]] = []
        for number in range(args.rounds):
            pair: dict[str, dict[str, Any]] = {}
            order = ("core", "baseline") if number % 2 == 0 else ("baseline", "core")
            for name in order:
                spec = runs[name]
                grid_empty_and_settle(url, spec["slot_ids"])
                relay = None
                if name == "core" and args.notify == "relay":
                    queue_delete(args.notify_broker)
                    relay = Relay(url, args.notify_broker)
                pair[name] = result = run(name, **spec, **common)
                if relay is not None:
                    backlog, drain_s = relay_drain(url)
                    result["relay"] = {
                        "backlog": backlog,
                        "drain_s": drain_s,
                        "cpu_s": relay.stop(),
                        "tasks": queue_length(args.notify_broker),
                    }
                    queue_delete(args.notify_broker)
                result["grid"] = grid_check(url, spec["slot_ids"])
            rounds.append({"core": pair["core"], "baseline": pair["baseline"]})
        ok = report(args, server, warm, rounds)
    finally:
        if django_ready:
            from django.db import connections

            connections.close_all()
        if not args.keep:
            database_drop(url)
        if args.notify == "relay":
            queue_delete(args.notify_broker)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
