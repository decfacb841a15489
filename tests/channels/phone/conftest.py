"""Fixtures for the call centre: signed-in staff of each role, a two-dose campaign open now.

The console reads the clock itself, as in production, so every test here runs with the clock
at `now` (inside the 2026 season, ticking) and puts slots a few days after that "today"."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from channels.phone.roles import ensure_phone_permissions
from reservations import roles
from tests.world import World


@pytest.fixture(autouse=True)
def _season(season_clock: object) -> None:
    """Every console test runs at `now` (see `season_clock`)."""


@pytest.fixture
def phone_world(world: World) -> World:
    # world re-creates the core groups (which resets their permissions); add the console's.
    ensure_phone_permissions()
    return world


def staff_user(username: str, group: str) -> User:
    user = User.objects.create_user(username, password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def operator_client(phone_world: World, client: Client) -> Client:
    client.force_login(phone_world.operator)
    return client


@pytest.fixture
def supervisor(phone_world: World) -> User:
    return staff_user("supervisor", roles.CALL_SUPERVISORS)


@pytest.fixture
def manager(phone_world: World) -> User:
    return staff_user("manager", roles.CALL_MANAGERS)


@pytest.fixture
def series_world(phone_world: World) -> World:
    """A two-dose primary series campaign running this season, so set booking applies."""
    return phone_world.primary_series()


def in_days(days: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)
