"""LINE test kit: a stand-in LINE API server the real SDK calls, and a chat driver that sends
signed webhook events to the real webhook view and reads what the stand-in received."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from channels.line.standin import StandInLine, standin_start
from config.celery import app

SECRET = "test-channel-secret"
TOKEN = "test-access-token"
_ids = itertools.count(1)


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def standin(settings: Any) -> Iterator[StandInLine]:
    state, server = standin_start(access_token=TOKEN)
    settings.LINE_CHANNEL_SECRET = SECRET
    settings.LINE_CHANNEL_ACCESS_TOKEN = TOKEN
    settings.LINE_API_BASE_URL = state.url
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Run tasks in-process, as the embedded default does (the pass with Redis would queue)."""
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
    # Running a task in-process makes Celery cache this thread's result backend (disabled:
    # none is configured). A later test that configures one, as the core's worker test does,
    # would otherwise still get the cached disabled backend; Celery has no public reset.
    vars(app._local).pop("backend", None)


def event_base(
    user_id: str,
    kind: str,
    *,
    redelivery: bool = False,
    mode: str = "active",
    sent_at: float | None = None,
) -> dict[str, Any]:
    number = next(_ids)
    base: dict[str, Any] = {
        "type": kind,
        "mode": mode,
        "timestamp": int((sent_at if sent_at is not None else time.time()) * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": f"01TEST{number:020d}",
        "deliveryContext": {"isRedelivery": redelivery},
    }
    if kind not in ("unfollow",):
        base["replyToken"] = f"reply-{uuid.uuid4().hex}"
    return base


class Chat:
    """One LINE user talking to the bot through the real webhook."""

    def __init__(
        self,
        client: Client,
        standin: StandInLine,
        capture: Callable[..., Any],
        user_id: str,
        *,
        webhook: str = "/line/webhook/",
        secret: str = SECRET,
    ) -> None:
        self.client = client
        self.standin = standin
        self.capture = capture
        self.user_id = user_id
        # The official account talked to: its webhook, and the secret LINE signs with.
        self.webhook = webhook
        self.secret = secret
        self.reply_tokens: dict[str, str] = {}
        self.seen = 0

    def post(self, events: list[dict[str, Any]], *, signature: str | None = None) -> Any:
        for event in events:
            if "replyToken" in event:
                self.reply_tokens[event["replyToken"]] = event["source"]["userId"]
        body = json.dumps({"destination": "Ubot", "events": events}, ensure_ascii=False).encode()
        if signature is None:
            signature = sign(body, self.secret)
        with self.capture(execute=True):
            return self.client.post(
                self.webhook,
                body,
                content_type="application/json",
                HTTP_X_LINE_SIGNATURE=signature,
            )

    def new_messages(self) -> list[dict[str, Any]]:
        received = self.standin.messages_to(self.user_id, self.reply_tokens)
        fresh = received[self.seen :]
        self.seen = len(received)
        return fresh

    def send(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        calls_before = len(self.standin.accepted())
        response = self.post([event])
        assert response.status_code == 200, response.content
        for call in self.standin.accepted()[calls_before:]:
            # LINE shows only the last message's quick replies: any earlier ones would be lost.
            assert all("quickReply" not in m for m in call.body["messages"][:-1]), call.body
        return self.new_messages()

    def follow(self) -> list[dict[str, Any]]:
        event = event_base(self.user_id, "follow")
        event["follow"] = {"isUnblocked": False}
        return self.send(event)

    def unfollow(self) -> list[dict[str, Any]]:
        return self.send(event_base(self.user_id, "unfollow"))

    def say(self, text: str) -> list[dict[str, Any]]:
        event = event_base(self.user_id, "message")
        event["message"] = {"type": "text", "id": str(next(_ids)), "text": text, "quoteToken": "q"}
        return self.send(event)

    def postback(self, data: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        event = event_base(self.user_id, "postback")
        event["postback"] = {"data": data, **({"params": params} if params else {})}
        return self.send(event)

    def tap(self, messages: list[dict[str, Any]], label: str) -> list[dict[str, Any]]:
        """Tap the quick reply or Flex button with this label in the last messages."""
        action = find_action(messages, label)
        if action["type"] == "message":
            return self.say(action["text"])
        if action["type"] == "postback":
            return self.postback(action["data"])
        raise AssertionError(f"cannot tap {action}")


def actions(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "action" in node and isinstance(node["action"], dict):
                found.append(node["action"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(messages)
    return found


def find_action(messages: list[dict[str, Any]], label: str) -> dict[str, Any]:
    matching = [a for a in actions(messages) if a.get("label", "").startswith(label)]
    assert matching, f"no action {label!r} in {[a.get('label') for a in actions(messages)]}"
    return matching[0]


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m["text"] for m in messages if m["type"] == "text")


def flex_texts(messages: list[dict[str, Any]]) -> str:
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text" and "text" in node:
                out.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk([m for m in messages if m["type"] == "flex"])
    return "\n".join(out)


@pytest.fixture
def chat_factory(
    client: Client,
    standin: StandInLine,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> Callable[..., Chat]:
    # Notices are made when the booking commits, as in the embedded default (with a broker the
    # relay process would make them later): a chat test sees everything the resident gets.
    settings.NOTIFY_HANDOFF = "on_commit"

    def make(user_id: str, **account: str) -> Chat:
        """A chat with the settings' account, or (webhook=, secret=) another official account."""
        return Chat(client, standin, django_capture_on_commit_callbacks, user_id, **account)

    return make


def today() -> dt.date:
    from django.utils import timezone

    return timezone.localdate()
