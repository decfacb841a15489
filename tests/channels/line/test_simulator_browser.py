"""The chat simulator in headless Chromium at 360 and 1280 px: a resident links, chooses
between flu and COVID-19 at one site, books, and gets one confirmation (the card naming the
vaccine); axe clean, and the page reflows on a phone."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import expect

from channels.line.models import SimulatorDelivery
from reservations.models import Campaign, Reservation, Vaccine
from tests.browser import staff_page
from tests.channels.web.test_browser import check_page
from tests.world import World

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("season_clock", "eager_tasks"),
]


def simulator_page(chromium: Browser, live_server: Any, width: int) -> Page:
    return staff_page(
        chromium, live_server, User.objects.create_user("staff", password="x", is_staff=True), width
    )


@pytest.mark.parametrize("width", [360, 1280])
def test_a_booking_in_the_simulator_ends_in_one_confirmation(
    world: World, live_server: Any, chromium: Browser, settings: Any, width: int
) -> None:
    settings.LINE_CHANNEL_SECRET = ""
    settings.LINE_CHANNEL_ACCESS_TOKEN = ""
    settings.LINE_API_BASE_URL = ""
    settings.LINE_SIMULATOR = True
    settings.LINE_SIMULATOR_API_URL = f"{live_server.url}/line/simulator/api"
    settings.ALLOWED_HOSTS = [urlparse(live_server.url).hostname, "testserver"]
    day = timezone.localdate() + dt.timedelta(days=4)
    world.slot(day, 9)
    world.slot(
        day,
        9,
        vaccine=Vaccine.objects.get(code="influenza-ha"),
        campaign=Campaign.objects.get(code="influenza-routine-2026"),
    )
    ticket = world.resident()
    page = simulator_page(chromium, live_server, width)
    page.goto(f"{live_server.url}/line/simulator/")
    message = page.get_by_label("メッセージ")

    def say(text: str) -> None:
        message.fill(text)
        page.get_by_role("button", name="送信").click()

    page.get_by_role("button", name="友だち追加").click()
    expect(page.get_by_text("接種券番号」（10桁）を送ってください").first).to_be_visible()
    say(ticket.number)
    expect(page.get_by_text("生年月日を送ってください").first).to_be_visible()
    say("昭和25年4月1日")
    expect(page.get_by_text("連携しました").first).to_be_visible()
    say("予約する")
    expect(page.get_by_text("どのワクチンにしますか").first).to_be_visible()
    check_page(page, f"line-{width}-01-vaccine")
    page.get_by_role("button", name="インフルエンザHAワクチン").click()
    page.get_by_role("button", name="日南市文化センター").click()
    page.get_by_role("button", name=f"{day.month}月{day.day}日").click()
    expect(page.get_by_text("ワクチン インフルエンザHAワクチン").first).to_be_visible()
    check_page(page, f"line-{width}-02-times")
    page.get_by_role("button", name="この時間にする").click()
    page.get_by_role("button", name="予約を確定する").click()
    expect(page.get_by_text("通知の表示：予約が確定しました").first).to_be_visible()
    check_page(page, f"line-{width}-03-booked")

    booked = Reservation.objects.get()
    assert booked.status == Reservation.Status.CONFIRMED
    assert booked.vaccine.code == "influenza-ha"
    # What the bot sent after the confirm tap: the one card, no push beside it.
    tapped = SimulatorDelivery.objects.filter(kind="user").latest("id")
    after = SimulatorDelivery.objects.filter(pk__gt=tapped.pk)
    assert [(d.kind, len(d.messages)) for d in after] == [("reply", 1)]
    assert after.get().messages[0]["type"] == "flex"
