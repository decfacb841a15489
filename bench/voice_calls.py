"""Automated voice calls (issue 20): the day-before reminders of residents who have only a
landline, placed by the Celery workers through the Twilio voice stand-in and played against our
webhooks under gunicorn, against the same calls placed directly from a plain script.

    python bench/voice_calls.py [--database-url postgres://postgres@127.0.0.1:5432/madoguchi_bench_voice]
        [--redis-url redis://127.0.0.1:6379] [--redis-db 14] [--calls 1000] [--lines 20]
        [--answer-seconds 0.5,2] [--concurrency 4] [--gunicorn-workers 4] [--keep]

Per answer delay in `--answer-seconds`, from scratch (a fresh database, a fresh stand-in, fresh
servers):

Set-up (not timed): `--calls` residents of a municipality with `voice_calls_enabled`, each with
a landline only (no mobile number, no LINE) and a confirmed booking tomorrow
(sms_fanout.build_bookings, then the numbers made landlines); ANALYZE.

Workers (timed): one `reminder_scan_task` through the broker, as beat sends it. `manage.py
notify_relay` hands the reminder events to `celery worker --concurrency N`, which make the
messages (routed to VOICE) and place the calls with VOICE_BACKEND=twilio on the stand-in
(channels/voice/standin.py, in its own process), at most `--lines` at once
(VOICE_MAX_CONCURRENT_CALLS). The stand-in rings for the answer delay, then plays each call
against our signed webhooks on gunicorn `config.wsgi` (`--gunicorn-workers` sync workers,
VOICE_CALLBACK_BASE_URL), the resident pressing 1 (confirm) at the first question. Timed until
the last call's status callback has been recorded.

Direct (timed, same run, same stand-in behaviour and delay): a plain script in its own process
(threads, no Django) places the same numbers with the real `twilio` client, `--lines` threads
each placing a call and waiting for its status callback before the next (a line held until the
provider says the call ended, as the app's lines are). The answer and the key press are served
by a static responder in that process: the TwiML documents our app returned in the workers'
run, byte for byte but for the addresses, so the stand-in's work per call is the same.

Prints calls/s for both and the ratio workers/direct; duplicates (calls per number and
attempts per message beyond one: must be 0); unsent or unfinished calls (must be 0); the most
calls in progress at once against `--lines` (from the stand-in's own call times: placed ->
ended; must never exceed it), and the stand-in's counter, which also counts the status callback
still in flight; time from the message's creation to the call's end recorded (p50/p99; direct:
from the start); CPU per call of each process group. Exit status 1 if any check fails.

The servers read the real clock: calling hours are the whole day
(VOICE_CALLING_HOURS_START=00:00, END=23:59:59.999999), the reminders are due at 00:00 and no
quiet hours hold them. Redis db `--redis-db` is the broker and the cache, flushed before and
after: do not share it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from benchdb import SECRET_KEY, database_drop, database_recreate
from followup import free_port, gunicorn_argv, gunicorn_warm, percentile, wait_for_port
from sms_fanout import build_bookings
from web_booking import CpuSampler, Services, _proc_table

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-voice-token"  # noqa: S105 - stand-in only
FROM_NUMBER = "+815012340000"
# The resident answers and presses 1 (confirm) at the first question.
BEHAVIOUR = "keys:1"
# What the app gives the provider: ring for at most this long, cut the call after that.
RING_SECONDS, MAX_SECONDS = 30, 300
NO_PROGRESS_SECONDS = 120


def landline(index: int) -> str:
    """日南市's area code (0987): a fixed line, which no SMS reaches."""
    return f"+81987{index:06d}"


