"""The health-centre staff screens in headless Chromium at 1280 and 360 px: the alerts (red
first, acknowledged, resolved with a note) and a person's follow-up page with its charts; axe
clean, no sideways scrolling (also at 200% zoom), no JavaScript needed. Screenshots go to
docs/screenshots/followup-*.png when MADOGUCHI_SCREENSHOTS=1."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect

from channels.followup.models import FollowUpAnswer
from channels.followup.services import followup_answer_record
from tests.browser import staff_page
from tests.channels.followup.staff_world import (
    DAY1,
    at,
    follow,
    followed,
    health_staff,
    home,
    ship_questionnaires,
)
from tests.channels.phone.test_browser import overflowing
from tests.channels.web.test_browser import (
    SAVE_SCREENSHOTS,
    SCREENSHOTS,
    axe_violations,
    fits_the_width,
)
from tests.world import World

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("season_clock"),  # 2026-11-02 09:00 JST, ticking
]
YESTERDAY = DAY1 - dt.timedelta(days=1)


def check(page: Page, name: str, width: int) -> None:
    if SAVE_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"followup-{name}-{width}.png"), full_page=True)
    assert axe_violations(page) == []
    assert fits_the_width(page), overflowing(page)
    viewport = page.viewport_size
    assert viewport is not None
    page.set_viewport_size({"width": viewport["width"] // 2, "height": viewport["height"]})
    try:
        assert fits_the_width(page), overflowing(page)
    finally:
        page.set_viewport_size(viewport)


def _alerts(world: World) -> dict[str, FollowUpAnswer]:
    ship_questionnaires()
    city = world.municipality
    yellow_followup = follow(followed(city, "黄田 注意子"), start=YESTERDAY, days=5)
    followup_answer_record(yellow_followup, YESTERDAY, home(temperature="38.7"), now=at(DAY1, 7))
    yellow = followup_answer_record(
        yellow_followup, DAY1, home(temperature="38.9"), now=at(DAY1, 7, 30)
    ).answer
    breathless = follow(followed(city, "赤坂 息子", proxy_phone="+819033334444"))
    red_late = followup_answer_record(
        breathless,
        DAY1,
        home(temperature="37.9", spo2="91", symptoms=["breathless", "cough"]),
        now=at(DAY1, 8, 40),
    ).answer
    chest = follow(followed(city, "胸井 痛男"))
    red_early = followup_answer_record(
        chest, DAY1, home(symptoms=["chest_pain"]), now=at(DAY1, 8, 10)
    ).answer
    return {"yellow": yellow, "red_late": red_late, "red_early": red_early}


@pytest.mark.parametrize("width", [1280, 360])
def test_the_alerts_screen(live_server: Any, chromium: Browser, world: World, width: int) -> None:
    found = _alerts(world)
    staff = health_staff("hoken", world.municipality)
    page = staff_page(chromium, live_server, staff, width)
    base = live_server.url

    page.goto(f"{base}/followup/alerts/")
    cards = page.locator("article.alert-card")
    expect(cards).to_have_count(3)
    # Red first (the older red before the newer), then yellow; the level in words.
    expect(cards.nth(0)).to_contain_text("胸井 痛男")
    expect(cards.nth(1)).to_contain_text("赤坂 息子")
    expect(cards.nth(2)).to_contain_text("黄田 注意子")
    expect(cards.nth(0).locator(".badge")).to_have_text("赤（至急）")
    expect(cards.nth(2).locator(".badge")).to_have_text("黄（注意）")
    expect(cards.nth(1)).to_contain_text("SpO2が93%以下です。")
    expect(cards.nth(1)).to_contain_text("息苦しさがあります。")
    # The staff layout's area link: 健康観察 is where we are.
    expect(page.locator(".staff-areas a[aria-current=page]")).to_have_text("健康観察")

    # Someone takes the breathless patient: 確認.
    card = page.locator(f"#a-{found['red_late'].pk}")
    card.get_by_role("button", name="確認").click()
    expect(page.locator(".messages")).to_contain_text(
        "赤坂 息子さんのアラートを確認済みにしました。"
    )
    expect(page.locator(f"#a-{found['red_late'].pk}")).to_contain_text("hoken さんが確認済み")
    check(page, "alerts", width)

    # Resolved with a note: off the list.
    card = page.locator(f"#a-{found['red_early'].pk}")
    card.get_by_label("対応の記録（必須）").fill("本人と電話、救急受診を手配")
    card.get_by_role("button", name="対応済み").click()
    expect(page.locator(".messages")).to_contain_text(
        "胸井 痛男さんのアラートを対応済みにしました。"
    )
    expect(page.locator("article.alert-card")).to_have_count(2)
    resolved = FollowUpAnswer.objects.get(pk=found["red_early"].pk)
    assert resolved.resolution_note == "本人と電話、救急受診を手配"
    assert resolved.resolved_by_id == staff.pk

    # The person's page: their days and the SpO2 chart with its red band.
    page.locator(f"#a-{found['red_late'].pk}").get_by_role("link", name="赤坂 息子").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("赤坂 息子さんの健康観察")
    spo2 = page.locator("svg.vital-chart", has=page.locator("title", has_text="SpO2の推移"))
    expect(spo2.locator('rect.band-red[data-threshold="93"]')).to_have_count(1)
    page.get_by_text("SpO2の数値（表）").click()
    expect(page.locator("details table").last).to_contain_text("91%")
    check(page, "person", width)

    page.goto(f"{base}/followup/")
    expect(page.locator("table.cards tbody tr")).to_have_count(3)
    check(page, "cohort", width)
    page.context.close()
