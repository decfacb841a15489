"""The venue's day in headless Chromium at 360 and 1280 px: the list (cards on a phone), a
per-person no-show and its undo, a dose recorded with the time picker, the printable list,
a correction and the end-of-day preview; axe clean and no sideways scrolling (also at 200%
zoom). Screenshots go to docs/screenshots/venue-*.png when MADOGUCHI_SCREENSHOTS=1."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect

from reservations.models import DayLot, Reservation, Resident, Vaccination
from reservations.services.booking import reservation_book
from tests.browser import staff_page
from tests.channels.web.test_browser import (
    SAVE_SCREENSHOTS,
    SCREENSHOTS,
    axe_violations,
    fits_the_width,
)
from tests.vrs_export.cohort import venue_staff
from tests.world import World, jst

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("season_clock"),
]
TODAY = dt.date(2026, 11, 2)  # the season clock stands at 09:00 JST, ticking


def signed_in_page(chromium: Browser, live_server: Any, width: int) -> Page:
    return staff_page(chromium, live_server, venue_staff("desk"), width)


def check(page: Page, name: str, width: int) -> None:
    assert axe_violations(page) == []
    assert fits_the_width(page)
    viewport = page.viewport_size
    assert viewport is not None
    # 200% zoom: half the CSS pixels.
    page.set_viewport_size({"width": viewport["width"] // 2, "height": viewport["height"]})
    try:
        assert fits_the_width(page)
    finally:
        page.set_viewport_size(viewport)
    if SAVE_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"venue-{name}-{width}.png"), full_page=True)


def _book(world: World, on: dt.date, hour: int, name: str, kana: str) -> Reservation:
    ticket = world.resident(name=name)
    Resident.objects.filter(pk=ticket.resident_id).update(name_kana=kana)
    return reservation_book(
        ticket=ticket, slot=world.slot(on, hour=hour), requester=world.web, now=jst(2026, 11, 1)
    )


@pytest.mark.parametrize("width", [360, 1280])
def test_the_venues_day(live_server: Any, chromium: Browser, world: World, width: int) -> None:
    late = _book(world, TODAY, 8, "油津 太郎", "アブラツ タロウ")
    comes = _book(world, TODAY, 8, "日南 花子", "ニチナン ハナコ")
    _book(world, TODAY, 14, "飫肥 次郎", "オビ ジロウ")
    _book(world, TODAY + dt.timedelta(days=1), 10, "明日 来子", "アシタ キコ")
    day = late.slot.operating_day
    DayLot.objects.create(operating_day=day, lot_number="FF3620", vials_opened=2)
    page = signed_in_page(chromium, live_server, width)
    base = live_server.url

    page.goto(f"{base}/venue/day/{day.pk}/")
    late_row = page.locator(f"#r-{late.code}")
    expect(late_row.get_by_role("button", name="未来院")).to_be_visible()
    # The status is one badge on one line, even on a phone.
    badge = late_row.locator(".badge").first
    box = badge.bounding_box()
    assert box is not None and box["height"] < 40
    check(page, "01-day", width)

    # One person at a time, with an undo.
    late_row.get_by_role("button", name="未来院").click()
    expect(page.get_by_text("油津 太郎 さんを未来院（来場なし）にしました")).to_be_visible()
    expect(page.locator(f"#r-{late.code} .badge").first).to_have_text("来場なし")
    check(page, "02-no-show", width)
    page.locator(f"#r-{late.code}").get_by_role("button", name="取り消す").click()
    expect(page.get_by_text("来場なしを取り消し、予約に戻しました")).to_be_visible()
    late.refresh_from_db()
    assert late.status == Reservation.Status.CONFIRMED

    # Record a dose: the only lot is chosen, the time picker starts at now.
    page.get_by_role("link", name=comes.code).click()
    page.get_by_role("button", name="受付する").click()
    page.get_by_label("接種", exact=True).check()
    expect(page.get_by_label("ロット番号")).to_have_value("FF3620")
    time_input = page.get_by_label("接種時刻")
    expect(time_input).to_have_attribute("type", "time")
    expect(time_input).to_have_value("09:00")
    time_input.fill("08:50")
    page.get_by_label("医師名").fill("宮崎 一郎")
    check(page, "03-record", width)
    page.get_by_role("button", name="記録する").click()
    expect(page.get_by_text("日南 花子 さんの結果を記録しました")).to_be_visible()
    dose = Vaccination.objects.get()
    assert dose.lot_number == "FF3620"

    # Correct the recorded dose from the day's records.
    page.locator("#records + table").get_by_role("link", name="訂正・取消").click()
    page.get_by_label("医師名").fill("宮崎 二郎")
    page.get_by_label("訂正の理由（必須）").fill("医師名の入力誤り")
    page.get_by_role("button", name="訂正を記録する").click()
    expect(page.get_by_text("接種記録を訂正しました（第2版）")).to_be_visible()
    expect(page.locator("#versions + table")).to_contain_text("医師名の入力誤り")
    check(page, "04-correction", width)

    # The printable list: no navigation when printed, the header on the page.
    page.goto(f"{base}/venue/day/{day.pk}/list/")
    expect(page.get_by_role("button", name="印刷する")).to_be_visible()
    check(page, "05-list", width)
    page.emulate_media(media="print")
    expect(page.locator(".toolbar")).to_be_hidden()
    expect(page.locator(".page-head")).to_contain_text("日南市文化センター")
    expect(page.locator(".page-head")).to_contain_text("2026年11月2日")
    pdf = page.pdf(prefer_css_page_size=True)  # Letter unless the page asks for A4
    assert b"/MediaBox [0 0 594.95996 841.91998]" in pdf  # A4 portrait, from the page's CSS
    if SAVE_SCREENSHOTS and width == 1280:
        # Paper is the same whatever the screen: an A4 page's width at 96 dpi.
        page.set_viewport_size({"width": 794, "height": 1123})
        page.screenshot(path=str(SCREENSHOTS / "venue-06-list-printed.png"))
        page.set_viewport_size({"width": width, "height": 900})
    page.emulate_media(media="screen")

    # End of day: the preview names who will be marked, then the button marks them.
    page.goto(f"{base}/venue/day/{day.pk}/close/")
    expect(page.get_by_role("heading", name="次の 1 件を「来場なし」にします")).to_be_visible()
    check(page, "07-close-preview", width)
    page.get_by_role("button", name="この 1 件を来場なしにする").click()
    expect(page.get_by_text("来場なし 1 件を記録しました")).to_be_visible()
    late.refresh_from_db()
    assert late.status == Reservation.Status.NO_SHOW
