"""The admin's season generator in headless Chromium at 360 px and 1280 px: the pattern, the
preview of what it would create (axe clean), and the write after confirmation."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from reservations.models import OperatingDay
from tests.browser import staff_page
from tests.channels.web.test_browser import SAVE_SCREENSHOTS, SCREENSHOTS, axe_violations
from tests.world import World

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def admin_page(chromium: Browser, live_server: Any, width: int) -> Page:
    return staff_page(
        chromium, live_server, User.objects.create_superuser("root", password="x"), width
    )


def record_failures(page: Page) -> list[str]:
    """Every answer of 400 or more the page gets, its own requests included (the icon)."""
    failures: list[str] = []
    page.on(
        "response", lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )
    return failures


@pytest.mark.parametrize("width", [360, 1280])
def test_an_administrator_previews_a_season_and_then_creates_it(
    world: World, live_server: Any, chromium: Browser, width: int
) -> None:
    world.day(dt.date(2026, 11, 25))  # an existing day the preview must point out
    page = admin_page(chromium, live_server, width)
    failures = record_failures(page)
    page.goto(f"{live_server.url}/admin/reservations/site/")
    page.check(f"input.action-select[value='{world.site.pk}']")
    page.select_option("select[name=action]", "generate_season_action")
    page.click("button[name=index]")

    page.locator("#id_vaccine").select_option(label=world.vaccine.name)
    page.locator("#id_campaign").select_option(label=world.campaign.name)
    page.locator("#id_date_from").fill("2026-11-21")
    page.locator("#id_date_to").fill("2026-12-05")
    page.get_by_label("土", exact=True).check()
    page.get_by_role("button", name="内容を確認する").click()

    expect(page.get_by_role("heading", name="作成する内容の確認", level=1)).to_be_visible()
    expect(page.get_by_text("まだ何も保存していません")).to_be_visible()
    expect(page.get_by_role("heading", name="休業日のため作成しない日（1日）")).to_be_visible()
    expect(page.get_by_role("heading", name="作成済みのため変更しない日（1日）")).to_be_visible()
    assert not OperatingDay.objects.exclude(date=dt.date(2026, 11, 25)).exists()
    # Django's own admin chrome is checked too: nothing on the page is excluded.
    assert axe_violations(page) == []
    # Nothing wider than the screen: a phone scrolls down, never sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    if SAVE_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = f"admin-season-preview-{width}.png"
        page.screenshot(path=str(SCREENSHOTS / name), full_page=True)

    create = page.get_by_role("button", name="作成する（稼働日", exact=False)
    expect(create).to_have_value("作成する（稼働日11日・予約枠264枠）")
    create.click()

    expect(
        page.get_by_text("日南市文化センター: 稼働日11日、予約枠264件を作成しました。")
    ).to_be_visible()
    assert OperatingDay.objects.count() == 12
    assert failures == []
