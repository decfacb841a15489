"""No-shows at the venue: one person at a time with an undo while the day is open, and the
end-of-day action that first lists who it will mark."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from channels.notify.outbox import NOTIFIABLE_KINDS
from reservations.exceptions import InvalidStateTransition
from reservations.models import Reservation, ReservationEvent
from reservations.selectors import no_show_candidates
from reservations.services.booking import (
    operating_day_mark_no_shows,
    reservation_book,
    reservation_check_in,
    reservation_mark_no_show,
    reservation_undo_no_show,
)
from tests.vrs_export.cohort import venue_staff
from tests.world import World, jst

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("season_clock")]

# The season clock stands at 2026-11-02 09:00 JST.
TODAY = dt.date(2026, 11, 2)


def _book(world: World, hour: int, *, name: str = "日南 花子") -> Reservation:
    slot = world.slot(TODAY, hour=hour)
    return reservation_book(
        ticket=world.resident(name=name), slot=slot, requester=world.web, now=jst(2026, 11, 1)
    )


@pytest.fixture
def desk(client: Client) -> Client:
    client.force_login(venue_staff("desk"))
    return client


def _day_page(desk: Client, booking: Reservation) -> str:
    return desk.get(reverse("venue:day", args=[booking.slot.operating_day_id])).content.decode()


def test_a_late_booking_gets_its_own_no_show_button_and_an_undo(desk: Client, world: World) -> None:
    late = _book(world, 8)
    later = _book(world, 11, name="日南 次郎")  # not yet due: no button
    page = _day_page(desk, late)
    mark = reverse("venue:mark_no_show", args=[late.slot.operating_day_id, late.code])
    assert f'action="{mark}"' in page
    assert reverse("venue:mark_no_show", args=[later.slot.operating_day_id, later.code]) not in page

    response = desk.post(mark)
    assert response["Location"].endswith(f"#r-{late.code}")
    late.refresh_from_db()
    assert late.status == Reservation.Status.NO_SHOW
    page = _day_page(desk, late)
    undo = reverse("venue:undo_no_show", args=[late.slot.operating_day_id, late.code])
    assert "未来院（来場なし）にしました" in page and f'action="{undo}"' in page

    desk.post(undo)
    late.refresh_from_db()
    assert late.status == Reservation.Status.CONFIRMED
    kinds = list(late.events.values_list("kind", flat=True))
    assert kinds[-2:] == [ReservationEvent.Kind.NO_SHOW, ReservationEvent.Kind.NO_SHOW_UNDONE]
    assert "予約に戻しました" in _day_page(desk, late)


def test_undo_is_not_a_notification(world: World) -> None:
    assert ReservationEvent.Kind.NO_SHOW_UNDONE not in NOTIFIABLE_KINDS


def test_undo_is_only_possible_on_the_day(world: World) -> None:
    booking = _book(world, 8)
    staff = world.phone()
    reservation_mark_no_show(reservation=booking, requester=staff, now=jst(2026, 11, 2, 9))
    with pytest.raises(InvalidStateTransition, match="当日中"):
        reservation_undo_no_show(reservation=booking, requester=staff, now=jst(2026, 11, 3, 8))
    booking.refresh_from_db()
    assert booking.status == Reservation.Status.NO_SHOW
    # Undoing what is already confirmed changes nothing and writes nothing.
    other = _book(world, 8, name="日南 次郎")
    reservation_undo_no_show(reservation=other, requester=staff, now=jst(2026, 11, 2, 9))
    assert not other.events.filter(kind=ReservationEvent.Kind.NO_SHOW_UNDONE).exists()


def test_a_checked_in_person_is_never_a_no_show(world: World) -> None:
    booking = _book(world, 8)
    staff = world.phone()
    reservation_check_in(reservation=booking, requester=staff, now=jst(2026, 11, 2, 8, 50))
    with pytest.raises(InvalidStateTransition, match="受付済み"):
        reservation_mark_no_show(reservation=booking, requester=staff, now=jst(2026, 11, 2, 9))
    day = booking.slot.operating_day
    assert not no_show_candidates(operating_day=day, now=jst(2026, 11, 2, 23)).exists()


def test_the_end_of_day_preview_lists_exactly_who_will_be_marked(
    desk: Client, world: World
) -> None:
    due = _book(world, 8, name="遅刻 一郎")
    came = _book(world, 8, name="受付 済子")
    not_yet = _book(world, 11, name="午後 三郎")
    reservation_check_in(reservation=came, requester=world.phone())
    url = reverse("venue:close_day", args=[due.slot.operating_day_id])
    page = desk.get(url).content.decode()
    listed = page.split("<tbody>")[1].split("</tbody>")[0]
    assert "遅刻 一郎" in listed and "受付 済子" not in listed and "午後 三郎" not in listed
    assert f'name="reservation" value="{due.pk}"' in page
    assert "1 件を来場なしにする" in page

    desk.post(url, {"reservation": [due.pk]})
    statuses = dict(Reservation.objects.values_list("pk", "status"))
    assert statuses == {
        due.pk: Reservation.Status.NO_SHOW,
        came.pk: Reservation.Status.CONFIRMED,
        not_yet.pk: Reservation.Status.CONFIRMED,
    }


def test_a_list_that_changed_since_the_preview_is_shown_again(desk: Client, world: World) -> None:
    due = _book(world, 8)
    url = reverse("venue:close_day", args=[due.slot.operating_day_id])
    desk.get(url)
    reservation_check_in(reservation=due, requester=world.phone())  # arrives meanwhile
    page = desk.post(url, {"reservation": [due.pk]}, follow=True).content.decode()
    assert "一覧が変わりました" in page and "来場なしにする予約はありません" in page
    due.refresh_from_db()
    assert due.status == Reservation.Status.CONFIRMED


def test_nothing_to_mark_shows_no_button(desk: Client, world: World) -> None:
    booking = _book(world, 11)
    page = desk.get(reverse("venue:close_day", args=[booking.slot.operating_day_id]))
    assert "来場なしにする予約はありません" in page.content.decode()
    assert "件を来場なしにする</button>" not in page.content.decode()


def test_the_bulk_action_marks_only_the_previewed_bookings(world: World) -> None:
    first, second = _book(world, 7), _book(world, 8, name="日南 次郎")
    day = first.slot.operating_day
    marked = operating_day_mark_no_shows(
        operating_day=day, requester=world.phone(), only=[first.pk], now=timezone.now()
    )
    assert [r.pk for r in marked] == [first.pk]
    second.refresh_from_db()
    assert second.status == Reservation.Status.CONFIRMED
