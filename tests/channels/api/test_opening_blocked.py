"""A booking through an opening the pre-opening check holds shut: the API answers in its one
error shape, in the caller's language, never a 500."""

from __future__ import annotations

import datetime as dt

import pytest

from reservations.cohorts import cohort_openings_cache_clear
from reservations.models import CohortOpening, OpeningCheck
from reservations.services.openings import opening_check_run
from tests.channels.api.conftest import Api

D = dt.date
pytestmark = pytest.mark.django_db


def test_a_held_opening_is_a_422_opening_blocked(api: Api, now: dt.datetime) -> None:
    cohort_openings_cache_clear()
    world = api.world
    slot = world.slot(D(2026, 11, 10), reserved=2)
    world.municipality.call_centre_phone = ""  # an error: held shut
    world.municipality.save()
    door = CohortOpening.objects.create(
        municipality=world.municipality,
        born_to=D(1946, 12, 31),
        opens_at=now - dt.timedelta(hours=1),
    )
    assert opening_check_run(opening=door, now=now, trigger=OpeningCheck.Trigger.ADMIN).blocked
    ticket = world.resident(D(1940, 5, 5))

    response = api.book(ticket, slot, headers={"Accept-Language": "en"})
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "opening_blocked"
    assert "call centre" in body["message"]
    japanese = api.book(ticket, slot, headers={"Accept-Language": "ja"}).json()
    assert "コールセンター" in japanese["message"]
    cohort_openings_cache_clear()
