"""A stand-in for LINE's Messaging API on 127.0.0.1, for tests, benchmarks and demos.

The real SDK talks to it through `Configuration(host=...)` (LINE_API_BASE_URL). It checks
requests the way LINE does for what we use — the access token, at most 5 messages, at most 13
quick replies, Flex shape and size limits, single-use reply tokens, `X-Line-Retry-Key` (a
second push with an accepted key gets 409) — and records every accepted request so a test can
read exactly what a resident would have seen, with its headers (the Authorization header says
which official account sent it). Failures can be scripted (`fail_next`) to test 429/5xx/400
handling. It accepts one access token, plus any given to `accept_token` (one per municipality's
official account, as if each were its own channel at LINE).
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from linebot.v3.messaging import FlexContainer

MAX_MESSAGES = 5
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_LABEL = 20
MAX_BUBBLES = 12
MAX_TEXT = 5000
MAX_ALT_TEXT = 1500
MAX_POSTBACK_DATA = 300
MAX_BUTTON_LABEL = 40


def _check_action(action: dict[str, Any], *, label_limit: int, where: str) -> list[str]:
    errors = []
    label = action.get("label")
    if label is not None and not 1 <= len(label) <= label_limit:
        errors.append(f"{where}: label length {len(label)} not in 1..{label_limit}")
    kind = action.get("type")
    if kind == "postback" and len(action.get("data", "")) > MAX_POSTBACK_DATA:
        errors.append(f"{where}: postback data over {MAX_POSTBACK_DATA}")
    if kind == "postback" and not action.get("data"):
        errors.append(f"{where}: postback without data")
    if kind == "message" and not action.get("text"):
        errors.append(f"{where}: message action without text")
    if kind == "datetimepicker" and action.get("mode") not in ("date", "time", "datetime"):
        errors.append(f"{where}: bad datetimepicker mode")
    return errors


def _walk_flex(node: Any, where: str) -> list[str]:
    errors: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "button":
            errors += _check_action(
                node.get("action", {}), label_limit=MAX_BUTTON_LABEL, where=where
            )
        if node.get("type") == "text" and not node.get("text") and not node.get("contents"):
            errors.append(f"{where}: empty text component")
        for value in node.values():
            errors += _walk_flex(value, where)
    elif isinstance(node, list):
        for value in node:
            errors += _walk_flex(value, where)
    return errors


def validate_messages(messages: Any) -> list[str]:
    """What LINE would reject in a reply/push `messages` array (empty list = acceptable)."""
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        return [f"messages must be 1..{MAX_MESSAGES} items"]
    errors: list[str] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        kind = message.get("type")
        if kind == "text":
            body = message.get("text") or ""
            if not 1 <= len(body) <= MAX_TEXT:
                errors.append(f"{where}: text length {len(body)}")
        elif kind == "flex":
            alt = message.get("altText") or ""
            if not 1 <= len(alt) <= MAX_ALT_TEXT:
                errors.append(f"{where}: altText length {len(alt)}")
            contents = message.get("contents") or {}
            try:
                FlexContainer.from_dict(contents)
            except Exception as exc:  # the SDK's own model is the schema
                errors.append(f"{where}: invalid flex: {exc}")
            if contents.get("type") == "carousel" and not (
                1 <= len(contents.get("contents", [])) <= MAX_BUBBLES
            ):
                errors.append(f"{where}: carousel must hold 1..{MAX_BUBBLES} bubbles")
            if contents.get("type") not in ("bubble", "carousel"):
                errors.append(f"{where}: flex contents must be a bubble or carousel")
            errors += _walk_flex(contents, where)
        else:
            errors.append(f"{where}: unsupported type {kind!r}")
        items = (message.get("quickReply") or {}).get("items")
        if items is not None:
            if not 1 <= len(items) <= MAX_QUICK_REPLIES:
                errors.append(f"{where}: {len(items)} quick replies")
            for number, item in enumerate(items):
                errors += _check_action(
                    item.get("action", {}),
                    label_limit=MAX_QUICK_REPLY_LABEL,
                    where=f"{where}.quickReply[{number}]",
                )
    return errors


def _sent(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "sentMessages": [
            {"id": str(uuid.uuid4().int)[:18], "quoteToken": uuid.uuid4().hex}
            for _message in body["messages"]
        ]
    }


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: Any
    status: int


@dataclass
class StandInLine:
    """State of the stand-in: what it accepted, and what it was told to refuse next."""

    access_token: str
    other_tokens: set[str] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)
    accepted_retry_keys: set[str] = field(default_factory=set)
    used_reply_tokens: set[str] = field(default_factory=set)
    expired_reply_tokens: set[str] = field(default_factory=set)
    scripted: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def accept_token(self, token: str) -> None:
        """Also accept this access token (another official account's)."""
        with self.lock:
            self.other_tokens.add(token)

    def _token_known(self, authorization: str | None) -> bool:
        with self.lock:
            tokens = {self.access_token, *self.other_tokens}
        return any(authorization == f"Bearer {token}" for token in tokens)

    def fail_next(self, status: int, times: int = 1, **headers: str) -> None:
        with self.lock:
            self.scripted += [(status, headers)] * times

    def accepted(self, kind: str | None = None) -> list[Call]:
        """Accepted reply/push calls, oldest first (kind: 'reply' or 'push')."""
        with self.lock:
            calls = [c for c in self.calls if c.status == 200]
        if kind is not None:
            calls = [c for c in calls if c.path == f"/v2/bot/message/{kind}"]
        return calls

    def messages_to(
        self, user_id: str, reply_tokens: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Every message a user received, by push to them or by reply to one of their tokens."""
        tokens = reply_tokens or {}
        received = []
        for call in self.accepted():
            if (
                call.path == "/v2/bot/message/push"
                and call.body.get("to") == user_id
                or (
                    call.path == "/v2/bot/message/reply"
                    and tokens.get(call.body.get("replyToken")) == user_id
                )
            ):
                received += call.body["messages"]
        return received

    def handle(
        self, method: str, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any]]:
        try:
            body: Any = (
                json.loads(raw)
                if raw and headers.get("content-type", "").startswith("application/json")
                else {}
            )
        except ValueError:
            return self._record(
                path, headers, raw, 400, {"message": "The request body has 1 error(s)"}
            )
        if not isinstance(body, dict):  # LINE answers 400 to any body that is not an object
            return self._record(
                path, headers, raw, 400, {"message": "The request body has 1 error(s)"}
            )
        if not self._token_known(headers.get("authorization")):
            return self._record(path, headers, body, 401, {"message": "Authentication failed"})
        with self.lock:
            scripted = self.scripted.pop(0) if self.scripted else None
        if scripted is not None:
            status, extra = scripted
            return self._record(
                path, headers, body, status, {"message": "scripted failure", **extra}
            )
        if path in ("/v2/bot/message/reply", "/v2/bot/message/push"):
            return self._message(path, headers, body)
        if method == "POST" and path == "/v2/bot/richmenu":
            return self._record(
                path, headers, body, 200, {"richMenuId": f"richmenu-{uuid.uuid4().hex}"}
            )
        if method == "POST" and path.startswith("/v2/bot/richmenu/") and path.endswith("/content"):
            return self._record(path, headers, {"bytes": len(raw)}, 200, {})
        if method == "POST" and path.startswith("/v2/bot/user/all/richmenu/"):
            return self._record(path, headers, body, 200, {})
        if method == "GET" and path == "/v2/bot/richmenu/list":
            return self._record(path, headers, body, 200, {"richmenus": []})
        return self._record(path, headers, body, 404, {"message": "Not found"})

    def _message(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        errors = validate_messages(body.get("messages"))
        if errors:
            return self._record(
                path,
                headers,
                body,
                400,
                {"message": "The request body has errors", "details": errors},
            )
        if path.endswith("/reply"):
            token = body.get("replyToken", "")
            with self.lock:
                spent = (
                    token in self.used_reply_tokens
                    or token in self.expired_reply_tokens
                    or not token
                )
                self.used_reply_tokens.add(token)
            if spent:
                return self._record(path, headers, body, 400, {"message": "Invalid reply token"})
            return self._record(path, headers, body, 200, _sent(body))
        key = headers.get("x-line-retry-key")
        if key is not None:
            with self.lock:
                seen = key in self.accepted_retry_keys
                self.accepted_retry_keys.add(key)
            if seen:
                return self._record(
                    path, headers, body, 409, {"message": "The retry key is already accepted"}
                )
        return self._record(path, headers, body, 200, _sent(body))

    def _record(
        self, path: str, headers: dict[str, str], body: Any, status: int, answer: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.calls.append(Call(path=path, headers=headers, body=body, status=status))
        return status, answer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, answer = self.server.state.handle(
            self.command, self.path.split("?")[0], headers, raw
        )
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-line-request-id", uuid.uuid4().hex)
        for name in ("Retry-After",):
            if name in answer:
                self.send_header(name, str(answer[name]))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = _serve
    do_GET = _serve
    do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 resets connections when more workers than that
    # reply at once (the SMS stand-in learnt the same); LINE's own API never does.
    request_queue_size = 256
    state: StandInLine


def standin_start(*, access_token: str) -> tuple[StandInLine, ThreadingHTTPServer]:
    """Serve a stand-in on 127.0.0.1 (a free port) in a thread; stop it with server.shutdown()."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = StandInLine(access_token=access_token)
    server.state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.state, server
