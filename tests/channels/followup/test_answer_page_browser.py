"""The answer page in Chromium at a phone's 360 px: axe clean and reflowing at 200% zoom with
its errors and its received page, and answered start to finish on a phone that runs no
JavaScript at all. Screenshots followup-answer-*.png with MADOGUCHI_SCREENSHOTS=1."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from playwright.sync_api import expect

from channels.followup.models import FollowedPerson, FollowUpAnswer, Questionnaire
from channels.followup.services import followup_start
from tests.channels.followup.staff_world import ship_questionnaires
from tests.channels.web.test_browser import check_page
from tests.world import World, jst

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DAY1 = dt.date(2026, 11, 2)


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    # Ticking: the live server's thread reads the same clock, and the browser waits on it.
    with time_machine.travel(jst(2026, 11, 2, 10), tick=True) as traveller:
        yield traveller


@pytest.fixture
def home_care(db: None) -> Questionnaire:
    """The shipped questionnaire; a transactional test before this one flushed what the
    migration wrote, so it is written again the way the migration writes it."""
    ship_questionnaires()
    return Questionnaire.objects.get(code="home-care", is_active=True)


def phone(chromium: Browser, *, javascript: bool) -> Page:
    context = chromium.new_context(
        viewport={"width": 360, "height": 740},
        locale="ja-JP",
        timezone_id="Asia/Tokyo",
        java_script_enabled=javascript,
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


@pytest.fixture
def phone_with_js(chromium: Browser) -> Iterator[Page]:
    page = phone(chromium, javascript=True)
    yield page
    page.context.close()


@pytest.fixture
def phone_without_js(chromium: Browser) -> Iterator[Page]:
    page = phone(chromium, javascript=False)
    yield page
    page.context.close()


def start(world: World, questionnaire: Questionnaire, name: str, phone: str) -> Any:
    person = FollowedPerson.objects.create(
        municipality=world.municipality,
        name=name,
        phone=phone,
        birth_date=dt.date(1958, 3, 3),
    )
    return followup_start(
        person=person,
        questionnaire=questionnaire,
        start_date=DAY1,
        days=7,
        now=jst(2026, 11, 1, 9),
    )


def test_the_answer_page_on_a_phone_is_accessible_and_reflows(
    live_server: Any, phone_with_js: Page, world: World, home_care: Questionnaire, clock: Any
) -> None:
    page = phone_with_js
    started = start(world, home_care, "日南 花子", "+819012345678")
    start(world, home_care, "日南 太郎", "+819012345678")  # answered from the same phone
    page.goto(f"{live_server.url}/f/{started.token}/")
    expect(page.get_by_role("heading", name="花子さんの健康観察")).to_be_visible()
    expect(page.get_by_role("link", name="太郎さんの回答ページ")).to_be_visible()
    font_size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert font_size >= 18
    check_page(page, "followup-answer-360")

    page.get_by_role("textbox", name="体温").fill("38,2")
    page.get_by_role("group", name="症状").get_by_label("なし").check()
    page.get_by_role("group", name="症状").get_by_label("せき", exact=True).check()
    page.get_by_role("button", name="送信する").click()
    expect(page.get_by_role("alert")).to_contain_text("回答に誤りがあります。")
    expect(page.get_by_text("「なし」はほかの選択肢と一緒に選べません。").first).to_be_visible()
    check_page(page, "followup-answer-errors-360")

    page.get_by_role("textbox", name="体温").fill("37.9")
    page.get_by_role("textbox", name="SpO2（血中酸素飽和度）").fill("92")
    page.get_by_role("textbox", name="脈拍").fill("88")
    page.get_by_role("group", name="症状").get_by_label("なし").uncheck()
    page.get_by_role("button", name="送信する").click()
    expect(page.get_by_role("status")).to_contain_text("今日の回答は受け付けました")
    expect(page.get_by_text("119番に電話してください")).to_be_visible()
    check_page(page, "followup-answer-received-360")

    page.get_by_role("link", name="English").click()
    expect(page.get_by_text("Body temperature")).to_be_visible()
    check_page(page)


def test_a_phone_without_javascript_answers_and_sees_it_received(
    live_server: Any, phone_without_js: Page, world: World, home_care: Questionnaire, clock: Any
) -> None:
    page = phone_without_js
    started = start(world, home_care, "日南 一郎", "+819011112222")
    page.goto(f"{live_server.url}/f/{started.token}/")
    page.get_by_role("textbox", name="体温").fill("３６．９")  # typed in full width
    page.get_by_role("textbox", name="SpO2（血中酸素飽和度）").fill("98")
    page.get_by_role("textbox", name="脈拍").fill("70")
    page.get_by_role("group", name="症状").get_by_label("なし").check()
    page.get_by_text("家族が代わりに回答しています").click()
    page.get_by_role("button", name="送信する").click()
    expect(page.get_by_role("status")).to_contain_text("今日の回答は受け付けました")
    expect(page.get_by_role("status")).to_contain_text("送信しました。ありがとうございました。")
    expect(page.get_by_text("36.9℃")).to_be_visible()

    answer = FollowUpAnswer.objects.get(followup=started.followup, for_date=DAY1)
    assert answer.values["temperature"] == "36.9" and answer.values["symptoms"] == ["none"]
    assert answer.answered_by_proxy and answer.alert_level == "none"

    page.get_by_role("button", name="訂正する").click()
    expect(page.get_by_role("textbox", name="体温")).to_have_value("36.9")
    page.get_by_role("textbox", name="体温").fill("37.4")
    page.get_by_role("button", name="訂正を送信する").click()
    expect(page.get_by_text("37.4℃")).to_be_visible()
    answer.refresh_from_db()
    assert answer.values["temperature"] == "37.4" and len(answer.history) == 1
