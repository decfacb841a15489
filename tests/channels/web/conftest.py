"""Shared pieces for the resident web pages: a settable clock and signing in like a browser."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.utils import timezone

from reservations.identifiers import format_wareki
from reservations.models import Actor, Campaign, Ticket
from tests.world import World, jst


class Clock:
    """Django's clock, moved by the test: the pages call services without `now`, as in
    production, so the tests move time itself (the core and the session code both read
    django.utils.timezone.now)."""

    def __init__(self, start: dt.datetime) -> None:
        self.current = start

    def __call__(self) -> dt.datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    fixed = Clock(jst(2026, 11, 2, 9, 0))
    monkeypatch.setattr(timezone, "now", fixed)
    yield fixed


@pytest.fixture
def primary(world: World, clock: Clock) -> World:
    """The 2021 two-dose primary series, with the clock in June 2021."""
    world.campaign = Campaign.objects.get(code="covid-2021-primary")
    clock.current = jst(2021, 6, 1, 9, 0)
    return world


def full_width(text: str) -> str:
    return text.translate({ord(c): ord(c) - ord("0") + ord("０") for c in "0123456789"})


def sign_in_data(
    ticket: Ticket,
    *,
    birth: dt.date | None = None,
    actor: str = Actor.RESIDENT,
    relationship: str = "",
    **extra: str,
) -> dict[str, str]:
    born = birth or ticket.resident.birth_date
    data = {
        "municipality": ticket.municipality.code,
        "ticket_number": ticket.number,
        "birth_era": "western",
        "birth_year": str(born.year),
        "birth_month": str(born.month),
        "birth_day": str(born.day),
        "birth_date_text": "",
        "booking_for": actor,
        "relationship": relationship,
    }
    data.update(extra)
    return data


def sign_in(client: Client, ticket: Ticket, **options: str) -> str:
    """Sign in through the start page; returns the person's page URL."""
    response = client.post("/", sign_in_data(ticket, **options))  # type: ignore[arg-type]
    assert response.status_code == 302, response.content.decode()[:2000]
    url = str(response["Location"])
    assert re.fullmatch(r"/p/[\w-]+/", url)
    return url


__all__ = ["Clock", "format_wareki", "full_width", "sign_in", "sign_in_data"]
