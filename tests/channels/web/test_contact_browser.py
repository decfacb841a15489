"""The contact page in Chromium: a resident gives a new mobile number, types the code the SMS
brought, and turns SMS off: on a phone (360 px) and a desktop (1280 px), axe clean and
reflowing at 200% zoom, and on a phone without JavaScript. Screenshots contact-*.png with
MADOGUCHI_SCREENSHOTS=1."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect

from reservations.models import Resident
from tests.channels.sms.conftest import locmem_sms, tasks_in_process  # noqa: F401
from tests.channels.web.test_browser import check_page, sign_in
from tests.world import World

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("tasks_in_process"),
]


def new_page(chromium: Browser, width: int, *, javascript: bool = True) -> Page:
    context = chromium.new_context(
        viewport={"width": width, "height": 900},
        locale="ja-JP",
        timezone_id="Asia/Tokyo",
        java_script_enabled=javascript,
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


@pytest.fixture
def desktop_page(chromium: Browser) -> Iterator[Page]:
    page = new_page(chromium, 1280)
    yield page
    page.context.close()


@pytest.fixture
def phone_page_without_js(chromium: Browser) -> Iterator[Page]:
    page = new_page(chromium, 360, javascript=False)
    yield page
    page.context.close()


def last_code(outbox: list[Any]) -> str:
    match = re.search(r"確認コード (\d{6})", outbox[-1].body)
    assert match is not None
    return match.group(1)


def open_contact_page(page: Page, base: str, world: World) -> Resident:
    resident = world.resident(dt.date(1950, 4, 1)).resident
    resident.phone = "+819087654321"
    resident.save()
    ticket = resident.tickets.get()
    sign_in(page, base, ticket.number, era="S", y="25", m="4", d="1")
    page.get_by_role("link", name="連絡先（携帯電話・SMS）").click()
    expect(page.get_by_role("heading", name="連絡先（携帯電話・SMS）")).to_be_visible()
    return resident


def test_a_resident_changes_their_mobile_number_and_stops_sms(
    live_server: Any,
    phone_page: Page,
    world: World,
    locmem_sms: list[Any],  # noqa: F811
) -> None:
    page = phone_page
    resident = open_contact_page(page, live_server.url, world)
    expect(page.get_by_text("090-****-4321")).to_be_visible()
    check_page(page, "contact-01-page")

    page.get_by_role("textbox", name="携帯電話の番号").fill("0987-31-1111")
    page.get_by_role("button", name="確認コードを送る").click()
    expect(page.get_by_role("alert")).to_contain_text("携帯電話の番号ではないため")
    check_page(page, "contact-02-landline-refused")

    page.get_by_role("textbox", name="携帯電話の番号").fill("０８０－２２２２－３３３３")
    page.get_by_role("button", name="確認コードを送る").click()
    expect(page.get_by_role("heading", name="確認コードの入力")).to_be_visible()
    expect(page.get_by_text("080-2222-3333")).to_be_visible()
    check_page(page, "contact-03-code")
    code = last_code(locmem_sms)
    assert locmem_sms[-1].to_e164 == "+818022223333"

    page.get_by_label("確認コード（6けた）").fill(f"{(int(code) + 1) % 1_000_000:06d}")
    page.get_by_role("button", name="確認する").click()
    expect(page.get_by_role("alert")).to_contain_text("あと4回まちがえると")
    check_page(page, "contact-04-wrong-code")

    page.get_by_label("確認コード（6けた）").fill(code)
    page.get_by_role("button", name="確認する").click()
    expect(page.get_by_role("status")).to_contain_text("携帯電話の番号を登録しました")
    expect(page.get_by_text("080-****-3333")).to_be_visible()
    check_page(page, "contact-05-number-changed")
    resident.refresh_from_db()
    assert resident.phone == "+818022223333" and resident.sms_consent

    page.get_by_label("受け取らない").check()
    page.get_by_role("button", name="この設定にする").click()
    expect(page.get_by_role("status")).to_contain_text("SMSでのお知らせを止めました")
    check_page(page, "contact-06-sms-off")
    resident.refresh_from_db()
    assert not resident.sms_consent


def test_the_contact_pages_on_a_desktop(
    live_server: Any,
    desktop_page: Page,
    world: World,
    locmem_sms: list[Any],  # noqa: F811
) -> None:
    page = desktop_page
    open_contact_page(page, live_server.url, world)
    check_page(page, "contact-07-page-desktop")
    page.get_by_role("textbox", name="携帯電話の番号").fill("08022223333")
    page.get_by_role("button", name="確認コードを送る").click()
    expect(page.get_by_role("heading", name="確認コードの入力")).to_be_visible()
    check_page(page, "contact-08-code-desktop")


def test_the_contact_pages_work_without_javascript(
    live_server: Any,
    phone_page_without_js: Page,
    world: World,
    locmem_sms: list[Any],  # noqa: F811
) -> None:
    # No axe here: it runs as script, and this browser runs none.
    page = phone_page_without_js
    resident = open_contact_page(page, live_server.url, world)
    page.get_by_role("textbox", name="携帯電話の番号").fill("08022223333")
    page.get_by_role("button", name="確認コードを送る").click()
    expect(page.get_by_role("heading", name="確認コードの入力")).to_be_visible()
    page.get_by_label("確認コード（6けた）").fill(last_code(locmem_sms))
    page.get_by_role("button", name="確認する").click()
    expect(page.get_by_role("status")).to_contain_text("携帯電話の番号を登録しました")
    page.get_by_text("受け取らない", exact=True).click()  # the label, anywhere in its box
    page.get_by_role("button", name="この設定にする").click()
    expect(page.get_by_role("status")).to_contain_text("SMSでのお知らせを止めました")
    resident.refresh_from_db()
    assert resident.phone == "+818022223333" and not resident.sms_consent