def server_env(options: argparse.Namespace, standin_url: str, callback_base: str) -> dict[str, str]:
    """What the workers, the relay and gunicorn run with: production settings on the bench's
    database and Redis db, the voice stand-in, and hours that do not depend on the clock."""
    redis = f"{options.redis_url.rstrip('/')}/{options.redis_db}"
    return {
        **os.environ,
        "DATABASE_URL": options.database_url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_LOG_LEVEL": "WARNING",
        "CELERY_BROKER_URL": redis,
        # The workers, the relay and gunicorn refuse a per-process cache (config/checks.py).
        "CACHE_URL": redis,
        # No resident has a mobile number: nothing is texted, but the checks want a backend
        # that prints nothing.
        "SMS_BACKEND": "locmem",
        "VOICE_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": standin_url,
        "VOICE_FROM_NUMBER": FROM_NUMBER,
        "VOICE_CALLBACK_BASE_URL": callback_base,
        "VOICE_MAX_CONCURRENT_CALLS": str(options.lines),
        "VOICE_RING_SECONDS": str(RING_SECONDS),
        "VOICE_CALL_MAX_SECONDS": str(MAX_SECONDS),
        # The whole day (production: 09:00-20:00); the settings want START < END.
        "VOICE_CALLING_HOURS_START": "00:00",
        "VOICE_CALLING_HOURS_END": "23:59:59.999999",
        "NOTIFY_HANDOFF": "relay",
        "NOTIFY_REMINDER_TIME": "00:00",
        "NOTIFY_QUIET_HOURS_START": "00:00",
        "NOTIFY_QUIET_HOURS_END": "00:00",
    }


# --- the stand-in, in its own process, driven through a pipe ------------------------------------


def _overlap_max(spans: list[tuple[float, float]]) -> int:
    """The most spans open at one moment (an end at the same instant as a start comes first)."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    most = current = 0
    for _moment, step in edges:
        current += step
        most = max(most, current)
    return most


def _standin_report(standin: Any) -> dict[str, Any]:
    calls = standin.calls
    spans = [
        (
            call.date_created.timestamp(),
            call.end_time.timestamp() if call.end_time else float("inf"),
        )
        for call in calls
    ]
    sample: dict[str, str] = {}
    for call in calls:
        bodies = {r.purpose: r.body.decode() for r in call.requests if r.ok}
        if call.finished and {"answer", "gather"} <= set(bodies):
            sample = {"answer": bodies["answer"], "gather": bodies["gather"]}
            break
    errors = [error for call in calls for error in call.errors]
    ended = [(start, end) for start, end in spans if end != float("inf")]
    return {
        "calls": len(calls),
        "numbers": len({call.to for call in calls}),
        "finished": sum(1 for call in calls if call.finished),
        "statuses": dict(Counter(call.status for call in calls)),
        "confirmed": sum(1 for call in calls if call.digits == ["1"]),
        "max_in_progress": standin.max_in_progress,
        "max_talking": _overlap_max(spans),
        "errors": len(errors),
        "error_sample": errors[:3],
        "said_chars": sum(len(text) for call in calls for text in call.said) / max(len(calls), 1),
        "webhooks": sum(len(call.requests) for call in calls) / max(len(calls), 1),
        "sample": sample,
        # For the lines' use: when the first call was placed, the last ended, and the
        # seconds of all calls (placed -> ended) together.
        "first_placed": min((start for start, _ in spans), default=0.0),
        "last_ended": max((end for _, end in ended), default=0.0),
        "call_seconds": sum(end - start for start, end in ended),
    }


def _serve_standin(conn: Connection) -> None:
    """Commands: ("start", answer_seconds) -> base URL of a fresh stand-in; ("finished",) ->
    calls whose final status callback is done; ("report",) -> _standin_report; ("quit",)."""
    from channels.voice.standin import TwilioVoiceStandIn

    standin: TwilioVoiceStandIn | None = None
    while True:
        command, *args = conn.recv()
        if command == "start":
            if standin is not None:
                standin.stop()
            standin = TwilioVoiceStandIn(
                ACCOUNT_SID, AUTH_TOKEN, answer_seconds=args[0], default_behaviour=BEHAVIOUR
            )
            conn.send(standin.start())
        elif command == "finished":
            conn.send(sum(1 for call in standin.calls if call.finished) if standin else 0)
        elif command == "report":
            conn.send(_standin_report(standin))
        else:
            if standin is not None:
                standin.stop()
            conn.send(None)
            return


class StandIn:
    """The parent's end of the stand-in process."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve_standin, args=(child,), daemon=True)
        self.process.start()
        self.lock = threading.Lock()

    def ask(self, *command: Any) -> Any:
        with self.lock:
            self.conn.send(command)
            if not self.conn.poll(60):
                raise SystemExit(f"the stand-in did not answer {command[0]!r}")
            return self.conn.recv()

    def cpu(self) -> float:
        return _proc_table().get(self.process.pid or 0, (0, 0.0))[1]

    def close(self) -> None:
        if self.process.is_alive():
            self.ask("quit")
        self.process.join(10)


