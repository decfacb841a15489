"""The chat flows, driven by signed webhook events; the stand-in records what LINE received."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from channels.line.models import LineLink
from reservations.models import Reservation, Ticket
from tests.channels.line.conftest import Chat, actions, find_action, flex_texts, texts, today
from tests.world import World

pytestmark = pytest.mark.django_db


def link(chat: Chat, ticket: Ticket, *, first: bool = True) -> list[dict[str, Any]]:
    greeting = chat.follow() if first else chat.say("家族を追加")
    assert "接種券番号" in texts(greeting)
    asked = chat.say(ticket.number)
    assert "生年月日" in texts(asked)
    birth = ticket.resident.birth_date
    return chat.say(f"{birth.year}年{birth.month}月{birth.day}日")


def test_it_links_with_full_width_digits_and_wareki(chat_factory: Callable[[str], Chat], world: World) -> None:
    chat = chat_factory("U100")
    ticket = world.resident(dt.date(1950, 4, 1))
    chat.follow()
    full_width = ticket.number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert "生年月日" in texts(chat.say(full_width))
    done = chat.say("昭和２５年４月１日")
    assert "連携しました" in texts(done)
    assert LineLink.objects.get().resident == ticket.resident

