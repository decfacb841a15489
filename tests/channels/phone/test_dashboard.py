"""The supervisors' dashboard: fill rates, seats left per channel, bookings by channel,
cancellations and no-shows, aggregated by the database."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from channels.phone import charts
from reservations.models import Site
from reservations.selectors import fill_rates
from reservations.services.booking import reservation_book, reservation_cancel
from tests.channels.phone.conftest import in_days
from tests.world import World

pytestmark = pytest.mark.django_db


def test_the_dashboard_sums_in_the_database(
    phone_world: World, supervisor: User, django_assert_max_num_queries: Any
) -> None:
    a = phone_world.slot(in_days(3), 10, capacity=4, reserved=2)
    b = phone_world.slot(in_days(3), 11, capacity=4)
    clinic = Site.objects.create(municipality=phone_world.municipality, name="油津クリニック")
    c = phone_world.slot(in_days(4), 10, capacity=2, site=clinic)
    reservation_book(ticket=phone_world.resident(), slot=a, requester=phone_world.web)
    reservation_book(ticket=phone_world.resident(name="二"), slot=a, requester=phone_world.phone())
    cancelled = reservation_book(
        ticket=phone_world.resident(name="三"), slot=b, requester=phone_world.web
    )
    reservation_cancel(reservation=cancelled, requester=phone_world.web)
    reservation_book(ticket=phone_world.resident(name="四"), slot=c, requester=phone_world.web)
    client = Client()
    client.force_login(supervisor)
    # More slots and bookings must not mean more queries: everything is aggregated. (Three of
    # them read the supervisor's scope: assignments, the single-city fallback, municipalities;
    # one sums the automated voice calls per day and municipality: channels/voice/panels.py.)
    with django_assert_max_num_queries(14):
        text = client.get("/phone/dashboard/").content.decode()
    # Seats: 10 in all, 3 taken → 7 free; the phone reserve of slot a has 1 left.
    assert '<td class="num">7</td>' in text
    assert '<td class="num">6</td>' in text and '<td class="num">1</td>' in text
    assert "油津クリニック" in text and "2/8" in text and "1/2" in text
    assert text.count("<svg") == 3
    assert operator_client_forbidden(phone_world)


def operator_client_forbidden(world: World) -> bool:
    client = Client()
    client.force_login(world.operator)
    return client.get("/phone/dashboard/").status_code == 403


def test_the_fill_chart_labels_days_and_names_every_site_in_full(phone_world: World) -> None:
    long_name = "日南市ファミリーコンサートホール別館"
    hall = Site.objects.create(municipality=phone_world.municipality, name=long_name)
    for offset in range(3):
        phone_world.slot(in_days(3 + offset), 10)
        phone_world.slot(in_days(3 + offset), 10, site=hall)
    for name, site in (("一", hall), ("二", phone_world.site)):
        slot = phone_world.slot(in_days(3), 10, site=site)
        reservation_book(
            ticket=phone_world.resident(name=name), slot=slot, requester=phone_world.web
        )
    fills = fill_rates(
        municipality=phone_world.municipality, date_from=in_days(0), date_to=in_days(10)
    )
    svg = str(charts.fill_rate_chart(fills))
    ticks = re.findall(r'<text class="tick" [^>]*text-anchor="middle">([^<]*)</text>', svg)
    assert ticks == [f"{in_days(3 + n):%m/%d}" for n in range(3)]  # dates only, never cut
    legend = re.findall(r'<text class="legend" [^>]*>([^<]*)</text>', svg)
    assert legend == ["日南市ファミリーコンサートホール別館", "日南市文化センター"]
    # One colour per site: a bar for each site's booked day, and its legend entry.
    assert svg.count('<rect class="s-site0" ') == 1 and svg.count('<rect class="s-site1" ') == 1
    assert 'class="s-site0 legend"' in svg and 'class="s-site1 legend"' in svg


def test_a_long_legend_wraps_onto_more_rows_and_the_chart_grows() -> None:
    names = [f"会場{n}（とても長い名前のセンター）" for n in range(8)]
    svg = str(
        charts.chart(
            title="t",
            labels=["a"],
            series=[
                charts.Series(name, [1.0], f"s-site{n}", "bar") for n, name in enumerate(names)
            ],
        )
    )
    height = int(re.search(r'viewBox="0 0 900 (\d+)"', svg)[1])  # type: ignore[index]
    rows = {y for y in re.findall(r'<text class="legend" x="[\d.]+" y="(\d+)"', svg)}
    assert len(rows) > 1 and height == charts.HEIGHT + charts.LEGEND_ROW * (len(rows) - 1)
    xs = [float(x) for x in re.findall(r'<text class="legend" x="([\d.]+)"', svg)]
    assert all(x < charts.WIDTH for x in xs)
