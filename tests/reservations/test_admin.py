"""The admin: every screen renders, service-owned rows are read-only, roles see what they need."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from reservations import roles
from reservations.models import Reservation, Slot
from reservations.services.booking import reservation_book
from tests.world import World

pytestmark = pytest.mark.django_db
MODELS = [
    "municipality",
    "site",
    "operatingday",
    "slot",
    "resident",
    "ticket",
    "vaccine",
    "program",
    "campaign",
    "eligibilityrule",
    "intervalrule",
    "reservation",
    "reservationevent",
    "vaccination",
]


@pytest.fixture(autouse=True)
def _clock(now: dt.datetime) -> Iterator[None]:
    # The admin's actions call services without `now`, as in production: the clock itself
    # stands at `now`, before the booked slot, whatever day the suite runs.
    with time_machine.travel(now, tick=False):
        yield


@pytest.fixture
def booked(world: World, now: dt.datetime) -> Reservation:
    slot = world.slot(dt.date(2026, 11, 30), capacity=3)
    return reservation_book(ticket=world.resident(), slot=slot, requester=world.web, now=now)


def login(client: Client, username: str, group: str | None = None, superuser: bool = False) -> None:
    user = User.objects.create_user(username, password="pw", is_staff=True, is_superuser=superuser)
    if group:
        user.groups.add(Group.objects.get(name=group))
    client.force_login(user)


def test_it_renders_every_changelist_and_change_page(client: Client, booked: Reservation) -> None:
    login(client, "root", superuser=True)
    for model in MODELS:
        response = client.get(reverse(f"admin:reservations_{model}_changelist"))
        assert response.status_code == 200, model
    response = client.get(reverse("admin:reservations_reservation_change", args=[booked.pk]))
    assert response.status_code == 200
    assert booked.code in response.content.decode()


def test_it_offers_no_add_for_service_owned_rows(client: Client, booked: Reservation) -> None:
    login(client, "root", superuser=True)
    for model in ("reservation", "reservationevent", "vaccination"):
        assert client.get(reverse(f"admin:reservations_{model}_add")).status_code == 403


def test_it_cancels_through_the_service(client: Client, booked: Reservation) -> None:
    login(client, "op", group=roles.OPERATORS)
    response = client.post(
        reverse("admin:reservations_reservation_changelist"),
        {"action": "cancel_selected", "_selected_action": [booked.pk]},
        follow=True,
    )
    assert response.status_code == 200
    booked.refresh_from_db()
    assert booked.status == Reservation.Status.CANCELLED
    assert booked.events.filter(kind="cancelled", actor_user__username="op").exists()
    booked.slot.refresh_from_db()
    assert booked.slot.booked == 0


def test_it_refuses_capacity_below_booked(client: Client, booked: Reservation) -> None:
    login(client, "root", superuser=True)
    slot = booked.slot
    url = reverse("admin:reservations_slot_change", args=[slot.pk])
    data = {
        "operating_day": slot.operating_day_id,
        "starts_at_0": "2026-11-30",
        "starts_at_1": "10:00:00",
        "ends_at_0": "2026-11-30",
        "ends_at_1": "10:15:00",
        "capacity": 0,
        "phone_reserved": 0,
    }
    response = client.post(url, data, follow=True)
    assert response.status_code == 200
    assert Slot.objects.get(pk=slot.pk).capacity == 3
    data["capacity"] = 8
    client.post(url, data, follow=True)
    assert Slot.objects.get(pk=slot.pk).capacity == 8


def test_it_gives_each_role_its_screens(client: Client, booked: Reservation) -> None:
    login(client, "exp", group=roles.EXPORTERS)
    assert client.get(reverse("admin:reservations_vaccination_changelist")).status_code == 200
    assert client.get(reverse("admin:reservations_reservation_changelist")).status_code == 403
    assert client.get("/exports/").status_code == 200
    # Signed in but not an operator: the call centre console refuses (issue 7 replaced the
    # old redirect to the admin with the console, which sends only anonymous users to log in).
    assert client.get("/phone/").status_code == 403