def wait_calls(standin: StandIn, count: int, what: str, extra: Any = None) -> None:
    """Until the stand-in has finished `count` calls (and `extra()` is true, if given); gives
    up after NO_PROGRESS_SECONDS without a call finishing."""
    last_change, last_seen = time.monotonic(), -1
    started = last_report = time.monotonic()
    while True:
        seen = standin.ask("finished")
        if seen >= count and (extra is None or extra()):
            return
        if seen != last_seen:
            last_change, last_seen = time.monotonic(), seen
        if time.monotonic() - last_report > 30:
            last_report = time.monotonic()
            print(
                f"  ... {what}: {seen} calls ended after {last_report - started:.0f} s", flush=True
            )
        if time.monotonic() - last_change > NO_PROGRESS_SECONDS:
            raise SystemExit(f"{what}: no call ended for {NO_PROGRESS_SECONDS} s ({seen}/{count})")
        time.sleep(0.05)


# --- set-up --------------------------------------------------------------------------------------


def build_residents(count: int) -> list[str]:
    """`count` residents with a landline only and a confirmed booking tomorrow, in a
    municipality that calls; returns their numbers."""
    from django.db import connection

    from reservations.models import Municipality, Resident

    build_bookings(count)
    Municipality.objects.update(voice_calls_enabled=True)
    ids = list(Resident.objects.order_by("pk").values_list("pk", flat=True))
    numbers = [landline(i) for i in range(len(ids))]
    Resident.objects.bulk_update(
        [
            Resident(pk=pk, phone=number, sms_consent=False)
            for pk, number in zip(ids, numbers, strict=True)
        ],
        ["phone", "sms_consent"],
        batch_size=1000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return numbers


# --- the workers ---------------------------------------------------------------------------------


def _cpu_deltas(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
) -> dict[str, float]:
    return {
        group: sum(cpu - before.get(group, {}).get(pid, 0.0) for pid, cpu in pids.items())
        for group, pids in after.items()
    }


def run_workers(
    options: argparse.Namespace, answer_seconds: float, standin: StandIn, logs: Path
) -> dict[str, Any]:
    from django.db import connection

    from channels.notify.models import OutboundMessage
    from channels.notify.tasks import reminder_scan_task
    from channels.voice.models import VoiceCall, VoiceKeyPress
    from config.celery import app
    from tests.workers import celery_worker_argv

    standin_url = standin.ask("start", answer_seconds)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = server_env(options, standin_url, base)
    services = Services(logs)
    access_log = logs / "access.log"
    access_log.unlink(missing_ok=True)
    try:
        gunicorn = services.start(
            "gunicorn",
            gunicorn_argv(
                port,
                options.gunicorn_workers,
                # Each request's path and time (µs): how long each webhook took to answer.
                "--access-logfile",
                str(access_log),
                "--access-logformat",
                "%(U)s %(s)s %(D)s",
            ),
            env,
        )
        wait_for_port(port, gunicorn, logs / "gunicorn.log")
        gunicorn_warm(base, ["/health/"])
        worker = services.start(
            "worker",
            celery_worker_argv(
                concurrency=options.concurrency, loglevel="WARNING", name="voice-bench@%h"
            ),
            env,
        )
        services.start("relay", [sys.executable, "manage.py", "notify_relay"], env)
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=1.0):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit(f"celery worker did not start; see {logs}")
        sampler = CpuSampler(services, options.database_url)
        cpu_before, standin_cpu = sampler.snapshot(), standin.cpu()

        def calls_closed() -> bool:
            return not VoiceCall.objects.filter(result__in=VoiceCall.OPEN_RESULTS).exists()

        started = time.time()
        reminder_scan_task.delay()  # as beat sends it
        wait_calls(standin, options.calls, "workers", calls_closed)
        cpu = _cpu_deltas(cpu_before, sampler.snapshot())
        cpu["stand-in"] = standin.cpu() - standin_cpu
        time.sleep(2)  # a call placed twice late would show up now
    finally:
        services.stop()
        connection.close()

    calls = list(VoiceCall.objects.values("reference", "result", "ended_at"))
    messages = list(
        OutboundMessage.objects.filter(purpose=OutboundMessage.Purpose.REMINDER).values(
            "retry_key", "channel", "status", "created_at"
        )
    )
    ended: dict[str, dt.datetime] = {}
    for call in calls:
        if call["ended_at"] is not None:
            ended[call["reference"]] = max(
                call["ended_at"], ended.get(call["reference"], call["ended_at"])
            )
    latencies = sorted(
        (ended[str(m["retry_key"])] - m["created_at"]).total_seconds()
        for m in messages
        if str(m["retry_key"]) in ended
    )
    last_end = max(ended.values()).timestamp() if ended else time.time()
    attempts = Counter(call["reference"] for call in calls)
    webhooks: dict[str, list[float]] = {}
    for line in access_log.read_text().splitlines():
        path, _status, micros = line.rsplit(" ", 2)
        if path.startswith("/voice/calls/"):
            kind = path.rstrip("/").split("/")[4]  # answer, keys, status
            webhooks.setdefault(kind, []).append(int(micros) / 1e6)
    report = standin.ask("report")
    return {
        "started": started,
        "seconds": last_end - started,
        "latencies": latencies,
        "standin": report,
        "cpu": cpu,
        "messages": len(messages),
        "channels": dict(Counter(m["channel"] for m in messages)),
        "statuses": dict(Counter(m["status"] for m in messages)),
        "results": dict(Counter(call["result"] for call in calls)),
        "webhooks": {kind: sorted(times) for kind, times in webhooks.items()},
        "extra_attempts": sum(n - 1 for n in attempts.values()),
        "open_calls": sum(1 for call in calls if call["result"] in VoiceCall.OPEN_RESULTS),
        "confirmed": VoiceKeyPress.objects.filter(action=VoiceKeyPress.Action.CONFIRMED).count(),
    }


