"""Each municipality's resident pages: `/m/<code>/` on any host and a city's own host name
(channels/web/municipal.py); `/` stays the home municipality's."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from channels.waiting_room.middleware import waiting_room_reset
from reservations.models import Reservation
from tests.channels.web.conftest import Clock, sign_in, sign_in_data
from tests.world import World

pytestmark = pytest.mark.django_db

D = dt.date
CITY = "/m/452025/"
HOST = "miyakonojo.example.jp"


@pytest.fixture
def city(world: World, clock: Clock) -> World:
    """都城市 beside the home city 日南市, each with a day of slots in the coming fortnight."""
    neighbour = world.neighbour()
    neighbour.municipality.name_en = "Miyakonojo City"
    neighbour.municipality.save()
    world.slot(D(2026, 11, 10))
    neighbour.slot(D(2026, 11, 11))
    return neighbour


class Addresses(HTMLParser):
    """Every href and form action of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if (tag, name) in (("a", "href"), ("form", "action"), ("link", "href")):
                self.found.append(value or "")


def local_addresses(html: str) -> list[str]:
    """The addresses that lead to another page of this site (not #anchors, ?queries of the
    same page, or the static files)."""
    parser = Addresses()
    parser.feed(html)
    return [
        url
        for url in parser.found
        if url and not url.startswith(("#", "?")) and not url.startswith("/static/")
    ]


def sign_in_at(client: Client, base: str, ticket: Any) -> str:
    response = client.post(base, sign_in_data(ticket))
    assert response.status_code == 302, response.content.decode()[:2000]
    url = str(response["Location"])
    assert re.fullmatch(rf"{base}p/[\w-]+/", url), url
    return url


def test_a_city_shows_its_own_name_and_sites_only(client: Client, city: World) -> None:
    page = client.get(CITY).content.decode()
    assert "都城市 ワクチン接種予約" in page and "都城市総合体育館" in page
    assert "0986-00-0000" in page
    assert "日南市文化センター" not in page and "0987-00-0000" not in page
    # Its municipality is the one chosen in the sign-in form.
    assert '<option value="452025" selected>' in page
    english = client.get(CITY, headers={"accept-language": "en"}).content.decode()
    assert "Miyakonojo City" in english


def test_the_front_page_stays_the_home_citys(client: Client, city: World) -> None:
    # The sign-in fields are cached per language: the city's choice must not leak into /.
    client.get(CITY)
    page = client.get("/").content.decode()
    assert "日南市 ワクチン接種予約" in page and "日南市文化センター" in page
    assert "都城市総合体育館" not in page
    assert '<option value="452041" selected>' in page
    assert reverse("web:home") == "/"  # the city's prefix ended with its request


def test_every_address_on_a_citys_pages_stays_under_its_prefix(client: Client, city: World) -> None:
    ticket = city.resident(D(1950, 1, 1), name="都城 太郎")
    pages = [CITY]
    person = sign_in_at(client, CITY, ticket)
    slot = city.slot(D(2026, 11, 11))
    option = f"{city.campaign.pk}-{city.vaccine.pk}"
    pages += [
        CITY,  # now with the signed-in person and the sign-out form
        person,
        f"{person}book/?option={option}&site={city.site.pk}&date=2026-11-11",
        f"{person}contact/",
    ]
    held = client.post(f"{person}book/", {"slot": slot.pk, "key": "web-municipal"})
    assert held.status_code == 302 and held["Location"].startswith(f"{person}r/")
    pages.append(str(held["Location"]))
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        addresses = local_addresses(response.content.decode())
        assert addresses, url
        outside = [a for a in addresses if not a.startswith(CITY)]
        assert outside == [], url


def test_a_booking_made_under_the_prefix_lands_in_the_citys_slot(
    client: Client, city: World
) -> None:
    ticket = city.resident(D(1950, 1, 1), name="都城 太郎")
    person = sign_in_at(client, CITY, ticket)
    slot = city.slot(D(2026, 11, 11), 14)
    held = client.post(f"{person}book/", {"slot": slot.pk, "key": "web-municipal-1"})
    confirm = str(held["Location"])
    done = client.post(confirm, {"action": "confirm"})
    assert done.status_code == 302 and str(done["Location"]).startswith(f"{person}r/")
    booked = Reservation.objects.get()
    assert booked.status == Reservation.Status.CONFIRMED
    assert booked.slot == slot
    assert booked.slot.operating_day.site.municipality.code == "452025"


