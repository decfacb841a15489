"""The SMS / notify settings refuse bad values at start-up."""

from __future__ import annotations

import pytest

from tests.test_settings import load_settings


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"SMS_BACKEND": "carrier-pigeon"}, "SMS_BACKEND must be one of"),
        ({"SMS_BACKEND": "http"}, "SMS_BACKEND=http needs"),
        ({"SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": "AC1"}, "SMS_BACKEND=twilio needs"),
        ({"NOTIFY_REMINDER_TIME": "25:00"}, "NOTIFY_REMINDER_TIME must be a time"),
        ({"SMS_RATE_LIMIT_PER_SECOND": "fast"}, "must be a number"),
        ({"NOTIFY_SENDING_STALE_SECONDS": "10"}, "must be longer than one delivery attempt"),
    ],
)
def test_bad_values_stop_the_start(env: dict[str, str], complaint: str) -> None:
    result = load_settings(**env)
    assert result.returncode != 0
    assert complaint in result.stderr


def test_a_complete_gateway_configuration_starts() -> None:
    result = load_settings(
        SMS_BACKEND="http",
        SMS_HTTP_BASE_URL="https://gateway.example.jp/api/t1",
        SMS_HTTP_TOKEN="t",
        SMS_HTTP_SERVICE_ID="1",
        NOTIFY_REMINDER_TIME="09:30",
    )
    assert result.returncode == 0, result.stderr
