"""Benchmark: the resident's whole web booking flow (and the partner API) end to end, against
`/health/` served by the same gunicorn in the same run.

    python bench/web_booking.py [--users 16,32,64,128] [--seconds 20] [--api]
        [--waiting-room RATE] [--embedded] [--database-url postgres://...madoguchi_web_bench]

A report, not a test (issue 16 item 6). Default mode, PostgreSQL:

1. drops and creates the bench database (local, name containing `bench`), migrates, loads the
   rules, and builds 日南市 (452041) around today's date (the app reads the real clock): the
   national campaign when it covers the next `--days` days (otherwise seed_demo's municipal
   round of the same programme), `--sites` sites open every day from the day after tomorrow,
   09:00-17:00 in 10-minute slots of `--capacity` seats, and `--residents` residents born
   1950 with a ticket, a mobile number and SMS consent; an operator with an API token;
2. starts what production runs (README, Production): gunicorn config.wsgi with 4 sync workers,
   one Celery worker and the one beat on Redis, `manage.py notify_relay`,
   the stand-in SMS gateway (SMS_BACKEND=http, SMS_RATE_LIMIT_PER_SECOND 100), CACHE_URL on
   Redis, DJANGO_DEBUG=false;
3. per level of `--users`: `/health/` with that many users (the baseline), then that many
   residents' browsers doing the whole flow over and over, each time as a new resident: front
   page, sign in, person page, booking page, choose site and day as the page's forms and links
   do, hold, confirm page, confirm, booking details. Load comes from `--processes` processes
   of threads (requests.Session each, keep-alive). `--warmup` seconds, then `--seconds`
   measured; users finish the flow they are in;
4. prints per level bookings/s, the ratio to `/health/` requests/s (target >= 0.03), each
   page's p50/p99 (target p99 <= 500 ms at 64 users), 5xx (target 0), other errors, CPU of
   each process group, overbooking (slots with booked > capacity or booked != active rows),
   client bookings vs rows, and the notification backlog when the load stops, then waits for
   the confirmations to drain and prints their latency (event created_at -> message sent_at).

`--api`: the same levels for `POST /api/v1/reservations/` with an operator's token (target
>= 0.08 x `/health/`, p99 <= 500 ms). `--waiting-room RATE`: WAITING_ROOM_ADMIT_PER_SECOND=RATE
and residents arriving at 5 x RATE per second for `--seconds`, each booking once; prints the
admitted residents' page p99, 5xx, and each queued resident's first estimate against the
actual wait (target within +-25%). `--embedded`: the embedded default as bin/start runs it
(SQLite, migrate, seed_demo, runserver, no broker); 100 of seed_demo's residents book at once,
once each; errors must be 0; prints the flow's p50.

Exit status 1 only on overbooking or when the bookings the clients saw differ from the rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import multiprocessing as mp
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from benchdb import (
    SECRET_KEY,
    admin_url,
    database_drop,
    database_recreate,
    django_setup,
    manage,
    residents_with_tickets,
)
from loadgen import PAGE_ORDER, drive, percentile

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MUNICIPALITY = "452041"  # 日南市
NATIONAL_CAMPAIGN = "covid-routine-2026"
VACCINE = "pfizer-12"
SMS_TOKEN, SMS_SERVICE_ID = "bench-sms-token", "bench-sms-service"  # noqa: S105 - stand-in only
OPERATOR = "bench-operator"
WEB_TARGET, API_TARGET, P99_TARGET_MS, P99_AT_USERS = 0.03, 0.08, 500.0, 64
ESTIMATE_TOLERANCE = 0.25
# Issue 17: the embedded default must survive 100 residents booking at once.
EMBEDDED_RESIDENTS = 100
ACTIVE = ("held", "confirmed")  # Reservation.ACTIVE_STATUSES: rows that hold a seat
SENT = ("sent", "delivered")

SLOTS_CHECK = """
    SELECT
        count(*) FILTER (WHERE s.booked > s.capacity OR s.booked <> coalesce(r.n, 0)),
        coalesce(sum(s.booked), 0), coalesce(sum(s.capacity), 0)
    FROM reservations_slot s
    LEFT JOIN (
        SELECT slot_id, count(*) AS n FROM reservations_reservation
        WHERE status IN ('held', 'confirmed') GROUP BY slot_id
    ) r ON r.slot_id = s.id