def test_a_sign_in_on_one_citys_pages_does_not_carry_into_anothers(
    client: Client, city: World, world: World
) -> None:
    there = sign_in_at(client, CITY, city.resident(name="都城 太郎"))
    token_path = there.removeprefix(CITY.rstrip("/"))
    # The same token on the home city's pages: not signed in there.
    response = client.get(token_path)
    assert response.status_code == 302 and response["Location"] == "/?notice=signin"
    assert "都城 太郎" not in client.get("/").content.decode()
    # Signed in on the home city's pages too: each city lists only its own.
    here = sign_in(client, world.resident(name="日南 花子"))
    home = client.get("/").content.decode()
    assert "日南 花子" in home and "都城 太郎" not in home
    away = client.get(CITY).content.decode()
    assert "都城 太郎" in away and "日南 花子" not in away
    assert client.get(f"/m/452025{here}").status_code == 302
    assert client.get(there).status_code == 200


def test_a_ticket_of_another_city_signs_in_on_a_citys_pages(
    client: Client, city: World, world: World
) -> None:
    # 住所地外接種: the form's municipality is the resident's choice; the core decides what
    # they may book. The person stays on the pages they signed in on.
    person = sign_in_at(client, CITY, world.resident(name="日南 花子"))
    assert "日南 花子" in client.get(person).content.decode()


def test_unknown_and_malformed_codes_are_the_japanese_404_page(client: Client, city: World) -> None:
    # 999999: a wrong check digit; 452017 (宮崎市): a real code, not served here.
    for url in ("/m/999999/", "/m/abc/", "/m/452017/", "/m/452017/p/x/", "/m/45202/"):
        response = client.get(url)
        assert response.status_code == 404, url
        page = response.content.decode()
        assert "ページが見つかりません" in page, url
        assert 'href="/"' in page, url
        assert reverse("web:home") == "/"


def test_staff_pages_are_not_under_a_citys_prefix(
    client: Client, city: World, world: World
) -> None:
    for url in ("admin/", "admin/login/", "phone/", "venue/", "exports/", "api/v1/", "staff/"):
        response = client.get(CITY + url)
        assert response.status_code == 404, url
        page = response.content.decode()
        assert "ページが見つかりません" in page
        # The way back is this city's front page.
        assert f'href="{CITY}"' in page
    # Signed-in staff get the same resident page (the staff layout's links are not here).
    client.force_login(world.operator)
    assert client.get(CITY + "phone/").status_code == 404


def test_the_prefix_without_its_slash_redirects(client: Client, city: World) -> None:
    response = client.get("/m/452025?x=1")
    assert response.status_code == 301 and response["Location"] == "/m/452025/?x=1"


def test_the_language_switch_comes_back_to_the_citys_page(client: Client, city: World) -> None:
    page = client.get(CITY).content.decode()
    assert f'action="{CITY}i18n/setlang/"' in page
    response = client.post(
        f"{CITY}i18n/setlang/", {"language": "en", "next": f"{CITY}?notice=signin"}
    )
    assert response.status_code == 302 and response["Location"] == f"{CITY}?notice=signin"
    assert "Miyakonojo City" in client.get(CITY).content.decode()


def test_a_citys_own_host_serves_it_at_the_root(city: World, world: World, settings: Any) -> None:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]
    settings.MUNICIPALITY_WEB_HOSTS = {HOST: "452025"}
    there = Client(HTTP_HOST=HOST)
    page = there.get("/").content.decode()
    assert "都城市 ワクチン接種予約" in page and "日南市文化センター" not in page
    assert '<option value="452025" selected>' in page
    person = sign_in_at(there, "/", city.resident(name="都城 太郎"))
    assert "都城 太郎" in there.get(person).content.decode()
    for url in ("/admin/", "/phone/", "/venue/"):
        assert there.get(url).status_code == 404, url
    # Other hosts: the home city, and the staff pages where they were.
    home = Client()
    assert "日南市 ワクチン接種予約" in home.get("/").content.decode()
    assert home.get("/phone/").status_code == 302


def test_the_waiting_room_gates_a_citys_pages(
    city: World, settings: Any, django_assert_num_queries: Any
) -> None:
    settings.WAITING_ROOM_ADMIT_PER_SECOND = 0.001
    settings.WAITING_ROOM_BURST = 1
    settings.WAITING_ROOM_REDIS_URL = ""
    waiting_room_reset()
    try:
        Client().get("/")  # the one admission
        with django_assert_num_queries(0):
            response = Client().get(f"{CITY}p/some-token/book/")
        html = response.content.decode()
        assert 'id="waiting-room"' in html
        assert f"url={CITY}p/some-token/book/" in html
    finally:
        waiting_room_reset()


def test_a_first_request_under_a_prefix_leaves_the_static_address_alone(
    client: Client, city: World
) -> None:
    # Django adds the script prefix to STATIC_URL when the setting is first read and keeps it:
    # read first under /m/452025/, every page of the process would ask /m/452025/static/.
    from django.conf import settings as lazy_settings

    lazy_settings.__dict__.pop("STATIC_URL", None)
    assert client.get(CITY).status_code == 200
    assert lazy_settings.STATIC_URL == "/static/"
