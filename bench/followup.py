"""Health follow-up (issue 19): the morning's invitations sent by the Celery workers, against
direct posting to the same gateway; and the answer page under gunicorn, against a view that only
draws the same pages.

    python bench/followup.py [--database-url postgres://postgres@127.0.0.1:5432/madoguchi_followup_bench]
        [--redis-url redis://127.0.0.1:6379] [--broker-db 9] [--cache-db 10]
        [--people 10000] [--concurrency 4] [--gateway-ms 0]
        [--clients 32] [--processes 4] [--warmup 5] [--seconds 20] [--gunicorn-workers 4]
        [--skip-invitations] [--skip-answers] [--keep]

Set-up (not timed): a fresh database (migrations ship the `home-care` questionnaire), one
municipality, `--people` followed people with a mobile number each, and a 7-day follow-up each
that starts today in Japan (bulk-inserted as followup_start writes them: salt, token hash).

1. Invitations. The workers run on the real clock, with FOLLOWUP_SEND_TIME=00:00 and no quiet
   hours, so the morning's invitations are due whatever the hour. Timed: one
   `followup_due_task` sent through the broker as beat sends it, until the stand-in gateway
   (tests/channels/sms/standin.py, in its own process, answering after `--gateway-ms`) holds
   every invitation, sent by `celery worker --concurrency N` (`manage.py notify_relay` runs
   beside it, as deployed). Baseline: the same requests posted directly from N processes.
   Prints messages/s for both, the ratio (target >= 0.5), duplicates at the gateway (messages
   minus distinct references, and recipients minus people: both must be 0) and unsent rows
   (must be 0). Exit status 1 if duplicates or unsent are not 0.

2. The answer page, gunicorn `config.wsgi`-equivalent with `--gunicorn-workers` sync workers,
   DJANGO_DEBUG=false, PostgreSQL, CACHE_URL on Redis. `--clients` browsers (`--processes`
   processes of threads, one requests.Session each), each with its own follow-ups taken in turn:
   GET /f/<token>/?correct=1 (the form; the CSRF cookie and token), POST a valid answer, follow
   the redirect to the received page. A follow-up answered earlier in the run is corrected, as
   the page allows. Baseline: the same three requests to /bench-baseline/f/<token>/ on the same
   gunicorn (bench/followup_urls.py: the answer page's templates and context, no database per
   request). `--warmup` seconds, then `--seconds` measured, baseline first. Prints answers/s,
   p50/p99 per request and per answer, the ratio, 5xx (must be 0), CPU per answer, and the SQL
   statements of each request of the answer page (one answer in-process).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from benchdb import SECRET_KEY, database_drop, database_recreate

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TOKEN, SERVICE_ID = "bench-token", "bench-svc"  # noqa: S105 - stand-in only
MUNICIPALITY = "452041"  # 日南市
FOLLOWUP_DAYS = 7
RATIO_TARGET = 0.5
TIMEOUT = (5.0, 60.0)
# What every client answers: a well person's day (no alert).
ANSWER = {"q_temperature": "36.8", "q_spo2": "97", "q_pulse": "72", "q_symptoms": "none"}
STEPS = ("form", "post", "received")


def server_env(options: argparse.Namespace, gateway_url: str) -> dict[str, str]:
    """What every process the bench starts runs with: production settings on the bench's
    database and Redis dbs, the stand-in gateway, and the follow-up's morning made any hour."""
    redis = options.redis_url.rstrip("/")
    return {
        **os.environ,
        "DATABASE_URL": options.database_url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_LOG_LEVEL": "WARNING",
        "HOME_MUNICIPALITY_CODE": MUNICIPALITY,
        "CELERY_BROKER_URL": f"{redis}/{options.broker_db}",
        # The workers, the relay and gunicorn refuse a per-process cache (config/checks.py).
        "CACHE_URL": f"{redis}/{options.cache_db}",
        "SMS_BACKEND": "http",
        "SMS_HTTP_BASE_URL": gateway_url,
        "SMS_HTTP_TOKEN": TOKEN,
        "SMS_HTTP_SERVICE_ID": SERVICE_ID,
        # Our pipeline is measured, not a contracted rate: the bucket in Redis is still
        # consulted (as in sms_fanout.py).
        "SMS_RATE_LIMIT_PER_SECOND": "100000",
        "SMS_RATE_LIMIT_BURST": "100000",
        "NOTIFY_HANDOFF": "relay",
        # The invitations are due from 00:00 and no quiet hours hold them: the run does not
        # depend on the time of day (production: 08:00, quiet 21:00-08:00).
        "FOLLOWUP_SEND_TIME": "00:00",
        "NOTIFY_QUIET_HOURS_START": "00:00",
        "NOTIFY_QUIET_HOURS_END": "00:00",
    }