"""
ROWS_BY_STATUS = "SELECT status, count(*) FROM reservations_reservation GROUP BY status"
CONFIRMATIONS = """
    SELECT e.created_at, min(m.sent_at) FILTER (WHERE m.status IN ('sent', 'delivered'))
    FROM reservations_reservationevent e
    LEFT JOIN notify_outboundmessage m ON m.event_id = e.id AND m.purpose = 'confirmation'
    WHERE e.kind = 'booked' AND e.id > %s AND e.id <= %s
    GROUP BY e.id, e.created_at
"""


# --- World ----------------------------------------------------------------------------------------


def world_build(*, sites: int, days: int, capacity: int, residents: int) -> dict[str, Any]:
    """日南市 around today: sites, slots from the day after tomorrow, residents with tickets."""
    from django.contrib.auth.models import Group, User
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from reservations import roles
    from reservations.management.commands.seed_demo import demo_campaign
    from reservations.models import Municipality, Site, Slot, Vaccine
    from reservations.services.slots import operating_days_generate

    today = timezone.localdate()
    first_day, last_day = today + dt.timedelta(days=2), today + dt.timedelta(days=days + 1)
    municipality = Municipality.objects.create(
        code=MUNICIPALITY,
        name="日南市",
        call_centre_phone="0987-00-0000",
        sms_sender_label="日南市ワクチン予約",
    )
    campaign = demo_campaign(
        national_code=NATIONAL_CAMPAIGN,
        municipality=municipality,
        today=today,
        last_day=last_day,
    )
    vaccine = Vaccine.objects.get(code=VACCINE)
    for number in range(sites):
        site = Site.objects.create(municipality=municipality, name=f"ベンチ会場{number + 1}")
        operating_days_generate(
            site=site,
            vaccine=vaccine,
            campaign=campaign,
            date_from=first_day,
            date_to=last_day,
            weekdays=range(7),
            opens_at=dt.time(9),
            closes_at=dt.time(17),
            slot_minutes=10,
            capacity=capacity,
            booking_opens_days_before=days + 2,
            booking_closes_days_before=1,
        )
    slot_ids = list(Slot.objects.order_by("pk").values_list("pk", flat=True))
    tickets = residents_with_tickets(
        municipality,
        residents,
        name="日南 花子",
        name_kana="ニチナン ハナコ",
        born_from=dt.date(1950, 1, 1),
        phone=lambda i: f"+8190{12_000_000 + i:08d}",
        sms_consent=True,
    )
    operator = User.objects.create_user(OPERATOR, password=None, is_staff=True)
    operator.groups.add(Group.objects.get(name=roles.OPERATORS))
    token, _created = Token.objects.get_or_create(user=operator)
    return {
        "campaign": campaign.code,
        "first_day": first_day,
        "last_day": last_day,
        "slot_ids": slot_ids,
        "seats": len(slot_ids) * capacity,
        "residents": [(t.number, t.resident.birth_date.isoformat()) for t in tickets],
        "token": token.key,
    }


# --- Servers ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"{what} exited; see {log}") from None
            time.sleep(0.2)
    raise SystemExit(f"{what} did not start; see {log}")


class Services:
    """The processes this bench starts, each in its own session so that it and its children
    are stopped together, and only they."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self.logs / f"{name}.log"
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started[name] = process
        return process

    def stop(self) -> None:
        for process in self.started.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for name, process in self.started.items():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in 30 s; killed", file=sys.stderr)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def serve_gateway(port_queue: Any) -> None:
    """The stand-in SMS gateway (tests/channels/sms/standin.py), in its own process."""
    sys.path.insert(0, str(ROOT))
    from tests.channels.sms.standin import GatewayStandIn

    standin = GatewayStandIn(token=SMS_TOKEN, service_id=SMS_SERVICE_ID)
    port_queue.put(standin.start())
    signal.pause()


def server_env(args: argparse.Namespace, gateway_url: str) -> dict[str, str]:
    redis = args.redis_url.rstrip("/")
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_LOG_LEVEL": "WARNING",
        "HOME_MUNICIPALITY_CODE": MUNICIPALITY,
        "CELERY_BROKER_URL": f"{redis}/{args.broker_db}",
        "CACHE_URL": f"{redis}/{args.cache_db}",
        "SMS_BACKEND": "http",
        "SMS_HTTP_BASE_URL": gateway_url,
        "SMS_HTTP_TOKEN": SMS_TOKEN,
        "SMS_HTTP_SERVICE_ID": SMS_SERVICE_ID,
        "SMS_RATE_LIMIT_PER_SECOND": str(args.sms_rate),
        "SMS_RATE_LIMIT_BURST": str(args.sms_rate),
    }
    if args.waiting_room:
        env["WAITING_ROOM_ADMIT_PER_SECOND"] = f"{args.waiting_room:g}"
    return env


