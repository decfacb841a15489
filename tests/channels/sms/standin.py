"""Stand-in SMS providers on 127.0.0.1 that behave like the real ones, errors and slowness
included. The real client code (requests, the twilio package) talks to them over HTTP.

Every answer to /messages (send or look-up) takes `answer_seconds` (0 by default), like a real
provider's answer time; `GatewayStandIn(answer_seconds=0.1)` or set the attribute later.

Behaviour per POST is scripted: `standin.script(["500", "500", "ok"])`. Steps:
  ok             accept
  500 / 503      answer that status without accepting
  429:<s>        too many requests, Retry-After <s>
  slow:<s>       wait <s> seconds, then accept
  accept_hang:<s> accept (record the message), then wait <s> seconds before answering
After the script runs out every POST is accepted.

`TwilioStandIn.incoming_message` and `.signature` play the other direction: a resident's reply
as Twilio forwards it to our incoming-message webhook, signed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

_JP_MOBILE_NATIONAL = re.compile(r"^0[6789]0[0-9]{8}$")
_JP_MOBILE_E164 = re.compile(r"^\+81[6789]0[0-9]{8}$")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class StandIn:
    """Base: a threaded HTTP server with a script of behaviours and a record of messages."""

    def __init__(self, *, answer_seconds: float = 0.0) -> None:
        self.answer_seconds = answer_seconds
        self.lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []
        self.posts = 0
        self._script: deque[str] = deque()
        self.server: _Server | None = None

    def script(self, steps: Iterable[str]) -> None:
        with self.lock:
            self._script = deque(steps)

    def next_step(self) -> str:
        with self.lock:
            self.posts += 1
            return self._script.popleft() if self._script else "ok"

    def take_answer_time(self) -> None:
        if self.answer_seconds > 0:
            time.sleep(self.answer_seconds)

    def record(self, message: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.messages.append(message)
        return message

    def start(self) -> str:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Each answer leaves in one segment, at once. Unbuffered, the headers and the body
            # were two writes: Nagle's algorithm held the body back until the client ACKed the
            # headers, and the client delays that ACK by 40 ms, so every request took 44 ms.
            disable_nagle_algorithm = True
            wbufsize = 64 * 1024

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def reply(
                self, status: int, payload: Any, headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                # The client may have given up waiting (a timeout test); that is fine.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)
                    self.wfile.flush()  # headers and body in one send

            def do_POST(self) -> None:
                body = self._body()
                standin.take_answer_time()
                standin.handle_post(self, body)

            def do_GET(self) -> None:
                if urlparse(self.path).path != "/_stats":
                    standin.take_answer_time()
                standin.handle_get(self)

        self.server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def scripted(self, handler: Any) -> tuple[bool, float]:
        """Apply the next step. Returns (accept, hang_after_accepting_seconds); answers and
        returns accept=False for failure steps."""
        step = self.next_step()
        name, _sep, arg = step.partition(":")
        if name == "ok":
            return True, 0.0
        if name == "slow":
            time.sleep(float(arg))
            return True, 0.0
        if name == "accept_hang":
            return True, float(arg)
        if name == "429":
            handler.reply(429, {"error": "too_many_requests"}, {"Retry-After": arg or "1"})
            return False, 0.0
        handler.reply(int(name), {"error": "server_error"})
        return False, 0.0

    def handle_post(self, handler: Any, body: bytes) -> None:
        raise NotImplementedError

    def handle_get(self, handler: Any) -> None:
        raise NotImplementedError


class GatewayStandIn(StandIn):
    """A Japanese domestic direct-connect gateway (空電プッシュ-shaped)."""

    def __init__(
        self,
        token: str = "gateway-token",  # noqa: S107
        service_id: str = "svc-1",
        *,
        answer_seconds: float = 0.0,
    ) -> None:
        super().__init__(answer_seconds=answer_seconds)
        self.token, self.service_id = token, service_id

    def _authorised(self, handler: Any) -> bool:
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            handler.reply(401, {"error": "unauthorized"})
            return False
        return True

    def handle_post(self, handler: Any, body: bytes) -> None:
        if urlparse(handler.path).path != "/messages":
            handler.reply(404, {"error": "not_found"})
            return
        if not self._authorised(handler):
            return
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()}
        if form.get("service_id") != self.service_id:
            handler.reply(400, {"error": "invalid_service_id"})
            return
        if not _JP_MOBILE_NATIONAL.match(form.get("to", "")):
            handler.reply(400, {"error": "invalid_to", "message": "to must be 11 digits"})
            return
        if not form.get("body") or len(form["body"]) > 660:
            handler.reply(400, {"error": "invalid_body"})
            return
        accept, hang = self.scripted(handler)
        if not accept:
            return
        message = self.record(
            {
                "id": str(uuid.uuid4()),
                "to": form["to"],
                "body": form["body"],
                "tags": form.get("tags", ""),
            }
        )
        if hang:
            time.sleep(hang)
        handler.reply(201, {"object": "message", "id": message["id"], "status": "waiting"})

    def handle_get(self, handler: Any) -> None:
        url = urlparse(handler.path)
        if url.path == "/_stats":
            # Not part of any provider's API: lets a benchmark in another process read counts.
            with self.lock:
                tags = [m["tags"] for m in self.messages]
            handler.reply(
                200, {"messages": len(tags), "distinct": len(set(tags)), "posts": self.posts}
            )
            return
        if url.path != "/messages" or not self._authorised(handler):
            if url.path != "/messages":
                handler.reply(404, {"error": "not_found"})
            return
        tags = parse_qs(url.query).get("tags", [""])[0]
        with self.lock:
            found = [m for m in self.messages if m["tags"] == tags]
        handler.reply(200, {"object": "list", "data": found})


class TwilioStandIn(StandIn):
    """Twilio's Messages resource (2010-04-01 API) for one account."""

    def __init__(
        self,
        account_sid: str = "AC" + "0" * 32,
        auth_token: str = "twilio-token",  # noqa: S107
        *,
        answer_seconds: float = 0.0,
    ) -> None:
        super().__init__(answer_seconds=answer_seconds)
        self.account_sid, self.auth_token = account_sid, auth_token

    def _authorised(self, handler: Any) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if handler.headers.get("Authorization") != f"Basic {expected}":
            handler.reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
            return False
        return True

    def _path_ok(self, handler: Any) -> bool:
        expected = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if urlparse(handler.path).path != expected:
            handler.reply(404, {"code": 20404, "message": "Not found", "status": 404})
            return False
        return True

    def _resource(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "sid": message["sid"],
            "account_sid": self.account_sid,
            "to": message["to"],
            "from": message["from"],
            "body": message["body"],
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "date_created": "Mon, 02 Nov 2026 00:00:00 +0000",
            "date_sent": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message['sid']}.json",
        }

    def handle_post(self, handler: Any, body: bytes) -> None:
        if not self._path_ok(handler) or not self._authorised(handler):
            return
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()}
        if not _JP_MOBILE_E164.match(form.get("To", "")):
            handler.reply(
                400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}
            )
            return
        accept, hang = self.scripted(handler)
        if not accept:
            return
        message = self.record(
            {
                "sid": "SM" + uuid.uuid4().hex,
                "to": form["To"],
                "from": form.get("From") or form.get("MessagingServiceSid", ""),
                "body": form.get("Body", ""),
                "status_callback": form.get("StatusCallback", ""),
            }
        )
        if hang:
            time.sleep(hang)
        handler.reply(201, self._resource(message))

    def incoming_message(
        self, *, sender: str, body: str, to: str = "+15005550006"
    ) -> dict[str, str]:
        """The form Twilio POSTs to a number's incoming-message webhook when someone texts
        that number (a resident replying to our SMS)."""
        sid = "SM" + uuid.uuid4().hex
        return {
            "ToCountry": "US",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": body,
            "To": to,
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": sender,
            "FromCountry": "JP",
            "ApiVersion": "2010-04-01",
        }

    def signature(self, url: str, form: dict[str, str]) -> str:
        """X-Twilio-Signature as Twilio computes it: the webhook URL it called plus the form."""
        return str(RequestValidator(self.auth_token).compute_signature(url, form))

    def handle_get(self, handler: Any) -> None:
        if not self._path_ok(handler) or not self._authorised(handler):
            return
        query = parse_qs(urlparse(handler.path).query)
        to = query.get("To", [""])[0]
        with self.lock:
            found = [self._resource(m) for m in self.messages if not to or m["to"] == to]
        handler.reply(
            200,
            {
                "messages": found,
                "end": max(0, len(found) - 1),
                "first_page_uri": handler.path,
                "next_page_uri": None,
                "page": 0,
                "page_size": 50,
                "previous_page_uri": None,
                "start": 0,
                "uri": handler.path,
            },
        )