# --- the stand-in gateway, in its own process ---------------------------------------------------


def _serve_gateway(port_queue: multiprocessing.Queue, answer_seconds: float) -> None:  # type: ignore[type-arg]
    sys.path.insert(0, str(ROOT))
    from tests.channels.sms.standin import GatewayStandIn

    class CountingGateway(GatewayStandIn):
        """The stand-in, whose /_stats also counts distinct recipients (a person invited
        twice under two references would pass the references' count)."""

        def handle_get(self, handler: Any) -> None:
            if urlsplit(handler.path).path == "/_stats":
                with self.lock:
                    tags = [m["tags"] for m in self.messages]
                    recipients = {m["to"] for m in self.messages}
                handler.reply(
                    200,
                    {
                        "messages": len(tags),
                        "distinct": len(set(tags)),
                        "recipients": len(recipients),
                        "posts": self.posts,
                    },
                )
                return
            super().handle_get(handler)

    standin = CountingGateway(token=TOKEN, service_id=SERVICE_ID, answer_seconds=answer_seconds)
    port_queue.put(standin.start())
    signal.pause()


def gateway_stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/_stats", timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read())  # type: ignore[no-any-return]


def wait_until(
    check: Callable[[], bool], what: str, gateway_url: str, *, poll: float = 0.1
) -> None:
    """Wait while progress is being made; give up after two minutes without any."""
    last_change, last_seen = time.monotonic(), None
    started = last_report = time.monotonic()
    while not check():
        seen = gateway_stats(gateway_url)["posts"]
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


def build_followups(count: int) -> list[str]:
    """`count` people, each with a mobile number and a follow-up of FOLLOWUP_DAYS days from
    today (Japan), as followup_start stores it; returns the links' tokens in id order."""
    from django.db import connection, transaction
    from django.utils import timezone

    from channels.followup.models import FollowedPerson, FollowUp, Questionnaire
    from channels.followup.tokens import (
        followup_token_for,
        followup_token_hash,
        followup_token_salt_new,
    )
    from reservations.models import Municipality

    now = timezone.now()
    today = timezone.localdate(now)  # Japan's date: the workers and the page read the same
    municipality = Municipality.objects.create(
        code=MUNICIPALITY,
        name="日南市",
        call_centre_phone="0987-00-0000",
        sms_sender_label="日南市健康観察",
    )
    questionnaire = Questionnaire.objects.get(code="home-care", is_active=True)
    salts = [followup_token_salt_new() for _ in range(count)]
    tokens = [followup_token_for(salt) for salt in salts]
    with transaction.atomic():
        people = FollowedPerson.objects.bulk_create(
            (
                FollowedPerson(
                    municipality=municipality,
                    name=f"日南 花子{i}",
                    phone=f"+8190{12_000_000 + i:08d}",
                    birth_date=dt.date(1960, 1, 1) + dt.timedelta(days=i % 3650),
                )
                for i in range(count)
            ),
            batch_size=5000,
        )
        # Fixture rows for the benchmark only; the application starts them with followup_start.
        FollowUp.objects.bulk_create(
            (
                FollowUp(
                    person=person,
                    questionnaire=questionnaire,
                    start_date=today,
                    day_offsets=list(range(FOLLOWUP_DAYS)),
                    last_date=today + dt.timedelta(days=FOLLOWUP_DAYS - 1),
                    token_salt=salt,
                    token_hash=followup_token_hash(token),
                    created_at=now,
                )
                for person, salt, token in zip(people, salts, tokens, strict=True)
            ),
            batch_size=5000,
        )
    with connection.cursor() as cursor:
        # What autovacuum does after a load this size; without it the planner guesses from
        # empty tables.
        cursor.execute("ANALYZE")
    return tokens