def services_start(
    services: Services, args: argparse.Namespace, env: dict[str, str], beat_dir: Path
) -> dict[str, Any]:
    from tests.workers import celery_worker_argv

    services.start(
        "celery-worker",
        celery_worker_argv(
            concurrency=args.worker_concurrency, loglevel="WARNING", name="web-bench@%h"
        ),
        env,
    )
    services.start(
        "celery-beat",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "beat",
            "--loglevel=WARNING",
            f"--schedule={beat_dir / 'celerybeat-schedule'}",
        ],
        env,
    )
    services.start("notify-relay", [sys.executable, "manage.py", "notify_relay"], env)
    port = free_port()
    gunicorn = services.start(
        "gunicorn",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--workers",
            str(args.gunicorn_workers),
            "--worker-class",
            args.worker_class,
            *(["--threads", str(args.threads)] if args.worker_class == "gthread" else []),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--backlog",
            "2048",
        ],
        env,
    )
    wait_for_port(port, gunicorn, "gunicorn", services.logs / "gunicorn.log")
    from config.celery import app  # this process's settings name the same broker

    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=1.0):
        if time.monotonic() > deadline or services.started["celery-worker"].poll() is not None:
            raise SystemExit(f"celery worker did not start; see {services.logs}")
    return {"base": f"http://127.0.0.1:{port}"}


# --- CPU of process groups --------------------------------------------------------------------


def _proc_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds used so far), for every process we may read."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return table


def _tree_cpu(table: dict[int, tuple[int, float]], root: int) -> dict[int, float]:
    members, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _cpu) in table.items() if ppid == parent]
        members.update(children)
        frontier.extend(children)
    return {pid: table[pid][1] for pid in members if pid in table}


class CpuSampler:
    """CPU seconds each process group spent between two snapshots: our services (with their
    children) and the PostgreSQL backends serving the bench database."""

    def __init__(self, services: Services, database_url: str) -> None:
        self.services = services
        self.database_url = database_url
        self.database = admin_url(database_url)[1]

    def snapshot(self) -> dict[str, dict[int, float]]:
        table = _proc_table()
        groups = {
            name: _tree_cpu(table, process.pid) for name, process in self.services.started.items()
        }
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            pids = [
                row[0]
                for row in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> "
                    "pg_backend_pid()",
                    (self.database,),
                )
            ]
        groups["postgres"] = {pid: table[pid][1] for pid in pids if pid in table}
        return groups

    def during(self, result: dict[str, float]) -> Callable[[float, float], None]:
        def sample(start: float, stop: float) -> None:
            time.sleep(max(0.0, start - time.monotonic()))
            before = self.snapshot()
            time.sleep(max(0.0, stop - time.monotonic()))
            after = self.snapshot()
            for group, pids in after.items():
                old = before.get(group, {})
                result[group] = sum(cpu - old.get(pid, 0.0) for pid, cpu in pids.items())

        return sample


# --- Database checks --------------------------------------------------------------------------


def database_state(database_url: str) -> dict[str, Any]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(SLOTS_CHECK).fetchone()
        assert row is not None
        rows: dict[str, int] = dict(conn.execute(ROWS_BY_STATUS).fetchall())
        (last_event,) = conn.execute(
            "SELECT coalesce(max(id), 0) FROM reservations_reservationevent"
        ).fetchone() or (0,)
    return {
        "overbooked": int(row[0]),
        "booked": int(row[1]),
        "capacity": int(row[2]),
        "rows": rows,
        "last_event": int(last_event),
    }


