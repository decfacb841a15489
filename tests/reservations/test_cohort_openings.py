"""Cohort doors: booking opens by birth-date band at set times, on every channel."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import translation

from reservations.cohorts import cohort_door, cohort_openings_cache_clear
from reservations.exceptions import CohortNotOpenYet
from reservations.models import Campaign, Channel, CohortOpening, Reservation
from reservations.selectors import slot_list_available
from reservations.services.booking import Requester, reservation_book, reservation_hold
from tests.world import World, jst

D = dt.date
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cohort_cache() -> Iterator[None]:
    # The cache is per process and keyed by municipality id; rows of a rolled-back test must
    # not shut the doors of the next test's municipality (SQLite reuses ids after a rollback).
    cohort_openings_cache_clear()
    yield
    cohort_openings_cache_clear()


@pytest.fixture
def doors(world: World, now: dt.datetime) -> World:
    """2021-style staged opening: born 1946 or earlier opened yesterday at 9:00, born
    1947-1961 opens a week from now at 9:00, nobody younger has a date yet."""
    CohortOpening.objects.create(
        municipality=world.municipality,
        born_to=D(1946, 12, 31),
        opens_at=now - dt.timedelta(days=1),
    )
    CohortOpening.objects.create(
        municipality=world.municipality,
        born_from=D(1947, 1, 1),
        born_to=D(1961, 12, 31),
        opens_at=jst(2026, 11, 9, 9, 0),
    )
    return world


def test_it_changes_nothing_without_rows(world: World, now: dt.datetime) -> None:
    slot = world.slot(D(2026, 11, 10))
    booked = reservation_hold(ticket=world.resident(), slot=slot, requester=world.web, now=now)
    assert booked.status == Reservation.Status.HELD


def test_it_admits_the_cohort_whose_door_is_open(doors: World, now: dt.datetime) -> None:
    slot = doors.slot(D(2026, 11, 10))
    ticket = doors.resident(D(1940, 5, 5))
    booked = reservation_book(ticket=ticket, slot=slot, requester=doors.web, now=now)
    assert booked.status == Reservation.Status.CONFIRMED


def test_it_refuses_a_cohort_before_its_door_opens_and_names_the_time(
    doors: World, now: dt.datetime
) -> None:
    slot = doors.slot(D(2026, 11, 20))
    ticket = doors.resident(D(1950, 4, 1))
    with pytest.raises(CohortNotOpenYet) as refused:
        reservation_hold(ticket=ticket, slot=slot, requester=doors.web, now=now)
    assert refused.value.code == "cohort_not_open_yet"
    assert refused.value.detail == {"opens_at": jst(2026, 11, 9, 9).isoformat()}
    assert str(refused.value) == "この方の予約受付は 2026年11月9日 9:00 からです。"
    with translation.override("en"):
        english = str(CohortNotOpenYet(opens_at=jst(2026, 11, 9, 9)))
    assert english == "Booking for this person opens on 2026/11/9 at 9:00."
    assert not Reservation.objects.exists()
    # A minute before the door: still shut. At 9:00 sharp: open.
    with pytest.raises(CohortNotOpenYet):
        reservation_hold(ticket=ticket, slot=slot, requester=doors.web, now=jst(2026, 11, 9, 8, 59))
    held = reservation_hold(ticket=ticket, slot=slot, requester=doors.web, now=jst(2026, 11, 9, 9))
    assert held.status == Reservation.Status.HELD


def test_it_keeps_a_band_without_a_date_waiting(doors: World, now: dt.datetime) -> None:
    # Born 1962: no row covers them yet, so they wait too (a younger band must not overtake).
    slot = doors.slot(D(2026, 11, 10))
    ticket = doors.resident(D(1962, 1, 1), attested=True)
    with pytest.raises(CohortNotOpenYet) as refused:
        reservation_hold(ticket=ticket, slot=slot, requester=doors.web, now=now)
    assert refused.value.opens_at is None
    assert refused.value.detail == {"opens_at": None}
    assert "まだ決まっていません" in str(refused.value)


def test_it_refuses_every_channel_unless_staff_override_with_a_reason(
    doors: World, now: dt.datetime
) -> None:
    slot = doors.slot(D(2026, 11, 10))
    ticket = doors.resident(D(1955, 6, 1))
    for requester in (doors.phone(), Requester(channel=Channel.LINE), Requester(channel="api")):
        with pytest.raises(CohortNotOpenYet):
            reservation_book(ticket=ticket, slot=slot, requester=requester, now=now)
    # The window-override permission opens the door for one person, with a reason recorded.
    with pytest.raises(CohortNotOpenYet):
        reservation_book(
            ticket=ticket, slot=slot, requester=doors.phone(), now=now, override_reason="医師判断"
        )
    doors.operator.user_permissions.add(Permission.objects.get(codename="override_booking_window"))
    operator = Requester(
        channel=Channel.PHONE,
        actor=doors.phone().actor,
        user=User.objects.get(pk=doors.operator.pk),
    )
    with pytest.raises(CohortNotOpenYet):
        reservation_book(ticket=ticket, slot=slot, requester=operator, now=now)
    booked = reservation_book(
        ticket=ticket, slot=slot, requester=operator, now=now, override_reason="市の判断で受付"
    )
    assert booked.events.get().data["cohort_override"] == "市の判断で受付"


def test_slot_list_shows_residents_nothing_behind_a_shut_door(
    doors: World, now: dt.datetime
) -> None:
    doors.slot(D(2026, 11, 10))
    waiting = doors.resident(D(1955, 6, 1)).resident
    admitted = doors.resident(D(1940, 5, 5)).resident
    listing: dict[str, Any] = {"date_from": D(2026, 11, 2), "date_to": D(2026, 11, 30)}
    assert slot_list_available(resident=waiting, now=now, **listing) == []
    assert len(slot_list_available(resident=admitted, now=now, **listing)) == 1
    # The call centre sees the slots (and the booking names the date, or staff override it).
    phone = slot_list_available(resident=waiting, now=now, channel=Channel.PHONE, **listing)
    assert len(phone) == 1
    assert len(slot_list_available(resident=waiting, now=jst(2026, 11, 9, 9), **listing)) == 1


def test_campaign_rows_replace_the_municipality_wide_rows(doors: World, now: dt.datetime) -> None:
    other = Campaign.objects.create(
        code="test-other",
        name="別の事業",
        program=doors.campaign.program,
        starts_on=D(2026, 10, 1),
    )
    CohortOpening.objects.create(
        municipality=doors.municipality, campaign=other, opens_at=now + dt.timedelta(hours=1)
    )
    born = D(1940, 5, 5)  # open for every campaign without rows of its own
    municipality_id = doors.municipality.pk
    assert cohort_door(
        municipality_id=municipality_id, campaign_id=doors.campaign.pk, birth_date=born
    )
    door = cohort_door(municipality_id=municipality_id, campaign_id=other.pk, birth_date=born)
    assert door is not None and door.opens_at == now + dt.timedelta(hours=1)
    assert not door.is_open(now)
    assert door.is_open(now + dt.timedelta(hours=1))


def test_it_costs_no_query_once_the_rows_are_known(
    doors: World, now: dt.datetime, django_assert_num_queries: Any
) -> None:
    kwargs = {"municipality_id": doors.municipality.pk, "campaign_id": doors.campaign.pk}
    with django_assert_num_queries(1):
        cohort_door(birth_date=D(1950, 1, 1), **kwargs)
    with django_assert_num_queries(0):
        for year in range(1930, 1970):
            cohort_door(birth_date=D(year, 1, 1), **kwargs)


def test_saving_a_row_reaches_this_process_at_once(world: World, now: dt.datetime) -> None:
    slot = world.slot(D(2026, 11, 10))
    reservation_hold(ticket=world.resident(), slot=slot, requester=world.web, now=now)  # cached
    CohortOpening.objects.create(municipality=world.municipality, opens_at=now + dt.timedelta(1))
    with pytest.raises(CohortNotOpenYet):
        reservation_hold(ticket=world.resident(), slot=slot, requester=world.web, now=now)


def test_the_database_refuses_a_band_that_ends_before_it_starts(world: World) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        CohortOpening.objects.create(
            municipality=world.municipality,
            born_from=D(1960, 1, 1),
            born_to=D(1950, 1, 1),
            opens_at=jst(2027, 1, 10, 9),
        )


def test_the_admin_refuses_overlapping_bands(doors: World) -> None:
    overlapping = CohortOpening(
        municipality=doors.municipality,
        born_from=D(1961, 1, 1),
        born_to=D(1970, 12, 31),
        opens_at=jst(2027, 1, 24, 9),
    )
    with pytest.raises(ValidationError, match="重なっています"):
        overlapping.full_clean()
    following = CohortOpening(
        municipality=doors.municipality,
        born_from=D(1962, 1, 1),
        opens_at=jst(2027, 1, 24, 9),
    )
    following.full_clean()


def test_the_admin_lists_and_adds_openings(admin_client: Any, world: World) -> None:
    response = admin_client.post(
        "/admin/reservations/cohortopening/add/",
        {
            "municipality": world.municipality.pk,
            "campaign": "",
            "born_from": "",
            "born_to": "1946-12-31",
            "opens_at_0": "2027-01-10",
            "opens_at_1": "09:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    row = CohortOpening.objects.get()
    assert row.opens_at == jst(2027, 1, 10, 9)
    assert admin_client.get("/admin/reservations/cohortopening/").status_code == 200