# --- 1. invitations ------------------------------------------------------------------------------


def _post_chunk(args: tuple[str, list[dict[str, str]]]) -> int:
    import requests

    url, forms = args
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    for form in forms:
        response = session.post(f"{url}/messages", data=form, timeout=(3.05, 10))
        response.raise_for_status()
    return len(forms)


def baseline_posting(url: str, forms: list[dict[str, str]], concurrency: int) -> float:
    chunks = [(url, forms[i::concurrency]) for i in range(concurrency)]
    # spawn, not fork: this process has threads (the ORM, the broker client).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(concurrency, mp_context=context) as pool:
        # Start and warm every process (imports, one connection) before the clock starts.
        assert sum(pool.map(_post_chunk, [(url, []) for _ in range(concurrency)])) == 0
        started = time.perf_counter()
        assert sum(pool.map(_post_chunk, chunks)) == len(forms)
        return time.perf_counter() - started


class Services:
    """The processes this bench starts, each in its own session so that it and its children
    are stopped together, and only they."""

    def __init__(self) -> None:
        self.logs = ROOT / "var"
        self.logs.mkdir(exist_ok=True)
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self.logs / f"bench-followup-{name}.log"
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            argv,
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: SIGTERM reaches the children
        )
        self.started[name] = process
        return process

    def stop(self, *names: str) -> None:
        chosen = [n for n in self.started if not names or n in names]
        for name in chosen:
            if self.started[name].poll() is None:
                os.killpg(self.started[name].pid, signal.SIGTERM)
        for name in chosen:
            process = self.started.pop(name)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in 60 s; killed", file=sys.stderr)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def run_invitations(
    options: argparse.Namespace, services: Services, env: dict[str, str], gateway_url: str
) -> int:
    from django.db import connection
    from django.utils import timezone

    from channels.followup.models import FollowUp
    from channels.notify.models import OutboundMessage
    from channels.notify.tasks import followup_due_task
    from config.celery import app
    from reservations.identifiers import phone_to_national_digits
    from tests.workers import celery_worker_argv

    people = options.people
    worker = services.start(
        "worker",
        celery_worker_argv(
            concurrency=options.concurrency, loglevel="WARNING", name="followup-bench@%h"
        ),
        env,
    )
    services.start("relay", [sys.executable, "manage.py", "notify_relay"], env)
    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=1.0):
        if time.monotonic() > deadline or worker.poll() is not None:
            raise SystemExit(f"celery worker did not start; see {services.logs}")
    connection.close()
    try:
        started = time.perf_counter()
        followup_due_task.delay()  # as beat sends it
        wait_until(
            lambda: OutboundMessage.objects.count() >= people, "invitations made", gateway_url
        )
        made = time.perf_counter() - started
        wait_until(
            lambda: gateway_stats(gateway_url)["messages"] >= people,
            "invitations sent",
            gateway_url,
        )
        end_to_end = time.perf_counter() - started
        time.sleep(2)  # anything still in flight would show up as a duplicate
        stats = gateway_stats(gateway_url)
        unsent = OutboundMessage.objects.exclude(status="sent").count()
        not_invited = FollowUp.objects.exclude(invited_for=timezone.localdate()).count()
        not_sms = OutboundMessage.objects.exclude(channel="sms").count()
        forms = [
            {
                "service_id": SERVICE_ID,
                "to": phone_to_national_digits(m.address),
                "body": m.body,
                "tags": f"baseline-{m.pk}",
            }
            for m in OutboundMessage.objects.only("address", "body").order_by("pk")
        ]
        sample = forms[0]["body"] if forms else ""
    finally:
        services.stop("worker", "relay")
        connection.close()
    baseline_seconds = baseline_posting(gateway_url, forms, options.concurrency)

    rate_workers = people / end_to_end
    rate_baseline = len(forms) / baseline_seconds
    ratio = rate_workers / rate_baseline
    duplicates = stats["messages"] - stats["distinct"]
    twice = stats["messages"] - stats["recipients"]
    print(
        f"\n== 1. invitations: {people} people, {options.concurrency} worker processes, "
        f"stand-in answers in {options.gateway_ms:g} ms =="
    )
    print(f"a message: {sample}")
    print(
        f"followup_due_task: the {people} messages made and committed in {made:.1f} s "
        f"({people / made:.0f} messages/s); sends start as each chunk commits"
    )
    print(f"{'run':34} {'seconds':>8} {'messages/s':>11}")
    print(f"{'workers over Redis (due -> sent)':34} {end_to_end:8.2f} {rate_workers:11.0f}")
    print(f"{'baseline (direct POSTs)':34} {baseline_seconds:8.2f} {rate_baseline:11.0f}")
    verdict = "met" if ratio >= RATIO_TARGET else "MISSED"
    print(f"ratio workers/baseline: {ratio:.2f} (target >= {RATIO_TARGET}: {verdict})")
    print(
        f"duplicates at the gateway: {duplicates} by reference, {twice} by recipient "
        f"(must be 0); people reached {stats['recipients']}/{people}"
    )
    print(
        f"unsent: {unsent} messages not sent (must be 0); {not_invited} follow-ups not marked "
        f"invited today; {not_sms} messages not SMS"
    )
    return 1 if duplicates or twice or unsent or stats["recipients"] != people else 0


