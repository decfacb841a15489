"""An API read of a resident's booking is a staff read like any other: one audit row, under
the staff token's or partner key's user, with the channel "api" and the caller's address."""

from __future__ import annotations

import datetime as dt

import pytest

from channels.phone.models import RecordAccess
from tests.channels.api.conftest import Api

pytestmark = pytest.mark.django_db


def test_reading_a_booking_is_audited(api: Api) -> None:
    ticket = api.world.resident()
    code = api.book(ticket, api.world.slot(dt.date(2026, 11, 10))).json()["code"]
    assert not RecordAccess.objects.exists()  # booking through the API is not a read
    response = api.operator.get(f"/api/v1/reservations/{code}/", REMOTE_ADDR="192.0.2.7")
    assert response.status_code == 200
    row = RecordAccess.objects.get()
    assert (row.user_id, row.resident_id, row.municipality_id) == (
        response.wsgi_request.user.pk,
        ticket.resident_id,
        api.world.municipality.pk,
    )
    assert (row.action, row.channel, row.client_address) == ("viewed", "api", "192.0.2.7")
    assert row.detail == {"api": "reservation", "code": code}


def test_a_refused_read_writes_nothing(api: Api) -> None:
    assert api.operator.get("/api/v1/reservations/123456789/").status_code == 404
    assert not RecordAccess.objects.exists()
