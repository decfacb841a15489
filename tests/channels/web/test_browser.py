"""The resident pages in headless Chromium at phone width: a two-dose series booked, changed
and cancelled end to end, the lockout, the language switch, keyboard use, reflow, and an
axe-core check of every page. Screenshots of the main pages go to docs/screenshots/."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect

from reservations.models import Reservation
from tests.channels.web.conftest import Clock
from tests.world import World, jst

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

D = dt.date
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
# Only refresh the committed screenshots when asked: a normal test run writes nothing to docs/.
SAVE_SCREENSHOTS = os.environ.get("MADOGUCHI_SCREENSHOTS") == "1"


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical WCAG 2.1 A/AA violations on the current page."""
    # Evaluated by the browser's debugger, not as an inline <script>, which the pages'
    # Content-Security-Policy blocks (and the test would count as a violation).
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result: dict[str, Any] = page.evaluate(
        """async () => await axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
            resultTypes: ['violations'],
        })"""
    )
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def fits_the_width(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def check_page(page: Page, name: str | None = None) -> None:
    assert axe_violations(page) == []
    # Reflows to the phone's width: nothing wider than the screen (WCAG 1.4.10), also at 200%
    # zoom, which on a 360 px phone leaves 180 CSS pixels.
    assert fits_the_width(page)
    viewport = page.viewport_size
    assert viewport is not None
    page.set_viewport_size({"width": viewport["width"] // 2, "height": viewport["height"] // 2})
    try:
        assert fits_the_width(page)
    finally:
        page.set_viewport_size(viewport)
    if name and SAVE_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, base: str, ticket_number: str, *, era: str, y: str, m: str, d: str) -> None:
    page.goto(base + "/")
    page.get_by_label("接種券番号（10けた）").fill(ticket_number)
    page.get_by_label("年号").select_option(era)
    page.get_by_label("年", exact=True).fill(y)
    page.get_by_label("月", exact=True).fill(m)
    page.get_by_label("日", exact=True).fill(d)
    page.get_by_role("button", name="次へ").click()


WIDTHS = [360, 1280]


@pytest.fixture(params=WIDTHS, ids=lambda width: f"{width}px")
def sized_page(request: pytest.FixtureRequest, chromium: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) at a phone's and a desktop's width, Japanese."""
    width = request.param
    context = chromium.new_context(
        viewport={"width": width, "height": 740 if width < 800 else 900},
        locale="ja-JP",
        timezone_id="Asia/Tokyo",
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def shot(page: Page, name: str) -> None:
    """check_page, with the screenshot named for the step and the width."""
    viewport = page.viewport_size
    assert viewport is not None
    check_page(page, f"web-{name}-{viewport['width']}")


def test_a_two_dose_series_is_booked_changed_and_cancelled(
    live_server: Any, sized_page: Page, primary: World, clock: Clock
) -> None:
    page, base = sized_page, live_server.url
    primary.site.what_to_bring = "接種券、本人確認書類、お薬手帳"
    primary.site.address = "宮崎県日南市中央通1-1"
    primary.site.save()
    for hour in (10, 11):
        primary.slot(D(2021, 6, 10), hour)
        primary.slot(D(2021, 7, 1), hour)
        primary.slot(D(2021, 6, 17), hour)
        primary.slot(D(2021, 7, 8), hour)
    ticket = primary.resident(D(1950, 1, 1))

    page.goto(base + "/")
    # The days ahead are cards with the seats left, under a heading that says so.
    expect(page.get_by_text("残り 10 人").first).to_be_visible()
    shot(page, "01-start")
    # Full-width digits with a hyphen, the birth date in 和暦.
    typed = ticket.number.translate({c: c - 48 + 0xFF10 for c in range(48, 58)})
    sign_in(page, base, typed[:4] + "－" + typed[4:], era="S", y="25", m="1", d="1")
    expect(page.get_by_role("heading", name="予約の確認")).to_be_visible()
    shot(page, "02-signed-in")
    page.get_by_role("link", name="新しく予約する").click()
    shot(page, "03-days")
    page.get_by_role("link", name="2021年6月10日").first.click()
    # One radio per time: real, visible and reached by the keyboard; the row is its label.
    radios = page.get_by_role("radio")
    expect(radios).to_have_count(2)
    box = radios.first.bounding_box()
    assert box is not None and box["width"] >= 20
    radios.first.focus()
    page.keyboard.press("Space")
    expect(page.get_by_label("10:00〜10:15")).to_be_checked()
    page.get_by_text("11:00〜11:15").click()
    expect(page.get_by_label("11:00〜11:15")).to_be_checked()
    page.get_by_text("10:00〜10:15").click()
    shot(page, "04-times")
    if SAVE_SCREENSHOTS and page.viewport_size == {"width": 360, "height": 740}:
        page.screenshot(path=str(SCREENSHOTS.parent / "screenshot.png"), full_page=True)
    page.get_by_role("button", name="この時間で仮予約する").click()

    expect(page.get_by_text("まだ予約は確定していません")).to_be_visible()
    expect(page.get_by_text("2021年7月1日").first).to_be_visible()
    shot(page, "05-confirm")
    page.get_by_role("button", name="予約を確定する").click()
    expect(page.get_by_text("予約が確定しました")).to_be_visible()
    shot(page, "06-booked")
    first = Reservation.objects.get(dose_number=1)
    assert first.status == Reservation.Status.CONFIRMED
    assert first.next_dose is not None and first.next_dose.status == Reservation.Status.CONFIRMED

    with page.expect_download() as download:
        page.get_by_role("link", name="カレンダーに追加（.ics）").first.click()
    assert download.value.suggested_filename == f"yoyaku-{first.code}.ics"

    # Changing keeps the vaccine and the site: the days are listed at once.
    page.get_by_role("link", name="日時を変更する").click()
    page.get_by_role("link", name="2021年6月17日").first.click()
    page.locator("#times").get_by_text("10:00〜10:15").click()
    shot(page, "07-change-times")
    page.get_by_role("button", name="変更内容を確認する").click()
    # The read-back: before and after; nothing has moved yet.
    expect(page.get_by_role("heading", name="変更内容の確認")).to_be_visible()
    expect(page.get_by_role("heading", name="変更前（いまの予約）")).to_be_visible()
    expect(page.get_by_text("2021年6月17日").first).to_be_visible()
    first.refresh_from_db()
    assert first.slot.operating_day.date == D(2021, 6, 10)
    shot(page, "08-change-confirm")
    page.get_by_role("button", name="変更を確定する").click()
    expect(page.get_by_text("予約を変更しました")).to_be_visible()
    shot(page, "09-changed")
    first.refresh_from_db()
    assert first.slot.operating_day.date == D(2021, 6, 17)
    assert first.next_dose is not None
    assert first.next_dose.slot.operating_day.date == D(2021, 7, 8)

    page.get_by_role("link", name="キャンセルする").click()
    expect(page.get_by_text("キャンセルすると、元にもどせません。")).to_be_visible()
    shot(page, "10-cancel")
    page.get_by_role("button", name="キャンセルする").click()
    expect(page.get_by_text("予約をキャンセルしました")).to_be_visible()
    shot(page, "11-cancelled")
    assert set(Reservation.objects.values_list("status", flat=True)) == {"cancelled"}


def test_an_ineligible_resident_reads_why_and_what_to_do(
    live_server: Any, sized_page: Page, world: World, clock: Clock
) -> None:
    world.slot(D(2026, 11, 10))
    ticket = world.resident(D(1966, 6, 1))  # 60: the routine programme needs 65, or 60-64
    sign_in(sized_page, live_server.url, ticket.number, era="S", y="41", m="6", d="1")
    sized_page.get_by_role("link", name="新しく予約する").click()
    expect(sized_page.get_by_role("heading", name="いま、この方が予約できる日時はありません"))
    expect(
        sized_page.get_by_text("対象となる障害がある方は、申し出の手続きが必要です")
    ).to_be_visible()
    assert "covid." not in sized_page.content()
    shot(sized_page, "12-ineligible")


def test_the_lock_is_announced_before_it_comes_and_says_for_how_long(
    live_server: Any, sized_page: Page, world: World, settings: Any
) -> None:
    settings.CREDENTIALS_TICKET_FAILURE_LIMIT = 3
    page = sized_page
    page.goto(live_server.url + "/")
    expect(
        page.get_by_text("続けて 3 回まちがえると、その接種券番号は 15 分間ロックされ")
    ).to_be_visible()
    ticket = world.resident(D(1947, 5, 3))
    for left in (2, 1, 0):
        sign_in(page, live_server.url, ticket.number, era="S", y="22", m="5", d="4")
        alert = page.get_by_role("alert").first
        assert "接種券番号または生年月日が正しくありません" in alert.inner_text()
        if left:
            assert f"あと{left}回間違えると" in alert.inner_text()
            assert "15分間ロックされます" in alert.inner_text()
        if left == 1:
            shot(page, "13-wrong-birth-date")
    sign_in(page, live_server.url, ticket.number, era="S", y="22", m="5", d="3")
    alert = page.get_by_role("alert").first
    assert "この接種券番号での確認に続けて失敗したため、15分間ロックしました" in alert.inner_text()
    assert "0987-00-0000" in alert.inner_text()
    shot(page, "14-lockout")


def test_a_day_past_its_change_deadline_is_offered_with_a_notice(
    live_server: Any, sized_page: Page, world: World, clock: Clock
) -> None:
    clock.current = jst(2026, 12, 7, 10, 0)
    world.slot(D(2026, 12, 7), 14, closes=0, change_closes=1)
    world.slot(D(2026, 12, 9), 10, closes=0, change_closes=1)
    page = sized_page
    sign_in(page, live_server.url, world.resident().number, era="S", y="25", m="4", d="1")
    page.get_by_role("link", name="新しく予約する").click()
    page.get_by_role("link", name="2026年12月7日").click()
    expect(
        page.get_by_text("この日の枠は、予約後にWebで変更・キャンセルできません")
    ).to_be_visible()
    page.get_by_text("14:00〜14:15").click()
    shot(page, "15-no-online-change")
    page.get_by_role("button", name="この時間で仮予約する").click()
    expect(page.get_by_text("この枠は、予約後にWebで変更・キャンセルできません")).to_be_visible()
    shot(page, "16-confirm-no-online-change")


def test_the_language_switch_and_the_keyboard(
    live_server: Any, phone_page: Page, world: World, season_clock: object
) -> None:
    page = phone_page
    world.slot(dt.date.today() + dt.timedelta(days=3))  # the season clock's today
    page.goto(live_server.url + "/")
    # The first Tab reaches the skip link, and it leads to the main content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "本文へ移動"
    page.get_by_label("Language / 言語").select_option("en")
    with page.expect_navigation():
        page.get_by_role("button", name="表示言語を変更").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Book, check, change or cancel")).to_be_visible()
    check_page(page, "web-17-start-english-360")
    # Sign in with the keyboard alone: every control is reachable and labelled.
    ticket = world.resident(D(1950, 4, 1))
    page.get_by_label("Vaccination ticket number (10 digits)").focus()
    page.keyboard.type(ticket.number)
    page.keyboard.press("Tab")  # the era select keeps its default, 昭和
    page.keyboard.press("Tab")
    page.keyboard.type("25")
    page.keyboard.press("Tab")
    page.keyboard.type("4")
    page.keyboard.press("Tab")
    page.keyboard.type("1")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="My appointments")).to_be_visible()
    check_page(page, "web-18-my-appointments-english-360")
