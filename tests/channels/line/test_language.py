"""The chat in English for residents who choose it: an "English" quick reply from the first
message on, stored on the LINE account, every answer in that language (names of sites and
vaccines too), and the booking's notice pushed in it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from channels.line.messages import command_of, language_of
from channels.line.models import LineAccount
from reservations.models import Reservation
from reservations.services.booking import reservation_book
from tests.channels.line.conftest import Chat, actions, flex_texts, texts, today
from tests.channels.line.test_chat import _slot_data
from tests.world import World

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("season_clock")]


@pytest.fixture
def english_names(world: World) -> World:
    world.site.name_en = "Nichinan Culture Centre"
    world.site.save()
    return world


def _language(user_id: str) -> str:
    return LineAccount.objects.get(line_user_id=user_id).language


def test_a_resident_switches_to_english_and_books(
    chat_factory: Callable[[str], Chat], english_names: World
) -> None:
    world = english_names
    day = today() + dt.timedelta(days=5)
    world.slot(day, 10)
    ticket = world.resident()
    chat = chat_factory("U4100")

    greeting = chat.follow()
    assert "English" in {a["label"] for a in actions(greeting)}
    asked = chat.tap(greeting, "English")
    assert _language("U4100") == "en"
    # The question that was open is asked again, in English; the way back is offered.
    assert "Please send the ticket number" in texts(asked)
    assert {"日本語", "Stop"} <= {a["label"] for a in actions(asked)}
    assert "Please send your date of birth" in texts(chat.say(ticket.number))
    linked = chat.say("1950-04-01")
    assert "linked it to this LINE account" in texts(linked)
    # The menu's buttons send English words, which the chat understands.
    book = next(a for a in actions(linked) if a["label"] == "Book")
    assert book["text"] == "Book"

    sites = chat.say("Book")
    assert "Please choose the vaccination site" in texts(sites)
    # Cut to LINE's 20 characters on the button, whole in what the chat shows as tapped.
    site = next(a for a in actions(sites) if a["label"].startswith("Nichinan"))
    assert site["label"] == "Nichinan Culture Ce…"
    assert site["displayText"] == "Nichinan Culture Centre"
    dates = chat.postback(site["data"])
    weekday = day.strftime("%a")
    times = chat.tap(dates, f"{weekday} {day.day}/{day.month}")
    bubble_text = flex_texts(times)
    assert "Comirnaty (ages 12 and over)" in bubble_text and "Choose this time" in str(times)
    held = chat.postback(_slot_data(times, "10:00"))
    assert "Not booked yet" in flex_texts(held)
    [card] = chat.tap(held, "Confirm")
    assert card["altText"].startswith("Your booking is confirmed")
    assert "Comirnaty (ages 12 and over)" in card["altText"]
    assert "Vaccine" in flex_texts([card]) and "Dose 1" in flex_texts([card])
    assert Reservation.objects.get().status == Reservation.Status.CONFIRMED


def test_japanese_commands_work_in_english_and_back(
    chat_factory: Callable[[str], Chat], world: World
) -> None:
    chat = chat_factory("U4200")
    chat.follow()
    chat.say("ＥＮＧＬＩＳＨ")  # full-width, upper case: as a phone keyboard may type it
    assert _language("U4200") == "en"
    # The rich menu sends Japanese whatever the language: answered in English.
    answer = chat.say("問い合わせ")
    assert "For questions, please call the call centre." in texts(answer)
    back = chat.tap(answer, "日本語")
    assert _language("U4200") == "ja"
    assert "English" in {a["label"] for a in actions(back)}
    assert "お問い合わせはコールセンターで承ります。" in texts(chat.say("Contact"))


def test_a_web_booking_is_pushed_in_the_chats_language(
    chat_factory: Callable[[str], Chat], world: World
) -> None:
    day = today() + dt.timedelta(days=6)
    slot = world.slot(day, 11)
    ticket = world.resident()
    chat = chat_factory("U4300")
    chat.follow()
    chat.say("English")
    chat.say(ticket.number)
    chat.say("1950-04-01")
    chat.new_messages()
    with chat.capture(execute=True):
        reservation_book(ticket=ticket, slot=slot, requester=world.web, book_next_dose=False)
    [card] = chat.new_messages()
    assert card["altText"].startswith("Your booking is confirmed")
    assert "Comirnaty (ages 12 and over)" in card["altText"]


def test_commands_are_known_in_every_chat_language() -> None:
    assert command_of("予約する") == command_of("book") == command_of(" Book ") == "予約する"
    assert command_of("My bookings") == "予約確認"
    assert command_of("Stop") == command_of("やめる") == "やめる"
    assert command_of("hello") is None
    assert language_of("English") == language_of("英語") == "en"
    assert language_of("日本語") == "ja"
    assert language_of("予約する") is None
