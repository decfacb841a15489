"""How late one can book, said the same way everywhere: the web offers a day whose change
deadline has passed only with a notice on the times and on the confirmation, and the console's
「予約できます（…以降の枠）」 names the day the web offers first."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from channels.phone.selectors import booking_outlook
from reservations.models import Reservation
from tests.channels.web.conftest import Clock, sign_in
from tests.world import World, jst

pytestmark = pytest.mark.django_db

D = dt.date
NO_ONLINE_CHANGE = "予約後にWebで変更・キャンセルできません"


@pytest.fixture
def morning(world: World, clock: Clock) -> World:
    """12/7 at 10:00: the day's 9:00 slot has started, its 14:00 slot is still bookable (the
    window closes on the day itself) but changes closed yesterday; 12/8 is an ordinary day."""
    clock.current = jst(2026, 12, 7, 10, 0)
    for hour in (9, 14):
        world.slot(D(2026, 12, 7), hour, closes=0, change_closes=1)
    world.slot(D(2026, 12, 9), 10, closes=0, change_closes=1)
    return world


def test_the_console_and_the_web_name_the_same_first_day(
    client: Client, morning: World, clock: Clock
) -> None:
    ticket = morning.resident()
    [outlook] = booking_outlook(resident=ticket.resident, now=clock.current)
    assert outlook.allowed and outlook.first_date == D(2026, 12, 7)
    page = client.get(f"{sign_in(client, ticket)}book/").content.decode()
    first_listed = page.index("2026年12月7日")
    assert first_listed < page.index("2026年12月9日")


def test_the_console_moves_on_once_the_days_last_slot_has_started(
    morning: World, clock: Clock
) -> None:
    clock.current = jst(2026, 12, 7, 14, 0)
    [outlook] = booking_outlook(resident=morning.resident().resident, now=clock.current)
    assert outlook.first_date == D(2026, 12, 9)


def test_a_day_past_its_change_deadline_is_offered_with_a_notice(
    client: Client, morning: World
) -> None:
    url = sign_in(client, morning.resident())
    days = client.get(f"{url}book/").content.decode()
    # The day list marks the day, the other day is not marked.
    assert days.count("予約後にWebで変更・キャンセルはできません") == 1
    option = f"{morning.campaign.pk}-{morning.vaccine.pk}"
    times = client.get(
        f"{url}book/?option={option}&site={morning.site.pk}&date=2026-12-07"
    ).content.decode()
    assert NO_ONLINE_CHANGE in times and "0987-00-0000" in times
    # The started 9:00 slot is not offered at all.
    assert "09:00〜09:15" not in times and "14:00〜14:15" in times
    ordinary = client.get(
        f"{url}book/?option={option}&site={morning.site.pk}&date=2026-12-09"
    ).content.decode()
    assert NO_ONLINE_CHANGE not in ordinary and "10:00〜10:15" in ordinary

    slot = morning.slot(D(2026, 12, 7), 14)
    held = client.post(
        f"{url}book/",
        {"option": option, "site": morning.site.pk, "date": "2026-12-07", "slot": slot.pk},
    )
    confirm = client.get(held["Location"]).content.decode()
    assert NO_ONLINE_CHANGE in confirm and "予約を確定する" in confirm
    client.post(held["Location"], {"action": "confirm"})
    booked = Reservation.objects.get()
    assert booked.status == Reservation.Status.CONFIRMED
    # Afterwards the booking's page offers no change or cancel buttons, only the call centre.
    page = client.get(f"{url}r/{booked.code}/").content.decode()
    assert "日時を変更する" not in page and "0987-00-0000" in page


def test_an_ordinary_day_has_no_notice_on_the_confirmation(client: Client, morning: World) -> None:
    url = sign_in(client, morning.resident())
    option = f"{morning.campaign.pk}-{morning.vaccine.pk}"
    slot = morning.slot(D(2026, 12, 9), 10)
    held = client.post(
        f"{url}book/",
        {"option": option, "site": morning.site.pk, "date": "2026-12-09", "slot": slot.pk},
    )
    confirm = client.get(held["Location"]).content.decode()
    assert "予約を確定する" in confirm and NO_ONLINE_CHANGE not in confirm
