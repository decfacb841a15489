"""A caller serving two cities (a contractor's operator) posting one city's ticket into the
other city's slot (issue 18) gets the core's refusal in the API's error shape, 422
slot_other_municipality, and nothing is booked. A caller of one city only never reaches the
other's slot: it is 404 not_found, as for an id of no row."""

from __future__ import annotations

import datetime as dt
from unittest.mock import ANY

import pytest
from rest_framework.test import APIClient

from reservations.models import Reservation
from tests.channels.api.conftest import Api

D = dt.date
pytestmark = pytest.mark.django_db


def test_a_booking_into_another_citys_slot_is_422_and_books_nothing(api: Api) -> None:
    miyakonojo = api.world.neighbour(operator_serves_both=True)
    ticket, slot = api.world.resident(), miyakonojo.slot(D(2026, 11, 10))
    response = api.book(ticket, slot, headers={"Idempotency-Key": "cross-1"})
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "slot_other_municipality"
    assert "都城市" in body["message"] and "日南市" in body["message"]
    assert body["detail"] == {"slot_municipality": "452025", "ticket_municipality": "452041"}
    assert not Reservation.objects.exists()
    slot.refresh_from_db()
    assert slot.booked == 0


def test_a_change_into_another_citys_slot_is_422_and_keeps_the_booking(api: Api) -> None:
    miyakonojo = api.world.neighbour(operator_serves_both=True)
    home, away = api.world.slot(D(2026, 11, 10)), miyakonojo.slot(D(2026, 11, 12))
    code = api.book(api.world.resident(), home).json()["code"]
    response = api.operator.post(
        f"/api/v1/reservations/{code}/change/",
        {"slot": away.pk},
        format="json",
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "slot_other_municipality"
    assert Reservation.objects.get(code=code).slot_id == home.pk


def test_an_accepting_city_books_through_the_api(api: Api) -> None:
    miyakonojo = api.world.neighbour(operator_serves_both=True)
    miyakonojo.municipality.accepts_residents_of.add(api.world.municipality)
    slot = miyakonojo.slot(D(2026, 11, 10))
    response = api.book(api.world.resident(), slot)
    assert response.status_code == 201, response.content
    assert response.json()["slot"]["id"] == slot.pk


def test_an_operator_of_one_city_cannot_see_or_book_the_others_slots(api: Api) -> None:
    miyakonojo = api.world.neighbour()
    slot = miyakonojo.slot(D(2026, 11, 10))
    response = api.book(api.world.resident(), slot)
    assert response.status_code == 404, response.content
    assert response.json()["detail"] == {"slot": ANY}
    assert not Reservation.objects.exists()
    listed = api.operator.get("/api/v1/slots/", {"date": "2026-11-10", "channel": "phone"})
    assert listed.status_code == 200
    assert slot.pk not in [row["id"] for row in listed.json()["results"]]
    assert api.operator.get("/api/v1/sites/", {"municipality": "452025"}).status_code == 404
    sites = api.operator.get("/api/v1/sites/").json()["results"]
    assert [site["id"] for site in sites] == [api.world.site.pk]


def test_anyone_may_read_a_named_citys_public_sites(api: Api) -> None:
    miyakonojo = api.world.neighbour()
    anonymous = APIClient()
    sites = anonymous.get("/api/v1/sites/", {"municipality": "４５２０２５"}).json()["results"]
    assert [site["id"] for site in sites] == [miyakonojo.site.pk]
    home = anonymous.get("/api/v1/sites/").json()["results"]
    assert [site["id"] for site in home] == [api.world.site.pk]
    unknown = anonymous.get("/api/v1/sites/", {"municipality": "999999"})
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"
