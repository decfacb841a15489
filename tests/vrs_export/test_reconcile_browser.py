"""The reconciliation page in headless Chromium at 1280 and 360 px: choose a file, read the
preview, apply with a reason; axe clean, and the page reflows on a phone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect

from reservations import roles
from reservations.models import Reservation
from reservations.services.booking import reservation_book
from tests.browser import staff_page
from tests.channels.web.test_browser import (
    SAVE_SCREENSHOTS,
    SCREENSHOTS,
    axe_violations,
    fits_the_width,
)
from tests.vrs_export.cohort import venue_staff
from tests.vrs_export.test_reconcile import EMPTY, block, ledger_bytes
from tests.world import World, jst

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NOW = jst(2026, 11, 2, 9)


def signed_in_page(chromium: Browser, live_server: Any, width: int) -> Page:
    return staff_page(chromium, live_server, venue_staff("exporter", roles.EXPORTERS), width)


def check(page: Page, name: str) -> None:
    assert axe_violations(page) == []
    assert fits_the_width(page)
    if SAVE_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"reconcile-{name}.png"), full_page=True)


@pytest.mark.parametrize("width", [1280, 360])
def test_an_exporter_previews_and_applies_a_vrs_file(
    world: World, live_server: Any, chromium: Browser, tmp_path: Path, width: int
) -> None:
    ticket = world.resident()
    booked = reservation_book(
        ticket=ticket, slot=world.slot(dt.date(2026, 11, 20)), requester=world.web, now=NOW
    )
    file = tmp_path / "vrs_ledger_202611.csv"
    file.write_bytes(
        ledger_bytes([["", *block("20261025", ticket.number), *EMPTY]], encoding="cp932")
    )
    page = signed_in_page(chromium, live_server, width)
    page.goto(f"{live_server.url}/exports/reconcile/")
    check(page, f"{width}-start")

    page.get_by_label("VRSの予防接種台帳向け出力、または予防接種台帳のCSVファイル").set_input_files(
        str(file)
    )
    page.get_by_role("button", name="変更内容を確認する（まだ反映しません）").click()
    expect(page.get_by_role("heading", name="確認のみ：まだ何も変わっていません")).to_be_visible()
    expect(page.get_by_text(booked.code)).to_be_visible()
    check(page, f"{width}-preview")
    booked.refresh_from_db()
    assert booked.status == Reservation.Status.CONFIRMED

    page.get_by_label("反映の理由").fill("11月分のVRS台帳")
    page.get_by_role("button", name="理由を記録して反映する").click()
    expect(page.get_by_role("heading", name="反映しました")).to_be_visible()
    check(page, f"{width}-applied")
    booked.refresh_from_db()
    assert booked.status == Reservation.Status.CANCELLED