# --- the direct script (no Django) -------------------------------------------------------------


class _Responder(ThreadingHTTPServer):
    daemon_threads = True
    # A line's worth of calls answered at the same instant post together: the default backlog
    # of 5 resets some of them (as the stand-in's own server, 256).
    request_queue_size = 256


def _static_responder(
    documents: dict[str, str], ended: dict[int, float], done: list[threading.Event]
) -> ThreadingHTTPServer:
    """Serves documents["answer"] at /answer, documents["gather"] at /keys/..., and records
    the status callback that ends call n at /status/n."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # As the stand-in: headers and body in one segment (no Nagle + delayed-ACK stall).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = self.path.split("?")[0]
            kind = "application/json"
            if path.startswith("/status/"):
                number = int(path.rsplit("/", 1)[1])
                ended[number] = time.time()
                done[number].set()
                body = b'{"recorded": true}'
            else:
                body = documents["answer" if path == "/answer" else "gather"].encode()
                kind = "text/xml; charset=utf-8"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = _Responder(("127.0.0.1", 0), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server


def direct_calls(
    standin_url: str, numbers: list[str], lines: int, documents: dict[str, str]
) -> dict[str, Any]:
    """Place a call to each number with the twilio client from `lines` threads, each waiting
    for its call's status callback before placing the next. No Django here."""
    from twilio.http.http_client import TwilioHttpClient  # type: ignore[import-untyped]
    from twilio.rest import Client  # type: ignore[import-untyped]

    ended: dict[int, float] = {}
    done = [threading.Event() for _ in numbers]
    served: dict[str, str] = {}
    server = _static_responder(served, ended, done)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    for name, document in documents.items():
        # The app's question address (…/voice/calls/<id>/keys/<step>/), made the responder's.
        served[name] = re.sub(r"https?://[^\"<> ]+?/keys/", f"{base}/keys/", document)
    pending = iter(range(len(numbers)))
    lock = threading.Lock()
    errors: list[str] = []
    unfinished: list[int] = []

    def caller() -> None:
        client = Client(
            ACCOUNT_SID,
            AUTH_TOKEN,
            http_client=TwilioHttpClient(pool_connections=True, timeout=10),
        )
        client.api.base_url = standin_url
        while True:
            with lock:
                number = next(pending, None)
            if number is None:
                return
            try:
                client.calls.create(
                    to=numbers[number],
                    from_=FROM_NUMBER,
                    url=f"{base}/answer",
                    method="POST",
                    status_callback=f"{base}/status/{number}",
                    status_callback_method="POST",
                    status_callback_event=["completed"],
                    machine_detection="DetectMessageEnd",
                    timeout=RING_SECONDS,
                    time_limit=MAX_SECONDS,
                )
            except Exception as error:  # noqa: BLE001 - counted and reported
                errors.append(repr(error))
                continue
            if not done[number].wait(60):
                unfinished.append(number)

    threads = [threading.Thread(target=caller, daemon=True) for _ in range(lines)]
    cpu_started, started = time.process_time(), time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu = time.process_time() - cpu_started
    server.shutdown()
    return {
        "started": started,
        "seconds": (max(ended.values()) if ended else time.time()) - started,
        "latencies": sorted(moment - started for moment in ended.values()),
        "errors": errors,
        "unfinished": len(unfinished),
        "cpu": cpu,
    }