# --- 2. the answer page -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"gunicorn exited; see {log}") from None
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not start; see {log}")


def _answer_client(
    base: str, prefix: str, tokens: list[str], window: tuple[float, float, float], out: list[Any]
) -> None:
    """One browser: for each of its follow-ups in turn, the form, the answer, the received
    page, until the window closes. Records (step, began, seconds, status, error) and answers
    (began, seconds)."""
    import requests
    from loadgen import Page

    begin, _start, stop = window
    rng = random.Random(hash(tokens[0]) if tokens else 0)
    session = requests.Session()
    requests_seen: list[tuple[str, float, float, int, str]] = []
    answers: list[tuple[float, float]] = []

    def call(step: str, method: str, url: str, expect: int, **kwargs: Any) -> Any:
        began = time.monotonic()
        try:
            response = session.request(
                method, url, allow_redirects=False, timeout=TIMEOUT, **kwargs
            )
        except requests.RequestException as exc:
            requests_seen.append((step, began, time.monotonic() - began, 0, type(exc).__name__))
            return None
        elapsed = time.monotonic() - began
        error = "" if response.status_code == expect else f"status {response.status_code}"
        requests_seen.append((step, began, elapsed, response.status_code, error))
        return None if error else response

    time.sleep(max(0.0, begin - time.monotonic()))
    turn = 0
    while tokens and time.monotonic() < stop:
        token = tokens[turn % len(tokens)]
        turn += 1
        url = f"{base}{prefix}{token}/"
        began = time.monotonic()
        form_page = call("form", "GET", url + "?correct=1", 200)
        if form_page is None:
            continue
        form = Page(form_page.text).form_with("csrfmiddlewaretoken", method="post")
        if form is None:
            requests_seen[-1] = (*requests_seen[-1][:4], "no answer form")
            continue
        data = {**form.values(), **ANSWER}
        data["q_temperature"] = f"{rng.choice((36.2, 36.5, 36.8, 37.1)):.1f}"
        posted = call(
            "post",
            "POST",
            urljoin(url, form.action or url),
            302,
            data=data,
            headers={"Referer": url},
        )
        if posted is None:
            continue
        received = call("received", "GET", urljoin(url, posted.headers["Location"]), 200)
        if received is not None:
            answers.append((began, time.monotonic() - began))
    out.append((requests_seen, answers))


