"""Each backend against its stand-in provider on 127.0.0.1, through the real client code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from channels.sms.backends import (
    AmbiguousSmsError,
    OutboundSms,
    PermanentSmsError,
    TransientSmsError,
    get_backend,
)
from channels.sms.backends.local import ConsoleBackend, FileBackend, LocmemBackend
from tests.channels.sms.standin import GatewayStandIn, TwilioStandIn

SMS = OutboundSms(reference="ref-1", to_e164="+819012345678", body="【日南市】予約確定")


def test_short_names_and_dotted_paths(settings: Any) -> None:
    settings.SMS_BACKEND = "console"
    assert isinstance(get_backend(), ConsoleBackend)
    assert isinstance(get_backend("locmem"), LocmemBackend)
    assert isinstance(get_backend("channels.sms.backends.local.FileBackend"), FileBackend)
    with pytest.raises(TypeError):
        get_backend("channels.sms.text.make_sms_safe")


def test_console_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert ConsoleBackend().send(SMS) == "console-ref-1"
    assert "予約確定" in capsys.readouterr().out


def test_file_backend_writes_one_file_and_finds_it(settings: Any, tmp_path: Path) -> None:
    settings.SMS_FILE_PATH = tmp_path
    backend = FileBackend()
    assert backend.find_sent(SMS) is None
    backend.send(SMS)
    written = json.loads((tmp_path / "ref-1.json").read_text(encoding="utf-8"))
    assert written["body"] == SMS.body and written["to"] == SMS.to_e164
    assert backend.find_sent(SMS) == "file-ref-1"


def test_locmem_outbox(locmem_sms: list[Any]) -> None:
    backend = LocmemBackend()
    assert backend.find_sent(SMS) is None
    backend.send(SMS)
    assert locmem_sms == [SMS]
    assert backend.find_sent(SMS) == "locmem-ref-1"


# --- the HTTP gateway -------------------------------------------------------------------------


def test_http_sends_form_with_national_number(http_sms: GatewayStandIn) -> None:
    provider_id = get_backend().send(SMS)
    [sent] = http_sms.messages
    assert sent == {"id": provider_id, "to": "09012345678", "body": SMS.body, "tags": "ref-1"}


def test_http_finds_an_earlier_attempt_by_reference(http_sms: GatewayStandIn) -> None:
    backend = get_backend()
    assert backend.find_sent(SMS) is None
    provider_id = backend.send(SMS)
    assert backend.find_sent(SMS) == provider_id


def test_http_wrong_token_is_permanent(settings: Any, http_sms: GatewayStandIn) -> None:
    settings.SMS_HTTP_TOKEN = "wrong"
    with pytest.raises(PermanentSmsError, match="401"):
        get_backend().send(SMS)


def test_http_invalid_number_is_permanent(http_sms: GatewayStandIn) -> None:
    # A landline never gets here through routing; the provider refuses it anyway.
    with pytest.raises(PermanentSmsError, match="400"):
        get_backend().send(OutboundSms("ref-2", "+81987000000", "x"))
    assert http_sms.messages == []


def test_http_429_is_transient_with_retry_after(http_sms: GatewayStandIn) -> None:
    http_sms.script(["429:7"])
    with pytest.raises(TransientSmsError) as raised:
        get_backend().send(SMS)
    assert not isinstance(raised.value, AmbiguousSmsError)
    assert raised.value.retry_after == 7.0


def test_http_503_is_transient_500_is_ambiguous(http_sms: GatewayStandIn) -> None:
    http_sms.script(["503", "500"])
    with pytest.raises(TransientSmsError) as first:
        get_backend().send(SMS)
    assert not isinstance(first.value, AmbiguousSmsError)
    with pytest.raises(AmbiguousSmsError):
        get_backend().send(SMS)
    assert http_sms.messages == []


def test_http_slow_answer_is_ambiguous_and_was_in_fact_accepted(
    settings: Any, http_sms: GatewayStandIn
) -> None:
    settings.SMS_HTTP_READ_TIMEOUT = 0.3
    http_sms.script(["accept_hang:1.5"])
    backend = get_backend()
    with pytest.raises(AmbiguousSmsError):
        backend.send(SMS)
    # The provider took it: the status check says so, so nobody sends it again.
    assert backend.find_sent(SMS) == http_sms.messages[0]["id"]


def test_http_connection_refused_is_transient(settings: Any) -> None:
    settings.SMS_BACKEND = "http"
    settings.SMS_HTTP_BASE_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    settings.SMS_HTTP_TOKEN = "t"
    settings.SMS_HTTP_SERVICE_ID = "s"
    with pytest.raises(TransientSmsError) as raised:
        get_backend().send(SMS)
    assert not isinstance(raised.value, AmbiguousSmsError)


# --- Twilio -----------------------------------------------------------------------------------


def test_twilio_sends_through_the_official_client(twilio_sms: TwilioStandIn) -> None:
    sid = get_backend().send(SMS)
    [sent] = twilio_sms.messages
    assert sent["sid"] == sid and sid.startswith("SM")
    assert sent["to"] == "+819012345678" and sent["body"] == SMS.body
    assert sent["status_callback"] == "https://yoyaku.example.lg.jp/sms/receipts/twilio/"


def test_twilio_finds_earlier_attempt(twilio_sms: TwilioStandIn) -> None:
    backend = get_backend()
    assert backend.find_sent(SMS) is None
    sid = backend.send(SMS)
    assert backend.find_sent(SMS) == sid


def test_twilio_invalid_number_is_permanent(twilio_sms: TwilioStandIn) -> None:
    with pytest.raises(PermanentSmsError, match="21211"):
        get_backend().send(OutboundSms("r", "+81312345678", "x"))


def test_twilio_errors(twilio_sms: TwilioStandIn) -> None:
    twilio_sms.script(["429:1", "500"])
    with pytest.raises(TransientSmsError) as first:
        get_backend().send(SMS)
    assert not isinstance(first.value, AmbiguousSmsError)
    with pytest.raises(AmbiguousSmsError):
        get_backend().send(SMS)


# --- the stand-in itself ----------------------------------------------------------------------


def _post_times(standin: GatewayStandIn, count: int) -> list[float]:
    import time

    import requests

    url = standin.start()
    try:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {standin.token}"
        form = {"service_id": standin.service_id, "to": "09012345678", "body": "x"}
        times = []
        for index in range(count):
            started = time.perf_counter()
            session.post(f"{url}/messages", data={**form, "tags": str(index)}, timeout=5)
            times.append(time.perf_counter() - started)
        return times
    finally:
        standin.stop()


def test_the_standin_answers_without_a_stall() -> None:
    # Headers and body used to leave in two writes: Nagle's algorithm held the body until
    # the client's delayed ACK (40 ms), so no request on a kept-alive connection took less
    # than about 44 ms. The fastest of a few is far below that now, however loaded the box.
    assert min(_post_times(GatewayStandIn(), 10)) < 0.03


def test_the_standin_answer_time_is_an_option() -> None:
    times = _post_times(GatewayStandIn(answer_seconds=0.15), 3)
    assert all(0.15 <= seconds < 1.0 for seconds in times)
