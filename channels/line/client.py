"""The one place the LINE Messaging API client is built.

Configured from LINE_CHANNEL_ACCESS_TOKEN and LINE_API_BASE_URL (unset = LINE's real hosts;
tests and the chat simulator point it at a stand-in). The SDK's sync client has no timeout of
its own, so every call goes through `request_timeout()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from linebot.v3 import WebhookParser
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, MessagingApiBlob


def is_configured() -> bool:
    return bool(settings.LINE_CHANNEL_SECRET and settings.LINE_CHANNEL_ACCESS_TOKEN)


def configuration() -> Configuration:
    config = Configuration(
        access_token=settings.LINE_CHANNEL_ACCESS_TOKEN,
        host=settings.LINE_API_BASE_URL or None,
    )
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


def webhook_parser() -> WebhookParser:
    return WebhookParser(settings.LINE_CHANNEL_SECRET)