def _answer_process(
    base: str,
    prefix: str,
    token_lists: list[list[str]],
    clock: tuple[Any, Any, Any],
    warmup: float,
    seconds: float,
    results: Any,
) -> None:
    """This process's browsers (one thread each); puts their records and its CPU on `results`."""
    sys.path.insert(0, str(BENCH))
    ready, go, shared_start = clock
    ready.put(os.getpid())
    if not go.wait(120):
        return
    begin = shared_start.value
    window = (begin, begin + warmup, begin + warmup + seconds)
    out: list[Any] = []
    threads = [
        threading.Thread(target=_answer_client, args=(base, prefix, tokens, window, out))
        for tokens in token_lists
    ]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, window[1] - time.monotonic()))
    cpu = time.process_time()
    time.sleep(max(0.0, window[2] - time.monotonic()))
    cpu = time.process_time() - cpu
    for thread in threads:
        thread.join()
    results.put({"records": out, "cpu": cpu})


def _proc_cpu(match: Callable[[int, str], bool]) -> float:
    """CPU seconds (user + system) of the live processes `match(pgid, command line)` picks."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        try:
            name = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if match(int(fields[2]), name):
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def gunicorn_argv(port: int, workers: int, *extra: str) -> list[str]:
    """gunicorn serving the project on 127.0.0.1:`port` with sync workers, as the benches run
    it (a deep backlog: a burst of clients must queue, not be refused)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--backlog",
        "2048",
        *extra,
    ]


