"""How late one can book, said in LINE as on the web (selectors.slot_timing): a time whose
change deadline has passed is offered only with the notice that it cannot then be changed or
cancelled online, on the time list and again on the hold and on a change's question."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from reservations.models import Reservation
from tests.channels.line.conftest import Chat, texts
from tests.channels.line.test_chat import _slot_data, link
from tests.world import World, jst, local_date

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("season_clock")]

NO_ONLINE_CHANGE = "予約後にLINEやWebで変更・キャンセルできません"


@pytest.fixture
def now() -> dt.datetime:
    return jst(2026, 12, 7, 10, 0)


@pytest.fixture
def late_and_ordinary(world: World, now: dt.datetime) -> World:
    """Today's 14:00 is still bookable (the window closes on the day) but its changes closed
    yesterday; the day after tomorrow is an ordinary day."""
    today = local_date(now)
    world.slot(today, 14, closes=0, change_closes=1)
    world.slot(today + dt.timedelta(days=2), 10, closes=0, change_closes=1)
    return world


def test_a_time_past_its_change_deadline_is_offered_with_the_notice(
    chat_factory: Callable[[str], Chat], late_and_ordinary: World, now: dt.datetime
) -> None:
    chat = chat_factory("U5100")
    link(chat, late_and_ordinary.resident())
    dates = chat.tap(chat.say("予約する"), "日南市文化センター")
    today, later = local_date(now), local_date(now) + dt.timedelta(days=2)

    times = chat.tap(dates, f"{today.month}月{today.day}日")
    assert NO_ONLINE_CHANGE in texts(times) and "0987-00-0000" in texts(times)
    held = chat.postback(_slot_data(times, "14:00"))
    assert NO_ONLINE_CHANGE in texts(held)
    chat.tap(held, "やめる")

    dates = chat.tap(chat.say("予約する"), "日南市文化センター")
    ordinary = chat.tap(dates, f"{later.month}月{later.day}日")
    assert NO_ONLINE_CHANGE not in texts(ordinary)
    held = chat.postback(_slot_data(ordinary, "10:00"))
    assert NO_ONLINE_CHANGE not in texts(held)
    chat.tap(held, "予約を確定する")
    booked = Reservation.objects.get(status=Reservation.Status.CONFIRMED)

    # Moving the ordinary booking to the late time asks with the notice too.
    listed = chat.say("予約確認")
    dates = chat.tap(chat.tap(listed, "日時を変更"), "日南市文化センター")
    times = chat.tap(dates, f"{today.month}月{today.day}日")
    question = chat.postback(_slot_data(times, "14:00"))
    assert "変更しますか" in texts(question) and NO_ONLINE_CHANGE in texts(question)
    booked.refresh_from_db()
    assert booked.slot.starts_at == jst(later.year, later.month, later.day, 10)
