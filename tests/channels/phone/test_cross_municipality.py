"""The console cannot book a caller into another city's slot (issue 18): a slot id of another
city posted to the book or change form (the grid only offers the caller's own city's slots)
reaches the core, which refuses it; the operator reads why, and nothing is booked."""

from __future__ import annotations

import pytest
from django.test import Client

from reservations.models import Reservation
from reservations.services.booking import reservation_book
from tests.channels.phone.conftest import in_days
from tests.world import World

pytestmark = pytest.mark.django_db

REFUSAL = "この会場は都城市の会場のため、日南市の接種券では予約できません。"


def test_the_console_refuses_a_booking_in_another_city_in_plain_words(
    phone_world: World, operator_client: Client
) -> None:
    away = phone_world.neighbour().slot(in_days(5))
    ticket = phone_world.resident()
    response = operator_client.post(
        f"/phone/r/{ticket.resident_id}/book/",
        {"slot": str(away.pk), "key": "cross"},
        follow=True,
    )
    assert response.status_code == 200
    assert REFUSAL in response.content.decode()
    assert not Reservation.objects.exists()
    away.refresh_from_db()
    assert (away.booked, away.booked_staff) == (0, 0)


def test_the_console_refuses_a_change_into_another_city(
    phone_world: World, operator_client: Client
) -> None:
    home = phone_world.slot(in_days(5))
    away = phone_world.neighbour().slot(in_days(7))
    ticket = phone_world.resident()
    booked = reservation_book(ticket=ticket, slot=home, requester=phone_world.phone())
    response = operator_client.post(
        f"/phone/r/{ticket.resident_id}/change/{booked.pk}/", {"slot": str(away.pk)}, follow=True
    )
    assert response.status_code == 200
    assert REFUSAL in response.content.decode()
    booked.refresh_from_db()
    assert booked.slot_id == home.pk