def gunicorn_warm(base: str, paths: list[str]) -> None:
    """Until every worker answers these pages quickly: the port opens when gunicorn binds, but
    each worker still imports Django and loads its templates (seconds of CPU on a small box),
    which must not fall into either measured run."""
    import requests

    deadline = time.monotonic() + 120

    def fetch(path: str) -> tuple[int, float]:
        began = time.monotonic()
        status = requests.get(base + path, timeout=TIMEOUT).status_code
        return status, time.monotonic() - began

    while True:
        seen: list[tuple[int, float]] = []
        threads = [
            threading.Thread(target=lambda p=path, t=seen: t.append(fetch(p)))
            for _ in range(8)
            for path in paths
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if any(status != 200 for status, _ in seen):
            statuses = sorted({status for status, _ in seen})
            raise SystemExit(f"warming gunicorn: status {statuses}; see var/bench-followup-*.log")
        if len(seen) == len(threads) and max(seconds for _, seconds in seen) < 0.5:
            return
        if time.monotonic() > deadline:
            raise SystemExit("gunicorn's workers did not warm up in 120 s")


def _p50_p99(ordered: list[float]) -> str:
    return f"{1000 * percentile(ordered, 0.5):.0f} / {1000 * percentile(ordered, 0.99):.0f}"


def drive_answers(
    options: argparse.Namespace, base: str, prefix: str, tokens: list[str], gunicorn_pgid: int
) -> dict[str, Any]:
    """`--clients` browsers over `--processes` processes answering for `--seconds`."""
    ctx = multiprocessing.get_context("spawn")
    clients = options.clients
    processes = max(1, min(options.processes, clients))
    per_client = [tokens[i::clients] for i in range(clients)]
    groups = [per_client[n::processes] for n in range(processes)]
    results, ready, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    shared_start = ctx.Value("d", 0.0)
    procs = [
        ctx.Process(
            target=_answer_process,
            args=(
                base,
                prefix,
                group,
                (ready, go, shared_start),
                options.warmup,
                options.seconds,
                results,
            ),
            daemon=True,
        )
        for group in groups
    ]
    for process in procs:
        process.start()
    for _process in procs:
        ready.get(timeout=120)
    begin = shared_start.value = time.monotonic() + 0.2
    go.set()
    start, stop = begin + options.warmup, begin + options.warmup + options.seconds
    time.sleep(max(0.0, start - time.monotonic()))
    # PostgreSQL: the backends serving the bench database only (other work on the machine
    # may use the same server).
    database = urlsplit(options.database_url).path.lstrip("/")

    def ours(_pgid: int, command: str) -> bool:
        return command.startswith("postgres:") and f" {database} " in command

    server_cpu = _proc_cpu(lambda pgid, _name: pgid == gunicorn_pgid)
    postgres_cpu = _proc_cpu(ours)
    time.sleep(max(0.0, stop - time.monotonic()))
    server_cpu = _proc_cpu(lambda pgid, _name: pgid == gunicorn_pgid) - server_cpu
    postgres_cpu = _proc_cpu(ours) - postgres_cpu
    outcomes: list[dict[str, Any]] = []
    while len(outcomes) < len(procs):
        try:
            outcomes.append(results.get(timeout=TIMEOUT[1] + 30))
        except queue.Empty:
            raise SystemExit("a load process hung") from None
    for process in procs:
        process.join(30)

    steps: dict[str, list[float]] = {step: [] for step in STEPS}
    cycles: list[float] = []
    errors: dict[str, int] = {}
    server_errors = 0
    for outcome in outcomes:
        for requests_seen, answers in outcome["records"]:
            for step, began, elapsed, status, error in requests_seen:
                if status >= 500:
                    server_errors += 1
                if error:
                    errors[f"{step}: {error}"] = errors.get(f"{step}: {error}", 0) + 1
                if start <= began < stop:
                    steps[step].append(elapsed)
            cycles.extend(seconds for began, seconds in answers if start <= began < stop)
    done = len(cycles)
    return {
        "answers_per_second": done / options.seconds,
        "answers": done,
        "steps": {k: sorted(v) for k, v in steps.items()},
        "cycle": sorted(cycles),
        "server_errors": server_errors,
        "errors": errors,
        "gunicorn_ms": 1000 * server_cpu / max(done, 1),
        "postgres_ms": 1000 * postgres_cpu / max(done, 1),
        "clients_ms": 1000 * sum(o["cpu"] for o in outcomes) / max(done, 1),
    }


def statements_per_request(token: str) -> dict[str, int]:
    """The SQL statements of each request of one answer, in-process (django.test.Client)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from loadgen import Page

    client = Client(HTTP_HOST="127.0.0.1")
    url = f"/f/{token}/"
    counts = {}
    with CaptureQueriesContext(connection) as captured:
        page = client.get(url + "?correct=1")
    counts["form"] = len(captured)
    form = Page(page.content.decode()).form_with("csrfmiddlewaretoken", method="post")
    assert form is not None, page.status_code
    with CaptureQueriesContext(connection) as captured:
        posted = client.post(url, {**form.values(), **ANSWER})
    counts["post"] = len(captured)
    assert posted.status_code == 302, posted.status_code
    with CaptureQueriesContext(connection) as captured:
        client.get(posted["Location"])
    counts["received"] = len(captured)
    return counts


def run_answers(
    options: argparse.Namespace, services: Services, env: dict[str, str], tokens: list[str]
) -> int:
    from django.db import connection

    from channels.followup.models import FollowUpAnswer

    statements = statements_per_request(tokens[-1])
    connection.close()
    port = free_port()
    gunicorn_env = {
        **env,
        "DJANGO_SETTINGS_MODULE": "followup_settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH), env.get("PYTHONPATH", "")]),
    }
    gunicorn = services.start(
        "gunicorn",
        gunicorn_argv(port, options.gunicorn_workers),
        gunicorn_env,
    )
    wait_for_port(port, gunicorn, services.logs / "bench-followup-gunicorn.log")
    base = f"http://127.0.0.1:{port}"
    answerable = tokens[:-1]
    gunicorn_warm(base, [f"/bench-baseline/f/{tokens[0]}/", f"/f/{tokens[0]}/?correct=1"])
    before = FollowUpAnswer.objects.count()
    connection.close()
    try:
        runs = {
            "baseline": drive_answers(
                options, base, "/bench-baseline/f/", answerable, gunicorn.pid
            ),
            "answer page": drive_answers(options, base, "/f/", answerable, gunicorn.pid),
        }
    finally:
        services.stop("gunicorn")
    stored = FollowUpAnswer.objects.count() - before

    print(
        f"\n== 2. the answer page: {options.clients} browsers ({options.processes} processes), "
        f"gunicorn {options.gunicorn_workers} sync workers, {options.warmup:g} s warm-up + "
        f"{options.seconds:g} s =="
    )
    header = "  ".join(f"{step + ' p50/p99 ms':>20}" for step in (*STEPS, "answer"))
    print(f"{'run':12} {'answers/s':>9}  {header}  {'5xx':>4}")
    for name, run in runs.items():
        cells = [_p50_p99(run["steps"][step]) for step in STEPS] + [_p50_p99(run["cycle"])]
        line = "  ".join(f"{cell:>20}" for cell in cells)
        print(f"{name:12} {run['answers_per_second']:9.1f}  {line}  {run['server_errors']:4d}")
    for name, run in runs.items():
        print(
            f"CPU per answer ({name}): gunicorn {run['gunicorn_ms']:.1f} ms, "
            f"PostgreSQL {run['postgres_ms']:.1f} ms, load clients {run['clients_ms']:.1f} ms; "
            f"errors {run['errors'] or 'none'}"
        )
    baseline_rate = runs["baseline"]["answers_per_second"]
    ratio = runs["answer page"]["answers_per_second"] / baseline_rate if baseline_rate else 0.0
    print(f"ratio answer page / baseline: {ratio:.2f} (answers/s)")
    print(
        "SQL statements per request of the answer page: "
        + ", ".join(f"{step} {n}" for step, n in statements.items())
        + " (baseline: 0)"
    )
    print(
        f"answers stored: {stored} new rows (each follow-up's first answer of the day; "
        f"the rest were corrections); clients saw {runs['answer page']['answers']} answers "
        f"in the window"
    )
    failed = sum(run["server_errors"] for run in runs.values())
    return 1 if failed else 0


# --- main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/madoguchi_followup_bench"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379")
    parser.add_argument("--broker-db", type=int, default=9, help="Redis db of the Celery broker")
    parser.add_argument("--cache-db", type=int, default=10, help="Redis db of CACHE_URL")
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=4, help="celery worker processes")
    parser.add_argument(
        "--gateway-ms", type=float, default=0.0, help="the stand-in's answer time per request"
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent answer-page browsers")
    parser.add_argument("--processes", type=int, default=4, help="load generator processes")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per run")
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--skip-invitations", action="store_true")
    parser.add_argument("--skip-answers", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    options = parser.parse_args()
    if options.people < options.clients + 1 or options.gateway_ms < 0:
        parser.error("--people must be more than --clients, --gateway-ms >= 0")
    print(f"load average before: {Path('/proc/loadavg').read_text().strip()}", flush=True)

    port_queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    gateway = multiprocessing.Process(
        target=_serve_gateway, args=(port_queue, options.gateway_ms / 1000), daemon=True
    )
    gateway.start()
    gateway_url = port_queue.get(timeout=30)
    env = server_env(options, gateway_url)
    os.environ.update(env)

    import redis as redis_client

    for db in (options.broker_db, options.cache_db):
        redis_client.Redis.from_url(f"{options.redis_url.rstrip('/')}/{db}").flushdb()
    database_recreate(options.database_url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    import django

    django.setup()
    from django.db import connection

    started = time.perf_counter()
    tokens = build_followups(options.people)
    print(
        f"set-up: {options.people} people with a {FOLLOWUP_DAYS}-day follow-up from today in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    connection.close()
    services = Services()
    status = 0
    try:
        if not options.skip_invitations:
            status |= run_invitations(options, services, env, gateway_url)
        if not options.skip_answers:
            status |= run_answers(options, services, env, tokens)
    finally:
        services.stop()
        gateway.terminate()
        connection.close()
        for db in (options.broker_db, options.cache_db):
            redis_client.Redis.from_url(f"{options.redis_url.rstrip('/')}/{db}").flushdb()
        if not options.keep:
            database_drop(options.database_url)
    print(
        f"\nmachine: {os.cpu_count()} CPUs; load average after: "
        f"{Path('/proc/loadavg').read_text().strip()}"
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