def run_direct(
    options: argparse.Namespace,
    answer_seconds: float,
    standin: StandIn,
    numbers: list[str],
    documents: dict[str, str],
) -> dict[str, Any]:
    standin_url = standin.ask("start", answer_seconds)
    standin_cpu = standin.cpu()
    # spawn, not fork: this process has threads (the ORM, the broker client).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        outcome = pool.submit(direct_calls, standin_url, numbers, options.lines, documents).result()
    outcome["cpu"] = {"script": outcome["cpu"], "stand-in": standin.cpu() - standin_cpu}
    outcome["standin"] = standin.ask("report")
    return outcome


# --- report --------------------------------------------------------------------------------------


def report(
    options: argparse.Namespace,
    answer_seconds: float,
    workers: dict[str, Any],
    direct: dict[str, Any],
) -> int:
    calls = options.calls
    print(
        f"\n== answer after {answer_seconds:g} s: {calls} reminder calls, {options.lines} lines, "
        f"{options.concurrency} worker processes, gunicorn {options.gunicorn_workers} sync "
        "workers =="
    )
    print(
        f"messages: {workers['messages']} reminders, channels {workers['channels']}, "
        f"statuses {workers['statuses']}; calls {workers['results']}"
    )
    print(
        f"{'run':26} {'seconds':>8} {'calls/s':>8} {'p50 s':>7} {'p99 s':>7} "
        f"{'at once':>8} {'counter':>8}"
    )
    for name, run in (("workers (scan -> ended)", workers), ("direct script", direct)):
        standin = run["standin"]
        print(
            f"{name:26} {run['seconds']:8.2f} {calls / run['seconds']:8.1f} "
            f"{percentile(run['latencies'], 0.5):7.2f} {percentile(run['latencies'], 0.99):7.2f} "
            f"{standin['max_talking']:8d} {standin['max_in_progress']:8d}"
        )
    for name, run in (("workers", workers), ("direct", direct)):
        standin = run["standin"]
        busy = standin["last_ended"] - standin["first_placed"]
        length = standin["call_seconds"] / max(standin["calls"], 1)
        print(
            f"  {name}: first call placed {standin['first_placed'] - run['started']:.2f} s "
            f"after the start; a call lasts {length:.2f} s at the stand-in (placed -> ended); "
            "lines in use "
            f"{standin['call_seconds'] / max(busy * options.lines, 1e-9):.0%} of the time from "
            "the first placed to the last ended"
        )
    ratio = direct["seconds"] / workers["seconds"]
    print(f"ratio workers/direct: {ratio:.2f} (calls/s)")
    print(
        "  p50/p99: message created -> call end recorded (direct: from the start); at once: "
        "most calls between placed and ended at the stand-in (limit "
        f"{options.lines}); counter: the stand-in's own (max_in_progress: accepted until the "
        "final status callback is sent)"
    )
    failures = []
    for name, run in (("workers", workers), ("direct", direct)):
        standin = run["standin"]
        twice = standin["calls"] - standin["numbers"]
        not_ended = calls - standin["finished"]
        print(
            f"{name}: {standin['calls']} calls to {standin['numbers']} numbers ({twice} twice), "
            f"{not_ended} not ended, statuses {standin['statuses']}, {standin['confirmed']} "
            f"confirmed (pressed 1), {standin['errors']} webhook errors "
            f"{standin['error_sample'] or ''}; {standin['said_chars']:.0f} characters said and "
            f"{standin['webhooks']:.1f} webhooks per call"
        )
        if twice or not_ended or standin["errors"] or standin["max_talking"] > options.lines:
            failures.append(name)
    print(
        f"workers: {workers['extra_attempts']} attempts beyond the first, {workers['open_calls']} "
        f"calls still open, {workers['confirmed']} confirmations recorded"
    )
    print(
        f"direct: {len(direct['errors'])} create errors {direct['errors'][:3]}, "
        f"{direct['unfinished']} without a status callback in 60 s"
    )
    if workers["extra_attempts"] or workers["open_calls"] or workers["confirmed"] != calls:
        failures.append("workers' records")
    if direct["errors"] or direct["unfinished"]:
        failures.append("direct script")
    print(
        "webhooks at gunicorn, p50/p99 ms: "
        + ", ".join(
            f"{kind} {1000 * percentile(times, 0.5):.0f}/{1000 * percentile(times, 0.99):.0f}"
            for kind, times in workers["webhooks"].items()
        )
        + " (direct: the static responder)"
    )
    print(
        "CPU per call (ms): workers run "
        + ", ".join(f"{group} {1000 * cpu / calls:.1f}" for group, cpu in workers["cpu"].items())
        + "; direct run "
        + ", ".join(f"{group} {1000 * cpu / calls:.1f}" for group, cpu in direct["cpu"].items())
    )
    if failures:
        print(f"FAILED: {', '.join(failures)}")
    return 1 if failures else 0


