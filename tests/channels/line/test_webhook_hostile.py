"""Signed webhook bodies of every wrong shape: always 200 (LINE retries anything else), the
odd events dropped, their neighbours kept, and nothing stored that a column or PostgreSQL
would refuse. Runs on SQLite and, in the PostgreSQL pass, where NUL in text and bigint
overflow are errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from channels.line.models import LineWebhookEvent
from channels.line.payloads import MAX_ID_LENGTH
from tests.channels.line.conftest import Chat, event_base, sign

pytestmark = pytest.mark.django_db

USER = "U" + "a1" * 16


def _message(text: Any = "問い合わせ", **changes: Any) -> dict[str, Any]:
    event = event_base(USER, "message")
    event["message"] = {"type": "text", "id": "100", "text": text, "quoteToken": "q"}
    event.update(changes)
    return event


def _postback(data: Any, params: Any = None) -> dict[str, Any]:
    event = event_base(USER, "postback")
    event["postback"] = {"data": data, **({"params": params} if params is not None else {})}
    return event


def _body(events: Any) -> bytes:
    document = {"destination": "Ubot", "events": events}
    try:
        return json.dumps(document, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        # A lone surrogate has no UTF-8 form: JSON carries it as an escape, as LINE would.
        return json.dumps(document).encode()


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


# (label, raw body): each is signed with the channel secret, as LINE would sign it.
HOSTILE_BODIES: list[tuple[str, bytes]] = [
    # The eight of the issue.
    ("events is an object", b'{"destination": "U", "events": {"type": "message"}}'),
    ("null", b"null"),
    ("events is a list of ints", _body([1, 2, 3])),
    ("5,000-deep nesting as the body", _deep(5000).encode()),
    (
        "5,000-deep nesting inside an event",
        b'{"events": [{"type": "message", "message": ' + _deep(5000).encode() + b"}]}",
    ),
    ("timestamp 1e30", _body([_message(timestamp=1e30)])),
    ("timestamp 10**30 (an integer)", _body([_message(timestamp=10**30)])),
    ("ids over 64 characters", _body([_message(webhookEventId="0" * (MAX_ID_LENGTH + 1))])),
    # Missing fields.
    ("empty object", b"{}"),
    ("no events key", b'{"destination": "U"}'),
    ("events null", b'{"events": null}'),
    ("events a string", b'{"events": "message"}'),
    ("top-level list", b"[]"),
    ("top-level number", b"12"),
    ("empty body", b""),
    ("not JSON", b"events=1"),
    ("NaN and Infinity", b'{"events": [{"timestamp": NaN, "x": Infinity}]}'),
    ("a 5,000-digit number", b'{"events": [{"timestamp": ' + b"9" * 5000 + b"}]}"),
    *(
        (f"event without {field}", _body([{k: v for k, v in _message().items() if k != field}]))
        for field in ("type", "webhookEventId", "source", "timestamp", "mode", "deliveryContext")
    ),
    ("message without its message", _body([{**_message(), "message": None}])),
    ("message without an id", _body([_message(message={"type": "text", "text": "x"})])),
    ("sticker without its fields", _body([_message(message={"type": "sticker", "id": "5"})])),
    ("unknown message type", _body([_message(message={"type": "hologram", "id": "5"})])),
    ("100-deep nesting inside a message", _body([_message(extra=json.loads(_deep(100)))])),
    ("unsend without messageId", _body([{**event_base(USER, "unsend"), "unsend": {}}])),
    # Wrong types.
    ("type is a number", _body([_message(type=5)])),
    ("type is a list", _body([_message(type=["message"])])),
    ("source is a string", _body([_message(source="user")])),
    ("userId is a number", _body([_message(source={"type": "user", "userId": 5})])),
    ("timestamp is a string", _body([_message(timestamp="1700000000000")])),
    ("timestamp is true", _body([_message(timestamp=True)])),
    ("timestamp is negative", _body([_message(timestamp=-1)])),
    ("webhookEventId is a number", _body([_message(webhookEventId=12345)])),
    ("deliveryContext is a string", _body([_message(deliveryContext="redelivery")])),
    ("isRedelivery is a string", _body([_message(deliveryContext={"isRedelivery": "yes"})])),
    ("message is a string", _body([_message(message="hello")])),
    ("text is a number", _body([_message(text=12345)])),
    ("message id is an object", _body([_message(message={"type": "text", "id": {}})])),
    ("postback data is a number", _body([_postback(5)])),
    ("postback params is a list", _body([_postback("a=date", ["2030-01-01"])])),
    (
        "unsend messageId is a list",
        _body([{**event_base(USER, "unsend"), "unsend": {"messageId": [1]}}]),
    ),
    ("mode is unknown", _body([_message(mode="sideways")])),
    # Values a column or PostgreSQL would refuse.
    ("NUL in webhookEventId", _body([_message(webhookEventId="01TEST\x00EVIL")])),
    ("NUL in userId", _body([_message(source={"type": "user", "userId": "U\x00x"})])),
    ("control character in userId", _body([_message(source={"type": "user", "userId": "U\x1bx"})])),
    ("userId over 64", _body([_message(source={"type": "user", "userId": "U" * 100})])),
    (
        "message id over 64",
        _body(
            [_message(message={"type": "text", "id": "9" * 100, "text": "x", "quoteToken": "q"})]
        ),
    ),
    ("non-ASCII webhookEventId", _body([_message(webhookEventId="０１ＴＥＳＴ")])),
    ("empty webhookEventId", _body([_message(webhookEventId="")])),
    ("timestamp 2**63", _body([_message(timestamp=2**63)])),
    ("group chat", _body([_message(source={"type": "group", "groupId": "C1", "userId": USER})])),
]

# Events of the right shape carrying hostile content: stored, and the chat survives them.
HOSTILE_CONTENT: list[tuple[str, dict[str, Any]]] = [
    ("NUL in the text", _message("予約\x00確認")),
    ("10,000 characters", _message("あ" * 10_000)),
    ("emoji, 𠮷 and an RTL override", _message("👨‍👩‍👧 𠮷野家 \u202egnp.exe")),
    ("a lone surrogate", _message("\ud800")),
    ("a 30-digit number", _message("1" * 30)),
    ("NUL in postback data", _postback("a=slot&s=1\x00")),
    ("a 30-digit id in postback data", _postback("a=slot&s=" + "9" * 30)),
    ("NUL in postback params", _postback("a=date", {"date": "2030-01-01\x00"})),
    ("year 9999 in postback params", _postback("a=date", {"date": "9999-12-31"})),
    ("year 0 in postback params", _postback("a=date", {"date": "0000-01-01"})),
    (
        "a sticker",
        _message(
            message={
                "type": "sticker",
                "id": "5",
                "quoteToken": "q",
                "packageId": "1",
                "stickerId": "1",
                "stickerResourceType": "STATIC",
            }
        ),
    ),
    (
        "unsend of a message never seen",
        {**event_base(USER, "unsend"), "unsend": {"messageId": "7"}},
    ),
]


def _post_signed(chat: Chat, body: bytes) -> Any:
    with chat.capture(execute=True):
        return chat.client.post(
            "/line/webhook/",
            body,
            content_type="application/json",
            HTTP_X_LINE_SIGNATURE=sign(body),
        )


@pytest.mark.parametrize(("label", "body"), HOSTILE_BODIES, ids=[b[0] for b in HOSTILE_BODIES])
def test_a_signed_body_of_the_wrong_shape_is_acknowledged_and_dropped(
    chat_factory: Callable[[str], Chat], label: str, body: bytes
) -> None:
    chat = chat_factory(USER)
    response = _post_signed(chat, body)
    assert response.status_code == 200, (label, response.content)
    assert not LineWebhookEvent.objects.exists(), label


def test_a_body_that_is_not_utf8_is_not_lines(chat_factory: Callable[[str], Chat]) -> None:
    # LINE sends UTF-8 JSON, and the SDK's validator checks the signature on that text: bytes
    # that are not UTF-8 cannot carry LINE's signature, whatever the header says.
    chat = chat_factory(USER)
    response = _post_signed(chat, b'{"events": ["\xff\xfe"]}')
    assert response.status_code == 400
    assert response.json() == {"code": "signature_invalid"}
    assert not LineWebhookEvent.objects.exists()


def test_an_odd_event_does_not_drop_its_neighbours(chat_factory: Callable[[str], Chat]) -> None:
    chat = chat_factory(USER)
    before = _message("問い合わせ")
    after = _message("問い合わせ")
    body = _body([before, 1, None, "x", _message(timestamp=10**30), {"type": "message"}, after])
    assert _post_signed(chat, body).status_code == 200
    stored = set(LineWebhookEvent.objects.values_list("webhook_event_id", flat=True))
    assert stored == {before["webhookEventId"], after["webhookEventId"]}
    # Both were handled (answered), not merely stored.
    assert not LineWebhookEvent.objects.filter(processed_at__isnull=True).exists()
    chat.reply_tokens.update({before["replyToken"]: USER, after["replyToken"]: USER})
    assert len(chat.new_messages()) == 2


@pytest.mark.parametrize(("label", "event"), HOSTILE_CONTENT, ids=[c[0] for c in HOSTILE_CONTENT])
def test_hostile_content_in_a_well_formed_event_is_stored_and_handled(
    chat_factory: Callable[[str], Chat], label: str, event: dict[str, Any]
) -> None:
    chat = chat_factory(USER)
    # Linked or not, the chat must survive it: try it both fresh and mid-linking.
    chat.follow()
    assert _post_signed(chat, _body([event])).status_code == 200, label
    row = LineWebhookEvent.objects.get(webhook_event_id=event["webhookEventId"])
    assert row.processed_at is not None
    assert "\x00" not in row.payload  # stored as the JSON escape, which PostgreSQL accepts


def test_the_hostile_corpus_never_answers_5xx(chat_factory: Callable[[str], Chat]) -> None:
    """The figure for the issue: every body above, and every hostile event, to one chat."""
    chat = chat_factory(USER)
    statuses = [_post_signed(chat, body).status_code for _label, body in HOSTILE_BODIES]
    statuses += [_post_signed(chat, _body([event])).status_code for _l, event in HOSTILE_CONTENT]
    assert len(statuses) == len(HOSTILE_BODIES) + len(HOSTILE_CONTENT)
    assert set(statuses) == {200}


def test_a_wrong_signature_is_still_refused_whatever_the_body(client: Client, standin: Any) -> None:
    for _label, body in HOSTILE_BODIES[:8]:
        response = client.post(
            "/line/webhook/",
            body,
            content_type="application/json",
            HTTP_X_LINE_SIGNATURE=sign(body, secret="not-the-channel-secret"),
        )
        assert response.status_code == 400
    for signature in ("not base64 at all!", "", "\x00"):
        response = client.post(
            "/line/webhook/",
            b"{}",
            content_type="application/json",
            HTTP_X_LINE_SIGNATURE=signature,
        )
        assert response.status_code == 400
