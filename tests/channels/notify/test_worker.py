"""A real Celery worker (`celery -A config worker`, a subprocess) over Redis, sending to the
stand-in gateway, and the relay that hands it committed events (`manage.py notify_relay`,
another subprocess), as in production: the booking itself publishes nothing. Both read the
test database, so the tests commit (transactional_db).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from channels.notify.models import OutboundMessage
from channels.notify.tasks import sweep_task
from config.celery import app
from tests.channels.notify.conftest import book
from tests.channels.sms.standin import GatewayStandIn
from tests.workers import (
    celery_worker_argv,
    notify_relay_argv,
    production_process_env,
    worker_database_url,
)
from tests.world import World

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

Status = OutboundMessage.Status


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


class Worker:
    """A subprocess of this project, started again with other settings when asked; `ready` is
    what its log says once it is up."""

    def __init__(
        self, env: dict[str, str], log: Path, argv: Callable[[], list[str]], ready: bytes
    ) -> None:
        self.env, self.log, self.argv, self.ready = env, log, argv, ready
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, **overrides: str) -> None:
        env = {**self.env, **overrides}
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                self.argv(),
                env=env,
                cwd=settings.BASE_DIR,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so SIGKILL takes the children too
            )
        process = self.process
        wait_for(
            lambda: self.ready in self.log.read_bytes()[offset:] or process.poll() is not None, 60
        )
        assert self.process.poll() is None, self.log.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


@pytest.fixture
def worker(
    transactional_db: None, settings: Any, http_sms: GatewayStandIn, tmp_path: Path
) -> Iterator[Worker]:
    """The Celery worker, with a relay process running beside it for the whole test."""
    app.control.purge()  # tasks left by earlier test runs on this Redis db are not ours
    settings.NOTIFY_HANDOFF = "relay"  # production's: this process publishes nothing
    env = {
        **os.environ,
        **production_process_env(),
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"],
        "SMS_BACKEND": "http",
        "SMS_HTTP_BASE_URL": http_sms.base_url,  # type: ignore[attr-defined]
        "SMS_HTTP_TOKEN": http_sms.token,
        "SMS_HTTP_SERVICE_ID": http_sms.service_id,
        "SMS_HTTP_READ_TIMEOUT": "5",
        "SMS_RETRY_BACKOFF_SECONDS": "0.2",
        "SMS_RETRY_BACKOFF_MAX_SECONDS": "1",
        "SMS_RATE_LIMIT_PER_SECOND": "100",
        "NOTIFY_HANDOFF": "relay",
        "DJANGO_LOG_LEVEL": "INFO",
    }
    relay = Worker(
        env, tmp_path / "relay.log", lambda: notify_relay_argv(poll=0.05), b"notify relay: started"
    )
    relay.start()
    process = Worker(
        env,
        tmp_path / "worker.log",
        lambda: celery_worker_argv(
            concurrency=2, loglevel="INFO", name=f"i5-test-{uuid.uuid4().hex[:8]}@%h"
        ),
        b"ready.",
    )
    yield process
    process.stop()
    relay.stop()
    assert relay.process is not None and relay.process.returncode == 0, relay.log.read_text()
    assert b"notify relay: stopped" in relay.log.read_bytes()


def _status(message_filter: dict[str, Any]) -> str | None:
    message = OutboundMessage.objects.filter(**message_filter).first()
    return message.status if message else None


def test_booking_gives_exactly_one_confirmation(
    world: World, now: dt.datetime, worker: Worker, http_sms: GatewayStandIn
) -> None:
    worker.start()
    reservation = book(world, world.resident(), now)
    wait_for(lambda: _status({"reservation": reservation}) == Status.SENT)
    time.sleep(1)
    [sent] = http_sms.messages
    assert reservation.code in sent["body"] and sent["to"] == "09012345678"
    assert http_sms.posts == 1


def test_gateway_failing_twice_then_succeeding_sends_one(
    world: World, now: dt.datetime, worker: Worker, http_sms: GatewayStandIn
) -> None:
    http_sms.script(["503", "500", "ok"])
    worker.start()
    reservation = book(world, world.resident(), now)
    wait_for(lambda: _status({"reservation": reservation}) == Status.SENT)
    assert len(http_sms.messages) == 1 and http_sms.posts == 3
    assert OutboundMessage.objects.get().attempts == 3


def test_worker_killed_mid_send_sends_once_after_restart(
    world: World, now: dt.datetime, worker: Worker, http_sms: GatewayStandIn
) -> None:
    http_sms.script(["accept_hang:30"])  # the gateway takes it, the answer never comes back
    worker.start(SMS_HTTP_READ_TIMEOUT="20", NOTIFY_SENDING_STALE_SECONDS="60")
    reservation = book(world, world.resident(), now)
    wait_for(lambda: len(http_sms.messages) == 1)
    worker.kill()
    assert _status({"reservation": reservation}) == Status.SENDING
    # Restarted with a short stale limit (longer than one of its own attempts): the sweep
    # finds the cut-short attempt, asks the gateway, and records it without sending again.
    worker.start(
        SMS_HTTP_CONNECT_TIMEOUT="0.5", SMS_HTTP_READ_TIMEOUT="1", NOTIFY_SENDING_STALE_SECONDS="5"
    )
    message = OutboundMessage.objects.get()
    assert message.attempt_started_at is not None
    time.sleep(max(0.0, 5.5 - (time.time() - message.attempt_started_at.timestamp())))
    sweep_task.delay()
    try:
        wait_for(lambda: _status({"reservation": reservation}) == Status.SENT)
    except AssertionError:
        raise AssertionError(worker.log.read_text(errors="replace")[-4000:]) from None
    assert http_sms.posts == 1 and len(http_sms.messages) == 1
    assert OutboundMessage.objects.get().provider_message_id == http_sms.messages[0]["id"]
