"""A whole call in headless Chromium: search → resident → time → read-back → Enter → booked →
log the outcome, at a desktop's width and a phone's; the staff 403 page and the audit page.

The operator's effort is counted as interactions (each key press and each click); the number
is recorded in docs/benchmarks.md. Every page is checked with axe-core and for reflow (the
resident pages' check_page). Screenshots of the main screens go to docs/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice  # type: ignore[import-untyped]
from playwright.sync_api import expect

from channels.phone.models import Call, CallVolumeEvent, RecordAccess
from reservations import roles
from reservations.models import Reservation, Site
from reservations.services.booking import reservation_book
from tests.browser import staff_page
from tests.channels.phone.conftest import in_days, staff_user
from tests.channels.phone.test_second_factor import code_for
from tests.channels.web.test_browser import axe_violations, fits_the_width
from tests.world import World

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
# Only refresh the committed screenshots when asked: a normal test run writes nothing to docs/.
SAVE_SCREENSHOTS = os.environ.get("MADOGUCHI_SCREENSHOTS") == "1"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}
PASSWORD = "correct horse battery staple"


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


def shot(page: Page, name: str, *, full_page: bool = True, prefix: str = "phone") -> None:
    if SAVE_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{prefix}-{name}.png"), full_page=full_page)


def overflowing(page: Page) -> list[str]:
    """The innermost elements reaching past the window's right edge (for a failure message)."""
    found: list[str] = page.evaluate(
        """() => {
            const past = e => e.getBoundingClientRect().right > window.innerWidth + 1;
            return [...document.querySelectorAll('body *')]
                .filter(e => past(e) && ![...e.children].some(past))
                .slice(0, 8)
                .map(e => e.outerHTML.slice(0, 60));
        }"""
    )
    return found


