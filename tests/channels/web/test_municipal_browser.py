"""A municipality's own pages (/m/<code>/) in headless Chromium at a phone's width."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect

from tests.channels.web.conftest import Clock
from tests.channels.web.test_browser import check_page
from tests.world import World

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

D = dt.date


@pytest.fixture
def phone(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(
        viewport={"width": 360, "height": 740}, locale="ja-JP", timezone_id="Asia/Tokyo"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_a_citys_pages_at_360_px(live_server: Any, phone: Page, world: World, clock: Clock) -> None:
    city = world.neighbour()
    city.municipality.name_en = "Miyakonojo City"
    city.municipality.save()
    world.slot(D(2026, 11, 10))
    city.slot(D(2026, 11, 11), 10)
    city.slot(D(2026, 11, 12), 14)
    ticket = city.resident(D(1950, 1, 1), name="都城 太郎")
    base = live_server.url + "/m/452025/"

    phone.goto(base)
    expect(phone.get_by_role("heading", name="都城市 ワクチン接種予約")).to_be_visible()
    expect(phone.get_by_text("都城市総合体育館").first).to_be_visible()
    expect(phone.get_by_text("日南市文化センター")).to_have_count(0)
    check_page(phone, "web-municipal-360")

    phone.get_by_label("接種券番号（10けた）").fill(ticket.number)
    phone.get_by_label("年号").select_option("western")
    phone.get_by_label("年", exact=True).fill("1950")
    phone.get_by_label("月", exact=True).fill("1")
    phone.get_by_label("日", exact=True).fill("1")
    phone.get_by_role("button", name="次へ").click()
    expect(phone.get_by_role("heading", name="予約の確認")).to_be_visible()
    assert phone.url.startswith(base + "p/")
    check_page(phone)

    # The language switch comes back to the same city's page.
    phone.goto(base)
    phone.get_by_label("Language / 言語").select_option("en")
    phone.get_by_role("button", name="表示言語を変更").click()
    expect(phone.get_by_role("heading", name="Miyakonojo City", exact=False)).to_be_visible()
    assert phone.url == base
    check_page(phone)
