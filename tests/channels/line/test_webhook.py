"""The webhook: signature on the raw body, once per webhookEventId, 200 at once."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from channels.line.models import LineAccount, LineLink, LineWebhookEvent
from channels.line.standin import StandInLine
from tests.channels.line.conftest import Chat, event_base, sign, texts
from tests.world import World

pytestmark = pytest.mark.django_db


def test_it_answers_503_until_line_is_configured(client: Client, settings: Any) -> None:
    settings.LINE_CHANNEL_SECRET = ""
    settings.LINE_CHANNEL_ACCESS_TOKEN = ""
    body = b'{"events": []}'
    response = client.post(
        "/line/webhook/", body, content_type="application/json", HTTP_X_LINE_SIGNATURE=sign(body)
    )
    assert response.status_code == 503
    assert response.json()["code"] == "line_not_configured"


def test_it_refuses_a_missing_or_wrong_signature(chat_factory: Callable[[str], Chat]) -> None:
    chat = chat_factory("Uaaa")
    event = event_base("Uaaa", "follow")
    assert chat.post([event], signature="").status_code == 400
    assert chat.post([event], signature=sign(b"something else")).status_code == 400
    assert chat.post([event], signature=sign(b"x", secret="another-secret")).status_code == 400
    assert not LineWebhookEvent.objects.exists()


def test_it_checks_the_raw_bytes_not_re_encoded_json(client: Client, standin: StandInLine) -> None:
    event = event_base("Ubbb", "message")
    event["message"] = {"type": "text", "id": "1", "text": "予約確認", "quoteToken": "q"}
    raw = json.dumps({"destination": "U", "events": [event]}, ensure_ascii=False).encode()
    reencoded = json.dumps(json.loads(raw)).encode()  # same JSON, different bytes
    response = client.post(
        "/line/webhook/",
        reencoded,
        content_type="application/json",
        HTTP_X_LINE_SIGNATURE=sign(raw),
    )
    assert response.status_code == 400


def test_the_console_verify_call_is_answered_200(chat_factory: Callable[[str], Chat]) -> None:
    chat = chat_factory("Uccc")
    assert chat.post([]).status_code == 200
    assert not LineWebhookEvent.objects.exists()


def test_a_redelivered_event_is_handled_once(
    chat_factory: Callable[[str], Chat], world: World, standin: StandInLine
) -> None:
    chat = chat_factory("Uddd")
    event = event_base("Uddd", "message")
    event["message"] = {"type": "text", "id": "1", "text": "問い合わせ", "quoteToken": "q"}
    assert chat.post([event]).status_code == 200
    redelivered = {**event, "deliveryContext": {"isRedelivery": True}}
    assert chat.post([redelivered]).status_code == 200
    assert chat.post([event, redelivered]).status_code == 200
    assert LineWebhookEvent.objects.count() == 1
    received = chat.new_messages()
    assert len(received) == 1
    assert "0987-00-0000" in received[0]["text"]


def test_standby_unknown_and_group_events_are_acknowledged_and_ignored(
    chat_factory: Callable[[str], Chat], standin: StandInLine
) -> None:
    chat = chat_factory("Ueee")
    standby = event_base("Ueee", "follow", mode="standby")
    standby["follow"] = {"isUnblocked": False}
    unknown = event_base("Ueee", "somethingNew")
    unknown["somethingNew"] = {"x": 1}
    beacon = event_base("Ueee", "beacon")
    beacon["beacon"] = {"hwid": "d41d8cd98f", "type": "enter"}
    group = event_base("Ueee", "message")
    group["source"] = {"type": "group", "groupId": "Cgroup", "userId": "Ueee"}
    group["message"] = {"type": "text", "id": "2", "text": "予約する", "quoteToken": "q"}
    assert chat.post([standby, unknown, beacon, group]).status_code == 200
    assert not LineWebhookEvent.objects.exists()
    assert standin.calls == []


def test_unfollow_deactivates_the_links(chat_factory: Callable[[str], Chat], world: World) -> None:
    from tests.channels.line.test_chat import link

    chat = chat_factory("Ufff")
    ticket = world.resident()
    link(chat, ticket)
    assert LineLink.objects.get().is_active
    assert chat.unfollow() == []
    assert not LineLink.objects.get().is_active
    assert not LineAccount.objects.get().is_following
    from channels.line.outbound import line_user_id_for

    assert line_user_id_for(resident_id=ticket.resident_id) is None
    # Coming back asks for the ticket again.
    assert "接種券番号" in texts(chat.follow())