def check(page: Page, name: str | None = None, *, prefix: str = "phone") -> None:
    """No serious axe violation; the page reflows at its width and at 200% zoom (half the
    width in CSS pixels). The screenshot, when asked for, is taken first: to look at a failure."""
    if name:
        shot(page, name, prefix=prefix)
    assert axe_violations(page) == []
    assert fits_the_width(page), overflowing(page)
    viewport = page.viewport_size
    assert viewport is not None
    page.set_viewport_size({"width": viewport["width"] // 2, "height": viewport["height"] // 2})
    try:
        assert fits_the_width(page), overflowing(page)
    finally:
        page.set_viewport_size(viewport)


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/phone/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


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
    # The read-back: what the operator reads to the caller, 確定 focused; nothing booked yet.
    page.wait_for_selector("#readback")
    assert "日南 花子様" in page.inner_text("#readback")
    expect(page.get_by_role("button", name="確定（Enter）")).to_be_focused()
    assert not Reservation.objects.exists()
    shot(page, "readback")
    op.press("Enter")
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
    # The ticket number, Enter, the time, Enter on the read-back, the outcome.
    assert op.interactions <= len(ticket.number) + 4
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
    page.click("text=確定（Enter）")
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
    # A second site with a long name: the fill chart names it in full in its legend.
    hall = Site.objects.create(
        municipality=phone_world.municipality, name="日南市ファミリーコンサートホール"
    )
    for offset in (3, 4):
        phone_world.slot(in_days(offset), 10, capacity=4, site=hall)
    reservation_book(
        ticket=phone_world.resident(name="三"),
        slot=phone_world.slot(in_days(4), 10, site=hall),
        requester=phone_world.web,
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
    expect(
        page.locator("svg.chart text.legend", has_text="日南市ファミリーコンサートホール")
    ).to_have_count(1)
    check(page)
    shot(page, "dashboard")
    context.close()


def test_a_forecast_without_history_says_so(
    phone_world: World, live_server: Any, chromium: Browser, manager: Any
) -> None:
    manager.set_password(PASSWORD)
    manager.save()
    context = chromium.new_context(viewport=DESKTOP, locale="ja-JP", timezone_id="Asia/Tokyo")  # type: ignore[arg-type]
    page = context.new_page()
    sign_in(page, live_server.url, "manager")
    page.goto(f"{live_server.url}/phone/forecast/")
    expect(page.locator("#no-history")).to_contain_text("通話記録がまだないため")
    expect(page.get_by_label("平均処理時間（秒）")).to_have_value("900")
    check(page)
    shot(page, "forecast-no-history", full_page=False)
    context.close()


@pytest.mark.parametrize("width", ["1280", "360"])
def test_every_step_of_a_call_is_accessible_at_desktop_and_phone_width(
    series_world: World, live_server: Any, chromium: Browser, width: str
) -> None:
    """search → resident → time → read-back (Escape goes back) → time → Enter → booked."""
    series_world.operator.set_password(PASSWORD)
    series_world.operator.save()
    first = series_world.slot(in_days(5), 10, capacity=5, reserved=2)
    series_world.slot(in_days(5), 10, 30, capacity=5, reserved=2)
    series_world.slot(in_days(26), 10, capacity=5, reserved=2)
    ticket = series_world.resident()
    viewport = DESKTOP if width == "1280" else PHONE
    # The whole-call test above keeps the desktop's screenshots; these are the phone's.
    shots = width == "360"
    context = chromium.new_context(viewport=viewport, locale="ja-JP", timezone_id="Asia/Tokyo")  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, live_server.url, "operator")
    expect(page.locator("#q")).to_be_focused()
    check(page, "360-1-search" if shots else None)
    page.keyboard.type(ticket.number)
    page.keyboard.press("Enter")
    expect(page.locator("h1#who")).to_contain_text("日南 花子")
    check(page, "360-2-resident" if shots else None)

    page.click(f"button.slot[value='{first.pk}']")
    expect(page.get_by_role("button", name="確定（Enter）")).to_be_focused()
    expect(page.locator("#readback")).to_contain_text("2回目も、標準の間隔で")
    check(page, "360-3-readback" if shots else None)
    # Escape: back to the grid, nothing booked.
    page.keyboard.press("Escape")
    expect(page.locator("h1#who")).to_contain_text("日南 花子")
    assert not Reservation.objects.exists()

    page.click(f"button.slot[value='{first.pk}']")
    expect(page.get_by_role("button", name="確定（Enter）")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#flash .msg.success")).to_contain_text("予約しました")
    check(page, "360-4-booked" if shots else None)
    booked = Reservation.objects.get(dose_number=1)
    assert booked.next_dose is not None
    context.close()


@pytest.mark.parametrize("width", ["1280", "360"])
def test_an_operator_refused_a_page_reads_why_and_gets_back(
    phone_world: World, live_server: Any, chromium: Browser, width: str
) -> None:
    phone_world.operator.set_password(PASSWORD)
    phone_world.operator.save()
    viewport = DESKTOP if width == "1280" else PHONE
    context = chromium.new_context(viewport=viewport, locale="ja-JP", timezone_id="Asia/Tokyo")  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, live_server.url, "operator")
    response = page.goto(f"{live_server.url}/phone/dashboard/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="このページを開く権限がありません")).to_be_visible()
    check(page, f"403-{width}", prefix="staff")
    page.get_by_role("link", name="電話受付の画面に戻る").click()
    expect(page.locator("#q")).to_be_visible()
    # Signing out from the shared layout ends the session and shows the sign-in page.
    page.get_by_role("button", name="ログアウト").click()
    expect(page.get_by_role("heading", name="職員ログイン")).to_be_visible()
    context.close()


@pytest.mark.parametrize("width", ["1280", "360"])
def test_the_exports_page_has_the_staff_layout(
    phone_world: World, live_server: Any, chromium: Browser, width: str
) -> None:
    clerk = staff_user("clerk", roles.EXPORTERS)
    clerk.set_password(PASSWORD)
    clerk.save()
    # Exporters give an authenticator code after the password (STAFF_OTP_REQUIRED=roles).
    device = TOTPDevice.objects.create(user=clerk, name="認証アプリ", confirmed=True)
    viewport = DESKTOP if width == "1280" else PHONE
    context = chromium.new_context(viewport=viewport, locale="ja-JP", timezone_id="Asia/Tokyo")  # type: ignore[arg-type]
    page = context.new_page()
    sign_in(page, live_server.url, "clerk")
    expect(page.get_by_role("heading", name="確認コードの入力")).to_be_visible()
    page.fill("#id_code", code_for(device))
    page.get_by_role("button", name="確認").click()
    expect(page).to_have_url(f"{live_server.url}/exports/")
    nav = page.get_by_role("navigation", name="業務の切り替え")
    expect(nav.get_by_role("link", name="出力・突合")).to_have_attribute("aria-current", "page")
    expect(page.get_by_text("ログイン中: clerk")).to_be_visible()
    assert axe_violations(page) == []
    shot(page, f"exports-{width}", prefix="staff")
    context.close()


@pytest.mark.parametrize("width", ["1280", "360"])
def test_the_audit_page_reads_in_words_and_filters(
    phone_world: World, live_server: Any, chromium: Browser, supervisor: Any, width: str
) -> None:
    supervisor.set_password(PASSWORD)
    supervisor.save()
    slot, later = phone_world.slot(in_days(5), 10), phone_world.slot(in_days(6), 11)
    ticket = phone_world.resident()
    other = phone_world.resident(name="日南 次郎")
    booked = reservation_book(ticket=ticket, slot=slot, requester=phone_world.phone())
    for row in (
        {"action": "viewed", "detail": {}, "resident": other.resident},
        {"action": "booked", "detail": {"code": booked.code, "slot": slot.pk, "next_dose": None}},
        {
            "action": "changed",
            "detail": {"code": booked.code, "from_slot": slot.pk, "to_slot": later.pk},
        },
        {"action": "contact", "detail": {"fields": ["phone", "sms_consent"]}},
    ):
        RecordAccess.objects.create(
            user=phone_world.operator,
            resident=row.get("resident", ticket.resident),
            action=row["action"],
            detail=row["detail"],
            at=timezone.now(),
        )
    viewport = DESKTOP if width == "1280" else PHONE
    context = chromium.new_context(viewport=viewport, locale="ja-JP", timezone_id="Asia/Tokyo")  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, live_server.url, "supervisor")
    page.goto(f"{live_server.url}/phone/audit/")
    code = f"{booked.code[:3]}-{booked.code[3:6]}-{booked.code[6:]}"
    expect(page.get_by_text(f"予約番号 {code}").first).to_be_visible()
    expect(page.locator("td.detail", has_text="変更した項目：電話番号、SMSの受信")).to_be_visible()
    check(page, f"audit-{width}")
    page.get_by_label("住民の接種券番号").fill(ticket.number)
    page.get_by_label("操作").select_option("booked")
    page.get_by_role("button", name="絞り込み").click()
    expect(page.locator("td.detail")).to_have_count(1)
    context.close()


@pytest.mark.parametrize("width", ["1280", "360"])
def test_a_supervisor_of_one_city_reads_its_whole_trail_and_nothing_else(
    phone_world: World, live_server: Any, chromium: Browser, supervisor: Any, width: str
) -> None:
    """Two cities in one deployment: the venue's, the API's and an export's reads of 日南市's
    residents are in its supervisor's trail in words, filtered by 経路; 都城市's are not."""
    from reservations import audit
    from reservations.models import StaffAssignment

    StaffAssignment.objects.create(user=supervisor, municipality=phone_world.municipality)
    ours = phone_world.resident(name="日南 花子")
    theirs = phone_world.neighbour().resident(name="都城 太郎")
    now = timezone.now()
    for channel, detail in (
        (audit.VENUE, {"page": "venue_walk_in", "day": "2026-11-04", "site": "日南市文化センター"}),
        (audit.API, {"api": "reservation"}),
        (audit.EXPORTS, {"export": "ledger", "file": "vrs_ledger_452041.csv"}),
    ):
        audit.personal_data_shown(
            user=phone_world.operator,
            channel=channel,
            reads=[
                audit.ReadOf(ours.resident_id, phone_world.municipality.pk),
                audit.ReadOf(theirs.resident_id, theirs.resident.municipality_id),
            ],
            detail=detail,
            now=now,
        )
    page = staff_page(chromium, live_server, supervisor, int(width))
    page.goto(f"{live_server.url}/phone/audit/")
    expect(page.get_by_text("会場の当日来場の画面 2026-11-04 日南市文化センター")).to_be_visible()
    expect(page.get_by_text("APIで予約を参照")).to_be_visible()
    expect(page.get_by_text("ファイル出力（ledger）vrs_ledger_452041.csv")).to_be_visible()
    assert page.get_by_text("都城 太郎").count() == 0
    check(page, f"audit-two-cities-{width}")
    page.get_by_label("経路").select_option("venue")
    page.get_by_role("button", name="絞り込み").click()
    expect(page.locator("td.detail")).to_have_count(1)
    expect(page.locator("td.detail")).to_contain_text("会場の当日来場の画面")
    page.context.close()
