"""When flu and COVID-19 are both on offer, the chat asks which vaccine first, and every time
bubble names its vaccine: two 09:00 bubbles at one site never look alike."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from reservations.models import Campaign, Reservation, Vaccine
from tests.channels.line.conftest import Chat, actions, flex_texts, texts, today
from tests.channels.line.test_chat import _slot_data, link
from tests.world import World

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("season_clock")]


@pytest.fixture
def flu_and_covid(world: World) -> tuple[World, dt.date]:
    """One site, one day, 09:00 for COVID-19 and 09:00 for flu."""
    day = today() + dt.timedelta(days=5)
    world.slot(day, 9)
    world.slot(
        day,
        9,
        vaccine=Vaccine.objects.get(code="influenza-ha"),
        campaign=Campaign.objects.get(code="influenza-routine-2026"),
    )
    return world, day


def _rows(node: Any) -> list[str]:
    """Each labelled line of a card as "label value"."""
    if isinstance(node, list):
        return [row for child in node for row in _rows(child)]
    if not isinstance(node, dict):
        return []
    if node.get("type") == "box" and node.get("layout") == "baseline":
        return [" ".join(c["text"] for c in node["contents"])]
    return [row for value in node.values() for row in _rows(value)]


def _bubbles(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        bubble
        for message in messages
        if message["type"] == "flex"
        for bubble in message["contents"]["contents"]
    ]


def test_it_asks_which_vaccine_and_offers_only_that_ones_times(
    chat_factory: Callable[[str], Chat], flu_and_covid: tuple[World, dt.date]
) -> None:
    world, day = flu_and_covid
    chat = chat_factory("U3100")
    link(chat, world.resident())

    question = chat.say("予約する")
    assert "どのワクチンにしますか" in texts(question)
    # The question names what each one protects against; the buttons name the vaccines.
    assert "インフルエンザHAワクチン（インフルエンザ）" in texts(question)
    assert "コミナティ筋注（12歳以上用）（新型コロナウイルス感染症）" in texts(question)
    labels = {a["label"] for a in actions(question)}
    assert {"インフルエンザHAワクチン", "コミナティ筋注（12歳以上用）", "やめる"} <= labels

    sites = chat.tap(question, "インフルエンザHAワクチン")
    times = chat.tap(chat.tap(sites, "日南市文化センター"), f"{day.month}月{day.day}日")
    [bubble] = _bubbles(times)
    assert "ワクチン インフルエンザHAワクチン" in _rows(bubble)
    held = chat.postback(_slot_data(times, "09:00"))
    assert "インフルエンザHAワクチン" in flex_texts(held)
    chat.tap(held, "予約を確定する")
    booked = Reservation.objects.get()
    assert booked.vaccine.code == "influenza-ha"
    assert booked.status == Reservation.Status.CONFIRMED


def test_with_one_vaccine_on_offer_it_does_not_ask(
    chat_factory: Callable[[str], Chat], world: World
) -> None:
    day = today() + dt.timedelta(days=5)
    world.slot(day, 9)
    chat = chat_factory("U3200")
    link(chat, world.resident())
    sites = chat.say("予約する")
    assert "接種会場を選んでください" in texts(sites)
    times = chat.tap(chat.tap(sites, "日南市文化センター"), f"{day.month}月{day.day}日")
    # Even alone, each time says which vaccine it is for.
    bubbles = _bubbles(times)
    assert bubbles and all("ワクチン コミナティ筋注（12歳以上用）" in _rows(b) for b in bubbles)


def test_a_forged_vaccine_id_is_refused(
    chat_factory: Callable[[str], Chat], flu_and_covid: tuple[World, dt.date]
) -> None:
    world, _day = flu_and_covid
    chat = chat_factory("U3300")
    link(chat, world.resident())
    question = chat.say("予約する")
    link_id = next(a["data"] for a in actions(question) if a["type"] == "postback")
    link_id = link_id.split("l=")[1].split("&")[0]
    for forged in (f"a=vac&l={link_id}&v=999999", f"a=vac&l={link_id}&v=x", f"a=vac&l={link_id}"):
        assert "使え" in texts(chat.postback(forged))
    assert not Reservation.objects.exists()
