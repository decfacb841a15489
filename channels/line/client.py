"""The one place the LINE Messaging API client is built.

Configured from LINE_CHANNEL_ACCESS_TOKEN and LINE_API_BASE_URL (unset = LINE's real hosts;
tests and the chat simulator point it at a stand-in). The SDK's sync client has no timeout of
its own, so every call goes through `request_timeout()`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, MessagingApiBlob

SIMULATOR_ACCESS_TOKEN = "madoguchi-line-simulator"  # noqa: S105 - only the stand-in accepts it


def real_line_configured() -> bool:
    return bool(settings.LINE_CHANNEL_SECRET and settings.LINE_CHANNEL_ACCESS_TOKEN)


def simulator_active() -> bool:
    """The chat simulator stands in for LINE only while no real channel is configured."""
    return bool(settings.LINE_SIMULATOR) and not real_line_configured()


def is_configured() -> bool:
    return real_line_configured() or simulator_active()


def channel_secret() -> str:
    if real_line_configured():
        return str(settings.LINE_CHANNEL_SECRET)
    if simulator_active():
        # Derived from the site's secret key: no one outside can sign simulator events.
        return hmac.new(
            settings.SECRET_KEY.encode(), b"madoguchi-line-simulator", hashlib.sha256
        ).hexdigest()
    return ""


def access_token() -> str:
    if real_line_configured():
        return str(settings.LINE_CHANNEL_ACCESS_TOKEN)
    return SIMULATOR_ACCESS_TOKEN if simulator_active() else ""


def api_base_url() -> str | None:
    if settings.LINE_API_BASE_URL:
        return str(settings.LINE_API_BASE_URL)
    if simulator_active():
        return str(settings.LINE_SIMULATOR_API_URL)
    return None  # the SDK's own hosts (api.line.me, api-data.line.me)


def configuration() -> Configuration:
    config = Configuration(access_token=access_token(), host=api_base_url())
    # Retries belong to our tasks, which resend with the same X-Line-Retry-Key; urllib3's own
    # retries would resend a POST behind our back.
    config.retries = False
    return config


def request_timeout() -> tuple[float, float]:
    return (
        float(settings.LINE_API_CONNECT_TIMEOUT_SECONDS),
        float(settings.LINE_API_READ_TIMEOUT_SECONDS),
    )


@contextmanager
def messaging_api() -> Iterator[MessagingApi]:
    with ApiClient(configuration()) as api_client:
        yield MessagingApi(api_client)


@contextmanager
def messaging_blob_api() -> Iterator[MessagingApiBlob]:
    with ApiClient(configuration()) as api_client:
        yield MessagingApiBlob(api_client)
