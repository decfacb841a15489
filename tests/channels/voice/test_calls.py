"""The voice channel's own machinery: lines, attempts, calling hours, speech, and the
provider's webhooks with their signatures. The booking flows are notify's
(tests/channels/notify/test_voice_*.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from twilio.request_validator import RequestValidator

from channels.voice.backends import CallStatus, get_backend
from channels.voice.flows import Ask, Prompt, Reply, flow_register
from channels.voice.hours import calling_hours_open, next_calling_start
from channels.voice.models import VoiceCall, VoiceKeyPress
from channels.voice.services import (
    AlreadyPlaced,
    CallRequest,
    LinesBusy,
    call_place,
    call_status_record,
    lines_sweep,
)
from channels.voice.signals import call_finished
from channels.voice.speech import date_spoken, digits_spoken, time_spoken
from channels.voice.twiml_reader import Gather, Hangup, Say, read_twiml
from tests.world import jst

NOW = jst(2026, 11, 9, 10, 0)


class EchoFlow:
    """A flow for these tests: asks one question and says the keys back."""

    def opening(self, call: VoiceCall) -> Prompt:
        return Prompt(texts=["こちらは試験です。", "1を押してください。"], ask=Ask("menu"))

    def machine(self, call: VoiceCall) -> Prompt:
        return Prompt(texts=["留守番電話への短いお知らせです。"], repeat=False)

    def answer(self, call: VoiceCall, step: str, digits: str) -> Reply:
        return Reply(
            action=VoiceKeyPress.Action.CONFIRMED
            if digits == "1"
            else VoiceKeyPress.Action.INVALID,
            prompt=Prompt(texts=[f"{step}で{digits or 'なし'}を受け付けました。"], repeat=False),
            detail=digits,
        )


@pytest.fixture(autouse=True)
def echo_flow(settings: Any) -> None:
    settings.VOICE_BACKEND = "console"
    settings.VOICE_MAX_CONCURRENT_CALLS = 2
    settings.VOICE_CALLBACK_BASE_URL = "https://madoguchi.example.jp"
    flow_register("test_echo", EchoFlow())


@pytest.fixture
def finished() -> Iterator[list[VoiceCall]]:
    ended: list[VoiceCall] = []

    def receive(sender: Any, call: VoiceCall, **kwargs: Any) -> None:
        ended.append(call)

    call_finished.connect(receive)
    yield ended
    call_finished.disconnect(receive)


def _request(reference: str, to: str = "+81987000001") -> CallRequest:
    return CallRequest(reference=reference, flow="test_echo", to_e164=to)


def _signed(client: Client, path: str, params: dict[str, str], *, key: str | None = None) -> Any:
    url = f"https://madoguchi.example.jp{path}"
    validator = RequestValidator(key or get_backend().signing_key())
    return client.post(
        path, params, HTTP_X_TWILIO_SIGNATURE=validator.compute_signature(url, params)
    )


# --- Lines and attempts ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_call_holds_a_line_until_it_ends_and_the_limit_is_never_passed(
    finished: list[VoiceCall],
) -> None:
    first = call_place(request=_request("a"), now=NOW)
    second = call_place(request=_request("b"), now=NOW)
    assert {first.line, second.line} == {0, 1}
    assert first.result == VoiceCall.Result.RINGING and first.provider_call_id
    with pytest.raises(LinesBusy):
        call_place(request=_request("c"), now=NOW)
    assert not VoiceCall.objects.filter(reference="c").exists()

    freed = first.line
    assert call_status_record(call=first, status=CallStatus("busy"), now=NOW)
    # The same callback again (providers repeat them) changes nothing and says so.
    assert not call_status_record(call=first, status=CallStatus("busy"), now=NOW)
    assert [call.pk for call in finished] == [first.pk]
    first.refresh_from_db()
    assert first.result == VoiceCall.Result.BUSY and first.line is None

    third = call_place(request=_request("c"), now=NOW)
    assert third.line == freed


@pytest.mark.django_db
def test_each_attempt_of_a_reference_is_numbered_and_written_once() -> None:
    first = call_place(request=_request("same"), now=NOW)
    call_status_record(call=first, status=CallStatus("no-answer"), now=NOW)
    again = call_place(request=_request("same"), now=NOW + dt.timedelta(minutes=15))
    assert (first.attempt, again.attempt) == (1, 2)
    # Two deliveries racing for the same attempt: the database keeps one.
    VoiceCall.objects.filter(pk=again.pk).update(line=None)
    with pytest.raises(AlreadyPlaced):
        from channels.voice.services import _take_line

        _take_line(_request("same"), "console", 2, NOW)


@pytest.mark.django_db
def test_the_sweep_ends_calls_whose_end_never_came(finished: list[VoiceCall]) -> None:
    ringing = call_place(request=_request("lost"), now=NOW)
    # Placed long ago by the row's clock: the console says nobody answered.
    VoiceCall.objects.filter(pk=ringing.pk).update(placed_at=NOW - dt.timedelta(hours=1))
    assert lines_sweep(now=NOW) == 1
    ringing.refresh_from_db()
    assert ringing.result == VoiceCall.Result.NO_ANSWER and ringing.line is None
    assert [call.pk for call in finished] == [ringing.pk]
    # A fresh call is left alone.
    fresh = call_place(request=_request("fresh"), now=NOW)
    assert lines_sweep(now=NOW) == 0
    fresh.refresh_from_db()
    assert fresh.is_open


# --- Calling hours and speech ------------------------------------------------------------------


def test_calling_hours_are_nine_to_eight_by_default() -> None:
    assert not calling_hours_open(jst(2026, 11, 9, 8, 59))
    assert calling_hours_open(jst(2026, 11, 9, 9, 0))
    assert calling_hours_open(jst(2026, 11, 9, 19, 59))
    assert not calling_hours_open(jst(2026, 11, 9, 20, 0))
    assert next_calling_start(jst(2026, 11, 9, 8, 59)) == jst(2026, 11, 9, 9, 0)
    assert next_calling_start(jst(2026, 11, 9, 20, 0)) == jst(2026, 11, 10, 9, 0)
    assert next_calling_start(jst(2026, 11, 9, 12, 0)) == jst(2026, 11, 9, 12, 0)


def test_calling_hours_follow_the_settings(settings: Any) -> None:
    settings.VOICE_CALLING_HOURS_START = dt.time(10, 0)
    settings.VOICE_CALLING_HOURS_END = dt.time(17, 0)
    assert not calling_hours_open(jst(2026, 11, 9, 9, 30))
    assert next_calling_start(jst(2026, 11, 9, 17, 0)) == jst(2026, 11, 10, 10, 0)


def test_numbers_are_read_digit_by_digit_and_dates_in_the_era() -> None:
    assert digits_spoken("0987-12") == "ゼロ、きゅう、はち、なな、いち、に"
    assert digits_spoken("305", language="en") == "three, zero, five"
    assert date_spoken(dt.date(2026, 12, 8)) == "令和8年12月8日、火曜日"
    assert time_spoken(jst(2026, 12, 8, 9, 30)) == "午前9時30分"
    assert time_spoken(jst(2026, 12, 8, 14, 0)) == "午後2時"
    assert (
        time_spoken(jst(2026, 12, 8, 12, 15)) == "午後0時15分"
        or time_spoken(jst(2026, 12, 8, 12, 15)) == "午後12時15分"
    )
    assert time_spoken(jst(2026, 12, 8, 14, 0), language="en") == "2 p.m."


# --- The webhooks --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_signed_answer_gets_the_flow_said_twice_inside_a_gather(client: Client) -> None:
    call = call_place(request=_request("web"), now=NOW)
    response = _signed(
        client,
        reverse("voice:answer", args=[call.pk]),
        {"CallSid": call.provider_call_id, "CallStatus": "in-progress", "AnsweredBy": "human"},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    verbs = read_twiml(response.content)
    gather = verbs[0]
    assert isinstance(gather, Gather)
    said = [verb.text for verb in gather.prompts if isinstance(verb, Say)]
    assert said == ["こちらは試験です。", "1を押してください。"] * 2
    assert all(verb.language == "ja-JP" for verb in gather.prompts if isinstance(verb, Say))
    assert gather.action.endswith(reverse("voice:keys", args=[call.pk, "menu"]))
    assert gather.num_digits == 1
    assert isinstance(verbs[-1], Hangup)
    call.refresh_from_db()
    assert call.result == VoiceCall.Result.IN_PROGRESS and call.answered_at is not None

    keys = _signed(client, reverse("voice:keys", args=[call.pk, "menu"]), {"Digits": "1"})
    assert [v.text for v in read_twiml(keys.content) if isinstance(v, Say)] == [
        "menuで1を受け付けました。"
    ]
    press = call.keys.get()
    assert (press.step, press.digits, press.action) == ("menu", "1", VoiceKeyPress.Action.CONFIRMED)


@pytest.mark.django_db
def test_a_machine_gets_the_short_message_and_no_question(client: Client) -> None:
    call = call_place(request=_request("machine"), now=NOW)
    response = _signed(
        client, reverse("voice:answer", args=[call.pk]), {"AnsweredBy": "machine_end_beep"}
    )
    verbs = read_twiml(response.content)
    assert not any(isinstance(verb, Gather) for verb in verbs)
    assert [v.text for v in verbs if isinstance(v, Say)] == ["留守番電話への短いお知らせです。"]
    call.refresh_from_db()
    assert (call.result, call.answered_by) == (VoiceCall.Result.IN_PROGRESS, "machine_end_beep")
    # No keys from a machine; its call ends as `machine`, freeing the line.
    keys = _signed(client, reverse("voice:keys", args=[call.pk, "menu"]), {"Digits": "1"})
    assert read_twiml(keys.content) == [Hangup()]
    assert call_status_record(call=call, status=CallStatus("completed", 12), now=NOW)
    call.refresh_from_db()
    assert (call.result, call.line) == (VoiceCall.Result.MACHINE, None)


@pytest.mark.django_db
@pytest.mark.parametrize("signature", ["", "forged", "wrong key"])
def test_unsigned_or_forged_callbacks_are_refused_and_change_nothing(
    client: Client, signature: str, finished: list[VoiceCall]
) -> None:
    call = call_place(request=_request("forged"), now=NOW)
    params = {"CallSid": call.provider_call_id, "CallStatus": "completed", "CallDuration": "30"}
    status_path = reverse("voice:status", args=[call.pk])
    keys_path = reverse("voice:keys", args=[call.pk, "menu"])
    if signature == "wrong key":
        responses = [
            _signed(client, status_path, params, key="not-the-key"),
            _signed(client, keys_path, {"Digits": "2"}, key="not-the-key"),
        ]
    else:
        headers = {"HTTP_X_TWILIO_SIGNATURE": signature} if signature else {}
        responses = [
            client.post(status_path, params, **headers),
            client.post(keys_path, {"Digits": "2"}, **headers),
        ]
    assert [response.status_code for response in responses] == [403, 403]
    call.refresh_from_db()
    assert call.is_open and call.line is not None and not call.keys.exists()
    assert finished == []


@pytest.mark.django_db
def test_a_signature_for_other_parameters_is_refused(client: Client) -> None:
    call = call_place(request=_request("tampered"), now=NOW)
    path = reverse("voice:status", args=[call.pk])
    url = f"https://madoguchi.example.jp{path}"
    signature = RequestValidator(get_backend().signing_key()).compute_signature(
        url, {"CallStatus": "busy"}
    )
    response = client.post(path, {"CallStatus": "completed"}, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 403


@pytest.mark.django_db
def test_the_status_callback_ends_the_call_once_with_its_duration(
    client: Client, finished: list[VoiceCall]
) -> None:
    call = call_place(request=_request("status"), now=NOW)
    path = reverse("voice:status", args=[call.pk])
    params = {"CallSid": call.provider_call_id, "CallStatus": "completed", "CallDuration": "42"}
    assert _signed(client, path, params).json() == {"recorded": True}
    assert _signed(client, path, params).json() == {"recorded": False}
    call.refresh_from_db()
    assert (call.result, call.duration_seconds, call.line) == (VoiceCall.Result.ANSWERED, 42, None)
    assert len(finished) == 1
    bad = _signed(client, path, {"CallStatus": "completed", "CallDuration": "soon"})
    assert bad.status_code == 400 and bad.json()["code"] == "duration_invalid"


@pytest.mark.django_db
def test_keys_after_the_call_ended_do_nothing(client: Client) -> None:
    call = call_place(request=_request("late"), now=NOW)
    call_status_record(call=call, status=CallStatus("completed", 10), now=NOW)
    response = _signed(client, reverse("voice:keys", args=[call.pk, "menu"]), {"Digits": "2"})
    verbs = read_twiml(response.content)
    assert verbs == [Hangup()]
    assert not call.keys.exists()


@pytest.mark.django_db
def test_an_answer_for_another_call_sid_is_hung_up(client: Client) -> None:
    call = call_place(request=_request("other"), now=NOW)
    response = _signed(
        client, reverse("voice:answer", args=[call.pk]), {"CallSid": "CA" + "0" * 32}
    )
    assert read_twiml(response.content) == [Hangup()]
    call.refresh_from_db()
    assert call.result == VoiceCall.Result.RINGING


@pytest.mark.django_db
def test_old_calls_forget_the_number_and_the_keys_but_keep_their_cost(settings: Any) -> None:
    from channels.voice.services import voice_calls_purge

    settings.RETENTION_VOICE_CALL_DAYS = 90
    old = call_place(request=_request("old"), now=NOW - dt.timedelta(days=91))
    call_status_record(call=old, status=CallStatus("completed", 65), now=NOW)
    VoiceKeyPress.objects.create(
        call=old, step="q1", digits="368", action=VoiceKeyPress.Action.ANSWER, pressed_at=NOW
    )
    recent = call_place(request=_request("recent"), now=NOW - dt.timedelta(days=89))
    call_status_record(call=recent, status=CallStatus("completed", 30), now=NOW)

    assert voice_calls_purge(now=NOW, dry_run=True) == 1
    assert voice_calls_purge(now=NOW, dry_run=False) == 1
    assert voice_calls_purge(now=NOW, dry_run=False) == 0
    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.to, old.duration_seconds, old.result) == ("", 65, VoiceCall.Result.ANSWERED)
    assert not old.keys.exists()
    assert recent.to == "+81987000001"
