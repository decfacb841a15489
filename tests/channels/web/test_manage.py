"""My reservations: see, change and cancel within the site's deadlines; proxy booking."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from reservations.models import Actor, Reservation, Site, Vaccine
from reservations.services.booking import reservation_book
from tests.channels.web.conftest import Clock, sign_in
from tests.world import World

pytestmark = pytest.mark.django_db

D = dt.date


def booked(world: World, date: dt.date | None = None, **options: object) -> Reservation:
    ticket = world.resident()
    slot = world.slot(date or D(2026, 11, 10), **options)  # type: ignore[arg-type]
    return reservation_book(ticket=ticket, slot=slot, requester=world.web)


def test_it_lists_and_changes_a_booking(client: Client, world: World, clock: Clock) -> None:
    reservation = booked(world)
    later = world.slot(D(2026, 11, 12), 14)
    url = sign_in(client, reservation.ticket)
    page = client.get(url).content.decode()
    assert "日時を変更する" in page and "キャンセルする" in page
    change_url = f"{url}r/{reservation.code}/change/"
    picker = client.get(f"{change_url}?date=2026-11-12").content.decode()
    assert "いまの予約" in picker and "14:00〜14:15" in picker
    # The booking's own slot is not offered as a place to move to.
    assert f'id="slot-{reservation.slot_id}"' not in picker
    # Choosing a time reads the change back (before and after); nothing has moved yet.
    read_back = client.post(change_url, {"date": "2026-11-12", "slot": later.pk})
    assert read_back.status_code == 200
    page = read_back.content.decode()
    assert "変更前（いまの予約）" in page and "変更後" in page
    assert "10:00〜10:15" in page and "14:00〜14:15" in page and "変更を確定する" in page
    assert f'name="slot" value="{later.pk}"' in page
    reservation.refresh_from_db()
    assert reservation.slot_id != later.pk
    response = client.post(
        change_url, {"date": "2026-11-12", "slot": later.pk, "action": "confirm"}
    )
    assert response.status_code == 302
    reservation.refresh_from_db()
    assert reservation.slot == later
    assert "予約を変更しました" in client.get(response["Location"]).content.decode()


def test_a_change_gets_a_new_code_where_the_site_says_so(
    client: Client, world: World, clock: Clock
) -> None:
    world.site.new_code_on_change = True
    world.site.save()
    reservation = booked(world)
    later = world.slot(D(2026, 11, 12))
    url = sign_in(client, reservation.ticket)
    response = client.post(
        f"{url}r/{reservation.code}/change/", {"slot": later.pk, "action": "confirm"}
    )
    fresh = Reservation.objects.get(pk=reservation.pk)
    assert fresh.code != reservation.code
    assert str(response["Location"]).startswith(f"{url}r/{fresh.code}/")


def test_a_failed_change_keeps_the_booking_and_says_why(
    client: Client, world: World, clock: Clock
) -> None:
    reservation = booked(world)
    full = world.slot(D(2026, 11, 12), capacity=1)
    reservation_book(ticket=world.resident(), slot=full, requester=world.web)
    url = sign_in(client, reservation.ticket)
    response = client.post(
        f"{url}r/{reservation.code}/change/",
        {"date": "2026-11-12", "slot": full.pk, "action": "confirm"},
    )
    assert response.status_code == 400
    assert "この時間は満席になりました" in response.content.decode()
    reservation.refresh_from_db()
    assert reservation.slot.operating_day.date == D(2026, 11, 10)


def test_a_change_keeps_the_vaccine_and_the_site(
    client: Client, world: World, clock: Clock
) -> None:
    reservation = booked(world)
    # The same campaign offers another product at another site: the change page starts from
    # the booking's own vaccine and site instead of asking for them again.
    other_site = Site.objects.create(municipality=world.municipality, name="南郷公民館")
    world.slot(D(2026, 11, 12), 9, vaccine=Vaccine.objects.get(code="moderna"), site=other_site)
    world.slot(D(2026, 11, 12), 14)
    world.slot(D(2026, 11, 13), 14, site=other_site)
    url = sign_in(client, reservation.ticket)
    picker = client.get(f"{url}r/{reservation.code}/change/").content.decode()
    option = f"{world.campaign.pk}-{world.vaccine.pk}"
    assert f'<option value="{option}" selected>' in picker
    assert f'<option value="{world.site.pk}" selected>' in picker
    assert "2026年11月12日" in picker and "2026年11月13日" not in picker
    # Another site is still a choice, and the vaccine stays chosen.
    picker = client.get(
        f"{url}r/{reservation.code}/change/?option={option}&site={other_site.pk}"
    ).content.decode()
    assert "2026年11月13日" in picker and "2026年11月12日" not in picker


def test_a_change_into_a_day_past_its_change_deadline_says_so_before_and_after(
    client: Client, world: World, clock: Clock
) -> None:
    reservation = booked(world)
    # 11/3 books until the day itself but changes close 1 day before: on 11/2 still bookable,
    # no longer changeable online. The page says so on the time list and on the read-back.
    late = world.slot(D(2026, 11, 3), 14, change_closes=2)
    world.slot(D(2026, 11, 10), 15)
    url = sign_in(client, reservation.ticket)
    change_url = f"{url}r/{reservation.code}/change/"
    times = client.get(f"{change_url}?date=2026-11-03").content.decode()
    assert "予約後にWebで変更・キャンセルできません" in times
    page = client.post(change_url, {"date": "2026-11-03", "slot": late.pk}).content.decode()
    assert "変更後の枠は、Webでは変更・キャンセルできません" in page and "0987-00-0000" in page
    normal = client.get(f"{change_url}?date=2026-11-10").content.decode()
    assert "15:00〜15:15" in normal and "Webで変更・キャンセルできません" not in normal


def test_it_cancels_after_asking(client: Client, world: World, clock: Clock) -> None:
    reservation = booked(world)
    url = sign_in(client, reservation.ticket)
    cancel_url = f"{url}r/{reservation.code}/cancel/"
    question = client.get(cancel_url).content.decode()
    assert "キャンセルすると、元にもどせません" in question
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.CONFIRMED
    response = client.post(cancel_url)
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.CANCELLED
    assert "予約をキャンセルしました" in client.get(response["Location"]).content.decode()


def test_past_the_deadline_it_sends_the_resident_to_the_call_centre(
    client: Client, world: World, clock: Clock
) -> None:
    # Changes close 3 days before 11/4: on 11/2 it is too late.
    reservation = booked(world, D(2026, 11, 4), change_closes=3)
    world.slot(D(2026, 11, 10))
    url = sign_in(client, reservation.ticket)
    page = client.get(url).content.decode()
    assert "日時を変更する" not in page and "0987-00-0000" in page
    assert "受付期限を過ぎました" in page
    for path in ("change/", "cancel/"):
        response = client.post(f"{url}r/{reservation.code}/{path}", {"slot": "1"})
        assert response.status_code == 400
        assert "0987-00-0000" in response.content.decode()
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.CONFIRMED


def test_a_series_is_cancelled_together(client: Client, primary: World) -> None:
    primary.slot(D(2021, 7, 1))
    first = reservation_book(
        ticket=primary.resident(D(1950, 1, 1)),
        slot=primary.slot(D(2021, 6, 10)),
        requester=primary.web,
    )
    url = sign_in(client, first.ticket)
    assert first.next_dose is not None
    page = client.get(url).content.decode()
    # Dose 2 alone is not cancelled on the web; dose 1 takes dose 2 with it.
    assert f"r/{first.next_dose.code}/cancel/" not in page
    assert "2回目だけのキャンセルはコールセンターで承ります" in page
    assert (
        "セット予約の2回目も一緒にキャンセルされます"
        in client.get(f"{url}r/{first.code}/cancel/").content.decode()
    )
    client.post(f"{url}r/{first.code}/cancel/")
    assert set(Reservation.objects.values_list("status", flat=True)) == {"cancelled"}


# --- proxy booking and several people in one browser --------------------------------------------


def test_a_family_member_books_for_two_people_in_turn(
    client: Client, world: World, clock: Clock
) -> None:
    slot = world.slot(D(2026, 11, 10))
    husband = world.resident(D(1948, 2, 2), name="日南 一郎")
    wife = world.resident(D(1950, 3, 3), name="日南 花子")
    husband_url = sign_in(client, husband, actor=Actor.PROXY, relationship="parent")
    client.post(f"{husband_url}book/", {"slot": slot.pk})
    wife_url = sign_in(client, wife, actor=Actor.PROXY, relationship="parent")
    client.post(f"{wife_url}book/", {"slot": slot.pk})
    for reservation in Reservation.objects.all():
        person_url = husband_url if reservation.ticket == husband else wife_url
        client.post(f"{person_url}r/{reservation.code}/confirm/")
    his = Reservation.objects.get(ticket=husband)
    hers = Reservation.objects.get(ticket=wife)
    assert his.status == hers.status == Reservation.Status.CONFIRMED
    assert his.entered_by == hers.entered_by == Actor.PROXY
    assert his.proxy_relationship == "parent"

    his_page = client.get(husband_url).content.decode()
    hers_page = client.get(wife_url).content.decode()
    assert "日南 一郎" in his_page and his.code[:3] in his_page
    assert "日南 花子" not in his_page and hers.code not in his_page
    assert "日南 一郎" not in hers_page and his.code not in hers_page
    assert "代理で予約" in his_page
    # One person's token never opens the other's booking.
    assert client.get(f"{husband_url}r/{hers.code}/").status_code == 404
    assert client.post(f"{husband_url}r/{hers.code}/cancel/").status_code == 404
    hers.refresh_from_db()
    assert hers.status == Reservation.Status.CONFIRMED
    # Both are listed on the start page for this browser only.
    start = client.get("/").content.decode()
    assert "日南 一郎" in start and "日南 花子" in start
    assert "日南 一郎" not in Client().get("/").content.decode()


def test_the_same_person_signed_in_twice_keeps_one_entry(client: Client, world: World) -> None:
    ticket = world.resident()
    first = sign_in(client, ticket)
    second = sign_in(client, ticket)
    assert first != second
    assert client.get(first).status_code == 302
    assert client.get("/").content.decode().count("さんの予約を見る") == 1
