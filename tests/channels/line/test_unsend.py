"""A message the resident unsends (送信取消) leaves no trace of its words in the database:
the stored event keeps only that it was unsent, and the chat forgets what it read from it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.core import serializers

from channels.line.models import LineAccount, LineWebhookEvent
from tests.channels.line.conftest import Chat, event_base, texts

pytestmark = pytest.mark.django_db

# Typed into the wrong chat: a ticket number this city never issued, so it can only be found
# where the chat stored it.
NUMBER = "4444455555"


def database_text() -> str:
    """Every row of every table, as JSON: where a stored copy of the number would show."""
    return "".join(
        serializers.serialize("json", model._default_manager.all()) for model in apps.get_models()
    )


def message(user_id: str, message_id: str, text: str) -> dict[str, Any]:
    event = event_base(user_id, "message")
    event["message"] = {"type": "text", "id": message_id, "text": text, "quoteToken": "q"}
    return event


def unsend(user_id: str, message_id: str, **changes: Any) -> dict[str, Any]:
    event = event_base(user_id, "unsend")
    event.pop("replyToken")  # LINE sends none with an unsend
    event["unsend"] = {"messageId": message_id}
    event.update(changes)
    return event


def test_an_unsent_message_leaves_no_trace_of_its_words(
    chat_factory: Callable[[str], Chat],
) -> None:
    chat = chat_factory("Uunsend1")
    chat.send(message("Uunsend1", "9001", f"接種券番号は{NUMBER}です"))
    assert NUMBER in database_text()

    assert chat.send(unsend("Uunsend1", "9001")) == []  # nothing is said back

    assert NUMBER not in database_text()
    row = LineWebhookEvent.objects.get(message_id="9001", event_type="message")
    assert row.payload == ""
    assert row.unsent_at is not None
    # The unsend itself is kept (who took back which message id, and when), and handled.
    assert LineWebhookEvent.objects.get(event_type="unsend").processed_at is not None


def test_a_ticket_number_waiting_for_its_birth_date_is_forgotten_too(
    chat_factory: Callable[[str], Chat],
) -> None:
    chat = chat_factory("Uunsend2")
    chat.follow()
    assert "生年月日" in texts(chat.send(message("Uunsend2", "9002", NUMBER)))
    assert LineAccount.objects.get().data["ticket"] == NUMBER

    chat.send(unsend("Uunsend2", "9002"))

    assert NUMBER not in database_text()
    account = LineAccount.objects.get()
    assert account.step == "link_ticket"
    # The chat asks for a ticket number again: a birth date now is read as one, and refused.
    assert "接種券番号" in texts(chat.say("昭和25年4月1日"))


def test_unsending_another_message_keeps_the_number_waiting(
    chat_factory: Callable[[str], Chat],
) -> None:
    chat = chat_factory("Uunsend3")
    chat.follow()
    chat.send(message("Uunsend3", "9003", "こんにちは"))
    chat.send(message("Uunsend3", "9004", NUMBER))
    chat.send(unsend("Uunsend3", "9003"))
    assert LineAccount.objects.get().data["ticket"] == NUMBER


def test_a_message_unsent_before_it_was_handled_is_never_answered(
    chat_factory: Callable[[str], Chat],
) -> None:
    chat = chat_factory("Uunsend4")
    first = message("Uunsend4", "9005", f"{NUMBER} 問い合わせ")
    # One body: the message and its unsend arrive together, before any worker runs.
    response = chat.post([first, unsend("Uunsend4", "9005")])
    assert response.status_code == 200
    assert chat.new_messages() == []
    assert NUMBER not in database_text()
    assert not LineWebhookEvent.objects.filter(processed_at__isnull=True).exists()


def test_a_message_redelivered_after_its_unsend_stays_empty(
    chat_factory: Callable[[str], Chat],
) -> None:
    chat = chat_factory("Uunsend5")
    first = message("Uunsend5", "9006", NUMBER)
    # Its first delivery failed; LINE delivers the unsend, then the message again.
    chat.send(unsend("Uunsend5", "9006"))
    redelivered = {**first, "deliveryContext": {"isRedelivery": True}}
    assert chat.send(redelivered) == []
    assert NUMBER not in database_text()
    assert LineWebhookEvent.objects.get(event_type="message").unsent_at is not None


def test_an_unsend_touches_only_its_own_user(chat_factory: Callable[[str], Chat]) -> None:
    mine = chat_factory("Uunsend6")
    theirs = chat_factory("Uunsend7")
    theirs.send(message("Uunsend7", "9007", f"{NUMBER} です"))
    # Message ids are unique across LINE, but a forged pairing must not reach another user.
    mine.send(unsend("Uunsend6", "9007"))
    assert LineWebhookEvent.objects.get(line_user_id="Uunsend7").payload != ""
