"""A stand-in for Twilio Programmable Voice on 127.0.0.1: the real `twilio` client places calls
on it, and it plays each call against our app's webhooks the way Twilio would, signed.

    with TwilioVoiceStandIn(account_sid, auth_token) as twilio:
        settings.TWILIO_API_BASE_URL = twilio.base_url     # or client.api.base_url
        twilio.behave("+819012345678", "keys:1")            # this resident presses 1
        ... place the call through the app ...
        assert twilio.wait_idle(10)
        call = twilio.call_for("+819012345678")             # .said, .digits, .status ...

The Calls resource (2010-04-01 API) for one account: create (POST Calls.json), list (GET
Calls.json with To, From, Status, StartTime, StartTime>, StartTime<, PageSize, Page) and fetch
(GET Calls/{CallSid}.json). HTTP Basic auth with the account sid and auth token, 401 otherwise.
Updating or cancelling a call is not supported (404).

Create requests follow a script, like the SMS stand-in: `script(["500", "ok", "429:1"])`.
Steps: ok; 500 / 503 / any status (answered without placing the call); 429:<s> (Retry-After
<s>); slow:<s> (wait, then place); accept_hang:<s> (place the call, then wait <s> seconds before
answering: the client may time out on a call that rings). After the script, every create is
accepted.

Each accepted call plays on its own thread, after the 201 answer has left (so our app can get
the call's first webhook before `calls.create` has returned, as with Twilio). It rings for
`answer_seconds`, then follows the behaviour queued for its number with `behave(to, ...)`, else
`default_behaviour`:

  human          answers and presses nothing: every Gather times out
  keys:1,2       answers; one entry per successive Gather, pressed after its prompts. An entry
                 ends at the Gather's finish key (Digits without it, FinishedOnKey with it) or
                 at numDigits; without either Twilio waits `timeout` more seconds, then submits.
                 "-" lets that Gather time out; Gathers after the last entry time out.
  hangup:N       answers, lets N Gathers time out and hangs up as the next Gather begins
  machine        an answering machine: hears everything, presses nothing
  busy, no-answer, failed   never answered: only the final status callback is posted

A Gather that times out (or gets only the finish key) goes on with the verb after it, as Twilio
does with its default actionOnEmptyResult=false. A non-2xx or non-TwiML answer from our app, a
connection error or 15 s without an answer is recorded in `errors` and ends the call (Twilio
says "an application error has occurred" and hangs up); redirects (3xx) are not followed.

The duration is simulated, not waited for: ceil(sum of len(text) * 0.15 s * loop for each
text said + Pause lengths + Gather timeouts that ran out), at least 1 s, and at most the
create request's TimeLimit (the call is cut there). A Say with loop=0 ("until the call ends")
counts once.

Every request to our app carries X-Twilio-Signature computed like Twilio's (RequestValidator
over the URL exactly as given, plus the POST params; a GET has its params in the URL). The
stand-in calls only the hosts of the Url and StatusCallback it was given: an action or Redirect
that points anywhere else is an error, never a request.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import http.client
import json
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from channels.voice.twiml_reader import (
    Gather,
    Hangup,
    Pause,
    Redirect,
    Say,
    TwimlError,
    Verb,
    read_twiml,
)

API_VERSION = "2010-04-01"
# Twilio gives up on a webhook after 15 seconds.
WEBHOOK_TIMEOUT_SECONDS = 15.0
# A document that redirects to itself would otherwise play for ever when nothing is said.
MAX_DOCUMENTS_PER_CALL = 100
# Seconds, in hundredths, that one character of a Say takes (integers keep the sum exact).
_HUNDREDTHS_PER_CHARACTER = 15

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_KEYS = re.compile(r"^[0-9*#]+$")
_NEVER_ANSWERED = ("busy", "no-answer", "failed")
_MACHINE_DETECTION = ("", "Enable", "DetectMessageEnd")


@dataclass(frozen=True)
class Behaviour:
    """A parsed behaviour string (see the module docstring)."""

    kind: str  # human, machine, busy, no-answer, failed
    # One entry per successive Gather; None lets that Gather time out.
    keys: tuple[str | None, ...] = ()
    hang_up_after: int | None = None

    @classmethod
    def parse(cls, text: str) -> Behaviour:
        name, sep, arg = text.partition(":")
        if not sep and name in ("human", "machine", *_NEVER_ANSWERED):
            return cls(name)
        if name == "keys" and arg:
            entries = arg.split(",")
            for entry in entries:
                if entry != "-" and not _KEYS.match(entry):
                    raise ValueError(f"behaviour {text!r}: {entry!r} is not keys (0-9 * #) or -")
            return cls("human", keys=tuple(None if e == "-" else e for e in entries))
        if name == "hangup" and arg.isdigit():
            return cls("human", hang_up_after=int(arg))
        raise ValueError(
            f"unknown behaviour {text!r}: human, machine, busy, no-answer, failed, "
            "keys:<entries>, hangup:<N>"
        )


@dataclass
class WebhookExchange:
    """One request the stand-in made to our app, and its answer."""

    purpose: str  # answer, gather, redirect, status, or test for signed_post/unsigned_post
    method: str
    # Exactly as requested and signed: a GET has its params in the query.
    url: str
    params: dict[str, str]
    signature: str | None
    status: int = 0  # 0: no answer at all (connection refused, timeout)
    body: bytes = b""
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class StandInCall:
    """A call the stand-in accepted, and everything that happened on it so far."""

    sid: str
    to: str
    from_: str
    behaviour: str
    url: str
    method: str
    twiml: str
    status_callback: str
    status_callback_method: str
    status_callback_events: list[str]
    machine_detection: str
    time_limit: int
    timeout: int
    # The create request's form, as sent.
    params: dict[str, list[str]]
    date_created: dt.datetime
    date_updated: dt.datetime
    status: str = "queued"
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    duration: int | None = None
    answered_by: str | None = None
    # Each Say executed (Gather prompts included), once however often it loops.
    heard: list[Say] = field(default_factory=list)
    # The Digits posted to each Gather action (without the finish key), in order.
    digits: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[WebhookExchange] = field(default_factory=list)
    # True once the final status callback was made (or there was none to make).
    finished: bool = False
    # Counted out of `live` (the call has ended, its final callback may still be on its way).
    ended: bool = False
    sequence_number: int = 0

    @property
    def said(self) -> list[str]:
        return [say.text for say in self.heard]

    @property
    def status_callbacks(self) -> list[WebhookExchange]:
        return [request for request in self.requests if request.purpose == "status"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class _CallEnded(Exception):
    """The call is over before its document is: hung up, cut at TimeLimit, or an error."""


class _Clock:
    """The simulated length of a call, in hundredths of a second."""

    def __init__(self, time_limit: int) -> None:
        self.limit = time_limit * 100
        self.hundredths = 0

    def add(self, hundredths: int) -> None:
        self.hundredths += hundredths
        if self.hundredths >= self.limit:
            raise _CallEnded("time limit")

    def seconds(self) -> int:
        return max(1, math.ceil(min(self.hundredths, self.limit) / 100))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _rfc2822(moment: dt.datetime | None) -> str | None:
    return format_datetime(moment) if moment is not None else None


def _error(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class TwilioVoiceStandIn:
    """Twilio's Calls resource for one account, and the calls it places on our app."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        answer_seconds: float = 0.0,
        default_behaviour: str = "human",
    ) -> None:
        Behaviour.parse(default_behaviour)
        self.account_sid, self.auth_token = account_sid, auth_token
        self.answer_seconds = answer_seconds
        self.default_behaviour = default_behaviour
        self.lock = threading.Lock()
        self._idle = threading.Condition(self.lock)
        self._calls: list[StandInCall] = []
        self._behaviours: dict[str, deque[str]] = {}
        self._script: deque[str] = deque()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: _Server | None = None
        self._base_url = ""
        # Create requests received, placed or not.
        self.creates = 0
        # Calls between their acceptance and their final status callback (wait_idle).
        self.in_progress = 0
        # Calls between their acceptance and their end, as Twilio counts a channel in use: a
        # call has ended when its final status callback is sent, not when our app answers it
        # (the app frees its line while answering, and may place the next call before).
        self.live = 0
        self.max_in_progress = 0

    # --- set-up -----------------------------------------------------------------------------

    def start(self) -> str:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in one segment (see the SMS stand-in: Nagle + delayed ACK).
            disable_nagle_algorithm = True
            wbufsize = 64 * 1024

            def log_message(self, format: str, *args: Any) -> None:
                pass

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
                # The client may have given up waiting (accept_hang); that is fine.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)
                    self.wfile.flush()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                standin._handle(self, "POST", body)

            def do_GET(self) -> None:
                standin._handle(self, "GET", b"")

        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), Handler)
        # A short poll makes stop() quick (shutdown waits for the loop to notice).
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self._base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self._base_url

    def stop(self) -> None:
        """Stop answering the API; calls still playing end at their next step, without a
        status callback."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in list(self._threads):
            thread.join(timeout=WEBHOOK_TIMEOUT_SECONDS)

    def __enter__(self) -> TwilioVoiceStandIn:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT, for client.api.base_url / TWILIO_API_BASE_URL."""
        if not self._base_url:
            raise RuntimeError("the stand-in is not started")
        return self._base_url

    def script(self, steps: Iterable[str]) -> None:
        """What the next create requests get (see the module docstring)."""
        with self.lock:
            self._script = deque(steps)

    def behave(self, to_e164: str, *behaviours: str) -> None:
        """Queue behaviours for the next calls to this number, one per call."""
        for behaviour in behaviours:
            Behaviour.parse(behaviour)
        with self.lock:
            self._behaviours.setdefault(to_e164, deque()).extend(behaviours)

    # --- records ----------------------------------------------------------------------------

    @property
    def calls(self) -> list[StandInCall]:
        """Every call accepted, oldest first."""
        with self.lock:
            return list(self._calls)

    def calls_to(self, to_e164: str) -> list[StandInCall]:
        with self.lock:
            return [call for call in self._calls if call.to == to_e164]

    def call_for(self, to_e164: str) -> StandInCall:
        """The latest call to this number; LookupError if there was none."""
        calls = self.calls_to(to_e164)
        if not calls:
            raise LookupError(f"no call to {to_e164}")
        return calls[-1]

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every accepted call has made its final status callback."""
        with self._idle:
            return self._idle.wait_for(lambda: self.in_progress == 0, timeout)

    # --- requests to our app, for tests ---------------------------------------------------------

    def signature(self, url: str, params: dict[str, str], *, auth_token: str | None = None) -> str:
        """X-Twilio-Signature for a POST of `params` to `url` (a GET: the full URL, {})."""
        return str(RequestValidator(auth_token or self.auth_token).compute_signature(url, params))

    def signed_post(
        self, url: str, params: dict[str, str], *, auth_token: str | None = None
    ) -> WebhookExchange:
        """POST a form to our app signed like Twilio (with another token: a forged one)."""
        signature = self.signature(url, params, auth_token=auth_token)
        return self._send("test", "POST", url, params, signature)

    def unsigned_post(self, url: str, params: dict[str, str]) -> WebhookExchange:
        """POST a form to our app without X-Twilio-Signature."""
        return self._send("test", "POST", url, params, None)

    # --- the REST API -----------------------------------------------------------------------

    def _handle(self, handler: Any, method: str, body: bytes) -> None:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if handler.headers.get("Authorization") != f"Basic {expected}":
            handler.reply(401, _error(20003, "Authenticate", 401))
            return
        path = urlsplit(handler.path).path
        calls_path = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls"
        if path == calls_path + ".json" and method == "POST":
            self._create(handler, body)
        elif path == calls_path + ".json":
            self._list(handler)
        elif method == "GET" and (
            found := re.fullmatch(re.escape(calls_path) + r"/(CA[0-9a-f]{32})\.json", path)
        ):
            self._fetch(handler, found[1])
        else:
            handler.reply(404, _error(20404, f"The requested resource {path} was not found", 404))

    def _next_step(self) -> str:
        with self.lock:
            self.creates += 1
            return self._script.popleft() if self._script else "ok"

    def _create(self, handler: Any, body: bytes) -> None:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)

        def first(name: str, default: str = "") -> str:
            return form.get(name, [default])[0]

        problem = self._invalid_create(form)
        if problem:
            handler.reply(400, _error(*problem, 400))
            return
        step = self._next_step()
        name, _sep, arg = step.partition(":")
        hang = 0.0
        if name == "slow":
            time.sleep(float(arg))
        elif name == "accept_hang":
            hang = float(arg)
        elif name == "429":
            handler.reply(429, _error(20429, "Too Many Requests", 429), {"Retry-After": arg or "1"})
            return
        elif name != "ok":
            handler.reply(int(name), _error(20500, "Internal Server Error", int(name)))
            return
        now = _now()
        to = first("To")
        call = StandInCall(
            sid="CA" + uuid.uuid4().hex,
            to=to,
            from_=first("From"),
            behaviour=self._next_behaviour(to),
            url=first("Url"),
            method=first("Method", "POST").upper(),
            twiml=first("Twiml"),
            status_callback=first("StatusCallback"),
            status_callback_method=first("StatusCallbackMethod", "POST").upper(),
            # Twilio takes the events repeated or space-separated.
            status_callback_events=[
                event for value in form.get("StatusCallbackEvent", []) for event in value.split()
            ],
            machine_detection=first("MachineDetection"),
            time_limit=int(first("TimeLimit", "14400")),
            timeout=int(first("Timeout", "60")),
            params=form,
            date_created=now,
            date_updated=now,
        )
        with self.lock:
            self._calls.append(call)
            self.in_progress += 1
            self.live += 1
            self.max_in_progress = max(self.max_in_progress, self.live)
        if hang:
            self._start_call(call)
            time.sleep(hang)
            handler.reply(201, self._resource(call))
        else:
            handler.reply(201, self._resource(call))
            self._start_call(call)

    def _invalid_create(self, form: dict[str, list[str]]) -> tuple[int, str] | None:
        def first(name: str, default: str = "") -> str:
            return form.get(name, [default])[0]

        if not first("To"):
            return 21201, "No 'To' number is specified"
        if not _E164.match(first("To")):
            return 21211, f"Invalid 'To' Phone Number: {first('To')}"
        if not first("From"):
            return 21213, "No 'From' number is specified"
        if not first("Url") and not first("Twiml"):
            return 21205, "Url parameter is required."
        for name in ("Url", "StatusCallback"):
            if first(name) and not _is_http_url(first(name)):
                return 21205, f"{name} is not a valid URL: {first(name)}"
        for name in ("Method", "StatusCallbackMethod"):
            if first(name, "POST").upper() not in ("GET", "POST"):
                return 20001, f"{name} must be GET or POST"
        if first("MachineDetection") not in _MACHINE_DETECTION:
            return 20001, "MachineDetection must be Enable or DetectMessageEnd"
        for name in ("TimeLimit", "Timeout"):
            if first(name) and not first(name).isdigit():
                return 20001, f"{name} must be a whole number of seconds"
        return None

    def _next_behaviour(self, to: str) -> str:
        with self.lock:
            queued = self._behaviours.get(to)
            return queued.popleft() if queued else self.default_behaviour

    def _resource(self, call: StandInCall) -> dict[str, Any]:
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{call.sid}"
        with self.lock:
            return {
                "sid": call.sid,
                "account_sid": self.account_sid,
                "api_version": API_VERSION,
                "to": call.to,
                "to_formatted": call.to,
                "from": call.from_,
                "from_formatted": call.from_,
                "status": call.status,
                "direction": "outbound-api",
                "answered_by": call.answered_by,
                "date_created": _rfc2822(call.date_created),
                "date_updated": _rfc2822(call.date_updated),
                "start_time": _rfc2822(call.start_time),
                "end_time": _rfc2822(call.end_time),
                "duration": None if call.duration is None else str(call.duration),
                "price": None,
                "price_unit": "USD",
                "parent_call_sid": None,
                "phone_number_sid": None,
                "caller_name": None,
                "forwarded_from": None,
                "group_sid": None,
                "trunk_sid": None,
                "annotation": None,
                "queue_time": "0",
                "uri": uri + ".json",
                "subresource_uris": {
                    "notifications": uri + "/Notifications.json",
                    "recordings": uri + "/Recordings.json",
                    "events": uri + "/Events.json",
                },
            }

    def _fetch(self, handler: Any, sid: str) -> None:
        with self.lock:
            found = [call for call in self._calls if call.sid == sid]
        if not found:
            path = urlsplit(handler.path).path
            handler.reply(404, _error(20404, f"The requested resource {path} was not found", 404))
            return
        handler.reply(200, self._resource(found[0]))

    def _list(self, handler: Any) -> None:
        parts = urlsplit(handler.path)
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        try:
            page_size = int(query.get("PageSize", "50"))
            page = int(query.get("Page", "0"))
            time_filters = [
                (name[len("StartTime") :], _moment(value))
                for name, value in query.items()
                if name.startswith("StartTime")
            ]
        except ValueError as error:
            handler.reply(400, _error(20001, f"Invalid parameter: {error}", 400))
            return
        with self.lock:
            # Newest first, as Twilio lists them.
            calls = list(reversed(self._calls))
        found = [
            call
            for call in calls
            if query.get("To", call.to) == call.to
            and query.get("From", call.from_) == call.from_
            and query.get("Status", call.status) == call.status
            and all(_started_within(call, op, moment) for op, moment in time_filters)
        ]
        shown = found[page * page_size : (page + 1) * page_size]

        def page_uri(number: int) -> str:
            others = {k: v for k, v in query.items() if k not in ("Page", "PageToken")}
            return f"{parts.path}?{urlencode({**others, 'PageSize': page_size, 'Page': number})}"

        handler.reply(
            200,
            {
                "calls": [self._resource(call) for call in shown],
                "start": page * page_size,
                "end": page * page_size + max(0, len(shown) - 1),
                "page": page,
                "page_size": page_size,
                "uri": page_uri(page),
                "first_page_uri": page_uri(0),
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
                "next_page_uri": (
                    page_uri(page + 1) if len(found) > (page + 1) * page_size else None
                ),
            },
        )

    # --- playing a call ---------------------------------------------------------------------

    def _start_call(self, call: StandInCall) -> None:
        thread = threading.Thread(target=self._play, args=(call,), daemon=True)
        with self.lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _play(self, call: StandInCall) -> None:
        try:
            self._ring_and_talk(call)
        except Exception as error:  # a bug here must still end the call, or wait_idle hangs
            call.errors.append(f"stand-in failed: {error!r}")
        finally:
            self._end(call)
            with self._idle:
                self.in_progress -= 1
                self._idle.notify_all()

    def _end(self, call: StandInCall) -> None:
        with self.lock:
            if not call.ended:
                call.ended = True
                self.live -= 1

    def _update(self, call: StandInCall, **changes: Any) -> None:
        with self.lock:
            for name, value in changes.items():
                setattr(call, name, value)
            call.date_updated = _now()

    def _ring_and_talk(self, call: StandInCall) -> None:
        behaviour = Behaviour.parse(call.behaviour)
        self._update(call, status="ringing", start_time=_now())
        self._progress_callback(call, "initiated", "initiated")
        if behaviour.kind not in ("busy", "failed"):
            self._progress_callback(call, "ringing", "ringing")
        if self._stopping.wait(self.answer_seconds):
            call.errors.append("the stand-in stopped while the call rang")
            return
        if behaviour.kind in _NEVER_ANSWERED:
            self._finish(call, behaviour.kind, 0)
            return
        answered_by = None
        if call.machine_detection:
            answered_by = "human"
            if behaviour.kind == "machine":
                answered_by = (
                    "machine_end_beep"
                    if call.machine_detection == "DetectMessageEnd"
                    else "machine_start"
                )
        self._update(call, status="in-progress", answered_by=answered_by)
        self._progress_callback(call, "answered", "in-progress")
        clock = _Clock(call.time_limit)
        with contextlib.suppress(_CallEnded):
            self._talk(call, behaviour, clock)
        if self._stopping.is_set():
            call.errors.append("the stand-in stopped during the call")
            return
        self._finish(call, "completed", clock.seconds())

    def _params(self, call: StandInCall) -> dict[str, str]:
        """What Twilio sends with every request about a call."""
        with self.lock:
            params = {
                "AccountSid": self.account_sid,
                "ApiVersion": API_VERSION,
                "CallSid": call.sid,
                "CallStatus": call.status,
                "Called": call.to,
                "Caller": call.from_,
                "Direction": "outbound-api",
                "From": call.from_,
                "To": call.to,
            }
            if call.answered_by:
                params["AnsweredBy"] = call.answered_by
        return params

    def _talk(self, call: StandInCall, behaviour: Behaviour, clock: _Clock) -> None:
        """Fetch and play documents until the call hangs up; raises _CallEnded to cut it."""
        allowed = {urlsplit(url).netloc for url in (call.url, call.status_callback) if url}
        if call.twiml:
            document_url, document = call.url, call.twiml.encode()
        else:
            document_url = call.url
            document = self._fetch_twiml(call, "answer", call.url, call.method, self._params(call))
        gathers = 0
        for _ in range(MAX_DOCUMENTS_PER_CALL):
            try:
                verbs = read_twiml(document)
            except TwimlError as error:
                call.errors.append(f"12100 document from {document_url} unreadable: {error}")
                return
            following = self._play_document(call, behaviour, clock, verbs, gathers)
            if following is None:
                return  # the document ended, or said Hangup
            gathers, purpose, url, method, params = following
            url = urljoin(document_url, url) if url else document_url
            if urlsplit(url).netloc not in allowed or not _is_http_url(url):
                call.errors.append(f"refused to call {url}: not a host this call was given")
                return
            document_url = url
            document = self._fetch_twiml(call, purpose, url, method, params)
        call.errors.append(f"more than {MAX_DOCUMENTS_PER_CALL} documents in one call")

    def _play_document(
        self,
        call: StandInCall,
        behaviour: Behaviour,
        clock: _Clock,
        verbs: list[Verb],
        gathers: int,
    ) -> tuple[int, str, str | None, str, dict[str, str]] | None:
        """Play verbs until one fetches another document: (Gathers so far, purpose, URL
        (None: this document's own), method, params); None when the call ends."""
        for verb in verbs:
            if self._stopping.is_set():
                raise _CallEnded("stopped")
            if isinstance(verb, Say | Pause):
                self._say_or_pause(call, clock, verb)
            elif isinstance(verb, Gather):
                if behaviour.hang_up_after is not None and gathers >= behaviour.hang_up_after:
                    raise _CallEnded("hung up")
                entry = behaviour.keys[gathers] if gathers < len(behaviour.keys) else None
                gathers += 1
                for prompt in verb.prompts:
                    self._say_or_pause(call, clock, prompt)
                if "dtmf" not in verb.input.split():
                    entry = None  # keys are not listened for
                digits, finished_on = _keys_taken(verb, entry)
                if not digits:
                    if entry is None:
                        clock.add(verb.timeout * 100)
                    continue  # no input: Twilio goes on with the next verb
                if not finished_on and (verb.num_digits is None or len(digits) < verb.num_digits):
                    clock.add(verb.timeout * 100)  # Twilio waits for more keys, then submits
                call.digits.append(digits)
                params = {**self._params(call), "Digits": digits, "msg": "Gather End"}
                if finished_on:
                    params["FinishedOnKey"] = finished_on
                return gathers, "gather", verb.action, verb.method, params
            elif isinstance(verb, Redirect):
                return gathers, "redirect", verb.url, verb.method, self._params(call)
            elif isinstance(verb, Hangup):
                return None
        return None

    def _say_or_pause(self, call: StandInCall, clock: _Clock, verb: Say | Pause) -> None:
        if isinstance(verb, Say):
            call.heard.append(verb)
            clock.add(len(verb.text) * _HUNDREDTHS_PER_CHARACTER * max(verb.loop, 1))
        else:
            clock.add(verb.length * 100)

    def _fetch_twiml(
        self, call: StandInCall, purpose: str, url: str, method: str, params: dict[str, str]
    ) -> bytes:
        exchange = self._request(purpose, method, url, params)
        call.requests.append(exchange)
        if not exchange.ok:
            problem = exchange.error or f"answered {exchange.status}"
            call.errors.append(f"11200 {method} {exchange.url}: {problem}")
            raise _CallEnded("application error")
        return exchange.body

    def _progress_callback(self, call: StandInCall, event: str, status: str) -> None:
        if call.status_callback and event in call.status_callback_events:
            self._status_callback(call, {**self._params(call), "CallStatus": status})

    def _finish(self, call: StandInCall, status: str, duration: int) -> None:
        self._update(call, status=status, duration=duration, end_time=_now())
        self._end(call)
        # Without StatusCallbackEvent Twilio sends "completed" (which covers busy and the like).
        events = call.status_callback_events
        if call.status_callback and (not events or "completed" in events):
            params = {
                **self._params(call),
                "CallDuration": str(duration),
                # Billed minutes, rounded up.
                "Duration": str(math.ceil(duration / 60)),
            }
            self._status_callback(call, params)
        with self.lock:
            call.finished = True

    def _status_callback(self, call: StandInCall, params: dict[str, str]) -> None:
        with self.lock:
            sequence = call.sequence_number
            call.sequence_number += 1
        params = {
            **params,
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(sequence),
            "Timestamp": format_datetime(_now()),
        }
        exchange = self._request(
            "status", call.status_callback_method, call.status_callback, params
        )
        call.requests.append(exchange)
        if not exchange.ok:
            problem = exchange.error or f"answered {exchange.status}"
            call.errors.append(f"status callback {exchange.url}: {problem}")

    def _request(
        self, purpose: str, method: str, url: str, params: dict[str, str]
    ) -> WebhookExchange:
        if method == "GET":
            full = url
            if params:
                full += ("&" if urlsplit(url).query else "?") + urlencode(params)
            return self._send(purpose, "GET", full, {}, self.signature(full, {}))
        return self._send(purpose, "POST", url, params, self.signature(url, params))

    def _send(
        self,
        purpose: str,
        method: str,
        url: str,
        params: dict[str, str],
        signature: str | None,
    ) -> WebhookExchange:
        exchange = WebhookExchange(purpose, method, url, dict(params), signature)
        parts = urlsplit(url)
        if not _is_http_url(url):
            exchange.error = "not an http(s) URL"
            return exchange
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(parts.netloc, timeout=WEBHOOK_TIMEOUT_SECONDS)
        headers = {
            "User-Agent": "TwilioProxy/1.1",
            "Accept": "*/*",
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        }
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        body = None
        if method == "POST":
            body = urlencode(params).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            exchange.status, exchange.body = response.status, response.read()
        except (OSError, http.client.HTTPException) as error:
            exchange.error = f"no answer: {error!r}"
        finally:
            connection.close()
        return exchange


def _keys_taken(gather: Gather, entry: str | None) -> tuple[str, str]:
    """(Digits, FinishedOnKey) from the keys pressed at a Gather: input ends at the finish key
    or when numDigits keys are in; later keys are not heard."""
    digits = ""
    for key in entry or "":
        if gather.finish_on_key and key == gather.finish_on_key:
            return digits, key
        digits += key
        if gather.num_digits is not None and len(digits) == gather.num_digits:
            break
    return digits, ""


def _moment(value: str) -> dt.datetime | dt.date:
    if len(value) == 10:
        return dt.date.fromisoformat(value)
    moment = dt.datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _started_within(call: StandInCall, op: str, moment: dt.datetime | dt.date) -> bool:
    """StartTime filters: a date compares with the (UTC) day, a time to the second."""
    started = (call.start_time or call.date_created).replace(microsecond=0)
    mine: dt.datetime | dt.date = started
    if not isinstance(moment, dt.datetime):
        mine = started.date()
    if op in (">", ">="):
        return mine >= moment
    if op in ("<", "<="):
        return mine <= moment
    return mine == moment
