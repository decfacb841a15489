"""Resident pages in English and in やさしい日本語: names from the data in the reader's
language when staff entered one, eras and dates as an English reader writes them, and a
language menu that names each language in itself."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client

from reservations.models import Campaign, Municipality, Site, Vaccine
from reservations.services.booking import reservation_book
from tests.channels.web.conftest import Clock, sign_in, sign_in_data
from tests.world import World

pytestmark = pytest.mark.django_db

D = dt.date
SLOT_DAY = D(2026, 11, 10)  # a Tuesday; the clock fixture stands at 2026-11-02

JAPANESE_NAMES = {
    "municipality": "日南市",
    "site": "日南市文化センター",
    "vaccine": "コミナティ筋注（12歳以上用）",
    "campaign": "新型コロナ 定期接種（令和8年度）",
    "what to bring": "接種券、予診票",
}


def name_everything_in_english(world: World) -> None:
    Municipality.objects.filter(pk=world.municipality.pk).update(name_en="Nichinan City")
    Site.objects.filter(pk=world.site.pk).update(
        name_en="Nichinan Culture Centre",
        what_to_bring_en="Your vaccination ticket and a photo ID",
    )
    Vaccine.objects.filter(pk=world.vaccine.pk).update(name_en="Comirnaty (12 and over)")
    Campaign.objects.filter(pk=world.campaign.pk).update(name_en="COVID-19 routine (FY2026)")


def english_client() -> Client:
    client = Client()
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    return client


def visible_text(page: str) -> str:
    """The page without its markup and the language menu (which names 日本語 on purpose)."""
    page = re.sub(r'<select id="language-select".*?</select>', "", page, flags=re.S)
    return re.sub(r"<[^>]+>", " ", page)


def assert_no_japanese_names(page: str) -> None:
    text = visible_text(page)
    for what, japanese in JAPANESE_NAMES.items():
        assert japanese not in text, what
    # Dates of this season, western (2026年11月10日) or 和暦 (令和8年…); the sign-in help may still
    # show accepted input such as 昭和22年5月3日.
    assert not re.search(r"\d{4}年\d", text) and "令和8" not in text


def test_english_pages_show_english_names_and_dates(world: World, clock: Clock) -> None:
    name_everything_in_english(world)
    slot = world.slot(SLOT_DAY)
    client = english_client()

    home = client.get("/").content.decode()
    assert "Nichinan City" in home and "Nichinan Culture Centre" in home
    assert "Comirnaty (12 and over)" in home
    assert_no_japanese_names(home)

    ticket = world.resident()
    url = sign_in(client, ticket)
    option = f"{world.campaign.pk}-{world.vaccine.pk}"
    booking = client.get(
        f"{url}book/?option={option}&site={world.site.pk}&date={SLOT_DAY.isoformat()}"
    ).content.decode()
    assert "Comirnaty (12 and over)" in booking and "COVID-19 routine (FY2026)" in booking
    assert "Nichinan Culture Centre" in booking
    assert "Tue 10 Nov 2026" in booking
    assert_no_japanese_names(booking)

    reservation = reservation_book(ticket=ticket, slot=slot, requester=world.web)
    for path in (url, f"{url}r/{reservation.code}/"):
        page = client.get(path).content.decode()
        assert "Nichinan Culture Centre" in page and "Tue 10 Nov 2026" in page, path
        assert_no_japanese_names(page)
    details = client.get(f"{url}r/{reservation.code}/").content.decode()
    assert "Your vaccination ticket and a photo ID" in details
    assert "Comirnaty (12 and over)" in details


def test_japanese_pages_keep_the_japanese_names(world: World, clock: Clock) -> None:
    name_everything_in_english(world)
    slot = world.slot(SLOT_DAY)
    client = Client(HTTP_ACCEPT_LANGUAGE="ja")
    ticket = world.resident()
    url = sign_in(client, ticket)
    reservation = reservation_book(ticket=ticket, slot=slot, requester=world.web)
    page = client.get(f"{url}r/{reservation.code}/").content.decode()
    assert "日南市文化センター" in page and "コミナティ筋注（12歳以上用）" in page
    assert "2026年11月10日（火）" in page and "令和8年11月10日" in page
    assert "Nichinan" not in page and "Comirnaty" not in page


def test_english_pages_fall_back_to_the_japanese_name_without_an_english_one(
    world: World, clock: Clock
) -> None:
    world.slot(SLOT_DAY)
    home = english_client().get("/").content.decode()
    assert "日南市文化センター" in home


def test_it_offers_the_eras_in_the_readers_language(world: World) -> None:
    english = english_client().get("/").content.decode()
    for label in ("Reiwa (2019–)", "Heisei (1989–)", "Showa (1926–)", "Taisho (1912–)"):
        assert f">{label}</option>" in english
    assert ">令和</option>" not in english and ">昭和</option>" not in english
    japanese = Client(HTTP_ACCEPT_LANGUAGE="ja").get("/").content.decode()
    assert ">令和</option>" in japanese and ">昭和</option>" in japanese
    easy = Client()
    easy.post("/i18n/setlang/", {"language": "ja-easy", "next": "/"})
    assert ">昭和（しょうわ）</option>" in easy.get("/").content.decode()


def test_an_english_era_choice_signs_in(world: World) -> None:
    ticket = world.resident(D(1947, 5, 3))
    data = sign_in_data(ticket, birth_era="S", birth_year="22", birth_month="5", birth_day="3")
    response = english_client().post("/", data)
    assert response.status_code == 302


def test_the_language_menu_names_each_language_in_itself(world: World) -> None:
    for client in (Client(HTTP_ACCEPT_LANGUAGE="ja"), english_client()):
        page = client.get("/").content.decode()
        menu = re.search(r'<select id="language-select".*?</select>', page, flags=re.S)
        assert menu is not None
        options = re.findall(r"<option[^>]*>([^<]*)</option>", menu.group(0))
        assert options == ["日本語", "やさしい にほんご", "English"]
        assert "英語" not in menu.group(0)


def test_the_front_page_and_sign_in_come_out_in_easy_japanese(world: World) -> None:
    client = Client()
    response = client.post("/i18n/setlang/", {"language": "ja-easy", "next": "/"})
    assert response.status_code == 302
    home = client.get("/").content.decode()
    assert '<html lang="ja-x-easy">' in home
    assert "ワクチンの よやく" in home
    assert "接種券（せっしゅけん）の 番号（ばんごう）10けた" in home
    assert "生年月日（せいねんがっぴ）" in home
    assert "接種券番号（10けた）" not in home  # the ordinary Japanese label
    assert 'value="ja-easy" lang="ja-x-easy" selected' in home
    # Signing in leads to the person's page, in easy Japanese too.
    url = sign_in(client, world.resident())
    person = client.get(url).content.decode()
    assert "あたらしく よやくする" in person
    assert "新しく予約する" not in person


def test_a_missing_field_is_explained_in_easy_japanese_with_djangos_own_words(
    world: World,
) -> None:
    client = Client()
    client.post("/i18n/setlang/", {"language": "ja-easy", "next": "/"})
    data = sign_in_data(world.resident(), birth_year="", birth_month="", birth_day="")
    page = client.post("/", data).content.decode()
    assert "生年月日（せいねんがっぴ）の 年・月・日を 入れて ください。" in page


def test_a_wrong_birth_date_is_explained_in_easy_japanese(world: World) -> None:
    client = Client()
    client.post("/i18n/setlang/", {"language": "ja-easy", "next": "/"})
    ticket = world.resident(D(1950, 4, 1))
    page = client.post("/", sign_in_data(ticket, birth=D(1950, 4, 2))).content.decode()
    assert "生年月日（せいねんがっぴ）が ちがいます" in page
    assert "正しくありません" not in page