def confirmations(database_url: str, after: int, upto: int) -> list[float | None]:
    """Seconds from each booked event to its confirmation's send (None: not sent yet)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(CONFIRMATIONS, (after, upto)).fetchall()
    return [(sent - created).total_seconds() if sent else None for created, sent in rows]


def drain(database_url: str, after: int, upto: int, limit: float) -> tuple[float, int]:
    """Wait until every confirmation of the level was sent, or `limit` seconds (the sweep,
    once a minute, is the safety net, so give it more than a minute). (seconds waited,
    still unsent)."""
    started = time.monotonic()
    while True:
        unsent = sum(1 for x in confirmations(database_url, after, upto) if x is None)
        if unsent == 0 or time.monotonic() - started > limit:
            return time.monotonic() - started, unsent
        time.sleep(1.0)


def notification_report(
    database_url: str, after: int, upto: int, drain_limit: float
) -> dict[str, Any]:
    at_end = confirmations(database_url, after, upto)
    waited, unsent = drain(database_url, after, upto, drain_limit)
    latencies = confirmations(database_url, after, upto)
    ordered = sorted(math.inf if x is None else x for x in latencies)
    return {
        "events": len(at_end),
        "backlog": sum(1 for x in at_end if x is None),
        "drained_after": waited,
        "unsent": unsent,
        "p50": percentile(ordered, 0.50),
        "p99": percentile(ordered, 0.99),
        "within_60s": sum(1 for x in ordered if x <= 60) / len(ordered) if ordered else math.nan,
    }


# --- Report -----------------------------------------------------------------------------------


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}"


def _seconds(value: float) -> str:
    return "not sent" if math.isinf(value) else "-" if math.isnan(value) else f"{value:.1f} s"


def level_report(
    kind: str, users: int, health: dict[str, Any], load: dict[str, Any], extra: dict[str, Any]
) -> None:
    ratio = load["per_second"] / health["requests_per_second"]
    target = WEB_TARGET if kind == "web" else API_TARGET
    print()
    print(
        f"== {users} users ({kind}) == load average before: {extra['loadavg']}"
        + ("  [ran out of residents]" if load["out_of_residents"] else "")
    )
    print(
        f"bookings/s {load['per_second']:.1f} ({load['bookings_window']} in {load['seconds']:.0f} s"
        f"); /health/ {health['requests_per_second']:.0f} req/s (p99 "
        f"{_ms(health['pages'].get('health', {}).get('p99', math.nan))} ms, 5xx "
        f"{health['server_errors_total']}, load clients "
        f"{health['client_cpu'] / health['seconds']:.2f} cores); ratio {ratio:.4f} "
        f"(target >= {target}: "
        f"{'met' if ratio >= target else 'MISSED'})"
    )
    header = f"{'page':<14} {'requests':>8} {'p50 ms':>7} {'p99 ms':>7} {'5xx':>5}"
    print(header)
    print("-" * len(header))
    pages = load["pages"]
    for page in [*PAGE_ORDER, *sorted(set(pages) - set(PAGE_ORDER))]:
        if page not in pages or page == "health":
            continue
        row = pages[page]
        print(
            f"{page:<14} {row['n']:>8} {_ms(row['p50']):>7} {_ms(row['p99']):>7} "
            f"{load['server_errors'].get(page, 0):>5}"
        )
    if kind == "web":
        print(f"{'whole flow':<14} {'':>8} {_ms(load['flow_p50']):>7} {_ms(load['flow_p99']):>7}")
    worst = max((row["p99"] for page, row in pages.items() if page != "queue"), default=math.nan)
    if users == P99_AT_USERS or kind == "api":
        print(
            f"slowest page p99 {_ms(worst)} ms (target <= {P99_TARGET_MS:.0f} ms"
            f"{' at 64 users' if kind == 'web' else ''}: "
            f"{'met' if worst <= P99_TARGET_MS else 'MISSED'})"
        )
    errors = ", ".join(f"{k}={n}" for k, n in sorted(load["other_errors"].items())) or "none"
    rejections = ", ".join(f"{k}={n}" for k, n in sorted(load["rejections"].items())) or "none"
    print(
        f"5xx {load['server_errors_total']} (target 0); other errors {load['other_errors_total']}"
        f" ({errors}); rejections {rejections}"
    )
    cpu = extra["cpu"]
    bookings = max(1, load["bookings_window"])
    print(
        "CPU in the window, ms per booking: "
        + ", ".join(f"{name} {1000 * s / bookings:.0f}" for name, s in sorted(cpu.items()))
        + f", load clients {1000 * load['client_cpu'] / bookings:.0f} "
        f"({load['client_cpu'] / load['seconds']:.2f} cores)"
    )
    state = extra["state"]
    print(
        f"overbooking: {state['overbooked']} slots (must be 0); seats booked "
        f"{state['booked']}/{state['capacity']}; bookings seen by clients so far "
        f"{extra['client_total']}, confirmed rows {state['rows'].get('confirmed', 0)}"
        f"{'' if extra['counts_agree'] else '  COUNT MISMATCH'}; held rows left "
        f"{state['rows'].get('held', 0)}"
    )
    n = extra["notify"]
    print(
        f"notifications: {n['backlog']} of {n['events']} confirmations not yet sent when the "
        f"load stopped; drained after {n['drained_after']:.0f} s ({n['unsent']} unsent); "
        f"booking -> SMS sent p50 {_seconds(n['p50'])}, p99 {_seconds(n['p99'])}; "
        f"{100 * n['within_60s']:.1f}% within 60 s"
    )


# --- Modes ------------------------------------------------------------------------------------


def run_levels(
    args: argparse.Namespace, kind: str, base: str, world: dict[str, Any], sampler: CpuSampler
) -> bool:
    ok = True
    client_total = 0
    summary = []
    # Each level gets its own share of the residents (a resident books once): drive() splits
    # a share among its processes, each using its part from the start.
    share = len(world["residents"]) // len(args.users)
    for level, users in enumerate(args.users):
        before_load = loadavg()
        health = drive(
            "health", base, users=users, processes=args.processes, warmup=2, seconds=args.seconds
        )
        before = database_state(args.database_url)
        cpu: dict[str, float] = {}
        residents = world["residents"][level * share : (level + 1) * share]
        spec = {
            "municipality": MUNICIPALITY,
            "slot_ids": world["slot_ids"],
            "token": world["token"],
        }
        load = drive(
            kind,
            base,
            users=users,
            processes=args.processes,
            warmup=args.warmup,
            seconds=args.seconds,
            spec=spec,
            residents=residents,
            during=sampler.during(cpu),
        )
        client_total += load["bookings_total"]
        state = database_state(args.database_url)
        counts_agree = state["rows"].get("confirmed", 0) == client_total
        notify = notification_report(
            args.database_url, before["last_event"], state["last_event"], args.drain_seconds
        )
        level_report(
            kind,
            users,
            health,
            load,
            {
                "loadavg": before_load,
                "cpu": cpu,
                "state": state,
                "client_total": client_total,
                "counts_agree": counts_agree,
                "notify": notify,
            },
        )
        ok = ok and state["overbooked"] == 0 and counts_agree
        summary.append((users, health, load, notify))
    print()
    print(
        f"summary ({kind}): users, bookings/s, /health/ req/s, ratio, slowest p99 ms, 5xx, SMS p99"
    )
    for users, health, load, notify in summary:
        worst = max((r["p99"] for p, r in load["pages"].items() if p != "queue"), default=math.nan)
        print(
            f"  {users:>4} {load['per_second']:>8.1f} {health['requests_per_second']:>8.0f} "
            f"{load['per_second'] / health['requests_per_second']:>8.4f} {_ms(worst):>7} "
            f"{load['server_errors_total']:>4}  {_seconds(notify['p99'])}"
        )
    return ok


def run_waiting_room(
    args: argparse.Namespace, base: str, world: dict[str, Any], sampler: CpuSampler
) -> bool:
    from django.conf import settings

    arrivals_per_second = 5 * args.waiting_room
    arrivals = math.ceil(arrivals_per_second * args.seconds)
    # Warm the server (imports, connections) with a few residents, then let the room's bucket
    # fill again, so that the run starts from a quiet room.
    warm = drive(
        "web",
        base,
        users=4,
        processes=1,
        warmup=0,
        seconds=args.warmup,
        spec={"municipality": MUNICIPALITY, "queue_grace": 120.0},
        residents=world["residents"][arrivals:],
    )
    time.sleep(settings.WAITING_ROOM_BURST / args.waiting_room)
    before_load = loadavg()
    before = database_state(args.database_url)
    cpu: dict[str, float] = {}
    # A resident arriving last waits for everyone before them: 5 x the run at the admit rate.
    grace = arrivals / args.waiting_room + 60
    load = drive(
        "web",
        base,
        users=arrivals,
        processes=args.processes,
        warmup=0,
        seconds=args.seconds,
        spec={
            "municipality": MUNICIPALITY,
            "once": True,
            "arrivals_per_second": arrivals_per_second,
            "queue_grace": grace,
        },
        residents=world["residents"][:arrivals],
        during=sampler.during(cpu),
    )
    state = database_state(args.database_url)
    counts_agree = (
        state["rows"].get("confirmed", 0) == load["bookings_total"] + warm["bookings_total"]
    )
    print()
    print(
        f"== waiting room: WAITING_ROOM_ADMIT_PER_SECOND={args.waiting_room:g}, {arrivals} "
        f"residents arriving at {arrivals_per_second:g}/s for {args.seconds:g} s, once each =="
    )
    print(f"load average before: {before_load}")
    admitted_pages = {p: r for p, r in load["pages"].items() if p != "queue"}
    # Pages are counted by when they started; in this mode every page of the run counts.
    worst = max((r["p99"] for r in admitted_pages.values()), default=math.nan)
    for page in PAGE_ORDER:
        if page in load["pages"]:
            r = load["pages"][page]
            print(f"  {page:<14} {r['n']:>6} p50 {_ms(r['p50']):>6} ms  p99 {_ms(r['p99']):>6} ms")
    if "queue" in load["pages"]:
        r = load["pages"]["queue"]
        print(
            f"  {'queue page':<14} {r['n']:>6} p50 {_ms(r['p50']):>6} ms  p99 {_ms(r['p99']):>6} ms"
        )
    print(
        f"admitted residents' slowest page p99 {_ms(worst)} ms (target <= {P99_TARGET_MS:.0f}:"
        f" {'met' if worst <= P99_TARGET_MS else 'MISSED'}); 5xx {load['server_errors_total']} "
        f"(target 0); other errors {load['other_errors_total']}; booked {load['bookings_total']}"
    )
    queued = load["queued"]
    waited = [q for q in queued if q["waited"] is not None and q["estimate"] is not None]
    within = [
        q
        for q in waited
        if abs(q["estimate"] - q["waited"]) <= ESTIMATE_TOLERANCE * max(q["waited"], 1.0)
    ]
    errors = sorted((q["estimate"] - q["waited"]) / max(q["waited"], 1.0) for q in waited)
    if not queued:
        print(
            "nobody saw a queue page: the waiting room did not queue anyone (the bench looks"
            " for data-position / data-estimate-seconds on the page)"
        )
    else:
        print(
            f"queued residents {len(queued)}; admitted {len(waited)}; still queued at the end "
            f"{sum(1 for q in queued if q['waited'] is None)}; first estimate within "
            f"+-{ESTIMATE_TOLERANCE:.0%} of the actual wait: {len(within)}/{len(waited)} "
            f"({100 * len(within) / max(1, len(waited)):.0f}%); estimate error (estimate - actual)"
            f"/actual p10 {percentile(errors, 0.1):+.2f}, p50 {percentile(errors, 0.5):+.2f}, "
            f"p90 {percentile(errors, 0.9):+.2f}"
        )
    print(
        f"overbooking: {state['overbooked']} slots (must be 0); bookings seen by clients "
        f"{load['bookings_total']} (+{warm['bookings_total']} warming up), confirmed rows "
        f"{state['rows'].get('confirmed', 0)}"
        f"{'' if counts_agree else '  COUNT MISMATCH'}"
    )
    notify = notification_report(
        args.database_url, before["last_event"], state["last_event"], args.drain_seconds
    )
    print(
        f"notifications: backlog at the end {notify['backlog']} of {notify['events']}; "
        f"SMS p50 {_seconds(notify['p50'])}, p99 {_seconds(notify['p99'])}"
    )
    return bool(state["overbooked"] == 0 and counts_agree)


def run_embedded(args: argparse.Namespace) -> bool:
    """bin/start's stack: SQLite in a temporary directory, migrate, seed_demo, runserver."""
    print(f"embedded default (bin/start's commands); load average before: {loadavg()}")
    with tempfile.TemporaryDirectory(prefix="madoguchi-embedded-bench-") as tmp:
        database = Path(tmp) / "db.sqlite3"
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DATABASE_", "CELERY_", "CACHE_", "DJANGO_", "SMS_"))
        }
        # As bin/start: DJANGO_DEBUG defaults to true there (with debug off the secret key is
        # needed too); nothing else is set.
        env |= {
            "DATABASE_URL": f"sqlite:///{database}",
            "DJANGO_DEBUG": os.environ.get("DJANGO_DEBUG", "true"),
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
        if "DJANGO_SECRET_KEY" in os.environ:
            env["DJANGO_SECRET_KEY"] = os.environ["DJANGO_SECRET_KEY"]
        for step in (["migrate", "--noinput"], ["seed_demo"]):
            subprocess.run(
                [sys.executable, "manage.py", *step],
                cwd=ROOT,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        with sqlite3.connect(database) as conn:
            people = conn.execute(
                """
                SELECT t.number, r.birth_date FROM reservations_ticket t
                JOIN reservations_resident r ON r.id = t.resident_id
                WHERE r.birth_date <= '1959-12-31'
                  AND NOT EXISTS (
                      SELECT 1 FROM reservations_reservation x WHERE x.resident_id = r.id
                  )
                ORDER BY t.number LIMIT ?
                """,
                (EMBEDDED_RESIDENTS,),
            ).fetchall()
        if len(people) < EMBEDDED_RESIDENTS:
            raise SystemExit(
                f"seed_demo made only {len(people)} residents aged 65+ without a booking"
            )
        services = Services(Path(tmp))
        port = free_port()
        try:
            server = services.start(
                "runserver", [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"], env
            )
            wait_for_port(port, server, "runserver", Path(tmp) / "runserver.log")
            load = drive(
                "web",
                f"http://127.0.0.1:{port}",
                users=EMBEDDED_RESIDENTS,
                processes=2,
                warmup=0,
                seconds=300,
                spec={"municipality": MUNICIPALITY, "once": True},
                residents=[(number, birth) for number, birth in people],
            )
        finally:
            services.stop()
            log = (Path(tmp) / "runserver.log").read_text(errors="replace")
        with sqlite3.connect(database) as conn:
            confirmed = conn.execute(
                "SELECT count(*) FROM reservations_reservation WHERE status = 'confirmed'"
            ).fetchone()[0]
            overbooked = (
                conn.execute(
                    SLOTS_CHECK.replace("count(*) FILTER (WHERE", "sum(CASE WHEN").replace(
                        "coalesce(r.n, 0)),", "coalesce(r.n, 0) THEN 1 ELSE 0 END),"
                    )
                ).fetchone()[0]
                or 0
            )
    errors = load["server_errors_total"] + load["other_errors_total"]
    print(
        f"{EMBEDDED_RESIDENTS} residents at once, the whole flow once each: booked "
        f"{load['bookings_total']}, errors {errors} (must be 0: 5xx {load['server_errors_total']},"
        f" other {load['other_errors_total']}"
        + (f": {load['other_errors']}" if load["other_errors"] else "")
        + f"); flow p50 {_ms(load['flow_p50'])} ms, p99 {_ms(load['flow_p99'])} ms"
    )
    for page in PAGE_ORDER:
        if page in load["pages"]:
            r = load["pages"][page]
            print(f"  {page:<14} {r['n']:>4} p50 {_ms(r['p50']):>6} ms  p99 {_ms(r['p99']):>6} ms")
    print(
        f"overbooking: {overbooked} slots (must be 0); confirmed rows {confirmed}, bookings seen "
        f"{load['bookings_total']}"
    )
    if errors:
        tail = "\n".join(line for line in log.splitlines() if "Error" in line or " 500 " in line)
        print("runserver errors (last 20):\n" + "\n".join(tail.splitlines()[-20:]))
    return overbooked == 0 and confirmed == load["bookings_total"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/madoguchi_web_bench"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379")
    parser.add_argument("--broker-db", type=int, default=9, help="Redis db of the Celery broker")
    parser.add_argument("--cache-db", type=int, default=10, help="Redis db of CACHE_URL")
    parser.add_argument(
        "--users",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[16, 32, 64, 128],
        help="comma-separated levels of concurrent users",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per level")
    parser.add_argument(
        "--warmup",
        type=float,
        default=10.0,
        help="uncounted seconds per level, over which the users' first flows are spread",
    )
    parser.add_argument("--processes", type=int, default=4, help="load generator processes")
    parser.add_argument("--api", action="store_true", help="POST /api/v1/reservations/ instead")
    parser.add_argument(
        "--waiting-room",
        type=float,
        default=0.0,
        metavar="RATE",
        help="WAITING_ROOM_ADMIT_PER_SECOND; residents arrive at 5 x RATE per second",
    )
    parser.add_argument("--embedded", action="store_true", help="bin/start's stack, 100 residents")
    parser.add_argument("--sites", type=int, default=2)
    parser.add_argument("--days", type=int, default=28, help="days with slots, from today + 2")
    parser.add_argument("--capacity", type=int, default=20, help="seats per 10-minute slot")
    parser.add_argument("--residents", type=int, default=60_000)
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument(
        "--worker-class", default="sync", choices=("sync", "gthread"), help="README: sync"
    )
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--worker-concurrency", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--sms-rate", type=int, default=100, help="SMS_RATE_LIMIT_PER_SECOND")
    parser.add_argument(
        "--drain-seconds", type=float, default=180.0, help="longest wait for confirmations"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and logs")
    args = parser.parse_args()
    if args.embedded:
        sys.exit(0 if run_embedded(args) else 1)
    if min(*args.users, args.seconds, args.processes) <= 0 or args.waiting_room < 0:
        parser.error("--users, --seconds and --processes must be positive")
    admin_url(args.database_url)  # refuses a remote database or a name without 'bench'
    if args.waiting_room and not (ROOT / "channels" / "waiting_room").is_dir():
        raise SystemExit(
            "--waiting-room needs channels/waiting_room (issue 16 item 5), not in this tree yet"
        )

    load_before = loadavg()
    ctx = mp.get_context("spawn")
    port_queue = ctx.Queue()
    gateway = ctx.Process(target=serve_gateway, args=(port_queue,), daemon=True)
    gateway.start()
    gateway_url = port_queue.get(timeout=60)
    env = server_env(args, gateway_url)
    logs = Path(tempfile.mkdtemp(prefix="web-booking-bench-"))
    services = Services(logs)
    ok = False
    database_recreate(args.database_url)
    try:
        import redis

        for db in (args.broker_db, args.cache_db):
            redis.Redis.from_url(f"{args.redis_url.rstrip('/')}/{db}").flushdb()
        manage(args.database_url, "migrate", "--no-input")
        manage(args.database_url, "load_rules")
        os.environ.update(env)
        django_setup(args.database_url)
        started = time.monotonic()
        world = world_build(
            sites=args.sites, days=args.days, capacity=args.capacity, residents=args.residents
        )
        from django.db import connections

        connections.close_all()
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        from django.conf import settings

        if args.waiting_room and not hasattr(settings, "WAITING_ROOM_ADMIT_PER_SECOND"):
            raise SystemExit(
                "--waiting-room: config/settings.py has no WAITING_ROOM_ADMIT_PER_SECOND yet "
                "(issue 16 item 5 not wired in); nothing to measure"
            )
        running = services_start(services, args, env, logs)
        mode = "api" if args.api else "waiting room" if args.waiting_room else "web"
        print(
            f"Web booking bench ({mode}): {args.processes} load processes; gunicorn config.wsgi "
            f"{args.gunicorn_workers} {args.worker_class} workers; celery worker concurrency "
            f"{args.worker_concurrency} + beat"
            + " + notify_relay"
            + f" on {env['CELERY_BROKER_URL']}; cache {env['CACHE_URL']}; stand-in SMS gateway, "
            f"SMS_RATE_LIMIT_PER_SECOND {args.sms_rate}; NOTIFY_HANDOFF "
            f"{getattr(settings, 'NOTIFY_HANDOFF', 'on_commit (no setting)')}; "
            f"{os.cpu_count()} CPUs shared by all"
        )
        print(
            f"world: campaign {world['campaign']}, {args.sites} sites, {len(world['slot_ids'])} "
            f"slots x {args.capacity} = {world['seats']} seats, {world['first_day']}.."
            f"{world['last_day']}; {args.residents} residents (set-up "
            f"{time.monotonic() - started:.0f} s); load average at start: {load_before}"
        )
        sampler = CpuSampler(services, args.database_url)
        if args.waiting_room:
            ok = run_waiting_room(args, running["base"], world, sampler)
        else:
            ok = run_levels(args, "api" if args.api else "web", running["base"], world, sampler)
        print(f"load average at the end: {loadavg()}")
    finally:
        services.stop()
        gateway.terminate()
        if not args.keep:
            from django.db import connections

            connections.close_all()
            database_drop(args.database_url)
            for db in (args.broker_db, args.cache_db):
                redis.Redis.from_url(f"{args.redis_url.rstrip('/')}/{db}").flushdb()
            shutil.rmtree(logs, ignore_errors=True)
        else:
            print(f"kept the database and the logs in {logs}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
