"""POST /sms/receipts/<provider>/: authentication, duplicates, the stored rows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from channels.sms.models import SmsReceipt

pytestmark = pytest.mark.django_db

URL_HTTP = "/sms/receipts/http/"
URL_TWILIO = "/sms/receipts/twilio/"


@pytest.fixture
def receipt_settings(settings: Any) -> Any:
    settings.SMS_HTTP_RECEIPT_TOKEN = "receipt-secret"
    settings.TWILIO_AUTH_TOKEN = "twilio-token"
    settings.TWILIO_STATUS_CALLBACK_URL = "https://yoyaku.example.lg.jp/sms/receipts/twilio/"
    return settings


def _post_http(client: Client, payload: Any, token: str = "receipt-secret") -> Any:  # noqa: S107
    return client.post(
        URL_HTTP,
        data=json.dumps(payload),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def test_http_receipt_needs_the_secret(client: Client, receipt_settings: Any) -> None:
    payload = {"id": "m1", "status": "done", "sent_result": "received"}
    assert _post_http(client, payload, token="nope").status_code == 403
    assert SmsReceipt.objects.count() == 0


def test_http_receipt_with_no_secret_configured_is_refused(client: Client, settings: Any) -> None:
    settings.SMS_HTTP_RECEIPT_TOKEN = ""
    payload = {"id": "m1", "status": "done", "sent_result": "received"}
    assert _post_http(client, payload, token="").status_code == 403


def test_http_receipts_are_stored_once(client: Client, receipt_settings: Any) -> None:
    payload = {"id": "m1", "status": "done", "sent_result": "received", "carrier": "docomo"}
    first = _post_http(client, payload)
    again = _post_http(client, payload)
    assert first.json() == {"recorded": 1} and again.json() == {"recorded": 0}
    [stored] = SmsReceipt.objects.all()
    assert stored.outcome == SmsReceipt.Outcome.DELIVERED
    assert stored.raw["carrier"] == "docomo"


@pytest.mark.parametrize(
    ("status", "sent_result", "outcome"),
    [
        ("done", "received", "delivered"),
        ("done", "unconnected", "undeliverable"),
        ("error", "", "undeliverable"),
        ("waiting", "", "accepted"),
    ],
)
def test_http_outcomes(
    client: Client, receipt_settings: Any, status: str, sent_result: str, outcome: str
) -> None:
    _post_http(client, {"id": "m", "status": status, "sent_result": sent_result})
    assert SmsReceipt.objects.get().outcome == outcome


def test_http_bad_payloads(client: Client, receipt_settings: Any) -> None:
    bad_json = client.post(
        URL_HTTP,
        data=b"{",
        content_type="application/json",
        headers={"Authorization": "Bearer receipt-secret"},
    )
    assert bad_json.status_code == 400
    assert _post_http(client, {"status": "done"}).status_code == 400


def test_unknown_provider(client: Client) -> None:
    assert client.post("/sms/receipts/nope/").status_code == 404


def _twilio_post(client: Client, form: dict[str, str], token: str = "twilio-token") -> Any:  # noqa: S107
    url = "https://yoyaku.example.lg.jp/sms/receipts/twilio/"
    signature = RequestValidator(token).compute_signature(url, form)
    return client.post(URL_TWILIO, data=form, headers={"X-Twilio-Signature": signature})


def test_twilio_receipt_checks_the_signature(client: Client, receipt_settings: Any) -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "delivered", "AccountSid": "AC1"}
    assert _twilio_post(client, form, token="forged").status_code == 403
    assert _twilio_post(client, form).status_code == 200
    assert SmsReceipt.objects.get().outcome == SmsReceipt.Outcome.DELIVERED


def test_twilio_undelivered(client: Client, receipt_settings: Any) -> None:
    _twilio_post(client, {"MessageSid": "SM1", "MessageStatus": "undelivered"})
    assert SmsReceipt.objects.get().outcome == SmsReceipt.Outcome.UNDELIVERABLE
