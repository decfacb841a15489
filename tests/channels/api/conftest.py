"""API test cast: one token per staff role, a frozen clock inside the 2026 season."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from reservations import roles
from reservations.models import Slot, Ticket
from tests.world import World

D = dt.date


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Iterator[None]:
    # Throttle counters live in the cache, which outlives a test's database transaction.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock(now: dt.datetime) -> Iterator[time_machine.Coordinates]:
    """Every thread (the live server's too) sees 2026-11-02 09:00 JST, ticking."""
    with time_machine.travel(now, tick=True) as traveller:
        yield traveller


def token_client(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _created = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def staff(name: str, group: str | None = None, *, superuser: bool = False) -> User:
    user = User.objects.create_user(name, password="x", is_staff=True, is_superuser=superuser)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return User.objects.get(pk=user.pk)


@dataclass
class Api:
    world: World
    operator: APIClient
    venue: APIClient
    exporter: APIClient
    admin: APIClient
    superuser: APIClient
    nobody: APIClient  # a valid token without any role
    anonymous: APIClient

    def book(
        self,
        ticket: Ticket,
        slot: Slot,
        client: APIClient | None = None,
        headers: dict[str, str] | None = None,
        **extra: object,
    ) -> Any:
        return (client or self.operator).post(
            "/api/v1/reservations/",
            credentials(ticket) | {"slot": slot.pk, **extra},
            format="json",
            headers=headers,
        )


def credentials(ticket: Ticket) -> dict[str, Any]:
    return {
        "municipality_code": ticket.municipality.code,
        "ticket_number": ticket.number,
        "birth_date": ticket.resident.birth_date.isoformat(),
    }


@pytest.fixture
def api(world: World, clock: time_machine.Coordinates) -> Api:
    return Api(
        world=world,
        operator=token_client(world.operator),
        venue=token_client(staff("venue", roles.VENUE_STAFF)),
        exporter=token_client(staff("exporter", roles.EXPORTERS)),
        admin=token_client(staff("municipal-admin", roles.ADMINISTRATORS)),
        superuser=token_client(staff("root", superuser=True)),
        nobody=token_client(staff("nobody")),
        anonymous=token_client(None),
    )
