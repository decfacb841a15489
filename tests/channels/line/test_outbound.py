"""The outbound API notify calls: push with a retry key, 409 counted as sent, 429/5xx
retryable, other 4xx rejected; chat answers fall back from reply to push."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from channels.line.models import LineAccount, LineLink
from channels.line.outbound import (
    LinePushRejected,
    LinePushRetryable,
    line_push,
    line_text_messages,
    line_user_id_for,
)
from channels.line.standin import StandInLine
from tests.channels.line.conftest import Chat, event_base, texts
from tests.world import World

pytestmark = pytest.mark.django_db


def test_a_retry_with_the_same_key_is_delivered_once(standin: StandInLine) -> None:
    key = str(uuid.uuid4())
    line_push(to="U1", messages=line_text_messages("明日は接種日です。"), retry_key=key)
    line_push(to="U1", messages=line_text_messages("明日は接種日です。"), retry_key=key)  # 409
    pushes = [c for c in standin.calls if c.path == "/v2/bot/message/push"]
    assert [c.status for c in pushes] == [200, 409]
    assert pushes[0].headers["x-line-retry-key"] == key
    assert pushes[0].body == {
        "to": "U1",
        "messages": [{"type": "text", "text": "明日は接種日です。"}],
        "notificationDisabled": False,
    }
    assert len(standin.accepted("push")) == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_429_and_5xx_are_retryable(standin: StandInLine, status: int) -> None:
    standin.fail_next(status, **{"Retry-After": "7"})
    key = str(uuid.uuid4())
    with pytest.raises(LinePushRetryable) as caught:
        line_push(to="U1", messages=line_text_messages("x"), retry_key=key)
    assert caught.value.status == status
    assert caught.value.retry_after == 7.0
    line_push(to="U1", messages=line_text_messages("x"), retry_key=key)  # the retry goes out
    assert len(standin.accepted("push")) == 1


@pytest.mark.parametrize("status", [400, 401, 403])
def test_other_4xx_are_rejected_not_retried(standin: StandInLine, status: int) -> None:
    standin.fail_next(status)
    with pytest.raises(LinePushRejected) as caught:
        line_push(to="U1", messages=line_text_messages("x"), retry_key=str(uuid.uuid4()))
    assert caught.value.status == status


def test_an_invalid_message_is_rejected_by_line(standin: StandInLine) -> None:
    from linebot.v3.messaging import FlexBox, FlexBubble, FlexMessage

    empty_carousel_like = FlexMessage(
        alt_text="", contents=FlexBubble(body=FlexBox(layout="vertical", contents=[]))
    )
    with pytest.raises(LinePushRejected):
        line_push(to="U1", messages=[empty_carousel_like], retry_key=str(uuid.uuid4()))


def test_a_timeout_is_retryable(standin: StandInLine, settings: Any) -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    settings.LINE_API_BASE_URL = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings.LINE_API_READ_TIMEOUT_SECONDS = 1
    started = time.monotonic()
    with pytest.raises(LinePushRetryable):
        line_push(to="U1", messages=line_text_messages("x"), retry_key=str(uuid.uuid4()))
    assert time.monotonic() - started < 5
    listener.close()


def test_at_most_five_messages_per_request(standin: StandInLine) -> None:
    with pytest.raises(ValueError):
        line_push(to="U1", messages=line_text_messages("x") * 6, retry_key=str(uuid.uuid4()))
    assert len(line_text_messages("あ" * 12000)) == 3
    assert standin.calls == []


def test_line_user_id_for_needs_an_active_link_and_a_follower(world: World) -> None:
    ticket = world.resident()
    assert line_user_id_for(resident_id=ticket.resident_id) is None
    account = LineAccount.objects.create(line_user_id="Ufam")
    LineLink.objects.create(
        account=account, resident=ticket.resident, ticket=ticket, linked_at=dt.datetime.now(dt.UTC)
    )
    assert line_user_id_for(resident_id=ticket.resident_id) == "Ufam"
    account.is_following = False
    account.save()
    assert line_user_id_for(resident_id=ticket.resident_id) is None


def test_a_stale_reply_token_falls_back_to_push_with_a_retry_key(
    chat_factory: Callable[[str], Chat], world: World, standin: StandInLine
) -> None:
    chat = chat_factory("U2000")
    event = event_base("U2000", "message", sent_at=time.time() - 120)
    event["message"] = {"type": "text", "id": "1", "text": "問い合わせ", "quoteToken": "q"}
    assert "0987" in texts(chat.send(event))
    assert standin.accepted("reply") == []
    (push,) = standin.accepted("push")
    assert uuid.UUID(push.headers["x-line-retry-key"])


def test_a_refused_reply_token_falls_back_to_push(
    chat_factory: Callable[[str], Chat], world: World, standin: StandInLine
) -> None:
    chat = chat_factory("U2100")
    event = event_base("U2100", "message")
    event["message"] = {"type": "text", "id": "1", "text": "問い合わせ", "quoteToken": "q"}
    standin.expired_reply_tokens.add(event["replyToken"])
    assert "0987" in texts(chat.send(event))
    assert [c.status for c in standin.calls] == [400, 200]


def test_a_push_that_hits_429_is_retried_by_the_task_once(
    chat_factory: Callable[[str], Chat], world: World, standin: StandInLine
) -> None:
    chat = chat_factory("U2200")
    event = event_base("U2200", "message", redelivery=True)
    event["message"] = {"type": "text", "id": "1", "text": "問い合わせ", "quoteToken": "q"}
    standin.fail_next(429)
    # Eager mode runs the retry at once; in production Celery waits with backoff.
    assert "0987" in texts(chat.send(event))
    statuses = [c.status for c in standin.calls]
    assert statuses == [429, 200]
    keys = {c.headers["x-line-retry-key"] for c in standin.calls}
    assert len(keys) == 1
