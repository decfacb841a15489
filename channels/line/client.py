"""The one place the LINE Messaging API client is built.

Each official account has its own credentials (`LineCredentials`): the settings' account
(LINE_CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN), which serves HOME_MUNICIPALITY_CODE, and each
municipality's own (`LineOfficialAccount`). Every account calls LINE_API_BASE_URL (unset =
LINE's real hosts; tests and the chat simulator point it at a stand-in). The SDK's sync client
has no timeout of its own, so every call goes through `request_timeout()`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, MessagingApiBlob

from channels.line.models import LineOfficialAccount

SIMULATOR_ACCESS_TOKEN = "madoguchi-line-simulator"  # noqa: S105 - only the stand-in accepts it


def real_line_configured() -> bool:
    return bool(settings.LINE_CHANNEL_SECRET and settings.LINE_CHANNEL_ACCESS_TOKEN)


def simulator_active() -> bool:
    """The chat simulator stands in for LINE only while no real channel is configured."""
    return bool(settings.LINE_SIMULATOR) and not real_line_configured()


def settings_account_configured() -> bool:
    """The settings' account (or the simulator in its place) can take webhooks and send."""
    return real_line_configured() or simulator_active()


def is_configured() -> bool:
    """Some LINE account can reach residents: the settings' one or a municipality's."""
    return settings_account_configured() or official_accounts_active()


# Notify asks `is_configured` for every resident it routes; a deployment with no LINE at all
# must not pay a query each time. Saving or deleting an account clears the answer (in every
# process when the cache is shared; within this many seconds otherwise).
_ACCOUNTS_ACTIVE_KEY = "line:official-accounts-active"
ACCOUNTS_ACTIVE_CACHE_SECONDS = 60


def official_accounts_active() -> bool:
    """Some municipality has an official account switched on."""
    return bool(
        cache.get_or_set(
            _ACCOUNTS_ACTIVE_KEY,
            lambda: LineOfficialAccount.objects.filter(is_active=True).exists(),
            ACCOUNTS_ACTIVE_CACHE_SECONDS,
        )
    )


def official_accounts_changed(**_signal: object) -> None:
    """post_save / post_delete of LineOfficialAccount (connected in LineConfig.ready)."""
    cache.delete(_ACCOUNTS_ACTIVE_KEY)


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


@dataclass(frozen=True)
class LineCredentials:
    """What one official account signs webhooks with and calls LINE with."""

    # None: the settings' account.
    official_account_id: int | None
    channel_secret: str = field(repr=False)
    access_token: str = field(repr=False)
    host: str | None


def settings_credentials() -> LineCredentials:
    return LineCredentials(None, channel_secret(), access_token(), api_base_url())


def official_credentials(account: LineOfficialAccount) -> LineCredentials:
    # The simulator stands in for the settings' account only: a municipality's account
    # calls LINE (or LINE_API_BASE_URL) with its own token.
    host = str(settings.LINE_API_BASE_URL) if settings.LINE_API_BASE_URL else None
    return LineCredentials(account.pk, account.channel_secret, account.channel_access_token, host)


def credentials_for(official_account_id: int | None) -> LineCredentials | None:
    """The credentials of this account (None: the settings' one), or None when that account
    is switched off or gone: nothing is sent in its name then."""
    if official_account_id is None:
        return settings_credentials() if settings_account_configured() else None
    account = LineOfficialAccount.objects.filter(pk=official_account_id, is_active=True).first()
    return official_credentials(account) if account is not None else None


def configuration(credentials: LineCredentials | None = None) -> Configuration:
    if credentials is None:
        credentials = settings_credentials()
    config = Configuration(access_token=credentials.access_token, host=credentials.host)
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
def messaging_api(credentials: LineCredentials | None = None) -> Iterator[MessagingApi]:
    """The API as one account (default: the settings' account)."""
    with ApiClient(configuration(credentials)) as api_client:
        yield MessagingApi(api_client)


@contextmanager
def messaging_blob_api(credentials: LineCredentials | None = None) -> Iterator[MessagingApiBlob]:
    with ApiClient(configuration(credentials)) as api_client:
        yield MessagingApiBlob(api_client)
