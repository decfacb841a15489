"""The call simulator in headless Chromium at 360 and 1280 px: a supervisor sees the call
ringing, answers it, hears the opening as text, presses 1 on the keypad and hears the end;
every page axe clean and reflowing on a phone. The key press is recorded on the call, and the
call shows on the resident's screen of the console.

Screenshots (MADOGUCHI_SCREENSHOTS=1): docs/screenshots/voice_simulator_360.png and
voice_simulator_1280.png, the call with its keypad."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import expect

from channels.phone.roles import ensure_phone_permissions
from channels.voice.flows import flow_register
from channels.voice.models import VoiceCall, VoiceKeyPress
from channels.voice.roles import ensure_voice_permissions
from channels.voice.services import CallRequest, call_place
from reservations import roles
from reservations.models import StaffAssignment
from tests.browser import staff_page
from tests.channels.phone.test_browser import overflowing
from tests.channels.voice.test_records import FLOW, EchoFlow
from tests.channels.web.test_browser import (
    SAVE_SCREENSHOTS,
    SCREENSHOTS,
    axe_violations,
    fits_the_width,
)
from tests.world import World

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def check_page(page: Page, name: str | None = None) -> None:
    """No serious axe violation; reflows at its width and at 200% zoom (half the width), the
    elements past the edge named on failure. The screenshot, when asked for, comes first."""
    if name and SAVE_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert axe_violations(page) == []
    assert fits_the_width(page), overflowing(page)
    viewport = page.viewport_size
    assert viewport is not None
    page.set_viewport_size({"width": viewport["width"] // 2, "height": viewport["height"] // 2})
    try:
        assert fits_the_width(page), ("at 200%", overflowing(page))
    finally:
        page.set_viewport_size(viewport)


@pytest.mark.parametrize("width", [360, 1280])
def test_a_supervisor_answers_and_presses_a_key_in_the_simulator(
    world: World, live_server: Any, chromium: Browser, settings: Any, width: int
) -> None:
    settings.VOICE_BACKEND = "console"
    settings.VOICE_SIMULATOR = True
    settings.VOICE_CALLBACK_BASE_URL = live_server.url
    flow_register(FLOW, EchoFlow())
    ensure_phone_permissions()
    ensure_voice_permissions()
    resident = world.resident(name="黒木 花子").resident
    resident.phone = "+81987230002"
    resident.save(update_fields=["phone"])
    call = call_place(
        request=CallRequest(
            reference="browser-1",
            flow=FLOW,
            to_e164=resident.phone,
            municipality_id=world.municipality.pk,
            resident_id=resident.pk,
        )
    )
    supervisor = User.objects.create_user("supervisor", password="x", is_staff=True)
    supervisor.groups.add(Group.objects.get(name=roles.CALL_SUPERVISORS))
    StaffAssignment.objects.create(user=supervisor, municipality=world.municipality)

    page = staff_page(chromium, live_server, User.objects.get(pk=supervisor.pk), width)
    page.goto(f"{live_server.url}/voice/simulator/")
    expect(page.get_by_role("heading", name="呼び出し中の電話")).to_be_visible()
    expect(page.get_by_text("+81987230002")).to_be_visible()
    check_page(page)

    page.get_by_role("button", name="応答する").click()
    # Said twice on the telephone (elderly listeners miss a call's first words): shown once.
    expect(page.get_by_text("確認は1を押してください。").first).to_be_visible()
    keypad = page.get_by_role("group", name="ダイヤルボタン")
    expect(keypad.get_by_role("button", name="1", exact=True)).to_be_visible()
    check_page(page, f"voice_simulator_{width}")

    keypad.get_by_role("button", name="1", exact=True).click()
    expect(page.get_by_text("ありがとうございました。")).to_be_visible()
    expect(page.get_by_text("通話が終わりました。")).to_be_visible()
    check_page(page)

    call.refresh_from_db()
    assert call.result == VoiceCall.Result.ANSWERED
    assert [(k.digits, k.action) for k in call.keys.all()] == [
        ("1", VoiceKeyPress.Action.CONFIRMED)
    ]
    # The console's resident screen lists the call with the key and what it did.
    page.goto(f"{live_server.url}/phone/r/{resident.pk}/")
    calls = page.locator("table.voice-calls")
    expect(calls).to_contain_text("1 → 予約を確認（予約番号 698-428-787）")
    check_page(page)
