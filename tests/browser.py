"""Helpers for the browser tests: a Chromium page already signed in as a member of staff."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.test import Client

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from playwright.sync_api import Browser, Page


def staff_page(chromium: Browser, live_server: Any, user: User, width: int) -> Page:
    """A page at `width` px (Japanese, Asia/Tokyo) carrying `user`'s session cookie, so the
    test starts on the staff page itself rather than on the sign-in form."""
    client = Client()
    client.force_login(user)
    context = chromium.new_context(
        viewport={"width": width, "height": 900}, locale="ja-JP", timezone_id="Asia/Tokyo"
    )
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page
