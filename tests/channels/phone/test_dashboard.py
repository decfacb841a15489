"""The supervisors' dashboard: fill rates, seats left per channel, bookings by channel,
cancellations and no-shows, aggregated by the database."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from reservations.models import Site
from reservations.services.booking import reservation_book, reservation_cancel
from tests.channels.phone.conftest import in_days
from tests.world import World

pytestmark = pytest.mark.django_db


def test_the_dashboard_sums_in_the_database(
    phone_world: World, supervisor: User, django_assert_max_num_queries: Any
) -> None:
    a = phone_world.slot(in_days(3), 10, capacity=4, reserved=2)
    b = phone_world.slot(in_days(3), 11, capacity=4)
    clinic = Site.objects.create(municipality=phone_world.municipality, name="油津クリニック")
    c = phone_world.slot(in_days(4), 10, capacity=2, site=clinic)
    reservation_book(ticket=phone_world.resident(), slot=a, requester=phone_world.web)
    reservation_book(ticket=phone_world.resident(name="二"), slot=a, requester=phone_world.phone())
    cancelled = reservation_book(
        ticket=phone_world.resident(name="三"), slot=b, requester=phone_world.web
    )
    reservation_cancel(reservation=cancelled, requester=phone_world.web)
    reservation_book(ticket=phone_world.resident(name="四"), slot=c, requester=phone_world.web)
    client = Client()
    client.force_login(supervisor)
    # More slots and bookings must not mean more queries: everything is aggregated.
    with django_assert_max_num_queries(12):
        text = client.get("/phone/dashboard/").content.decode()
    # Seats: 10 in all, 3 taken → 7 free; the phone reserve of slot a has 1 left.
    assert '<td class="num">7</td>' in text
    assert '<td class="num">6</td>' in text and '<td class="num">1</td>' in text
    assert "油津クリニック" in text and "2/8" in text and "1/2" in text
    assert text.count("<svg") == 3
    assert operator_client_forbidden(phone_world)


def operator_client_forbidden(world: World) -> bool:
    client = Client()
    client.force_login(world.operator)
    return client.get("/phone/dashboard/").status_code == 403
