"""A whole call in headless Chromium: search → book a series → log the outcome.

The operator's effort is counted as interactions (each key press and each click); the number
is recorded in docs/benchmarks.md. Screenshots of the main screens go to docs/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.utils import timezone

from channels.phone.models import Call, CallVolumeEvent
from reservations.models import Reservation
from reservations.services.booking import reservation_book
from tests.channels.phone.conftest import in_days
from tests.world import World

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
# Only refresh the committed screenshots when asked: a normal test run writes nothing to docs/.
SAVE_SCREENSHOTS = os.environ.get("MADOGUCHI_SCREENSHOTS") == "1"
DESKTOP = {"width": 1280, "height": 900}


class Operator:
    """Drives the page and counts what a person would do: key presses and clicks."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.keys = 0
        self.clicks = 0

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)
        self.keys += len(text)

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)
        self.keys += 1

    def click(self, selector: str) -> None:
        self.page.click(selector)
        self.clicks += 1

    @property
    def interactions(self) -> int:
        return self.keys + self.clicks


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    if SAVE_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"phone-{name}.png"), full_page=full_page)


def test_a_whole_call_with_few_interactions(
    series_world: World, live_server: Any, chromium: Browser
) -> None:
    operator = series_world.operator
    operator.set_password("correct horse battery staple")
    operator.save()
    first = series_world.slot(in_days(5), 10, capacity=5, reserved=2)
    series_world.slot(in_days(5), 10, 30, capacity=5, reserved=2)
    second = series_world.slot(in_days(26), 10, capacity=5, reserved=2)
    ticket = series_world.resident()

    context = chromium.new_context(viewport=DESKTOP, locale="ja-JP", timezone_id="Asia/Tokyo")  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(15_000)
    # Signing in happens once a shift, so it is not counted.
    page.goto(f"{live_server.url}/phone/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "correct horse battery staple")
    page.click("button[type=submit]")
    page.wait_for_selector("#q")
    # The browser applies `autofocus` once the page has rendered, a moment after the element
    # exists; keys typed before that went nowhere (half the runs lost the first digits).
    from playwright.sync_api import expect

    expect(page.locator("#q")).to_be_focused()
    page.evaluate("window.__noReload = true")
    shot(page, "search")

    op = Operator(page)
    # The search box has the focus; a ticket number finds exactly one person.
    op.type(ticket.number)
    op.press("Enter")
    page.wait_for_selector("h1#who")
    assert "日南 花子" in page.inner_text("h1#who")
    assert page.locator(".call").is_visible()  # the call log started by itself
    shot(page, "resident")

    op.click(f"button.slot[value='{first.pk}']")
    page.wait_for_selector("#flash .msg.success")
    flash = page.inner_text("#flash")
    assert "予約しました" in flash and "2回目" in flash
    shot(page, "booked")

    op.click("form.close button[data-outcome='booked']")
    page.wait_for_selector("text=通話を記録しました")
    # The whole call ran without a page reload.
    assert page.evaluate("window.__noReload === true")

    booked = Reservation.objects.get(resident=ticket.resident, dose_number=1)
    assert booked.channel == "phone" and booked.next_dose is not None
    assert booked.next_dose.slot_id == second.pk
    call = Call.objects.get()
    assert call.outcome == "booked" and call.bookings_made == 2 and call.ended_at is not None
    print(
        f"\nphone console full call: {op.keys} key presses + {op.clicks} clicks = {op.interactions}"
    )
    assert op.interactions <= len(ticket.number) + 3
    context.close()


def test_it_works_without_javascript(
    phone_world: World, live_server: Any, chromium: Browser
) -> None:
    phone_world.operator.set_password("correct horse battery staple")
    phone_world.operator.save()
    slot = phone_world.slot(in_days(5), 10)
    ticket = phone_world.resident()
    context = chromium.new_context(  # type: ignore[arg-type]
        viewport=DESKTOP, java_script_enabled=False, locale="ja-JP"
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/phone/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "correct horse battery staple")
    page.click("button[type=submit]")
    page.fill("#q", ticket.number)
    page.click("form.search button[type=submit]")
    page.click(f"button.slot[value='{slot.pk}']")
    assert "予約しました" in page.inner_text("#flash")
    page.click("form.close button[data-outcome='booked']")
    assert "通話を記録しました" in page.inner_text("#flash")
    assert Reservation.objects.filter(resident=ticket.resident).count() == 1
    context.close()


# A weekday's shape at a small centre: calls per half hour from 09:00 to 17:00.
DAY_SHAPE = [3, 6, 8, 7, 6, 4, 3, 3, 5, 6, 5, 4, 4, 3, 2, 2]


def log_history(world: World, *, weeks: int) -> None:
    """Closed calls over the past weeks, shaped like a working day (weekdays only)."""
    calls = []
    today = timezone.localdate()
    for back in range(1, weeks * 7 + 1):
        day = today - dt.timedelta(days=back)
        if day.weekday() >= 5:
            continue
        for index, count in enumerate(DAY_SHAPE):
            start = dt.datetime.combine(day, dt.time(9), tzinfo=timezone.get_current_timezone())
            for n in range(count):
                moment = start + dt.timedelta(minutes=30 * index + n * 3)
                calls.append(
                    Call(
                        operator=world.operator,
                        municipality=world.municipality,
                        started_at=moment,
                        ended_at=moment + dt.timedelta(minutes=12),
                        handling_seconds=720,
                        outcome=Call.Outcome.BOOKED,
                        bookings_made=1,
                    )
                )
    Call.objects.bulk_create(calls)


def test_the_managers_pages_render(
    phone_world: World, live_server: Any, chromium: Browser, manager: Any
) -> None:
    manager.set_password("correct horse battery staple")
    manager.save()
    slot = phone_world.slot(in_days(3), 10, capacity=4, reserved=1)
    phone_world.slot(in_days(3), 11, capacity=4, reserved=1)
    reservation_book(ticket=phone_world.resident(), slot=slot, requester=phone_world.web)
    reservation_book(
        ticket=phone_world.resident(name="二"), slot=slot, requester=phone_world.phone()
    )
    log_history(phone_world, weeks=3)
    CallVolumeEvent.objects.create(
        municipality=phone_world.municipality,
        date=in_days(2),
        kind=CallVolumeEvent.Kind.TICKET_MAILOUT,
        multiplier=Decimal("2.0"),
    )
    context = chromium.new_context(viewport=DESKTOP, locale="ja-JP", timezone_id="Asia/Tokyo")  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(f"{live_server.url}/phone/login/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", "correct horse battery staple")
    page.click("button[type=submit]")
    page.goto(
        f"{live_server.url}/phone/forecast/?date_from={in_days(-2)}&days=4"
        "&service_level=80&target_seconds=20&max_occupancy=85&shrinkage=30&max_blocking=1"
    )
    assert page.locator("svg.chart").count() == 1
    assert page.locator("svg.chart polyline").count() >= 3
    shot(page, "forecast", full_page=False)
    page.goto(f"{live_server.url}/phone/dashboard/")
    assert page.locator("svg.chart").count() == 3
    shot(page, "dashboard")
    context.close()
