"""The resident pages in English and in やさしい日本語, in headless Chromium at 360 px and
1280 px: axe clean, reflowing at 200% zoom, names from the data in English, the language menu
in each language's own name, and English labels that never break inside a word. Screenshots
lang-*.png go to docs/screenshots/ when MADOGUCHI_SCREENSHOTS=1."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect

from reservations.models import Campaign, Municipality, Site, Vaccine
from reservations.services.booking import reservation_book
from tests.channels.web.test_browser import check_page
from tests.world import World

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"360": {"width": 360, "height": 740}, "1280": {"width": 1280, "height": 800}}

# Each text node of a label, word by word: a word drawn on two lines was broken inside.
# Measured once the page has loaded (its stylesheet, which keeps English words whole, may still
# be on its way when the text is already in the DOM) and its fonts are ready: a word measured in
# the fallback font, before the CJK font that also draws Latin here arrives, may wrap where the
# final text does not.
WORDS_SPLIT_ACROSS_LINES = """async (selector) => {
    if (document.readyState !== "complete") {
        await new Promise((resolve) => window.addEventListener("load", resolve, { once: true }));
    }
    await document.fonts.ready;
    const split = [];
    for (const element of document.querySelectorAll(selector)) {
        const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
        while (walker.nextNode()) {
            const node = walker.currentNode;
            for (const match of node.textContent.matchAll(/\\S+/g)) {
                const range = document.createRange();
                range.setStart(node, match.index);
                range.setEnd(node, match.index + match[0].length);
                const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
                if (lines.size > 1) split.push(match[0]);
            }
        }
    }
    return split;
}"""


@pytest.fixture(params=list(WIDTHS))
def width(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def page(chromium: Browser, width: str) -> Iterator[Page]:
    """A fresh browser (no cookies) whose own language is Japanese, like a resident's phone."""
    context = chromium.new_context(viewport=WIDTHS[width], locale="ja-JP", timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def english_world(world: World, season_clock: object) -> World:
    Municipality.objects.filter(pk=world.municipality.pk).update(name_en="Nichinan City")
    Site.objects.filter(pk=world.site.pk).update(
        name_en="Nichinan City Cultural Center",
        address="宮崎県日南市中央通1丁目6番地1",
        what_to_bring_en="Vaccination ticket, pre-vaccination questionnaire, photo ID",
    )
    Vaccine.objects.filter(pk=world.vaccine.pk).update(name_en="Comirnaty (ages 12 and over)")
    Campaign.objects.filter(pk=world.campaign.pk).update(
        name_en="COVID-19 routine vaccination (FY2026)"
    )
    for days in (3, 4):
        world.slot(dt.date.today() + dt.timedelta(days=days))  # the season clock's today
    return world


def choose_language(page: Page, name: str) -> None:
    page.get_by_label("Language / 言語").select_option(label=name)
    with page.expect_navigation():
        page.locator("#language-select + button").click()


def test_the_front_page_in_english(
    live_server: Any, page: Page, english_world: World, width: str
) -> None:
    page.goto(live_server.url + "/")
    menu = page.get_by_label("Language / 言語")
    expect(menu.locator("option")).to_have_text(["日本語", "やさしい にほんご", "English"])
    choose_language(page, "English")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Nichinan City")
    expect(page.get_by_text("Nichinan City Cultural Center").first).to_be_visible()
    expect(page.get_by_label("Era")).to_contain_text("Showa (1926–)")
    assert page.get_by_text("日南市文化センター").count() == 0
    check_page(page, f"lang-01-start-english-{width}")


def test_the_front_page_in_easy_japanese(
    live_server: Any, page: Page, english_world: World, width: str
) -> None:
    page.goto(live_server.url + "/")
    choose_language(page, "やさしい にほんご")
    expect(page.locator("html")).to_have_attribute("lang", "ja-x-easy")
    expect(page.get_by_role("heading", level=1)).to_contain_text("ワクチンの よやく")
    expect(page.get_by_label("接種券（せっしゅけん）の 番号（ばんごう）10けた")).to_be_visible()
    expect(page.get_by_role("button", name="つぎへ")).to_be_visible()
    check_page(page, f"lang-02-start-easy-{width}")


def test_a_booking_in_english_keeps_words_whole(
    live_server: Any, page: Page, english_world: World, width: str
) -> None:
    ticket = english_world.resident(dt.date(1950, 4, 1))
    slot = english_world.slot(dt.date.today() + dt.timedelta(days=3))
    reservation_book(ticket=ticket, slot=slot, requester=english_world.web)
    page.goto(live_server.url + "/")
    choose_language(page, "English")
    page.get_by_label("Vaccination ticket number (10 digits)").fill(ticket.number)
    page.get_by_label("Era").select_option("S")
    page.get_by_label("Year", exact=True).fill("25")
    page.get_by_label("Month", exact=True).fill("4")
    page.get_by_label("Day", exact=True).fill("1")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("link", name="Details").first.click()
    expect(page.get_by_text("Nichinan City Cultural Center").first).to_be_visible()
    expect(page.get_by_text("Comirnaty (ages 12 and over)").first).to_be_visible()
    expect(page.get_by_text("pre-vaccination questionnaire")).to_be_visible()
    assert page.evaluate(WORDS_SPLIT_ACROSS_LINES, "dt, th, label, legend") == []
    check_page(page, f"lang-03-booking-english-{width}")
