"""Authenticate and read delivery receipts, one reader per provider."""

from __future__ import annotations

import hmac
import json
import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.http import HttpRequest
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from channels.sms.models import SmsReceipt
from channels.sms.signals import receipt_recorded


class ReceiptRejected(Exception):
    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status, self.code = status, code


@dataclass(frozen=True)
class ParsedReceipt:
    provider_message_id: str
    provider_status: str
    outcome: str
    raw: dict[str, Any]


def _http_outcome(status: str, sent_result: str) -> str:
    # 空電プッシュ-style: status done/waiting/error/canceled; sent_result received/unconnected/…
    if status == "done" and sent_result == "received":
        return SmsReceipt.Outcome.DELIVERED
    if status in ("error", "canceled") or sent_result in ("unconnected", "error", "unknown"):
        return SmsReceipt.Outcome.UNDELIVERABLE
    return SmsReceipt.Outcome.ACCEPTED


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def _read_http(request: HttpRequest) -> list[ParsedReceipt]:
    expected = settings.SMS_HTTP_RECEIPT_TOKEN
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    given = given or request.GET.get("token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ReceiptRejected(403, "receipt_unauthenticated")
    try:
        # The receipt is stored as jsonb, which refuses NaN, infinities and NUL.
        payload = json.loads(
            request.body.decode("utf-8"), parse_constant=_not_json, parse_float=_finite
        )
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep
        raise ReceiptRejected(400, "receipt_not_json") from None
    if "\\u0000" in json.dumps(payload):
        raise ReceiptRejected(400, "receipt_not_json")
    items = payload if isinstance(payload, list) else [payload]
    parsed = []
    for item in items:
        if not isinstance(item, dict) or not item.get("id") or not item.get("status"):
            raise ReceiptRejected(400, "receipt_fields_missing")
        status, sent_result = str(item["status"]), str(item.get("sent_result") or "")
        parsed.append(
            ParsedReceipt(
                provider_message_id=str(item["id"]),
                provider_status=f"{status}/{sent_result}" if sent_result else status,
                outcome=_http_outcome(status, sent_result),
                raw=item,
            )
        )
    return parsed


_TWILIO_OUTCOMES = {
    "delivered": SmsReceipt.Outcome.DELIVERED,
    "undelivered": SmsReceipt.Outcome.UNDELIVERABLE,
    "failed": SmsReceipt.Outcome.UNDELIVERABLE,
}


def _read_twilio(request: HttpRequest) -> list[ParsedReceipt]:
    # Twilio signs the URL it called plus the form fields; behind a proxy that URL is the
    # public one we gave it, not what Django sees.
    url = settings.TWILIO_STATUS_CALLBACK_URL or request.build_absolute_uri()
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    signature = request.headers.get("X-Twilio-Signature", "")
    form = {key: request.POST.get(key, "") for key in request.POST}
    if not settings.TWILIO_AUTH_TOKEN or not validator.validate(url, form, signature):
        raise ReceiptRejected(403, "receipt_unauthenticated")
    sid, status = form.get("MessageSid", ""), form.get("MessageStatus", "")
    if not sid or not status:
        raise ReceiptRejected(400, "receipt_fields_missing")
    outcome = _TWILIO_OUTCOMES.get(status, SmsReceipt.Outcome.ACCEPTED)
    return [ParsedReceipt(sid, status, outcome, form)]


READERS = {"http": _read_http, "twilio": _read_twilio}


def _fits(parsed: ParsedReceipt) -> bool:
    """Whether the receipt's ids fit their columns (PostgreSQL refuses longer text)."""
    for name in ("provider_message_id", "provider_status"):
        column = SmsReceipt._meta.get_field(name)
        assert isinstance(column, models.CharField) and column.max_length is not None
        if len(getattr(parsed, name)) > column.max_length:
            return False
    return True


def receipts_record(*, provider: str, request: HttpRequest) -> int:
    """Store the receipts in the request and announce each new one. Returns how many were new.

    A receipt seen before is ignored, so a provider retrying its callback changes nothing."""
    reader = READERS.get(provider)
    if reader is None:
        raise ReceiptRejected(404, "unknown_provider")
    receipts = reader(request)
    if any(not _fits(parsed) for parsed in receipts):
        raise ReceiptRejected(400, "receipt_fields_invalid")
    new = 0
    for parsed in receipts:
        try:
            with transaction.atomic():
                receipt = SmsReceipt.objects.create(
                    provider=provider,
                    provider_message_id=parsed.provider_message_id,
                    provider_status=parsed.provider_status,
                    outcome=parsed.outcome,
                    raw=parsed.raw,
                )
                receipt_recorded.send(sender=SmsReceipt, receipt=receipt)
        except IntegrityError:
            continue
        new += 1
    return new
