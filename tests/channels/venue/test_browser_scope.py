"""A venue tablet of 日南市 in a deployment that also serves 都城市, in headless Chromium at 360
and 1280 px: the list of today's venues names 日南市's only, and 都城市's day URL is the staff
404 page with a way back to the venue home; axe clean, no sideways scrolling. Screenshots go to
docs/screenshots/venue-scope-*.png when MADOGUCHI_SCREENSHOTS=1."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect

from reservations import roles
from reservations.models import Site, StaffAssignment
from reservations.services.booking import reservation_book
from tests.browser import staff_page
from tests.channels.venue.test_browser import check
from tests.vrs_export.cohort import venue_staff
from tests.world import World, jst

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("season_clock"),
]
TODAY = dt.date(2026, 11, 2)  # the season clock stands at 09:00 JST, ticking


@pytest.mark.parametrize("width", [360, 1280])
def test_a_venue_tablet_sees_only_its_city(
    live_server: Any, chromium: Browser, world: World, width: int
) -> None:
    clinic = Site.objects.create(municipality=world.municipality, name="油津クリニック")
    ours = [world.day(TODAY), world.day(TODAY, site=clinic)]
    neighbour = world.neighbour()
    theirs = neighbour.slot(TODAY, hour=10).operating_day
    reservation_book(
        ticket=neighbour.resident(name="都城 太郎"),
        slot=neighbour.slot(TODAY, hour=10),
        requester=neighbour.web,
        now=jst(2026, 11, 1),
    )
    desk = venue_staff("desk", roles.VENUE_STAFF)
    StaffAssignment.objects.create(user=desk, municipality=world.municipality)
    page = staff_page(chromium, live_server, desk, width)
    base = live_server.url

    page.goto(f"{base}/venue/")
    venues = page.locator("main ul").first.get_by_role("link")
    expect(venues).to_have_count(2)
    expect(venues.nth(0)).to_contain_text("日南市文化センター")
    expect(venues.nth(1)).to_contain_text("油津クリニック")
    expect(page.locator("main")).not_to_contain_text("都城")
    assert sorted(
        int(h.split("/")[-2])
        for h in venues.evaluate_all("links => links.map(a => a.getAttribute('href'))")
    ) == sorted(d.pk for d in ours)
    check(page, "scope", width)

    # Another city's day, typed or from an old bookmark: the 404 page, naming nothing of it.
    response = page.goto(f"{base}/venue/day/{theirs.pk}/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="ページが見つかりません")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("都城")
    check(page, "scope-404", width)
    page.get_by_role("link", name="会場の画面に戻る").click()
    expect(page).to_have_url(f"{base}/venue/")
