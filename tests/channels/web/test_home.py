"""The channel homes that exist before their issues: each answers, none leaks a stack trace."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from reservations.services.booking import reservation_book
from tests.world import World

# These pages and tasks read the clock themselves: it stands at `now`, inside the season.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("season_clock")]


def test_it_shows_sites_and_seats_without_personal_data(client: Client, world: World) -> None:
    slot = world.slot(timezone.localdate() + dt.timedelta(days=2), capacity=4)
    ticket = world.resident(name="予約 太郎")
    reservation_book(ticket=ticket, slot=slot, requester=world.web)
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    # Seats left, under the heading that says so (not "booked / capacity").
    assert "日南市文化センター" in page and "空き状況" in page and "残り 3 人" in page
    assert "予約済み" not in page and "1 / 4" not in page
    assert "0987-00-0000" in page
    assert "予約 太郎" not in page and ticket.number not in page


def test_it_answers_without_a_home_municipality(client: Client, db: None) -> None:
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 200
    assert "現在、予約を受け付けている会場はありません" in response.content.decode()


def test_it_reports_health(client: Client, db: None) -> None:
    assert client.get("/health/").json() == {"status": "ok"}


def test_it_keeps_unconfigured_channels_closed(client: Client, db: None) -> None:
    assert client.post("/line/webhook/").status_code == 503
    assert client.post("/sms/receipts/nosuch/").status_code == 404
    assert client.get("/api/v1/").json()["version"] == "v1"
