"""What a booking through the API costs in round trips: the token is read per request, the
permissions once per API_PERMISSION_CACHE_SECONDS (dropped at once when roles change), the
resident's sign-in is two reads, and the answer needs no query of its own."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from reservations import roles
from reservations.models import Reservation
from tests.channels.api.conftest import Api, staff, token_client

D = dt.date
pytestmark = pytest.mark.django_db


def _statements(api: Api) -> list[str]:
    ticket, slot = api.world.resident(), api.world.slot(D(2026, 11, 10))
    with CaptureQueriesContext(connection) as queries:
        response = api.book(ticket, slot)
    assert response.status_code == 201, response.content
    return [q["sql"] for q in queries.captured_queries]


def test_a_booking_reads_permissions_once_then_from_the_cache(api: Api) -> None:
    first = _statements(api)
    again = _statements(api)
    assert any("auth_permission" in sql for sql in first)
    assert not any("auth_permission" in sql for sql in again)
    # Signing the resident in: the ticket, then the counters; nothing written.
    assert not any("INSERT" in sql and "credentialattempt" in sql for sql in again)
    assert not any(
        sql.startswith(("UPDATE", "DELETE")) and "credentialattempt" in sql for sql in again
    )
    assert sum("credentialattempt" in sql for sql in again) == 1
    # The answer is rendered from what the core handed back: no ORM read of a reservation
    # (the core's own statements are written out in booking_sql.py).
    assert not any(sql.startswith('SELECT "reservations_reservation".') for sql in again)
    # Without contact details there is no resident lock (and no savepoint around the core).
    assert not any('FROM "reservations_resident"' in sql for sql in again)


def test_the_answer_says_no_previous_dose_like_a_fresh_read(api: Api) -> None:
    body = api.book(api.world.resident(), api.world.slot(D(2026, 11, 10))).json()
    assert body["previous_dose"] is None
    detail = api.operator.get(f"/api/v1/reservations/{body['code']}/").json()
    assert detail == body
    assert Reservation.objects.filter(next_dose__code=body["code"]).count() == 0


def test_leaving_a_role_applies_to_the_next_request(api: Api) -> None:
    user = staff("operator-2", roles.OPERATORS)
    client = token_client(user)
    slot = api.world.slot(D(2026, 11, 10))
    assert api.book(api.world.resident(), slot, client=client).status_code == 201
    user.groups.remove(Group.objects.get(name=roles.OPERATORS))
    assert api.book(api.world.resident(), slot, client=client).status_code == 403
    user.groups.add(Group.objects.get(name=roles.OPERATORS))
    assert api.book(api.world.resident(), slot, client=client).status_code == 201


def test_a_role_losing_a_permission_applies_to_its_members_at_once(api: Api) -> None:
    slot = api.world.slot(D(2026, 11, 10))
    assert api.book(api.world.resident(), slot).status_code == 201
    operators = Group.objects.get(name=roles.OPERATORS)
    add = Permission.objects.get(codename="add_reservation", content_type__app_label="reservations")
    operators.permissions.remove(add)
    assert api.book(api.world.resident(), slot).status_code == 403
    add.group_set.add(operators)  # from the permission's side
    assert api.book(api.world.resident(), slot).status_code == 201
    add.group_set.clear()
    assert api.book(api.world.resident(), slot).status_code == 403


def test_a_deactivated_user_is_refused_at_once_whatever_the_cache_holds(api: Api) -> None:
    slot = api.world.slot(D(2026, 11, 10))
    assert api.book(api.world.resident(), slot).status_code == 201
    api.world.operator.is_active = False
    api.world.operator.save(update_fields=["is_active"])
    assert api.book(api.world.resident(), slot).status_code == 401


@override_settings(API_PERMISSION_CACHE_SECONDS=0)
def test_without_the_cache_permissions_are_read_every_time(api: Api) -> None:
    _statements(api)
    assert any("auth_permission" in sql for sql in _statements(api))
