"""Personal data stays in the server session, is never cached, and never reaches another
browser or a later visitor (the 2022 form that showed earlier applicants' data)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test import Client
from django.test.utils import CaptureQueriesContext

from reservations.models import Reservation, Site, Slot
from reservations.services.booking import reservation_book
from tests.channels.web.conftest import Clock, sign_in, sign_in_data
from tests.world import World

pytestmark = pytest.mark.django_db

D = dt.date


def test_personal_pages_are_never_cached(client: Client, world: World, clock: Clock) -> None:
    ticket = world.resident()
    reservation = reservation_book(
        ticket=ticket, slot=world.slot(D(2026, 11, 10)), requester=world.web
    )
    url = sign_in(client, ticket)
    for path in (
        "/",
        url,
        f"{url}book/",
        f"{url}r/{reservation.code}/",
        f"{url}r/{reservation.code}/change/",
        f"{url}r/{reservation.code}/cancel/",
        f"{url}r/{reservation.code}/calendar.ics",
    ):
        cache_control = client.get(path)["Cache-Control"]
        assert "no-store" in cache_control and "private" in cache_control, path


def test_the_next_visitor_sees_nothing_of_the_last(client: Client, world: World) -> None:
    ticket = world.resident(name="前の 申込者")
    url = sign_in(client, ticket)
    client.post("/signout/")
    start = client.get("/").content.decode()
    assert "前の 申込者" not in start and ticket.number not in start
    assert client.get(url).status_code == 302
    # Another browser holding the address of the page gets the sign-in page, not the data.
    stranger = Client()
    assert stranger.get(url)["Location"].startswith("/?notice=signin")
    # The identity never travels in the cookie: the session cookie is an opaque key.
    cookie = client.cookies.get("sessionid")
    assert cookie is None or ticket.number not in cookie.value


def test_form_fields_ask_the_browser_not_to_remember(client: Client, world: World) -> None:
    page = client.get("/").content.decode()
    assert 'name="ticket_number"' in page
    ticket_input = page[
        page.index('name="ticket_number"') - 300 : page.index('name="ticket_number"') + 300
    ]
    assert 'autocomplete="off"' in ticket_input


def test_every_form_needs_the_csrf_token(world: World, clock: Clock) -> None:
    ticket = world.resident()
    browser = Client(enforce_csrf_checks=True)
    assert browser.post("/", sign_in_data(ticket)).status_code == 403
    page = browser.get("/").content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    response = browser.post("/", {**sign_in_data(ticket), "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    url = str(response["Location"])
    slot = world.slot(D(2026, 11, 10))
    assert browser.post(f"{url}book/", {"slot": slot.pk}).status_code == 403
    assert browser.post("/signout/").status_code == 403
    assert not Reservation.objects.exists()


def test_an_idle_session_is_forgotten(
    client: Client, world: World, clock: Clock, settings: Any
) -> None:
    settings.WEB_SESSION_IDLE_MINUTES = 20
    url = sign_in(client, world.resident())
    clock.advance(minutes=15)
    assert client.get(url).status_code == 200
    clock.advance(minutes=15)  # 15 minutes since the last request: still fine
    assert client.get(url).status_code == 200
    clock.advance(minutes=21)
    response = client.get(url)
    assert response["Location"] == "/?notice=timeout"
    assert "しばらく操作がなかったため" in client.get(response["Location"]).content.decode()
    assert client.get(url).status_code == 302


def test_a_sign_in_changes_the_session_key(client: Client, world: World) -> None:
    client.get("/")
    before = client.session.session_key
    sign_in(client, world.resident())
    assert client.session.session_key != before


# --- language -------------------------------------------------------------------------------------


def test_japanese_by_default_english_by_switch_or_browser(client: Client, world: World) -> None:
    assert "ワクチン接種予約" in client.get("/").content.decode()
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert "Vaccination reservations" in english.get("/").content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert '<html lang="en">' in page and "Vaccination reservations" in page


def test_english_pages_carry_no_untranslated_text(
    client: Client, world: World, clock: Clock
) -> None:
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    world.slot(D(2026, 11, 10))
    url = sign_in(client, world.resident())
    page = client.get(f"{url}book/?date=2026-11-10").content.decode()
    assert "4. Choose the time" in page and "Hold this time" in page
    # Names from the data (site, person, vaccine) and 和暦 dates are Japanese by nature;
    # the labels around them must not be.
    for phrase in ("予約する", "選んでください", "時間を選ぶ", "確認"):
        assert phrase not in page, phrase


# --- query counts -----------------------------------------------------------------------------


def _grow(world: World, *, sites: int, days: int, slots_per_day: int) -> None:
    for number in range(sites):
        site = (
            world.site
            if number == 0
            else Site.objects.create(municipality=world.municipality, name=f"会場{number}")
        )
        for day in (D(2026, 11, 10) + dt.timedelta(days=n) for n in range(days)):
            for index in range(slots_per_day):
                world.slot(day, 9 + index // 4, (index % 4) * 15, site=site)


def _queries(client: Client, path: str) -> int:
    client.get(path)  # warm the per-process rule cache: its misses do not grow with slots
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    # Savepoint bookkeeping around the session save is not a query that could grow.
    return sum(1 for q in captured.captured_queries if "SAVEPOINT" not in q["sql"])


def test_slot_pages_use_a_constant_number_of_queries(
    client: Client, world: World, clock: Clock
) -> None:
    ticket = world.resident()
    url = sign_in(client, ticket)
    option = f"{world.campaign.pk}-{world.vaccine.pk}"
    path = f"{url}book/?option={option}&site={world.site.pk}&date=2026-11-10"
    _grow(world, sites=1, days=2, slots_per_day=2)
    small = _queries(client, path), _queries(client, f"{url}book/")
    _grow(world, sites=5, days=8, slots_per_day=16)
    assert Slot.objects.count() == 5 * 8 * 16
    large = _queries(client, path), _queries(client, f"{url}book/")
    assert large == small
    reservation = reservation_book(ticket=ticket, slot=Slot.objects.first(), requester=world.web)  # type: ignore[arg-type]
    assert _queries(client, f"{url}r/{reservation.code}/change/?date=2026-11-11") <= small[0] + 4


__all__ = ["QuerySet"]
