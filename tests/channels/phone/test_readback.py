"""The read-back before a booking or a change: a time button shows what the operator reads to
the caller (who, day, time, site, vaccine, dose), 確定 focused, and books nothing until it is
posted; the series box appears only where a series is booked; a landline's SMS state."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from reservations.models import Campaign, Municipality, Reservation, Site
from reservations.services.booking import reservation_book
from tests.channels.phone.conftest import in_days
from tests.world import World

pytestmark = pytest.mark.django_db


def page(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


def test_a_time_button_opens_the_read_back_and_books_nothing(
    phone_world: World, operator_client: Client
) -> None:
    slot = phone_world.slot(in_days(5), 10, 30)
    ticket = phone_world.resident()
    resident_page = page(operator_client.get(f"/phone/r/{ticket.resident_id}/"))
    # The grid asks for the read-back (GET), it does not post a booking.
    grid = resident_page[resident_page.index('id="grid"') :]
    assert re.search(r'<form method="get" action="/phone/r/\d+/book/">', grid)
    assert f'name="slot" value="{slot.pk}"' in grid

    text = page(operator_client.get(f"/phone/r/{ticket.resident_id}/book/", {"slot": slot.pk}))
    day = in_days(5)
    assert f"日南 花子様、{day.year}年{day.month}月{day.day}日" in text
    assert "10:30から、日南市文化センターで" in text and "の1回目を予約します。" in text
    # The 確定 button has the focus: one Enter books.
    assert re.search(r'<button type="submit" class="primary big" autofocus>確定（Enter）', text)
    assert "data-escape" in text  # Escape (or the link) goes back to the grid
    assert not Reservation.objects.exists()

    posted = operator_client.post(
        f"/phone/r/{ticket.resident_id}/book/",
        {"slot": slot.pk, "key": re.search(r'name="key" value="(\w+)"', text)[1]},  # type: ignore[index]
        follow=True,
    )
    booked = Reservation.objects.get()
    spoken = f"{booked.code[:3]}-{booked.code[3:6]}-{booked.code[6:]}"
    assert "予約しました" in page(posted) and f"予約番号 {spoken}" in page(posted)


def test_the_series_box_is_shown_only_where_a_series_is_booked(
    series_world: World, operator_client: Client
) -> None:
    series_slot = series_world.slot(in_days(5), 10)
    ticket = series_world.resident()
    text = page(
        operator_client.get(f"/phone/r/{ticket.resident_id}/book/", {"slot": series_slot.pk})
    )
    assert "2回目もセットで予約する" in text and "2回目も、標準の間隔で" in text
    # The routine programme gives one dose a season: no box that would be ignored.
    routine_campaign = Campaign.objects.get(code="covid-routine-2026")
    routine = series_world.slot(in_days(6), 10, campaign=routine_campaign)
    text = page(operator_client.get(f"/phone/r/{ticket.resident_id}/book/", {"slot": routine.pk}))
    assert "予約します" in text and "セットで予約" not in text and 'name="series"' not in text
    resident_page = page(operator_client.get(f"/phone/r/{ticket.resident_id}/"))
    assert 'name="series"' not in resident_page


def test_a_bad_or_foreign_slot_goes_back_to_the_grid_with_a_reason(
    phone_world: World, operator_client: Client
) -> None:
    ticket = phone_world.resident()
    url = f"/phone/r/{ticket.resident_id}/book/"
    text = page(operator_client.get(url, {"slot": "abc", "from": "nonsense"}, follow=True))
    assert "予約枠を選んでください" in text
    elsewhere = Municipality.objects.create(code="452017", name="宮崎市")
    site = Site.objects.create(municipality=elsewhere, name="宮崎市民会館")
    foreign = phone_world.slot(in_days(5), 10, site=site)
    response = operator_client.get(url, {"slot": foreign.pk, "from": in_days(3).isoformat()})
    assert response.status_code == 302
    assert response["Location"] == f"/phone/r/{ticket.resident_id}/?from={in_days(3)}#grid"
    text = page(operator_client.get(response["Location"]))
    assert "選んだ枠が見つかりません" in text
    assert not Reservation.objects.exists()


def test_a_change_is_read_back_before_it_is_made(
    phone_world: World, operator_client: Client
) -> None:
    first, later = phone_world.slot(in_days(5), 10), phone_world.slot(in_days(6), 11)
    ticket = phone_world.resident()
    booked = reservation_book(ticket=ticket, slot=first, requester=phone_world.phone())
    url = f"/phone/r/{ticket.resident_id}/change/{booked.pk}/"
    text = page(operator_client.get(url, {"slot": later.pk}))
    spoken = f"{booked.code[:3]}-{booked.code[3:6]}-{booked.code[6:]}"
    assert f"日南 花子様の予約番号 {spoken}" in text
    assert (
        "10:00 日南市文化センター）を、" in text and "11:00 日南市文化センター に変更します" in text
    )
    assert "確定（Enter）" in text
    booked.refresh_from_db()
    assert booked.slot == first  # nothing changed yet
    text = page(operator_client.post(url, {"slot": later.pk}, follow=True))
    assert "予約を変更しました" in text
    booked.refresh_from_db()
    assert booked.slot == later


def test_a_landline_cannot_receive_sms(phone_world: World, operator_client: Client) -> None:
    ticket = phone_world.resident()
    resident = ticket.resident
    resident.phone, resident.sms_consent = "+81987231111", True  # 0987-23-1111, Nichinan
    resident.save()
    text = page(operator_client.get(f"/phone/r/{resident.pk}/"))
    assert "受信不可（固定電話）" in text and "受信可<" not in text
    resident.phone = "+819012345678"
    resident.save()
    assert "SMS: 受信可" in page(operator_client.get(f"/phone/r/{resident.pk}/"))
