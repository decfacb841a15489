"""One LINE confirmation per booking, naming the vaccine, whichever channel booked it: the
chat's own answer for a booking made in the chat, one push for a booking made elsewhere."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from channels.notify.models import OutboundMessage
from reservations.models import Reservation
from reservations.services.booking import reservation_book, reservation_cancel
from tests.channels.line.conftest import Chat, flex_texts, texts, today
from tests.channels.line.test_chat import book, link
from tests.world import World

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("season_clock")]


def _code(reservation: Reservation) -> str:
    code = reservation.code
    return f"{code[:3]}-{code[3:6]}-{code[6:]}"


def _cards(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["type"] == "flex"]


def test_a_booking_in_the_chat_gets_one_card_and_no_push(
    chat_factory: Callable[[str], Chat], world: World
) -> None:
    day = today() + dt.timedelta(days=5)
    world.slot(day, 10)
    chat = chat_factory("U2100")
    link(chat, world.resident())
    held = book(chat, day=day, time_label="10:00")
    # The read-back before the booking names the vaccine too.
    assert "コミナティ筋注（12歳以上用）" in flex_texts(held)

    done = chat.tap(held, "予約を確定する")
    booked = Reservation.objects.get()
    assert booked.status == Reservation.Status.CONFIRMED
    [card] = done
    alt = card["altText"]
    assert alt.startswith("予約が確定しました：コミナティ筋注（12歳以上用）")
    assert f"{day.month}月{day.day}日" in alt and "10:00" in alt
    assert "日南市文化センター" in alt and _code(booked) in alt
    body = flex_texts(done)
    assert "持ち物" in body and "接種券" in body and _code(booked) in body
    # The notifications recorded the chat's answer as the notice and pushed nothing.
    assert chat.standin.accepted("push") == []
    [notice] = OutboundMessage.objects.filter(event__kind="booked")
    assert (notice.channel, notice.status, notice.provider) == ("line", "sent", "line_chat")
    assert notice.body == alt


def test_a_change_and_a_cancel_in_the_chat_get_one_card_each(
    chat_factory: Callable[[str], Chat], world: World
) -> None:
    day = today() + dt.timedelta(days=5)
    world.slot(day, 10)
    world.slot(day, 14)
    chat = chat_factory("U2200")
    link(chat, world.resident())
    chat.tap(book(chat, day=day, time_label="10:00"), "予約を確定する")
    sites = chat.tap(chat.say("予約確認"), "日時を変更")
    times = chat.tap(chat.tap(sites, "日南市文化センター"), f"{day.month}月{day.day}日")
    from tests.channels.line.test_chat import _slot_data

    question = chat.postback(_slot_data(times, "14:00"))
    assert "ワクチン：コミナティ筋注（12歳以上用）" in texts(question)
    [changed] = chat.tap(question, "変更する")
    assert changed["altText"].startswith("予約を変更しました：コミナティ筋注（12歳以上用）")
    assert "14:00" in changed["altText"]

    question = chat.tap(chat.say("キャンセル"), "キャンセル")
    assert "ワクチン：コミナティ筋注（12歳以上用）" in texts(question)
    [cancelled] = chat.tap(question, "キャンセルする")
    assert cancelled["altText"].startswith("予約をキャンセルしました：コミナティ筋注")
    assert chat.standin.accepted("push") == []


def test_a_web_booking_of_a_linked_resident_is_pushed_once_as_the_card(
    chat_factory: Callable[[str], Chat], world: World
) -> None:
    day = today() + dt.timedelta(days=6)
    slot = world.slot(day, 11)
    ticket = world.resident()
    chat = chat_factory("U2300")
    link(chat, ticket)
    chat.new_messages()

    with chat.capture(execute=True):
        booked = reservation_book(
            ticket=ticket, slot=slot, requester=world.web, book_next_dose=False
        )
    [card] = chat.new_messages()
    assert card["type"] == "flex"
    assert card["altText"].startswith("予約が確定しました：コミナティ筋注（12歳以上用）")
    assert _code(booked) in card["altText"] and "11:00" in card["altText"]
    [push] = chat.standin.accepted("push")
    assert push.body["to"] == "U2300"

    # Giving the seat up from the web is a cancellation, told once as its own card.
    with chat.capture(execute=True):
        reservation_cancel(reservation=booked, requester=world.web)
    [cancelled] = chat.new_messages()
    assert cancelled["altText"].startswith("予約をキャンセルしました：")


def test_a_hold_given_back_is_not_announced(
    chat_factory: Callable[[str], Chat], world: World
) -> None:
    day = today() + dt.timedelta(days=5)
    world.slot(day, 10)
    chat = chat_factory("U2400")
    link(chat, world.resident())
    held = book(chat, day=day, time_label="10:00")
    answer = chat.tap(held, "やめる")
    assert "仮押さえした枠は解放しました" in texts(answer)
    assert Reservation.objects.get().status == Reservation.Status.CANCELLED
    # No "cancelled" push for a booking that never was.
    assert chat.new_messages() == []
    assert not OutboundMessage.objects.exists()


def test_a_series_booked_on_the_web_is_one_card_with_both_doses(
    chat_factory: Callable[[str], Chat], world: World
) -> None:
    world.primary_series()
    first_day = today() + dt.timedelta(days=3)
    first_slot = world.slot(first_day, 10)
    world.slot(first_day + dt.timedelta(days=21), 10)
    ticket = world.resident()
    chat = chat_factory("U2500")
    link(chat, ticket)
    chat.new_messages()

    with chat.capture(execute=True):
        first = reservation_book(ticket=ticket, slot=first_slot, requester=world.web)
    assert first.next_dose is not None
    [card] = _cards(chat.new_messages())
    assert "1回目" in flex_texts([card]) and "2回目" in flex_texts([card])
    second = OutboundMessage.objects.get(reservation=first.next_dose)
    assert (second.status, second.last_error) == ("cancelled", "on_first_dose_notice")
