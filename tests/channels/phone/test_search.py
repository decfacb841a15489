"""Finding the caller from whatever they can tell the operator."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from channels.phone.search import fold_name, parse_query, resident_search
from reservations.models import Municipality, Resident, Ticket
from tests.world import World

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 21)


@pytest.fixture
def people(phone_world: World) -> dict[str, Resident]:
    hanako = phone_world.resident(dt.date(1950, 4, 1)).resident  # ニチナン ハナコ, 日南 花子
    taro = Resident.objects.create(
        municipality=phone_world.municipality,
        name="山田　太郎",
        name_kana="ヤマダ　タロウ",
        birth_date=dt.date(1948, 12, 3),
        phone="+81987223344",
    )
    Ticket.objects.create(municipality=phone_world.municipality, number="0123456789", resident=taro)
    namesake = Resident.objects.create(
        municipality=phone_world.municipality,
        name="山田 太郎",
        name_kana="ヤマダ タロウ",
        birth_date=dt.date(1961, 5, 5),
    )
    other_city = Municipality.objects.create(code="452017", name="宮崎市")
    stranger = Resident.objects.create(
        municipality=other_city,
        name="山田 太郎",
        name_kana="ヤマダ タロウ",
        birth_date=dt.date(1948, 12, 3),
    )
    return {"hanako": hanako, "taro": taro, "namesake": namesake, "stranger": stranger}


def found(world: World, text: str) -> set[int]:
    _parsed, residents = resident_search(text=text, municipality=world.municipality, today=TODAY)
    return {r.pk for r in residents}


@pytest.mark.parametrize(
    "text",
    [
        "0123456789",
        "0123-456-789",
        "０１２３４５６７８９",  # full-width digits
        "０１２３－４５６－７８９",  # full-width hyphens
        "0123 4567 89".replace(" ", "-"),
    ],
)
def test_it_finds_by_ticket_number(
    phone_world: World, people: dict[str, Resident], text: str
) -> None:
    assert found(phone_world, text) == {people["taro"].pk}


@pytest.mark.parametrize(
    "text",
    ["ヤマダタロウ", "やまだたろう", "ﾔﾏﾀﾞﾀﾛｳ", "ヤマダ　タロウ", "山田太郎", "山田 太郎", "やまだ"],
)
def test_it_finds_by_name_in_any_script(
    phone_world: World, people: dict[str, Resident], text: str
) -> None:
    assert found(phone_world, text) == {people["taro"].pk, people["namesake"].pk}


@pytest.mark.parametrize(
    "text", ["1948-12-03", "1948/12/3", "19481203", "昭和23年12月3日", "S23.12.3", "s23/12/3"]
)
def test_it_finds_by_birth_date_western_or_wareki(
    phone_world: World, people: dict[str, Resident], text: str
) -> None:
    assert found(phone_world, text) == {people["taro"].pk}


@pytest.mark.parametrize(
    "text", ["0987-22-3344", "０９８７２２３３４４", "+81 987 22 3344", "0987 22 3344"]
)
def test_it_finds_by_phone_number(
    phone_world: World, people: dict[str, Resident], text: str
) -> None:
    assert found(phone_world, text) == {people["taro"].pk}


def test_every_word_must_match_to_tell_namesakes_apart(
    phone_world: World, people: dict[str, Resident]
) -> None:
    assert found(phone_world, "やまだ S23.12.3") == {people["taro"].pk}
    assert found(phone_world, "ヤマダ 1961-05-05") == {people["namesake"].pk}
    assert found(phone_world, "ヤマダ 1999-01-01") == set()


def test_it_never_finds_another_municipalitys_residents(
    phone_world: World, people: dict[str, Resident]
) -> None:
    assert people["stranger"].pk not in found(phone_world, "ヤマダ")


def test_an_empty_query_finds_no_one(phone_world: World, people: dict[str, Resident]) -> None:
    assert found(phone_world, "   ") == set()


def test_the_query_is_read_word_by_word() -> None:
    parsed = parse_query("ﾆﾁﾅﾝ R2.1.5 090-1234-5678 0123456789", today=TODAY)
    assert parsed.names == ["ニチナン"]
    assert parsed.birth_dates == [dt.date(2020, 1, 5)]
    # A ten-digit word is searched as a ticket and, where it reads as one, as a landline.
    assert parsed.phones[0] == "+819012345678"
    assert parsed.tickets == ["0123456789"]
    assert fold_name("にちなん　はなこ") == "ニチナンハナコ"


def test_results_tell_people_apart_and_show_nothing_more(
    operator_client: Client, people: dict[str, Resident]
) -> None:
    people["taro"].address = "宮崎県日南市中央通1-1-1"
    people["taro"].save()
    page = operator_client.get("/phone/", {"q": "ヤマダ"}).content.decode()
    assert "1948-12-03" in page and "1961-05-05" in page
    assert "…3344" in page  # last digits of the phone only
    assert "…6789" in page  # last digits of the ticket only
    assert "0123456789" not in page and "+81987223344" not in page
    assert "中央通" not in page


def test_one_match_opens_the_resident_at_once(
    operator_client: Client, people: dict[str, Resident]
) -> None:
    response = operator_client.get("/phone/", {"q": "0123-456-789"})
    assert response.status_code == 302
    assert response["Location"] == f"/phone/r/{people['taro'].pk}/"


def test_no_match_says_what_to_try(operator_client: Client, people: dict[str, Resident]) -> None:
    page = operator_client.get("/phone/", {"q": "9999999999"}).content.decode()
    assert "該当する方が見つかりません" in page