# --- main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/madoguchi_bench_voice"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379")
    parser.add_argument("--redis-db", type=int, default=14, help="broker and cache (flushed)")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=20, help="VOICE_MAX_CONCURRENT_CALLS")
    parser.add_argument(
        "--answer-seconds", default="0.5,2", help="the stand-in's ring time, one run per value"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="celery worker processes")
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the last run's database")
    options = parser.parse_args()
    delays = [float(value) for value in options.answer_seconds.split(",")]
    if options.calls < 1 or options.lines < 1 or any(d < 0 for d in delays):
        parser.error("--calls and --lines must be >= 1, --answer-seconds >= 0")
    print(f"load average before: {Path('/proc/loadavg').read_text().strip()}", flush=True)

    # The servers' settings are set per run; this process needs the database and the broker.
    os.environ.update(server_env(options, "http://127.0.0.1:9", "http://127.0.0.1:9"))
    import django
    import redis as redis_client

    broker = redis_client.Redis.from_url(f"{options.redis_url.rstrip('/')}/{options.redis_db}")
    logs = ROOT / "var" / "bench-voice"
    logs.mkdir(parents=True, exist_ok=True)
    standin = StandIn()
    status = 0
    django_ready = False
    try:
        for delay in delays:
            broker.flushdb()
            database_recreate(options.database_url)
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput"],
                cwd=ROOT,
                env={**os.environ},
                check=True,
                stdout=subprocess.DEVNULL,
            )
            if not django_ready:
                django.setup()
                django_ready = True
            from django.db import connection

            started = time.perf_counter()
            numbers = build_residents(options.calls)
            print(
                f"set-up: {options.calls} residents with a landline and a booking tomorrow in "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )
            connection.close()
            workers = run_workers(options, delay, standin, logs)
            documents = workers["standin"]["sample"]
            if not documents:
                raise SystemExit("no call of the workers' run was answered and confirmed")
            direct = run_direct(options, delay, standin, numbers, documents)
            status |= report(options, delay, workers, direct)
            if not options.keep or delay != delays[-1]:
                connection.close()
                database_drop(options.database_url)
    finally:
        standin.close()
        broker.flushdb()
    print(
        f"\nmachine: {os.cpu_count()} CPUs; load average after: "
        f"{Path('/proc/loadavg').read_text().strip()}"
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
