"""The waiting room in front of the resident pages, through real requests."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.test import Client

from channels.waiting_room.middleware import waiting_room_reset
from channels.waiting_room.room import COOKIE_NAME
from reservations.models import CredentialAttempt

pytestmark = pytest.mark.django_db

MOMENT = dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)  # opening hour; any fixed moment works


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(MOMENT, tick=False) as traveller:
        yield traveller


@pytest.fixture
def room_on(settings: Any, clock: time_machine.Coordinates) -> Iterator[None]:
    """One admission a second, two at once, in this process's memory."""
    settings.WAITING_ROOM_ADMIT_PER_SECOND = 1.0
    settings.WAITING_ROOM_BURST = 2
    settings.WAITING_ROOM_ADMISSION_MINUTES = 20
    settings.WAITING_ROOM_REDIS_URL = ""
    waiting_room_reset()
    yield
    waiting_room_reset()


def queue_figures(html: str) -> dict[str, int] | None:
    match = re.search(
        r'id="waiting-room" data-number="(\d+)" data-position="(\d+)" '
        r'data-estimate-seconds="(\d+)" data-refresh-seconds="(\d+)"',
        html,
    )
    if match is None:
        return None
    keys = ("number", "position", "estimate", "refresh")
    return dict(zip(keys, map(int, match.groups()), strict=True))


def fill_the_room() -> None:
    for _ in range(2):
        assert queue_figures(Client().get("/").content.decode()) is None


def test_it_is_off_by_default(settings: Any) -> None:
    assert settings.WAITING_ROOM_ADMIT_PER_SECOND == 0
    for _ in range(5):
        response = Client().get("/")
        assert response.status_code == 200
        assert COOKIE_NAME not in response.cookies


def test_it_serves_a_light_queue_page_beyond_capacity(
    room_on: None, django_assert_num_queries: Any
) -> None:
    fill_the_room()
    with django_assert_num_queries(0):
        response = Client().get("/p/some-token/book/?site=1")
    html = response.content.decode()
    assert response.status_code == 200
    assert queue_figures(html) == {"number": 3, "position": 1, "estimate": 1, "refresh": 1}
    assert '<meta http-equiv="refresh" content="1;url=/p/some-token/book/?site=1">' in html
    assert "<script" not in html
    assert "no-store" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex"
    assert response["X-Waiting-Room-Position"] == "1"
    assert "あなたの順番" in html and "約1秒" in html
    cookie = response.cookies[COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


def test_the_queue_page_speaks_english(room_on: None) -> None:
    fill_the_room()
    for _ in range(60):
        Client().get("/")
    response = Client(headers={"accept-language": "en"}).get("/")
    html = response.content.decode()
    assert queue_figures(html) == {"number": 63, "position": 61, "estimate": 61, "refresh": 20}
    assert 'lang="en"' in html
    assert "about 1 min 1 s" in html and "Your place in line" in html
    assert "あなた" not in html


def test_the_turn_comes_when_the_estimate_said(
    room_on: None, clock: time_machine.Coordinates
) -> None:
    fill_the_room()
    resident = Client()
    for _ in range(3):
        Client().get("/")  # numbers 3-5 ahead
    first = queue_figures(resident.get("/").content.decode())
    assert first is not None and first["estimate"] == 4
    clock.shift(first["estimate"] - 0.5)
    assert queue_figures(resident.get("/").content.decode()) is not None
    clock.shift(0.5)
    response = resident.get("/")
    assert response.status_code == 200 and queue_figures(response.content.decode()) is None
    # The ticket became an admission: the next pages need no queue at all.
    clock.shift(600)
    for _ in range(3):
        Client().get("/")  # a new crowd queues...
    assert queue_figures(resident.get("/").content.decode()) is None  # ...the admitted do not


def test_tabs_and_refreshes_share_one_number(room_on: None) -> None:
    fill_the_room()
    resident = Client()
    numbers = {queue_figures(resident.get("/").content.decode())["number"] for _ in range(5)}  # type: ignore[index]
    assert numbers == {3}


def test_operators_the_api_and_health_are_never_queued(room_on: None) -> None:
    fill_the_room()
    for _ in range(3):
        Client().get("/")
    for path in (
        "/health/",
        "/phone/login/",
        "/venue/",
        "/admin/login/",
        "/api/v1/sites/",
        "/exports/",
        "/line/webhook/",
        "/i18n/setlang/",
        "/static/web/web.css",
    ):
        response = Client().get(path)
        assert queue_figures(response.content.decode()) is None, path
        assert COOKIE_NAME not in response.cookies, path
    # Signing out is never held up either (a shared phone must be able to leave).
    assert Client().post("/signout/").status_code == 302


def test_a_post_without_admission_is_queued_not_processed(room_on: None) -> None:
    fill_the_room()
    response = Client().post(
        "/", {"municipality": "452041", "ticket": "0000000001", "birth_date": "1950-04-01"}
    )
    html = response.content.decode()
    assert queue_figures(html) is not None
    assert 'content="1;url=/"' in html
    assert "送信した内容は受け付けていません" in html
    assert not CredentialAttempt.objects.exists()


def test_redis_down_fails_open(
    settings: Any, room_on: None, caplog: pytest.LogCaptureFixture
) -> None:
    settings.WAITING_ROOM_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    waiting_room_reset()
    with caplog.at_level(logging.WARNING, logger="channels.waiting_room.middleware"):
        responses = [Client().get("/") for _ in range(5)]
    assert all(queue_figures(r.content.decode()) is None for r in responses)
    assert all(r.status_code == 200 for r in responses)
    # Let in with an admission, so they stay in once Redis is back; warned once, not per request.
    assert all(COOKIE_NAME in r.cookies for r in responses)
    warnings = [r for r in caplog.records if "Redis failed" in r.getMessage()]
    assert len(warnings) == 1
