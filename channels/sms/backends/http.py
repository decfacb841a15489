"""An HTTP gateway shaped like the Japanese domestic direct-connect providers (空電プッシュ…).

`POST {SMS_HTTP_BASE_URL}/messages`, form-encoded, `Authorization: Bearer {SMS_HTTP_TOKEN}`,
fields `service_id`, `to` (11-digit national number), `body` and `tags` (our reference, so an
attempt whose answer was lost can be found again with `GET /messages?tags=<reference>`). The
answer is JSON with the provider's `id`.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import requests
from django.conf import settings

from channels.sms.backends.base import (
    AmbiguousSmsError,
    OutboundSms,
    PermanentSmsError,
    SmsBackend,
    TransientSmsError,
)
from reservations.identifiers import IdentifierError, phone_to_national_digits

# Statuses after which the provider surely did not take the message.
_NOT_ACCEPTED = {408, 425, 429, 503}


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After", "").strip()
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None


_local = threading.local()


def _forget_sessions() -> None:
    # A forked child (Celery's prefork pool) must not share its parent's sockets: two
    # processes writing to one connection would mix their requests.
    _local.__dict__.pop("sessions", None)


os.register_at_fork(after_in_child=_forget_sessions)


def _session(token: str) -> requests.Session:
    """One keep-alive session per thread and token, kept for the life of the process (a
    requests.Session is not safe to share between threads): a new TCP (and TLS) connection
    per message would cost more than the request itself."""
    sessions: dict[str, requests.Session] = _local.__dict__.setdefault("sessions", {})
    if token not in sessions:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        sessions[token] = session
    return sessions[token]


class HttpGatewayBackend(SmsBackend):
    name = "http"

    def __init__(self) -> None:
        self.base_url = settings.SMS_HTTP_BASE_URL.rstrip("/")
        self.timeout = (settings.SMS_HTTP_CONNECT_TIMEOUT, settings.SMS_HTTP_READ_TIMEOUT)
        self.session = _session(settings.SMS_HTTP_TOKEN)

    def send(self, sms: OutboundSms) -> str:
        try:
            to = phone_to_national_digits(sms.to_e164)
        except IdentifierError as error:
            raise PermanentSmsError(f"not a phone number: {sms.to_e164!r}") from error
        form = {
            "service_id": settings.SMS_HTTP_SERVICE_ID,
            "to": to,
            "body": sms.body,
            "tags": sms.reference,
        }
        try:
            response = self.session.post(
                f"{self.base_url}/messages", data=form, timeout=self.timeout
            )
        except requests.ConnectTimeout as error:
            raise TransientSmsError(f"connect timeout: {error}") from error
        except requests.ConnectionError as error:
            # Refused before anything was sent, or reset after: we cannot tell which.
            if "refused" in str(error).lower():
                raise TransientSmsError(f"connection refused: {error}") from error
            raise AmbiguousSmsError(f"connection lost: {error}") from error
        except requests.Timeout as error:
            raise AmbiguousSmsError(f"no answer in time: {error}") from error
        status = response.status_code
        if status in (200, 201, 202):
            return str(self._json(response)["id"])
        if status in _NOT_ACCEPTED:
            raise TransientSmsError(f"HTTP {status}", retry_after=_retry_after(response))
        if status >= 500:
            raise AmbiguousSmsError(f"HTTP {status}", retry_after=_retry_after(response))
        raise PermanentSmsError(f"HTTP {status}: {response.text[:300]}")

    def find_sent(self, sms: OutboundSms) -> str | None:
        try:
            response = self.session.get(
                f"{self.base_url}/messages", params={"tags": sms.reference}, timeout=self.timeout
            )
        except requests.RequestException as error:
            raise TransientSmsError(f"status check failed: {error}") from error
        if response.status_code != 200:
            raise TransientSmsError(f"status check: HTTP {response.status_code}")
        found = self._json(response).get("data", [])
        return str(found[0]["id"]) if found else None

    @staticmethod
    def _json(response: requests.Response) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError as error:
            raise AmbiguousSmsError(f"answer is not JSON: {response.text[:200]}") from error
        if not isinstance(payload, dict):
            raise AmbiguousSmsError("answer is not a JSON object")
        return payload
