"""Benchmark: LINE webhook acknowledgement under 50 concurrent senders, against a minimal
signature-checking view, both served by gunicorn in the same run.

    python bench/line_webhook.py [--database-url postgres://postgres@127.0.0.1:5432/madoguchi_line_bench]
        [--broker-url redis://127.0.0.1:6379/6] [--senders 50] [--seconds 10] [--workers 3]
        [--threads 8] [--keep]

A report, not a test. It:

1. drops and creates the bench database (PostgreSQL; its name must contain `bench`, host
   127.0.0.1/localhost only) and migrates it; empties the given Redis database (the tasks the
   webhook enqueues pile up there: no Celery worker runs, so only the acknowledgement is timed);
2. starts gunicorn (gthread, `--workers` × `--threads`) three times on free loopback ports: with
   the real app (`config.wsgi`: signature check on the raw body, one row per webhookEventId,
   enqueue after commit), with `baseline_app` below (the signature check alone, plain WSGI),
   and with `django_baseline_app()` (the same check as a Django view, same settings/middleware);
3. for each, `--senders` threads send signed webhook requests for `--seconds`, each request one
   text event of one of 50 users; every 10th request re-sends an earlier body (a redelivery);
4. prints requests/s (= events/s), p50/p99 latency of each, the app/baseline ratio, and the
   duplicate count: stored rows minus distinct webhookEventIds sent (must be 0), checking too
   that every distinct event was stored exactly once.

Exit status 1 if any request failed or the duplicate/missing count is not 0.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-channel-secret"  # noqa: S105 - the bench signs its own requests
TOKEN = "bench-access-token"  # noqa: S105 - never sent anywhere
USERS = 50


def baseline_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The least a webhook must do: read the body, check the HMAC signature, answer 200."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    expected = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest())
    given = environ.get("HTTP_X_LINE_SIGNATURE", "").encode()
    if not hmac.compare_digest(expected, given):
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [b"bad signature"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"OK"]


def _django_baseline_view(request: Any) -> Any:
    from django.http import HttpResponse, HttpResponseBadRequest

    expected = base64.b64encode(hmac.new(SECRET.encode(), request.body, hashlib.sha256).digest())
    given = request.headers.get("X-Line-Signature", "").encode()
    if not hmac.compare_digest(expected, given):
        return HttpResponseBadRequest("bad signature")
    return HttpResponse("OK")


def django_baseline_app() -> Any:
    """The same check as a Django view behind the project's settings and middleware: what
    any Django webhook pays before doing its own work (gunicorn 'module:django_baseline_app()')."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    django.setup()
    global urlpatterns
    urlpatterns = [path("line/webhook/", csrf_exempt(_django_baseline_view))]
    settings.ROOT_URLCONF = __name__
    return get_wsgi_application()


urlpatterns: list[Any] = []


def sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_gunicorn(
    app: str, env: dict[str, str], workers: int, threads: int
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--log-level",
            "warning",
            "--keep-alive",
            "30",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, port
        except OSError:
            if process.poll() is not None:
                errors = process.stderr.read().decode() if process.stderr else ""
                raise SystemExit(f"gunicorn {app} failed: {errors}") from None
            time.sleep(0.2)
    raise SystemExit(f"gunicorn {app} did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def event(user: str, event_id: str) -> dict[str, Any]:
    return {
        "type": "message",
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user},
        "webhookEventId": event_id,
        "deliveryContext": {"isRedelivery": False},
        "replyToken": f"r{event_id}",
        "message": {"type": "text", "id": event_id[-12:], "text": "問い合わせ", "quoteToken": "q"},
    }


def run(port: int, senders: int, seconds: float, label: str) -> dict[str, Any]:
    latencies: list[list[float]] = [[] for _ in range(senders)]
    sent_ids: list[set[str]] = [set() for _ in range(senders)]
    failures = [0] * senders
    window: dict[str, float] = {}

    def begin() -> None:
        window["stop_at"] = time.monotonic() + seconds

    # Every sender first sends untimed requests, so each gunicorn worker has imported the
    # URLconf (the SDK alone takes seconds) before the clock starts.
    barrier = threading.Barrier(senders, action=begin)

    def sender(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        rng = random.Random(index)
        bodies: list[bytes] = []
        number = 0
        warm_up = 3
        while warm_up or time.monotonic() < window["stop_at"]:
            number += 1
            if number % 10 == 0 and bodies:
                body = rng.choice(bodies)  # a redelivery of an earlier request
            else:
                event_id = f"{label}{index:03d}{number:08d}".ljust(26, "0")[:26]
                user = f"Ubench{rng.randrange(USERS):03d}"
                body = json.dumps(
                    {"destination": "Ubot", "events": [event(user, event_id)]}
                ).encode()
                bodies.append(body)
                sent_ids[index].add(event_id)
            began = time.perf_counter()
            try:
                conn.request(
                    "POST",
                    "/line/webhook/",
                    body,
                    {"Content-Type": "application/json", "X-Line-Signature": sign(body)},
                )
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                ok = False
            if warm_up:
                warm_up -= 1
                if not warm_up:
                    barrier.wait()
                continue
            latencies[index].append(time.perf_counter() - began)
            if not ok:
                failures[index] += 1
        conn.close()

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flat = sorted(x for per in latencies for x in per)
    ids = set().union(*sent_ids)
    return {
        "label": label,
        "requests": len(flat),
        "per_second": len(flat) / seconds,
        "p50_ms": flat[len(flat) // 2] * 1000 if flat else 0.0,
        "p99_ms": flat[min(len(flat) - 1, int(len(flat) * 0.99))] * 1000 if flat else 0.0,
        "failures": sum(failures),
        "ids": ids,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/madoguchi_line_bench"
    )
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/6")
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    # Imported here: gunicorn imports this file as bench.line_webhook for the baselines,
    # where bench/ itself is not on the path.
    from benchdb import SECRET_KEY, database_drop, database_recreate

    database_recreate(args.database_url)
    # The broker's Redis is also the shared cache production requires (config/checks.py).
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "CELERY_BROKER_URL": args.broker_url,
        "CACHE_URL": args.broker_url,
        "SMS_BACKEND": "locmem",  # sends nothing here; console would be refused
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "LINE_CHANNEL_SECRET": SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
        "LINE_API_BASE_URL": "http://127.0.0.1:9",  # never called: no worker runs
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    import redis

    redis.Redis.from_url(args.broker_url).flushdb()

    results = []
    targets = (
        ("A", "config.wsgi"),
        ("B", "bench.line_webhook:baseline_app"),
        ("C", "bench.line_webhook:django_baseline_app()"),
    )
    for label, app in targets:
        process, port = start_gunicorn(app, env, args.workers, args.threads)
        try:
            results.append(run(port, args.senders, args.seconds, label))
        finally:
            stop(process)

    import psycopg

    with psycopg.connect(args.database_url) as conn:
        rows, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT webhook_event_id) FROM line_linewebhookevent"
        ).fetchone() or (0, 0)
        stored = {r[0] for r in conn.execute("SELECT webhook_event_id FROM line_linewebhookevent")}
    queued = redis.Redis.from_url(args.broker_url).llen("celery")
    app_result, base_result, django_result = results
    duplicates = rows - len(app_result["ids"])
    missing = len(app_result["ids"] - stored)
    print(
        f"{args.senders} senders x {args.seconds:.0f} s; gunicorn gthread {args.workers} workers"
        f" x {args.threads} threads; one event per request, every 10th a redelivery"
    )
    print(f"{'run':31} {'requests':>9} {'events/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7}")
    named = (
        (app_result, "webhook (config.wsgi)"),
        (base_result, "baseline: WSGI, signature only"),
        (django_result, "baseline: Django view, signature"),
    )
    for r, name in named:
        print(
            f"{name:31} {r['requests']:9d} {r['per_second']:9.1f} {r['p50_ms']:8.1f}"
            f" {r['p99_ms']:8.1f} {r['failures']:7d}"
        )
    for r, name in ((base_result, "WSGI baseline"), (django_result, "Django-view baseline")):
        throughput = app_result["per_second"] / r["per_second"]
        print(
            f"ratio webhook/{name}: events/s {throughput:.3f},"
            f" p50 latency {app_result['p50_ms'] / r['p50_ms']:.2f}x"
        )
    print(
        f"distinct events sent {len(app_result['ids'])}, rows stored {rows} ({distinct} distinct),"
        f" duplicates {duplicates}, missing {missing}; tasks queued {queued}"
    )
    if not args.keep:
        database_drop(args.database_url)
        redis.Redis.from_url(args.broker_url).flushdb()
    failed = sum(r["failures"] for r in results)
    return 1 if duplicates or missing or failed else 0


if __name__ == "__main__":
    sys.exit(main())
