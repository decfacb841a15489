"""Residents manage their own contact in LINE: the number on record masked, a new mobile number
verified by the code sent to it by SMS and typed back in the chat, SMS on or off; every refusal
is the core's sentence, and the next step is offered."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from reservations.models import ContactChange, Ticket
from tests.channels.line.conftest import Chat, actions, texts
from tests.channels.line.test_chat import link
from tests.channels.sms.conftest import locmem_sms  # noqa: F401
from tests.world import World

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("season_clock")]


@pytest.fixture
def linked(chat_factory: Callable[[str], Chat], world: World) -> tuple[Chat, Ticket]:
    ticket = world.resident()
    ticket.resident.phone = "+819087654321"
    ticket.resident.save()
    chat = chat_factory("U5100")
    link(chat, ticket)
    return chat, ticket


def _labels(messages: list[dict[str, Any]]) -> set[str]:
    return {a["label"] for a in actions(messages)}


def _code_sent(outbox: list[Any]) -> str:
    match = re.search(r"確認コード (\d{6})", outbox[-1].body)
    assert match is not None, outbox[-1].body
    return match.group(1)


def test_the_details_are_shown_masked_with_only_useful_buttons(
    linked: tuple[Chat, Ticket],
) -> None:
    chat, _ticket = linked
    answer = chat.say("電話番号・SMS")
    shown = texts(answer)
    assert "090-****-4321" in shown and "8765" not in shown
    assert "SMSでのお知らせ：受け取る" in shown
    assert {"携帯番号を変更", "SMSを止める"} <= _labels(answer)
    assert "SMSを受け取る" not in _labels(answer)


def test_a_new_number_is_verified_by_the_code_typed_back(
    linked: tuple[Chat, Ticket],
    locmem_sms: list[Any],  # noqa: F811
) -> None:
    chat, ticket = linked
    asked = chat.tap(chat.say("電話番号・SMS"), "携帯番号を変更")
    assert "新しい携帯電話の番号を送ってください" in texts(asked)
    # A landline cannot get the code: said plainly, and asked again.
    assert "携帯電話の番号ではない" in texts(chat.say("0987-22-3333"))
    assert locmem_sms == []
    sent = chat.say("０８０−２２２２−３３３３")  # full width, as a phone keyboard may type it
    assert "080-****-3333 に確認コード（6けた）をSMSで送りました" in texts(sent)
    assert locmem_sms[-1].to_e164 == "+818022223333"
    code = _code_sent(locmem_sms)

    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answer = texts(chat.say(wrong))
    assert "確認コードが違います。あと4回まちがえると" in answer
    assert "確認コードは6けたの数字です" in texts(chat.say("12"))
    ticket.resident.refresh_from_db()
    assert ticket.resident.phone == "+819087654321"

    done = chat.say(code)
    assert "携帯電話の番号を登録しました" in texts(done)
    assert "080-****-3333" in texts(done)
    ticket.resident.refresh_from_db()
    assert ticket.resident.phone == "+818022223333" and ticket.resident.sms_consent
    change = ContactChange.objects.get(kind=ContactChange.Kind.PHONE)
    assert (change.channel, change.verified) == ("line", True)


def test_sms_is_stopped_and_started_again(linked: tuple[Chat, Ticket]) -> None:
    chat, ticket = linked
    stopped = chat.tap(chat.say("電話番号・SMS"), "SMSを止める")
    assert "SMSでのお知らせを止めました。" in texts(stopped)
    assert "SMSでのお知らせ：受け取らない" in texts(stopped)
    ticket.resident.refresh_from_db()
    assert ticket.resident.sms_consent is False
    assert ticket.resident.sms_consent_changed_via == "line"
    started = chat.tap(stopped, "SMSを受け取る")
    assert "受け取る設定にしました" in texts(started)
    ticket.resident.refresh_from_db()
    assert ticket.resident.sms_consent is True


def test_without_a_mobile_number_sms_cannot_be_switched_on(
    chat_factory: Callable[[str], Chat], world: World
) -> None:
    ticket = world.resident()
    ticket.resident.phone = "+81987223333"  # a landline
    ticket.resident.save()
    chat = chat_factory("U5200")
    link(chat, ticket)
    answer = chat.say("電話番号・SMS")
    assert "携帯電話の番号がないため、SMSは届きません" in texts(answer)
    assert "携帯番号を登録" in _labels(answer)
    assert not {"SMSを止める", "SMSを受け取る"} & _labels(answer)
    # A forged "SMS on" is refused with the core's sentence.
    link_id = ticket.resident.line_links.get().pk
    assert "携帯電話の番号が登録されていない" in texts(chat.postback(f"a=sms&l={link_id}&on=1"))


def test_forged_buttons_and_strangers_are_refused(
    linked: tuple[Chat, Ticket], world: World
) -> None:
    chat, ticket = linked
    stranger = world.resident(name="他人")
    for forged in ("a=phone&l=999999", "a=sms&l=999999&on=0", "a=contact&l=x", "a=sms&l=1&on=2"):
        assert "使え" in texts(chat.postback(forged))
    ticket.resident.refresh_from_db()
    stranger.resident.refresh_from_db()
    assert ticket.resident.sms_consent and stranger.resident.sms_consent


def test_a_family_account_asks_whose_details(
    chat_factory: Callable[[str], Chat], world: World
) -> None:
    mother = world.resident(name="日南 母")
    father = world.resident(name="日南 父")
    chat = chat_factory("U5300")
    link(chat, mother)
    link(chat, father, first=False)
    who = chat.say("電話番号・SMS")
    assert "どなたの連絡先ですか" in texts(who)
    assert "日南 父 様の連絡先" in texts(chat.tap(who, "日南 父"))
