"""Notify's automated calls, driven the way the provider drives them: the answer webhook's
TwiML (`answer_twiml`), then each key press (`keys_twiml`), read back with the TwiML reader.
Every branch of the reminder (confirm, cancel asked twice, cancel abandoned, the core's
refusals, call back, wrong keys), the machine's message, the cancelled day, a notice, and the
health questionnaire stored exactly as the answer page stores it. The clock is frozen."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client

from channels.followup.models import FollowUp, FollowUpAnswer, FollowUpCall, Questionnaire
from channels.notify.broadcasts import broadcast_approve, broadcast_create
from channels.notify.models import OutboundMessage
from channels.notify.voice import voice_flow_for_purpose
from channels.notify.voice_flows import voice_flows_register
from channels.voice.answering import answer_twiml, keys_twiml
from channels.voice.flows import flow_for
from channels.voice.models import VoiceCall, VoiceKeyPress
from channels.voice.services import CallRequest, call_place
from channels.voice.speech import digits_spoken
from channels.voice.twiml_reader import Gather, Hangup, Verb, read_twiml, spoken_text
from reservations.models import Channel, Reservation, ReservationEvent
from reservations.services.booking import reservation_cancel
from reservations.services.reminders import reminders_record_due
from tests.channels.followup.test_answer_page import follow, home
from tests.channels.notify.conftest import SLOT_DAY, book
from tests.world import World, jst, staff_with

pytestmark = pytest.mark.django_db

Action = VoiceKeyPress.Action
Purpose = OutboundMessage.Purpose
DAY_BEFORE_10 = jst(2026, 11, 9, 10, 0)
FOLLOWUP_DAY_10 = jst(2026, 11, 2, 10, 0)  # DAY1 of tests.channels.followup's `follow`
LANDLINE = "+81987000001"
CALL_CENTRE_SPOKEN = "ゼロ、きゅう、はち、なな、ゼロ、ゼロ、ゼロ、ゼロ、ゼロ、ゼロ"  # 0987-00-0000


@pytest.fixture(autouse=True)
def voice(settings: Any) -> None:
    settings.VOICE_BACKEND = "console"
    settings.VOICE_CALLBACK_BASE_URL = "https://madoguchi.example.jp"
    # Until NotifyConfig.ready() registers them; registering again must be harmless.
    voice_flows_register()
    voice_flows_register()


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(DAY_BEFORE_10, tick=False) as traveller:
        yield traveller


@pytest.fixture
def booking(world: World, now: dt.datetime) -> Reservation:
    world.municipality.sms_sender_label = "日南市ワクチン予約"
    world.municipality.save()
    ticket = world.resident()
    ticket.resident.phone = LANDLINE
    ticket.resident.save()
    return book(world, ticket, now)


def voice_message(
    reservation: Reservation, event: ReservationEvent, purpose: str
) -> OutboundMessage:
    return OutboundMessage.objects.create(
        event=event,
        reservation=reservation,
        resident=reservation.resident,
        broadcast_id=event.data.get("broadcast"),
        channel=OutboundMessage.Channel.VOICE,
        purpose=purpose,
        address=reservation.resident.phone,
        body="(SMS text)",
    )


def reminder_message(reservation: Reservation) -> OutboundMessage:
    [event_id] = reminders_record_due(remind_at=dt.time(10, 0), now=DAY_BEFORE_10)
    return voice_message(reservation, ReservationEvent.objects.get(pk=event_id), Purpose.REMINDER)


def place(message: OutboundMessage, *, language: str = "ja") -> VoiceCall:
    flow = voice_flow_for_purpose(message.purpose)
    assert flow is not None
    return call_place(
        request=CallRequest(
            reference=str(message.retry_key),
            flow=flow,
            to_e164=message.address,
            language=language,
        )
    )


class Heard:
    """One TwiML document as the listener gets it."""

    def __init__(self, document: str) -> None:
        self.verbs: list[Verb] = read_twiml(document)
        self.text = " ".join(spoken_text(self.verbs))

    @property
    def gather(self) -> Gather | None:
        return next((verb for verb in self.verbs if isinstance(verb, Gather)), None)

    @property
    def step(self) -> str | None:
        gather = self.gather
        if gather is None:
            return None
        assert gather.action is not None
        return gather.action.rstrip("/").rsplit("/", 1)[-1]

    @property
    def ends(self) -> bool:
        return self.gather is None and isinstance(self.verbs[-1], Hangup)


def answered(call: VoiceCall, answered_by: str = "human") -> Heard:
    return Heard(answer_twiml(call, answered_by=answered_by))


def press(call: VoiceCall, heard: Heard, digits: str) -> Heard:
    """The keys pressed at the question `heard` asked (Twilio drops the finish key)."""
    assert heard.step is not None, heard.text
    return Heard(keys_twiml(call, step=heard.step, digits=digits.removesuffix("#")))


def actions(call: VoiceCall) -> list[tuple[str, str, str]]:
    return [(key.step, key.action, key.detail) for key in call.keys.order_by("pk")]


# --- The reminder ------------------------------------------------------------------------------


def test_the_reminder_says_who_calls_and_the_booking_in_words_then_asks(
    booking: Reservation, clock: Any
) -> None:
    call = place(reminder_message(booking))
    heard = answered(call)
    assert "日南市ワクチン予約" in heard.text
    assert "令和8年11月10日、火曜日" in heard.text
    assert "午前10時" in heard.text
    assert "日南市文化センター" in heard.text
    assert "コミナティ筋注" in heard.text
    assert digits_spoken(booking.code) in heard.text
    assert "ご予約の確認は 1、キャンセルは 2、折り返しのお電話をご希望の場合は 0" in heard.text
    # Said twice, inside the question: a key pressed while it talks is taken.
    assert heard.text.count("予約番号は") == 2
    assert heard.step == "menu" and heard.gather is not None and heard.gather.num_digits == 1


def test_1_confirms(booking: Reservation, clock: Any) -> None:
    call = place(reminder_message(booking))
    heard = press(call, answered(call), "1")
    assert "ご来場をお待ちしています" in heard.text and heard.ends
    assert actions(call) == [("menu", Action.CONFIRMED, "")]
    booking.refresh_from_db()
    assert booking.status == Reservation.Status.CONFIRMED


def test_2_then_2_cancels_through_the_core_on_the_voice_channel(
    booking: Reservation, clock: Any
) -> None:
    call = place(reminder_message(booking))
    asked = press(call, answered(call), "2")
    assert "2 をもう一度押すとキャンセルします" in asked.text and asked.step == "cancel"
    booking.refresh_from_db()
    assert booking.status == Reservation.Status.CONFIRMED  # one 2 cancels nothing

    done = press(call, asked, "2")
    assert "キャンセルしました" in done.text and digits_spoken(booking.code) in done.text
    assert done.ends
    booking.refresh_from_db()
    assert booking.status == Reservation.Status.CANCELLED
    assert booking.slot.booked == 0  # the seat is free again
    event = booking.events.filter(kind=ReservationEvent.Kind.CANCELLED).get()
    assert event.channel == Channel.VOICE and event.actor == "resident"
    assert actions(call) == [
        ("menu", Action.CANCEL_ASKED, ""),
        ("cancel", Action.CANCELLED, booking.code),
    ]


def test_2_then_1_keeps_the_booking_and_asks_the_menu_again(
    booking: Reservation, clock: Any
) -> None:
    call = place(reminder_message(booking))
    kept = press(call, press(call, answered(call), "2"), "1")
    assert "キャンセルはしていません" in kept.text and kept.step == "menu"
    booking.refresh_from_db()
    assert booking.status == Reservation.Status.CONFIRMED
    assert press(call, kept, "1").ends


def test_a_cancel_the_core_refuses_is_said_not_raised(
    world: World, now: dt.datetime, clock: Any
) -> None:
    # Changes close two days before this day: the day before is too late to cancel online.
    ticket = world.resident()
    reservation = book(world, ticket, now, day=SLOT_DAY)
    day = reservation.slot.operating_day
    day.change_closes_days_before = 2
    day.save()
    call = place(reminder_message(reservation))
    refused = press(call, press(call, answered(call), "2"), "2")
    assert "受付期限を過ぎています" in refused.text and CALL_CENTRE_SPOKEN in refused.text
    assert refused.ends
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.CONFIRMED
    assert actions(call)[-1] == ("cancel", Action.CANCEL_REFUSED, "change_deadline_passed")


def test_a_booking_cancelled_elsewhere_meanwhile_is_said_so(
    world: World, booking: Reservation, clock: Any
) -> None:
    call = place(reminder_message(booking))
    asked = press(call, answered(call), "2")
    reservation_cancel(reservation=booking, requester=world.web, now=DAY_BEFORE_10)
    refused = press(call, asked, "2")
    assert "すでにキャンセルされています" in refused.text
    assert actions(call)[-1] == ("cancel", Action.CANCEL_REFUSED, "already_cancelled")


def test_0_puts_the_resident_on_the_call_list_once(booking: Reservation, clock: Any) -> None:
    message = reminder_message(booking)
    call = place(message)
    heard = press(call, answered(call), "0")
    assert "折り返しのお電話を承りました" in heard.text and heard.ends
    # The next attempt (or a second 0) does not add a second entry.
    VoiceCall.objects.filter(pk=call.pk).update(result=VoiceCall.Result.ANSWERED, line=None)
    again = place(message)
    press(again, answered(again), "0")
    [entry] = OutboundMessage.objects.filter(channel=OutboundMessage.Channel.CALL_LIST)
    assert entry.call_reason == OutboundMessage.CallReason.VOICE_CALLBACK
    assert entry.event_id == message.event_id and entry.resident_id == booking.resident_id
    assert entry.address == LANDLINE and entry.status == OutboundMessage.Status.QUEUED
    assert [key.action for key in VoiceKeyPress.objects.order_by("pk")] == [
        Action.CALLBACK,
        Action.CALLBACK,
    ]


def test_wrong_keys_ask_the_menu_again_twice_then_say_goodbye(
    booking: Reservation, clock: Any
) -> None:
    call = place(reminder_message(booking))
    first = press(call, answered(call), "5")
    assert "ボタンを確認できませんでした" in first.text and first.step == "menu"
    second = press(call, first, "")  # nothing usable (a * or a timeout posted empty)
    assert second.step == "menu"
    third = press(call, second, "9")
    assert third.ends and CALL_CENTRE_SPOKEN in third.text
    assert [action for _step, action, _detail in actions(call)] == [Action.INVALID] * 3
    booking.refresh_from_db()
    assert booking.status == Reservation.Status.CONFIRMED


def test_a_machine_hears_a_short_message_without_questions(
    booking: Reservation, clock: Any
) -> None:
    call = place(reminder_message(booking))
    heard = answered(call, "machine_end_beep")
    assert heard.ends
    assert "日南市ワクチン予約" in heard.text and "令和8年11月10日" in heard.text
    assert f"コールセンター、{CALL_CENTRE_SPOKEN}" in heard.text
    assert "ご予約の確認は 1" not in heard.text


def test_an_english_call_says_the_day_and_time_in_english(booking: Reservation, clock: Any) -> None:
    call = place(reminder_message(booking), language="en")
    heard = answered(call)
    assert "Tuesday, November 10" in heard.text and "10 a.m." in heard.text
    assert digits_spoken(booking.code, language="en") in heard.text


def test_registering_the_flows_again_keeps_one_flow_per_name() -> None:
    voice_flows_register()
    assert all(flow_for(name) is not None for name in ("reminder", "day_cancelled", "notice"))
    assert voice_flow_for_purpose(Purpose.FOLLOWUP_INVITATION) == "followup"
    assert voice_flow_for_purpose(Purpose.FOLLOWUP_PHOTO_RESULT) is None


# --- The cancelled day and the notices ---------------------------------------------------------


def test_a_cancelled_day_is_told_and_0_asks_for_a_call_back(
    world: World, booking: Reservation, clock: Any
) -> None:
    author = staff_with("author", "add_broadcast", "approve_broadcast", "cancel_operating_day")
    approver: User = staff_with("approver", "approve_broadcast", "cancel_operating_day")
    broadcast = broadcast_create(operating_day=booking.slot.operating_day, user=author)
    broadcast_approve(broadcast=broadcast, user=approver, now=DAY_BEFORE_10)
    event = booking.events.get(kind=ReservationEvent.Kind.CANCELLED)
    message = voice_message(booking, event, Purpose.DAY_CANCELLED)
    call = place(message)
    heard = answered(call)
    assert "令和8年11月10日、火曜日 の、日南市文化センターでの接種は、中止" in heard.text
    assert digits_spoken(booking.code) in heard.text and CALL_CENTRE_SPOKEN in heard.text
    assert "0 を押してください" in heard.text and heard.step == "menu"

    assert press(call, heard, "0").ends
    [entry] = OutboundMessage.objects.filter(channel=OutboundMessage.Channel.CALL_LIST)
    assert entry.call_reason == OutboundMessage.CallReason.VOICE_CALLBACK
    assert entry.broadcast_id == broadcast.pk and entry.purpose == Purpose.DAY_CANCELLED


def test_a_notice_ends_on_any_other_key(booking: Reservation, clock: Any) -> None:
    event = booking.events.get(kind=ReservationEvent.Kind.BOOKED)
    call = place(voice_message(booking, event, Purpose.CONFIRMATION))
    heard = answered(call)
    assert "ご予約を承りました" in heard.text and "午前10時" in heard.text
    bye = press(call, heard, "3")
    assert bye.ends and "ありがとうございました" in bye.text
    assert not OutboundMessage.objects.filter(channel=OutboundMessage.Channel.CALL_LIST).exists()


# --- The health questionnaire -------------------------------------------------------------------


@pytest.fixture
def followup_clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(FOLLOWUP_DAY_10, tick=False) as traveller:
        yield traveller


def followup_call(followup: FollowUp) -> VoiceCall:
    message = OutboundMessage.objects.create(
        followup=followup,
        followup_date=dt.date(2026, 11, 2),
        channel=OutboundMessage.Channel.VOICE,
        purpose=Purpose.FOLLOWUP_INVITATION,
        address=followup.person.phone,
        body="(SMS text)",
    )
    return place(message)


def answer_by_keys(call: VoiceCall, *entries: str) -> Heard:
    heard = answered(call)
    for digits in entries:
        heard = press(call, heard, digits)
    return heard


def test_the_questionnaire_by_keys_is_stored_exactly_as_the_answer_page_stores_it(
    world: World, followup_clock: Any
) -> None:
    by_web, token = follow(world, name="日南 一郎")
    assert Client().post(f"/f/{token}/", home("36.8", "97")).status_code == 302
    by_voice, _token = follow(world, name="日南 花子", phone=LANDLINE)
    call = followup_call(by_voice)

    heard = answered(call)
    assert "花子さん" in heard.text and "体温" in heard.text and "3、6、8、#" in heard.text
    assert heard.gather is not None and heard.gather.finish_on_key == "#"
    # 体温, SpO2, 脈拍, then the symptoms: "なし" is the eighth choice.
    for digits in ("368#", "97#", "72#"):
        heard = press(call, heard, digits)
    assert "なし は 8" in heard.text
    done = press(call, heard, "8#")
    assert "今日の回答を受け付けました" in done.text and done.ends
    assert "自由記述" in done.text  # the free text is left to the web page, and said so

    web = FollowUpAnswer.objects.get(followup=by_web)
    voice = FollowUpAnswer.objects.get(followup=by_voice)
    assert voice.values == web.values
    assert voice.values["temperature"] == "36.8"
    assert voice.alert_level == web.alert_level == "none"
    assert actions(call) == [
        (f"q{q}", action, value)
        for q, action, value in zip(
            by_voice.questionnaire.questions.order_by("order").values_list("pk", flat=True)[:4],
            [Action.ANSWER, Action.ANSWER, Action.ANSWER, Action.ANSWERS_SAVED],
            ["36.8", "97", "72", "none"],
            strict=True,
        )
    ]


def test_a_red_answer_raises_the_alert_the_answer_page_raises_and_says_whom_to_call(
    world: World, followup_clock: Any
) -> None:
    by_web, token = follow(world, name="日南 一郎")
    Client().post(f"/f/{token}/", home("37.5", "92", ("cough", "fatigue")))
    by_voice, _token = follow(world, name="日南 花子", phone=LANDLINE)
    call = followup_call(by_voice)
    done = answer_by_keys(call, "375#", "92#", "72#", "46#")

    web = FollowUpAnswer.objects.get(followup=by_web)
    voice = FollowUpAnswer.objects.get(followup=by_voice)
    assert voice.values == web.values and voice.values["symptoms"] == ["cough", "fatigue"]
    assert voice.alert_level == web.alert_level == "red"
    assert voice.alerts == web.alerts
    assert FollowUpCall.objects.filter(followup=by_voice, reason="red_alert").exists()
    assert "いち、いち、きゅう 番" in done.text and CALL_CENTRE_SPOKEN in done.text
    assert "アラート" not in done.text  # the level itself is never told


def test_a_temperature_out_of_range_is_asked_once_more(world: World, followup_clock: Any) -> None:
    followup, _token = follow(world, phone=LANDLINE)
    call = followup_call(followup)
    first = answered(call)
    again = press(call, first, "3#")  # 0.3 ℃
    assert "34.0 から 42.0 ℃ の間" in again.text and again.step == first.step
    next_question = press(call, again, "368#")
    assert "36.8 ℃ ですね" in next_question.text and next_question.step != first.step


def test_two_wrong_entries_end_the_call_without_storing_anything(
    world: World, followup_clock: Any
) -> None:
    followup, _token = follow(world, phone=LANDLINE)
    call = followup_call(followup)
    ended = answer_by_keys(call, "368#", "#", "5#")  # SpO2: nothing, then 5 %
    assert ended.ends and "回答は保存していません" in ended.text
    assert not FollowUpAnswer.objects.filter(followup=followup).exists()


def test_none_with_another_symptom_is_refused_like_the_web_page(
    world: World, followup_clock: Any
) -> None:
    followup, _token = follow(world, phone=LANDLINE)
    call = followup_call(followup)
    heard = answer_by_keys(call, "368#", "97#", "72#", "48#")
    assert "ほかの選択肢と一緒に選べません" in heard.text and heard.gather is not None


def test_an_answer_given_on_the_web_first_is_not_asked_again(
    world: World, followup_clock: Any
) -> None:
    followup, token = follow(world, phone=LANDLINE)
    Client().post(f"/f/{token}/", home())
    heard = answered(followup_call(followup))
    assert "すでに受け付けています" in heard.text and heard.ends


def test_a_machine_hears_the_follow_up_in_one_sentence(world: World, followup_clock: Any) -> None:
    followup, _token = follow(world, phone=LANDLINE)
    heard = answered(followup_call(followup), "machine_end_other")
    assert heard.ends and "健康観察" in heard.text and CALL_CENTRE_SPOKEN in heard.text


def test_yes_no_by_1_2_an_optional_number_left_with_star_and_a_photo_left_to_the_web(
    world: World, followup_clock: Any
) -> None:
    questionnaire = Questionnaire.objects.create(
        code="voice-test", title="テスト", is_active=True, published_at=FOLLOWUP_DAY_10
    )
    pulse = questionnaire.questions.create(
        order=1, key="pulse", kind="number", label="脈拍", unit="回/分", required=False
    )
    questionnaire.questions.create(
        order=2, key="kit", kind="photo", label="検査キットの写真", required=False
    )
    cough = questionnaire.questions.create(order=3, key="cough", kind="single", label="せき")
    cough.choices.create(order=1, key="yes", label="はい")
    cough.choices.create(order=2, key="no", label="いいえ")
    followup, _token = follow(world, phone=LANDLINE, code="voice-test")
    call = followup_call(followup)

    heard = answered(call)
    assert "* を押してください" in heard.text
    heard = press(call, heard, "*")
    assert "「検査キットの写真」は、電話ではお答えいただけません" in heard.text
    assert "はい は 1、いいえ は 2" in heard.text and heard.gather is not None
    assert heard.gather.num_digits == 1
    done = press(call, heard, "2")
    assert "今日の回答を受け付けました" in done.text
    answer = FollowUpAnswer.objects.get(followup=followup)
    assert answer.values == {"pulse": None, "kit": None, "cough": "no"}
    assert actions(call) == [
        (f"q{pulse.pk}", Action.ANSWER, ""),
        (f"q{cough.pk}", Action.ANSWERS_SAVED, "no"),
    ]
