from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from channels.sms.backends import local
from tests.channels.sms.standin import GatewayStandIn, TwilioStandIn


@pytest.fixture
def gateway() -> Iterator[GatewayStandIn]:
    standin = GatewayStandIn()
    standin.base_url = standin.start()  # type: ignore[attr-defined]
    yield standin
    standin.stop()


@pytest.fixture
def http_sms(settings: Any, gateway: GatewayStandIn) -> GatewayStandIn:
    """SMS goes to the stand-in gateway through the real HTTP backend."""
    settings.SMS_BACKEND = "http"
    settings.SMS_HTTP_BASE_URL = gateway.base_url  # type: ignore[attr-defined]
    settings.SMS_HTTP_TOKEN = gateway.token
    settings.SMS_HTTP_SERVICE_ID = gateway.service_id
    settings.SMS_HTTP_READ_TIMEOUT = 2.0
    settings.SMS_HTTP_RECEIPT_TOKEN = "receipt-secret"
    settings.SMS_RATE_LIMIT_REDIS_URL = ""
    settings.SMS_RATE_LIMIT_PER_SECOND = 0
    return gateway


@pytest.fixture
def twilio_standin() -> Iterator[TwilioStandIn]:
    standin = TwilioStandIn()
    standin.base_url = standin.start()  # type: ignore[attr-defined]
    yield standin
    standin.stop()


@pytest.fixture
def twilio_sms(settings: Any, twilio_standin: TwilioStandIn) -> TwilioStandIn:
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = twilio_standin.account_sid
    settings.TWILIO_AUTH_TOKEN = twilio_standin.auth_token
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    settings.TWILIO_API_BASE_URL = twilio_standin.base_url  # type: ignore[attr-defined]
    settings.TWILIO_STATUS_CALLBACK_URL = "https://yoyaku.example.lg.jp/sms/receipts/twilio/"
    settings.SMS_RATE_LIMIT_PER_SECOND = 0
    return twilio_standin


@pytest.fixture
def locmem_sms(settings: Any) -> Iterator[list[Any]]:
    settings.SMS_BACKEND = "locmem"
    settings.SMS_RATE_LIMIT_PER_SECOND = 0
    local.outbox.clear()
    yield local.outbox
    local.outbox.clear()


@pytest.fixture
def tasks_in_process() -> Iterator[None]:
    """Celery tasks run in this process, also in the pass that has a broker (and no worker):
    the embedded default's way."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
