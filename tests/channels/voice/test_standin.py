"""The Twilio voice stand-in, driven by the real `twilio` client, against a small TwiML app run
here (a plain http.server that checks X-Twilio-Signature like our views must). Also the TwiML
reader on the documents `VoiceResponse` writes. No database."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import Gather, VoiceResponse

from channels.voice import twiml_reader
from channels.voice.standin import TwilioVoiceStandIn
from channels.voice.twiml_reader import Hangup, Pause, Redirect, Say, TwimlError

SID = "AC" + "1" * 32
TOKEN = "voice-token"
FROM = "+815012345678"
ALICE = "+819011112222"
BOB = "+819033334444"

# Said at the start: 9 characters, twice, then a 1 s pause; the Gather waits 3 s.
MENU = "1を押してください"
NO_INPUT = "入力がありませんでした"  # 11 characters


def menu() -> VoiceResponse:
    response = VoiceResponse()
    gather = Gather(action="/menu", method="POST", num_digits=1, timeout=3)
    gather.say(MENU, language="ja-JP", loop=2)
    gather.pause(length=1)
    response.append(gather)
    response.say(NO_INPUT, language="ja-JP")
    response.hangup()
    return response


def answer_menu(digits: str) -> VoiceResponse:
    response = VoiceResponse()
    if digits == "1":
        response.say("確認しました", language="ja-JP")
        response.hangup()
    elif digits == "2":
        # A relative action: Twilio resolves it against this document's URL (/menu).
        gather = Gather(action="confirm", finish_on_key="#", timeout=4)
        gather.say("番号を入力し、最後にシャープを押してください", language="ja-JP")
        response.append(gather)
        response.say("さようなら", language="ja-JP")
    else:
        response.say("もう一度", language="ja-JP")
        response.redirect("/start")
    return response


class ToyApp:
    """Answers Twilio's webhooks with TwiML; refuses (403) any request not signed with TOKEN."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        app = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, method: str) -> None:
                url = f"http://127.0.0.1:{app.port}{self.path}"
                if method == "POST":
                    body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    params = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                    signed: dict[str, str] = params
                else:
                    params = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                    signed = {}
                valid = RequestValidator(TOKEN).validate(
                    url, signed, self.headers.get("X-Twilio-Signature", "")
                )
                path = urlsplit(self.path).path
                with app.lock:
                    app.requests.append(
                        {
                            "method": method,
                            "path": path,
                            "params": params,
                            "valid": valid,
                            "content_type": self.headers.get("Content-Type"),
                        }
                    )
                if not valid:
                    self._send(403, b"forbidden")
                    return
                self._send(*app.route(path, params))

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                self._answer("POST")

            def do_GET(self) -> None:
                self._answer("GET")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, params: dict[str, str]) -> tuple[int, bytes]:
        if path == "/start":
            return 200, menu().to_xml().encode()
        if path == "/menu":
            return 200, answer_menu(params.get("Digits", "")).to_xml().encode()
        if path == "/confirm":
            response = VoiceResponse()
            response.say(f"{params['Digits']}ですね", language="ja-JP")
            return 200, str(response).encode()
        if path == "/status":
            return 200, b""
        if path == "/loop":
            response = VoiceResponse()
            response.say("お待ちください", language="ja-JP")
            response.redirect("/loop")
            return 200, str(response).encode()
        if path == "/elsewhere":
            response = VoiceResponse()
            response.redirect("http://192.0.2.1/next")
            return 200, str(response).encode()
        return 500, b"boom"

    def hits(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def app() -> Iterator[ToyApp]:
    toy = ToyApp()
    yield toy
    toy.stop()


@pytest.fixture
def twilio() -> Iterator[TwilioVoiceStandIn]:
    with TwilioVoiceStandIn(SID, TOKEN) as standin:
        yield standin


def client_for(standin: TwilioVoiceStandIn, token: str = TOKEN) -> Client:
    client = Client(SID, token, http_client=TwilioHttpClient(timeout=5))
    client.api.base_url = standin.base_url
    return client


def place(client: Client, app: ToyApp, to: str = ALICE, **options: Any) -> Any:
    arguments: dict[str, Any] = {
        "to": to,
        "from_": FROM,
        "url": app.url("/start"),
        "method": "POST",
        "status_callback": app.url("/status"),
        "status_callback_method": "POST",
        "status_callback_event": ["completed"],
        "time_limit": 120,
        "timeout": 30,
    }
    # An option given as None is left out of the request.
    chosen = {k: v for k, v in {**arguments, **options}.items() if v is not None}
    return client.calls.create(**chosen)


def test_it_posts_the_keys_pressed_to_the_gather_action(
    twilio: TwilioVoiceStandIn, app: ToyApp
) -> None:
    twilio.behave(ALICE, "keys:1")
    placed = place(client_for(twilio), app)
    assert placed.sid.startswith("CA") and len(placed.sid) == 34
    assert placed.status == "queued"
    assert twilio.wait_idle(10)

    (start,) = app.hits("/start")
    assert start["params"]["CallSid"] == placed.sid
    assert start["params"]["CallStatus"] == "in-progress"
    assert start["params"]["Direction"] == "outbound-api"
    assert "AnsweredBy" not in start["params"]  # no machine detection asked
    (answer,) = app.hits("/menu")
    assert answer["params"]["Digits"] == "1"
    assert answer["params"]["To"] == ALICE and answer["params"]["From"] == FROM
    assert "FinishedOnKey" not in answer["params"]  # numDigits=1 ended the input

    call = twilio.call_for(ALICE)
    assert call.said == [MENU, "確認しました"]
    assert call.heard[0].language == "ja-JP"
    assert call.digits == ["1"]
    assert call.status == "completed" and call.errors == []
    # 9 chars * 0.15 s * 2 + 1 s pause + 6 chars * 0.15 s = 4.6 s
    assert call.duration == 5
    (status,) = app.hits("/status")
    assert status["params"]["CallStatus"] == "completed"
    assert status["params"]["CallDuration"] == "5"
    assert status["params"]["SequenceNumber"] == "0"


def test_a_second_gather_gets_its_own_keys_at_a_relative_action(
    twilio: TwilioVoiceStandIn, app: ToyApp
) -> None:
    twilio.behave(ALICE, "keys:2,368#")
    place(client_for(twilio), app)
    assert twilio.wait_idle(10)

    (confirm,) = app.hits("/confirm")
    assert confirm["params"]["Digits"] == "368"
    assert confirm["params"]["FinishedOnKey"] == "#"
    call = twilio.call_for(ALICE)
    assert call.digits == ["2", "368"]
    assert call.said[-1] == "368ですね"
    assert [r.purpose for r in call.requests] == ["answer", "gather", "gather", "status"]


def test_a_gather_without_keys_times_out_and_goes_on_after_it(
    twilio: TwilioVoiceStandIn, app: ToyApp
) -> None:
    place(client_for(twilio), app)  # default behaviour: a human who presses nothing
    assert twilio.wait_idle(10)

    assert app.hits("/menu") == []
    call = twilio.call_for(ALICE)
    assert call.said == [MENU, NO_INPUT]
    assert call.digits == []
    # 2.7 s said + 1 s pause + 3 s timeout + 1.65 s said = 8.35 s
    assert call.duration == 9


def test_keys_run_out_and_dashes_time_out(twilio: TwilioVoiceStandIn, app: ToyApp) -> None:
    twilio.behave(ALICE, "keys:-", "keys:2")
    client = client_for(twilio)
    place(client, app)
    assert twilio.wait_idle(10)
    place(client, app)
    assert twilio.wait_idle(10)

    first, second = twilio.calls_to(ALICE)
    assert first.said == [MENU, NO_INPUT]
    # The second Gather (enter a number) gets no entry: it times out, "さようなら" follows.
    assert second.digits == ["2"]
    assert second.said[-1] == "さようなら"


def test_a_human_who_hangs_up_at_a_gather_hears_nothing_after_it(
    twilio: TwilioVoiceStandIn, app: ToyApp
) -> None:
    twilio.behave(ALICE, "hangup:0")
    place(client_for(twilio), app)
    assert twilio.wait_idle(10)

    call = twilio.call_for(ALICE)
    assert call.said == []
    assert call.status == "completed" and call.duration == 1
    assert app.hits("/status")[0]["params"]["CallStatus"] == "completed"


@pytest.mark.parametrize(
    ("detection", "behaviour", "answered_by"),
    [
        ("DetectMessageEnd", "machine", "machine_end_beep"),
        ("Enable", "machine", "machine_start"),
        ("DetectMessageEnd", "human", "human"),
    ],
)
def test_machine_detection_says_who_answered(
    twilio: TwilioVoiceStandIn, app: ToyApp, detection: str, behaviour: str, answered_by: str
) -> None:
    twilio.behave(ALICE, behaviour)
    placed = place(client_for(twilio), app, machine_detection=detection)
    assert twilio.wait_idle(10)

    (start,) = app.hits("/start")
    assert start["params"]["AnsweredBy"] == answered_by
    assert app.hits("/menu") == []  # a machine presses nothing
    assert app.hits("/status")[0]["params"]["AnsweredBy"] == answered_by
    fetched = client_for(twilio).calls(placed.sid).fetch()
    assert fetched.answered_by == answered_by


@pytest.mark.parametrize("behaviour", ["busy", "no-answer", "failed"])
def test_a_call_never_answered_only_posts_its_status(
    twilio: TwilioVoiceStandIn, app: ToyApp, behaviour: str
) -> None:
    twilio.behave(ALICE, behaviour)
    placed = place(client_for(twilio), app, status_callback_event=None)
    assert twilio.wait_idle(10)

    assert [r["path"] for r in app.requests] == ["/status"]
    params = app.requests[0]["params"]
    assert params["CallStatus"] == behaviour
    assert params["CallDuration"] == "0"
    assert params["CallSid"] == placed.sid
    assert params["AccountSid"] == SID
    assert params["ApiVersion"] == "2010-04-01"
    assert twilio.call_for(ALICE).said == []


def test_every_request_is_signed_and_a_forged_one_is_refused(
    twilio: TwilioVoiceStandIn, app: ToyApp
) -> None:
    twilio.behave(ALICE, "keys:2,55#")
    place(client_for(twilio), app)
    twilio.behave(BOB, "keys:1")
    # A GET answer URL that already has a query: the params are appended, and signed with it.
    place(client_for(twilio), app, to=BOB, url=app.url("/start?campaign=7"), method="GET")
    assert twilio.wait_idle(10)

    assert len(app.requests) == 7
    assert all(r["valid"] for r in app.requests)
    posts = [r for r in app.requests if r["method"] == "POST"]
    assert {r["content_type"] for r in posts} == {"application/x-www-form-urlencoded"}
    (get,) = [r for r in app.requests if r["method"] == "GET"]
    assert get["params"]["campaign"] == "7" and get["params"]["To"] == BOB

    status = dict(app.hits("/status")[0]["params"])
    assert twilio.signed_post(app.url("/status"), status).status == 200
    assert twilio.unsigned_post(app.url("/status"), status).status == 403
    assert twilio.signed_post(app.url("/status"), status, auth_token="guess").status == 403
    assert twilio.calls[0].errors == [] and twilio.calls[1].errors == []


def test_an_error_from_the_app_ends_the_call(twilio: TwilioVoiceStandIn, app: ToyApp) -> None:
    place(client_for(twilio), app, url=app.url("/broken"))
    assert twilio.wait_idle(10)

    call = twilio.call_for(ALICE)
    assert call.status == "completed"
    assert len(call.errors) == 1 and "answered 500" in call.errors[0]
    assert app.hits("/status")[0]["params"]["CallStatus"] == "completed"


def test_a_wrong_signature_refused_by_the_app_is_an_error(
    app: ToyApp,
) -> None:
    # The stand-in signs with its own token; an app that expects another one refuses.
    with TwilioVoiceStandIn(SID, "another-token") as other:
        place(client_for(other, "another-token"), app)
        assert other.wait_idle(10)
        assert app.hits("/start")[0]["valid"] is False
        assert "answered 403" in other.call_for(ALICE).errors[0]


def test_a_call_that_never_ends_is_cut_at_its_time_limit(
    twilio: TwilioVoiceStandIn, app: ToyApp
) -> None:
    place(client_for(twilio), app, url=app.url("/loop"), time_limit=10)
    assert twilio.wait_idle(10)

    call = twilio.call_for(ALICE)
    assert call.duration == 10
    # 7 characters, 1.05 s each time: cut during the 10th.
    assert len(call.said) == 10


def test_it_never_follows_a_redirect_to_another_host(
    twilio: TwilioVoiceStandIn, app: ToyApp
) -> None:
    place(client_for(twilio), app, url=app.url("/elsewhere"))
    assert twilio.wait_idle(10)

    call = twilio.call_for(ALICE)
    assert "refused to call http://192.0.2.1/next" in call.errors[0]
    assert [r.purpose for r in call.requests] == ["answer", "status"]


def test_create_follows_its_script(twilio: TwilioVoiceStandIn, app: ToyApp) -> None:
    client = client_for(twilio)
    twilio.script(["500", "429:2", "ok"])
    with pytest.raises(TwilioRestException) as server_error:
        place(client, app)
    assert server_error.value.status == 500
    with pytest.raises(TwilioRestException) as too_many:
        place(client, app)
    assert too_many.value.status == 429
    placed = place(client, app)
    assert twilio.wait_idle(10)

    assert twilio.creates == 3
    assert [call.sid for call in twilio.calls] == [placed.sid]


def test_it_refuses_a_wrong_token_and_a_bad_number(twilio: TwilioVoiceStandIn, app: ToyApp) -> None:
    with pytest.raises(TwilioRestException) as unauthorised:
        place(client_for(twilio, "wrong"), app)
    assert unauthorised.value.status == 401
    with pytest.raises(TwilioRestException) as invalid:
        place(client_for(twilio), app, to="09011112222")
    assert invalid.value.status == 400 and invalid.value.code == 21211
    assert twilio.calls == []


def test_calls_can_be_listed_and_fetched(twilio: TwilioVoiceStandIn, app: ToyApp) -> None:
    client = client_for(twilio)
    before = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    twilio.behave(ALICE, "keys:1", "busy")
    first = place(client, app)
    assert twilio.wait_idle(10)
    second = place(client, app)
    other = place(client, app, to=BOB)
    assert twilio.wait_idle(10)

    listed = client.calls.list(to=ALICE, start_time_after=before, limit=50)
    assert [call.sid for call in listed] == [second.sid, first.sid]  # newest first
    assert abs(listed[0].date_created - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    assert client.calls.list(to=ALICE, start_time_after=later) == []
    # Pages follow next_page_uri.
    assert len(client.calls.list(page_size=2)) == 3

    fetched = client.calls(first.sid).fetch()
    assert fetched.status == "completed"
    assert fetched.duration == "5"
    assert client.calls(second.sid).fetch().status == "busy"
    assert client.calls(other.sid).fetch().to == BOB
    with pytest.raises(TwilioRestException) as missing:
        client.calls("CA" + "0" * 32).fetch()
    assert missing.value.status == 404


def test_it_counts_calls_in_progress_at_once(app: ToyApp) -> None:
    with TwilioVoiceStandIn(SID, TOKEN, answer_seconds=0.5) as twilio:
        client = client_for(twilio)
        placed = [place(client, app, to=f"+8190000000{n:02d}") for n in range(3)]
        assert twilio.in_progress == 3
        assert client.calls(placed[0].sid).fetch().status in ("queued", "ringing")
        assert twilio.wait_idle(10)
        assert twilio.max_in_progress == 3
        assert twilio.in_progress == 0
        assert {call.status for call in twilio.calls} == {"completed"}


def test_unknown_behaviours_are_refused() -> None:
    standin = TwilioVoiceStandIn(SID, TOKEN)
    for behaviour in ("keys:", "keys:1a", "hangup:x", "sometimes"):
        with pytest.raises(ValueError):
            standin.behave(ALICE, behaviour)
    with pytest.raises(ValueError):
        TwilioVoiceStandIn(SID, TOKEN, default_behaviour="nobody")


def test_twiml_reader_reads_what_voice_response_writes() -> None:
    verbs = twiml_reader.read_twiml(menu().to_xml())
    gather, said, hangup = verbs
    assert isinstance(gather, twiml_reader.Gather)
    assert gather.action == "/menu" and gather.method == "POST"
    assert gather.num_digits == 1 and gather.timeout == 3
    assert gather.finish_on_key == "#" and gather.input == "dtmf"
    assert gather.prompts == [Say(MENU, "ja-JP", 2), Pause(1)]
    assert said == Say(NO_INPUT, "ja-JP", 1)
    assert hangup == Hangup()
    assert twiml_reader.spoken_text(verbs) == [MENU, NO_INPUT]

    response = VoiceResponse()
    response.say("A & B <ok>")
    response.redirect("/next?a=1&b=2", method="GET")
    assert twiml_reader.read_twiml(str(response).encode()) == [
        Say("A & B <ok>", "en-US", 1),
        Redirect("/next?a=1&b=2", "GET"),
    ]
    assert twiml_reader.read_twiml(str(VoiceResponse())) == []


def test_twiml_reader_reads_the_text_inside_ssml() -> None:
    response = VoiceResponse()
    gather = response.gather(action="/keys", timeout=8, num_digits=1)
    say = gather.say(language="ja-JP", voice="Polly.Mizuki")
    say.prosody("ゆっくり話します", rate="85%")
    said = response.say("あと", language="ja-JP")
    said.break_(time="1s")
    said.emphasis("少し")

    verbs = twiml_reader.read_twiml(str(response))
    assert twiml_reader.spoken_text(verbs) == ["ゆっくり話します", "あと少し"]


@pytest.mark.parametrize(
    "document",
    [
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        "<Response><Say>&b;</Say></Response>",
        '<!DOCTYPE Response SYSTEM "http://192.0.2.1/twiml.dtd"><Response/>',
        "<Response><Say>&undefined;</Say></Response>",
        "<Response><Say>unclosed</Response>",
        "",
        "<Reply><Say>hi</Say></Reply>",
        "<Response><Play>https://example.com/a.mp3</Play></Response>",
        '<Response><Gather timeout="soon"/></Response>',
        '<Response><Redirect method="PUT">/x</Redirect></Response>',
    ],
)
def test_twiml_reader_refuses_what_it_cannot_play_safely(document: str) -> None:
    with pytest.raises(TwimlError):
        twiml_reader.read_twiml(document)
