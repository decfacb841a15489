"""The day's booking list, printable (A4) and as CSV, for today and tomorrow; every read of it
is audited per resident."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from channels.phone.models import RecordAccess
from reservations.identifiers import format_reservation_code
from reservations.models import OperatingDay, Reservation, Resident
from reservations.services.booking import reservation_book, reservation_check_in
from tests.vrs_export.cohort import venue_staff
from tests.world import World, jst

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("season_clock")]

TODAY = dt.date(2026, 11, 2)  # the season clock's day


def _book(world: World, on: dt.date, hour: int, name: str, kana: str) -> Reservation:
    ticket = world.resident(name=name)
    Resident.objects.filter(pk=ticket.resident_id).update(name_kana=kana)
    return reservation_book(
        ticket=ticket, slot=world.slot(on, hour=hour), requester=world.web, now=jst(2026, 11, 1)
    )


@pytest.fixture
def desk(client: Client) -> Client:
    client.force_login(venue_staff("desk"))
    return client


@pytest.fixture
def bookings(world: World) -> list[Reservation]:
    return [
        _book(world, TODAY, 10, "日南 花子", "ニチナン ハナコ"),
        _book(world, TODAY, 8, "油津 太郎", "アブラツ タロウ"),
        # A name that a spreadsheet would run as a formula.
        _book(world, TODAY, 11, "=HYPERLINK(1)", "イコール"),
    ]


def _day(booking: Reservation) -> OperatingDay:
    return booking.slot.operating_day


def test_the_printable_list_has_kana_time_dose_and_code_in_time_order(
    desk: Client, bookings: list[Reservation]
) -> None:
    page = desk.get(reverse("venue:day_list", args=[_day(bookings[0]).pk])).content.decode()
    body = page.split("<tbody>")[1]
    assert body.index("アブラツ タロウ") < body.index("ニチナン ハナコ") < body.index("イコール")
    assert format_reservation_code(bookings[1].code) in body and ' class="time">08:00</td>' in body
    assert 'class="num">1</td>' in body
    # The page header says where and when, on every printed page (the table head repeats).
    head = page.split("<thead>")[1].split("</thead>")[0]
    assert "日南市文化センター" in head and "2026年11月2日" in head and "予約 3 件" in head
    assert "venue/day_list.css" in page and "venue/venue.css" not in page


def test_reading_the_list_is_audited_for_everyone_on_it(
    desk: Client, bookings: list[Reservation]
) -> None:
    desk.get(reverse("venue:day_list", args=[_day(bookings[0]).pk]))
    desk.get(reverse("venue:day_list_csv", args=[_day(bookings[0]).pk]))
    rows = RecordAccess.objects.filter(action=RecordAccess.Action.VIEWED)
    assert sorted(rows.values_list("resident_id", flat=True)) == sorted(
        2 * [b.resident_id for b in bookings]
    )
    assert {r.detail["how"] for r in rows} == {"print", "csv"}
    assert {r.user.get_username() for r in rows} == {"desk"}
    first = rows.filter(resident_id=bookings[0].resident_id, detail__how="csv").get()
    assert first.detail == {
        "list": "venue_day",
        "how": "csv",
        "day": "2026-11-02",
        "site": "日南市文化センター",
        "code": bookings[0].code,
    }


def test_the_csv_is_excel_ready_and_spreadsheet_safe(
    desk: Client, world: World, bookings: list[Reservation]
) -> None:
    reservation_check_in(
        reservation=bookings[1], requester=world.phone(), now=jst(2026, 11, 2, 7, 55)
    )
    response = desk.get(reverse("venue:day_list_csv", args=[_day(bookings[0]).pk]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="venue-20261102-')
    raw = response.content
    assert raw.startswith("\ufeff".encode())
    text = raw.decode("utf-8-sig")
    lines = text.split("\r\n")
    assert lines[-1] == "" and all("\n" not in line for line in lines)
    assert lines[0] == "接種日,時刻,予約番号,氏名,フリガナ,回,ワクチン,会場,状態,受付"
    code = format_reservation_code(bookings[1].code)
    assert lines[1] == (
        f"2026-11-02,08:00,{code},油津 太郎,アブラツ タロウ,1,"
        "コミナティ筋注（12歳以上用）,日南市文化センター,予約確定,07:55"
    )
    assert "'=HYPERLINK(1)" in lines[3]
    assert len(lines) == 5


def test_tomorrows_list_is_offered_from_today_and_other_days_are_refused(
    desk: Client, world: World, bookings: list[Reservation]
) -> None:
    tomorrow = _book(world, TODAY + dt.timedelta(days=1), 10, "明日 来子", "アシタ キコ")
    page = desk.get(reverse("venue:day", args=[_day(bookings[0]).pk])).content.decode()
    assert reverse("venue:day_list", args=[_day(tomorrow).pk]) in page
    assert reverse("venue:day_list_csv", args=[_day(tomorrow).pk]) in page
    listed = desk.get(reverse("venue:day_list", args=[_day(tomorrow).pk])).content.decode()
    assert "アシタ キコ" in listed and "日南 花子" not in listed

    later = _book(world, TODAY + dt.timedelta(days=2), 10, "明後日 来子", "アサッテ")
    for name in ("venue:day_list", "venue:day_list_csv"):
        response = desk.get(reverse(name, args=[_day(later).pk]), follow=True)
        assert "名簿は本日と翌日の分だけ" in response.content.decode()
    # No list was read (the day's page it leads back to is a read of its own).
    assert not RecordAccess.objects.filter(
        resident_id=later.resident_id, detail__list="venue_day"
    ).exists()


def test_the_lists_are_for_venue_staff_only(
    client: Client, world: World, bookings: list[Reservation]
) -> None:
    client.force_login(world.operator)
    for name in ("venue:day_list", "venue:day_list_csv"):
        assert client.get(reverse(name, args=[_day(bookings[0]).pk])).status_code == 403
    assert not RecordAccess.objects.exists()


def test_the_venue_home_offers_tomorrows_lists(desk: Client, world: World) -> None:
    # No venue works today: the home page stays, and offers tomorrow's lists to prepare.
    tomorrow = _book(world, TODAY + dt.timedelta(days=1), 10, "明日 来子", "アシタ キコ")
    page = desk.get(reverse("venue:home")).content.decode()
    assert "本日稼働する会場はありません" in page
    assert reverse("venue:day_list", args=[_day(tomorrow).pk]) in page
    assert reverse("venue:day_list_csv", args=[_day(tomorrow).pk]) in page
