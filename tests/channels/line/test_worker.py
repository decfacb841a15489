"""A real Celery worker over Redis: a burst of 200 events from 50 users, each handled once and
in order per user. The worker is a subprocess using the environment's broker and the test
database, like production."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from channels.line.models import LineWebhookEvent
from channels.line.standin import StandInLine
from tests.channels.line.conftest import SECRET, TOKEN, event_base, sign
from tests.workers import celery_worker_argv, production_process_env, worker_database_url
from tests.world import World

ROOT = Path(__file__).resolve().parents[3]
USERS = 50
# Per user, in order; what each answer must say shows the events were handled in order:
# the ticket-number question only follows the greeting, the birth-date question only a
# ticket number typed after it.
SCRIPT = [
    ("follow", None, "接種券番号"),
    ("message", "問い合わせ", "0987"),
    ("message", "12345", "10桁"),
    ("message", "0000000001", "生年月日"),
]


def _worker(standin: StandInLine, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **production_process_env(),
        "DATABASE_URL": worker_database_url(),
        "LINE_CHANNEL_SECRET": SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
        "LINE_API_BASE_URL": standin.url,
    }
    # A file, not a pipe: a pipe nobody reads would fill and stall the worker.
    with log.open("wb") as log_file:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            celery_worker_argv(concurrency=3, loglevel="WARNING"),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )


def _post(url: str, events: list[dict[str, Any]]) -> int:
    body = json.dumps({"destination": "Ubot", "events": events}, ensure_ascii=False).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback only
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "X-Line-Signature": sign(body)},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
        return int(response.status)


@pytest.mark.redis
@pytest.mark.postgres
def test_a_burst_of_200_events_from_50_users_is_handled_once_each_in_order(
    transactional_db: None, world: World, standin: StandInLine, live_server: Any, tmp_path: Path
) -> None:
    from config.celery import app

    app.conf.update(task_always_eager=False, broker_url=os.environ["CELERY_BROKER_URL"])
    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()  # our own Redis db: drop leftovers of earlier runs
    log = tmp_path / "worker.log"
    worker = _worker(standin, log)
    expected: dict[str, tuple[str, str]] = {}  # reply token -> (user, text it must contain)
    batches: dict[str, list[list[dict[str, Any]]]] = {}
    base = time.time()
    for number in range(USERS):
        user = f"Uburst{number:03d}"
        events = []
        for step, (kind, said, answer) in enumerate(SCRIPT):
            event = event_base(user, kind, sent_at=base + step * 0.001)
            if kind == "follow":
                event["follow"] = {"isUnblocked": False}
            else:
                event["message"] = {
                    "type": "text",
                    "id": f"{number}{step}",
                    "text": said,
                    "quoteToken": "q",
                }
            expected[event["replyToken"]] = (user, answer)
            events.append(event)
        # Two requests per user, the second also redelivering the first's last event.
        redelivered = {**events[1], "deliveryContext": {"isRedelivery": True}}
        batches[user] = [events[:2], [redelivered, *events[2:]]]
    url = f"{live_server.url}/line/webhook/"
    statuses: list[int] = []

    def send(user: str) -> None:
        for batch in batches[user]:
            statuses.append(_post(url, batch))

    try:
        threads = [threading.Thread(target=send, args=(user,)) for user in batches]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200] * (2 * USERS)
        deadline = time.monotonic() + 120
        while LineWebhookEvent.objects.filter(processed_at__isnull=True).exists():
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "worker did not finish"
            time.sleep(0.3)
    finally:
        worker.terminate()  # warm shutdown: finish the task in hand
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()  # a loaded machine; everything the test checks is already done
            worker.wait(timeout=30)

    assert LineWebhookEvent.objects.count() == USERS * len(SCRIPT)
    delivered = standin.accepted()
    assert len(delivered) == USERS * len(SCRIPT)  # one answer per event, none twice
    seen: set[str] = set()
    for call in delivered:
        if call.path.endswith("/reply"):
            token = call.body["replyToken"]
            user, answer = expected[token]
        else:
            pytest.fail(f"answer went by push; reply tokens were fresh: {call.body}")
        assert token not in seen
        seen.add(token)
        assert answer in call.body["messages"][0]["text"], (user, answer, call.body)
    assert seen == set(expected)
