"""What notify's automated calls say and what their keys do (channels/voice plays them).

A call is about one outbound message (VoiceCall.reference is the message's retry key):

- "reminder": the day-before reminder. 1 confirms, 2 asks "2 をもう一度押すとキャンセルします"
  and a second 2 cancels through the core (channel voice, the resident as actor), 0 puts the
  resident on the operators' call list;
- "day_cancelled": the city cancelled the day, so the booking; 0 for a call back;
- "notice": a booking confirmed, changed or cancelled; 0 for a call back;
- "followup": the health follow-up questionnaire by push-button, stored through the same
  service and in the same form as the answer page's, so the same alert rules apply.

Texts are short (a call is listened to, not read) with numbers digit by digit and dates in the
era calendar (channels.voice.speech). A flow keeps no session: what was answered earlier in a
call is read back from the call's recorded keys (`call.keys`).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from channels.followup.answering import DayState, followup_today
from channels.followup.models import AlertLevel, Choice, FollowUp, Question
from channels.followup.selectors import RawValue, answer_check, questionnaire_questions
from channels.followup.services import AnswerInvalid, FollowUpError, followup_answer_record
from channels.notify.delivery import call_list_add
from channels.notify.models import OutboundMessage
from channels.notify.texts import sender_label
from channels.notify.voice import (
    DAY_CANCELLED_FLOW,
    FOLLOWUP_FLOW,
    NOTICE_FLOW,
    REMINDER_FLOW,
    voice_message_for,
)
from channels.voice.flows import Ask, Prompt, Reply, flow_register
from channels.voice.models import VoiceCall, VoiceKeyPress
from channels.voice.speech import date_spoken, digits_spoken, time_spoken
from reservations.exceptions import ReservationError
from reservations.localized import localized
from reservations.models import Actor, Channel, Municipality, Reservation
from reservations.services.booking import reservation_cancel
from reservations.services.requester import Requester

Action = VoiceKeyPress.Action
Purpose = OutboundMessage.Purpose

# The reminder's menu is asked again after a wrong key at most this many times, then the call
# ends politely (the booking unchanged).
MENU_RETRIES = 2
# A follow-up question is asked once more after a wrong entry, then the call ends (nothing is
# stored; the person is still on the day's call list if they stay silent).
QUESTION_RETRIES = 1
# Entering a number (digits then #) takes longer than pressing one key.
NUMBER_TIMEOUT_SECONDS = 15

# The resident pressing keys on the call: the core's public-channel rules apply (change
# deadline, no cancelling dose 2 alone).
VOICE_REQUESTER = Requester(channel=Channel.VOICE, actor=Actor.RESIDENT)


# --- Shared pieces -----------------------------------------------------------------------------


def _language() -> str:
    # The flow runs inside translation.override(call language) (channels.voice.answering).
    return "en" if translation.get_language() == "en" else "ja"


def _municipality(message: OutboundMessage) -> Municipality:
    if message.followup is not None:
        return message.followup.person.municipality
    assert message.resident is not None
    return message.resident.municipality


def _call_centre(municipality: Municipality) -> str:
    number = municipality.call_centre_phone or settings.NOTIFY_CALL_CENTRE_PHONE
    return digits_spoken(number, language=_language())


def _who(municipality: Municipality) -> str:
    return _("こちらは、%(sender)sです。") % {"sender": sender_label(municipality, _language())}


def _ask_call_centre(municipality: Municipality) -> str:
    return _("詳しくは、コールセンター、%(phone)s へおかけください。") % {
        "phone": _call_centre(municipality)
    }


def _machine_message(municipality: Municipality, what: str) -> Prompt:
    """The short message left on an answering machine: who calls, what about, and the number
    to call; no question (a machine presses nothing)."""
    return Prompt(texts=[_who(municipality), what, _ask_call_centre(municipality)])


def _thanks() -> str:
    return _("お電話ありがとうございました。")


def _unavailable() -> Prompt:
    return Prompt(texts=[_("ただいまご案内できません。のちほどおかけ直しください。")], repeat=False)


def _invalid_count(call: VoiceCall, steps: Sequence[str]) -> int:
    return call.keys.filter(action=Action.INVALID, step__in=list(steps)).count()


def call_list_add_callback(message: OutboundMessage) -> bool:
    """Put the resident on the operators' call list for this message's event, because they
    asked for a call back on an automated call; False when an entry exists already."""
    return call_list_add(message=message, reason=OutboundMessage.CallReason.VOICE_CALLBACK)


def _callback(message: OutboundMessage) -> Reply:
    added = call_list_add_callback(message)
    return Reply(
        action=Action.CALLBACK,
        detail="電話連絡リストに追加" if added else "電話連絡リストに登録済み",
        prompt=Prompt(
            texts=[
                _("折り返しのお電話を承りました。担当者から、この電話番号へおかけします。"),
                _thanks(),
            ]
        ),
    )


# --- Bookings --------------------------------------------------------------------------------


def _booking_facts(reservation: Reservation) -> dict[str, str]:
    language = _language()
    slot = reservation.slot
    return {
        "date": date_spoken(timezone.localdate(slot.starts_at), language=language),
        "time": time_spoken(slot.starts_at, language=language),
        "site": localized(slot.operating_day.site, language=language),
        "vaccine": localized(reservation.vaccine, language=language),
        "code": digits_spoken(reservation.code, language=language),
    }


def _booking_message(call: VoiceCall) -> OutboundMessage | None:
    message = voice_message_for(call)
    if message is None or message.reservation is None or message.resident is None:
        return None
    return message


def _callback_offer() -> str:
    return _("折り返しのお電話をご希望の場合は、0 を押してください。")


def _after_notice(message: OutboundMessage, digits: str) -> Reply:
    """The one question after a notice: 0 for a call back; anything else ends the call."""
    if digits == "0":
        return _callback(message)
    return Reply(
        action=Action.INVALID if digits else Action.NONE,
        detail=digits,
        prompt=Prompt(texts=[_thanks()], repeat=False),
    )


def _menu() -> str:
    return _(
        "ご予約の確認は 1、キャンセルは 2、折り返しのお電話をご希望の場合は 0 を押してください。"
    )


def _menu_prompt(lead: Sequence[str] = ()) -> Prompt:
    return Prompt(
        texts=[*lead, _menu()],
        ask=Ask("menu"),
        goodbye=[_("ご予約はそのままです。"), _thanks()],
    )


def _cancel_question() -> Prompt:
    return Prompt(
        texts=[
            _("キャンセルの確認です。"),
            _("2 をもう一度押すとキャンセルします。キャンセルしない場合は、1 を押してください。"),
        ],
        ask=Ask("cancel"),
        goodbye=[_("キャンセルはしていません。ご予約はそのままです。"), _thanks()],
    )


def _reminded_slot_changed(message: OutboundMessage, reservation: Reservation) -> bool:
    # The reminder names the slot it was made for; a booking moved since is not the one the
    # resident just heard, so a key on this call must not cancel it.
    reminded = message.event.data.get("slot") if message.event is not None else None
    return reminded is not None and reminded != reservation.slot_id


def _refused(reason: str, detail: str, municipality: Municipality) -> Reply:
    return Reply(
        action=Action.CANCEL_REFUSED,
        detail=detail,
        prompt=Prompt(texts=[reason, _ask_call_centre(municipality), _thanks()]),
    )


def _cancel(message: OutboundMessage) -> Reply:
    """The second 2: cancel through the core. Its refusals are said, never raised."""
    reservation = message.reservation
    assert reservation is not None and message.resident is not None
    municipality = message.resident.municipality
    reservation.refresh_from_db()
    if reservation.status == Reservation.Status.CANCELLED:
        return _refused(
            _("このご予約は、すでにキャンセルされています。"), "already_cancelled", municipality
        )
    if _reminded_slot_changed(message, reservation):
        return _refused(
            _("ご予約の内容が変わっているため、この電話ではキャンセルできません。"),
            "booking_changed",
            municipality,
        )
    try:
        cancelled = reservation_cancel(
            reservation=reservation, requester=VOICE_REQUESTER, now=timezone.now()
        )
    except ReservationError as refusal:
        return _refused(str(refusal.message), refusal.code, municipality)
    return Reply(
        action=Action.CANCELLED,
        detail=cancelled.code,
        prompt=Prompt(
            texts=[
                _("ご予約をキャンセルしました。予約番号は、%(code)s です。")
                % {"code": digits_spoken(cancelled.code, language=_language())},
                _thanks(),
            ]
        ),
    )


class ReminderFlow:
    """The day-before reminder: the booking, then 1 confirm / 2 cancel (asked twice) / 0 call
    back."""

    def opening(self, call: VoiceCall) -> Prompt:
        message = _booking_message(call)
        if message is None:
            return _unavailable()
        assert message.reservation is not None and message.resident is not None
        facts = _booking_facts(message.reservation)
        return _menu_prompt(
            [
                _who(message.resident.municipality),
                _("%(date)s、%(time)s から、%(site)sで、%(vaccine)sの接種のご予約があります。")
                % facts,
                _("予約番号は、%(code)s です。") % facts,
            ]
        )

    def machine(self, call: VoiceCall) -> Prompt:
        message = _booking_message(call)
        if message is None:
            return _unavailable()
        assert message.reservation is not None and message.resident is not None
        return _machine_message(
            message.resident.municipality,
            _("%(date)s、%(time)s からの、接種のご予約のお知らせです。")
            % _booking_facts(message.reservation),
        )

    def answer(self, call: VoiceCall, step: str, digits: str) -> Reply:
        message = _booking_message(call)
        if message is None:
            return Reply(action=Action.INVALID, prompt=_unavailable(), detail=digits)
        if step == "cancel" and digits == "2":
            return _cancel(message)
        if step == "cancel" and digits == "1":
            return Reply(
                action=Action.NONE,
                detail="キャンセルせず",
                prompt=_menu_prompt([_("キャンセルはしていません。ご予約はそのままです。")]),
            )
        if step == "menu" and digits == "1":
            return Reply(
                action=Action.CONFIRMED,
                prompt=Prompt(
                    texts=[
                        _("ご予約を確認しました。当日は接種券をお持ちください。"),
                        _("ご来場をお待ちしています。"),
                    ]
                ),
            )
        if step == "menu" and digits == "2":
            return Reply(action=Action.CANCEL_ASKED, prompt=_cancel_question())
        if step == "menu" and digits == "0":
            return _callback(message)
        return self._invalid(call, message, step, digits)

    def _invalid(self, call: VoiceCall, message: OutboundMessage, step: str, digits: str) -> Reply:
        assert message.resident is not None
        if _invalid_count(call, ["menu", "cancel"]) >= MENU_RETRIES:
            return Reply(
                action=Action.INVALID,
                detail=digits,
                prompt=Prompt(
                    texts=[
                        _("ボタンを確認できませんでした。ご予約はそのままです。"),
                        _ask_call_centre(message.resident.municipality),
                        _thanks(),
                    ]
                ),
            )
        again = _("ボタンを確認できませんでした。")
        if step == "cancel":
            question = _cancel_question()
            prompt = Prompt(
                texts=[again, *question.texts], ask=question.ask, goodbye=question.goodbye
            )
        else:
            prompt = _menu_prompt([again])
        return Reply(action=Action.INVALID, detail=digits, prompt=prompt)


class DayCancelledFlow:
    """The city cancelled the day: the booking is cancelled, book again; 0 for a call back."""

    def opening(self, call: VoiceCall) -> Prompt:
        message = _booking_message(call)
        if message is None:
            return _unavailable()
        assert message.reservation is not None and message.resident is not None
        municipality = message.resident.municipality
        facts = _booking_facts(message.reservation)
        return Prompt(
            texts=[
                _who(municipality),
                _("%(date)s の、%(site)sでの接種は、中止となりました。申し訳ありません。") % facts,
                _("%(time)s からのご予約、予約番号 %(code)s は、取り消しました。") % facts,
                _(
                    "お手数ですが、ホームページか、コールセンター、%(phone)s で、"
                    "もう一度ご予約ください。"
                )
                % {"phone": _call_centre(municipality)},
                _callback_offer(),
            ],
            ask=Ask("menu"),
            goodbye=[_thanks()],
        )

    def machine(self, call: VoiceCall) -> Prompt:
        message = _booking_message(call)
        if message is None:
            return _unavailable()
        assert message.reservation is not None and message.resident is not None
        return _machine_message(
            message.resident.municipality,
            _("%(date)s の、%(site)sでの接種は中止となり、ご予約を取り消しました。")
            % _booking_facts(message.reservation),
        )

    def answer(self, call: VoiceCall, step: str, digits: str) -> Reply:
        message = _booking_message(call)
        if message is None:
            return Reply(action=Action.INVALID, prompt=_unavailable(), detail=digits)
        return _after_notice(message, digits)


def _notice_text(purpose: str, facts: dict[str, str]) -> list[str]:
    if purpose == Purpose.CHANGE:
        return [
            _("ご予約を変更しました。"),
            _("新しいご予約は、%(date)s、%(time)s から、%(site)sです。") % facts,
            _("予約番号は、%(code)s です。") % facts,
        ]
    if purpose == Purpose.CANCELLATION:
        return [
            _("%(date)s、%(time)s からの、%(site)sのご予約を、キャンセルしました。") % facts,
            _("予約番号は、%(code)s です。") % facts,
        ]
    return [
        _("ご予約を承りました。"),
        _("%(date)s、%(time)s から、%(site)sで、%(vaccine)sの接種です。") % facts,
        _("予約番号は、%(code)s です。") % facts,
    ]


def _notice_title(purpose: str) -> str:
    if purpose == Purpose.CHANGE:
        return _("ご予約の変更のお知らせです。")
    if purpose == Purpose.CANCELLATION:
        return _("ご予約のキャンセルのお知らせです。")
    return _("ご予約のお知らせです。")


class NoticeFlow:
    """A booking confirmed, changed or cancelled, in a few sentences; 0 for a call back."""

    def opening(self, call: VoiceCall) -> Prompt:
        message = _booking_message(call)
        if message is None:
            return _unavailable()
        assert message.reservation is not None and message.resident is not None
        facts = _booking_facts(message.reservation)
        return Prompt(
            texts=[
                _who(message.resident.municipality),
                *_notice_text(message.purpose, facts),
                _callback_offer(),
            ],
            ask=Ask("menu"),
            goodbye=[_thanks()],
        )

    def machine(self, call: VoiceCall) -> Prompt:
        message = _booking_message(call)
        if message is None:
            return _unavailable()
        assert message.resident is not None
        return _machine_message(message.resident.municipality, _notice_title(message.purpose))

    def answer(self, call: VoiceCall, step: str, digits: str) -> Reply:
        message = _booking_message(call)
        if message is None:
            return Reply(action=Action.INVALID, prompt=_unavailable(), detail=digits)
        return _after_notice(message, digits)


# --- Health follow-up ------------------------------------------------------------------------


class EntryRefused(ValueError):
    """Keys that are not an answer to the question; the message says why, to be spoken."""


def _step(question: Question) -> str:
    return f"q{question.pk}"


def keys_can_answer(question: Question) -> bool:
    """Numbers, and choices that each fit one key (a multiple choice is a run of single keys,
    so it needs 9 choices at most); free text and photos need the web page."""
    if question.kind == Question.Kind.NUMBER:
        return True
    if question.kind == Question.Kind.SINGLE:
        return len(question.choices.all()) > 0
    if question.kind == Question.Kind.MULTIPLE:
        return 0 < len(question.choices.all()) <= 9
    return False


def _label(question: Question) -> str:
    return question.label_en if _language() == "en" and question.label_en else question.label


def _choice_label(choice: Choice) -> str:
    return choice.label_en if _language() == "en" and choice.label_en else choice.label


def _choices_spoken(question: Question) -> str:
    return _("、").join(
        _("%(choice)s は %(key)s") % {"choice": _choice_label(choice), "key": position}
        for position, choice in enumerate(question.choices.all(), start=1)
    )


def _question_prompt(question: Question) -> tuple[list[str], Ask]:
    texts, ask = _question_texts(question)
    if not question.required:
        texts.append(_("お答えにならない場合は、* を押してください。"))
    return texts, ask


def _question_texts(question: Question) -> tuple[list[str], Ask]:
    label = _label(question)
    step = _step(question)
    if question.kind == Question.Kind.NUMBER:
        texts = [_("%(label)sを、数字で入力し、最後に # を押してください。") % {"label": label}]
        if question.decimal_places:
            texts.append(
                _("小数点は押さずに、続けて入力してください。例えば 36.8 なら、3、6、8、# です。")
            )
        ask = Ask(step, num_digits=None, finish_on_key="#", timeout_seconds=NUMBER_TIMEOUT_SECONDS)
        return texts, ask
    count = len(question.choices.all())
    if question.kind == Question.Kind.MULTIPLE:
        texts = [
            _(
                "%(label)sについて、当てはまるものの番号をすべて続けて押し、"
                "最後に # を押してください。"
            )
            % {"label": label},
            _choices_spoken(question),
        ]
        ask = Ask(step, num_digits=None, finish_on_key="#", timeout_seconds=NUMBER_TIMEOUT_SECONDS)
        return texts, ask
    texts = [_("%(label)sについて、お答えください。") % {"label": label}, _choices_spoken(question)]
    if count <= 9:
        return texts, Ask(step, num_digits=1)
    texts.append(_("番号を押したあと、# を押してください。"))
    return texts, Ask(step, num_digits=None, finish_on_key="#")


def _skipped(question: Question) -> str:
    return _(
        "「%(label)s」は、電話ではお答えいただけません。お知らせしたリンクからお答えください。"
    ) % {"label": _label(question)}


def _number_text(question: Question, digits: str) -> str:
    """The keys as the number the answer page would have been typed: * is the decimal point;
    without it the last `decimal_places` digits are the decimals (368 → 36.8 for 体温)."""
    if not digits or not set(digits) <= set("0123456789*") or digits.count("*") > 1:
        raise EntryRefused(_("数字を押し、最後に # を押してください。"))
    if "*" in digits:
        whole, _point, fraction = digits.partition("*")
        return f"{whole or '0'}.{fraction}" if fraction else whole or "0"
    places = question.decimal_places
    if not places:
        return digits
    padded = digits.rjust(places + 1, "0")
    return f"{padded[:-places]}.{padded[-places:]}"


def _range_spoken(question: Question) -> str:
    places = question.decimal_places
    low, high = question.min_value, question.max_value
    fields = {
        "min": f"{low:.{places}f}" if low is not None else "",
        "max": f"{high:.{places}f}" if high is not None else "",
        "unit": question.unit,
    }
    if low is not None and high is not None:
        return _("%(min)s から %(max)s %(unit)s の間で入力してください。") % fields
    if low is not None:
        return _("%(min)s %(unit)s 以上で入力してください。") % fields
    if high is not None:
        return _("%(max)s %(unit)s 以下で入力してください。") % fields
    return _("数字を押し、最後に # を押してください。")


def _entry_value(question: Question, digits: str) -> tuple[RawValue, str]:
    """The keys pressed as the answer page's raw value (what its form would send), checked by
    the same answer check; and the value as recorded on the call. Raises EntryRefused."""
    if digits in ("", "*") and not question.required:
        return "", ""  # left blank, as on the page
    raw: RawValue
    if question.kind == Question.Kind.NUMBER:
        raw = _number_text(question, digits)
    else:
        choices = list(question.choices.all())
        keys: list[str] = []
        positions = list(digits) if question.kind == Question.Kind.MULTIPLE else [digits]
        for position in positions:
            if not position.isdigit() or not 1 <= int(position) <= len(choices):
                raise EntryRefused(_("選択肢の番号を押してください。"))
            key = choices[int(position) - 1].key
            if key not in keys:
                keys.append(key)
        if not keys:
            raise EntryRefused(_("選択肢の番号を押してください。"))
        raw = keys if question.kind == Question.Kind.MULTIPLE else keys[0]
    check = answer_check([question], {question.key: raw})
    if not check.ok:
        if question.kind == Question.Kind.NUMBER:
            raise EntryRefused(
                _("%(value)s は受け付けられません。") % {"value": raw} + _range_spoken(question)
            )
        raise EntryRefused(check.errors[question.key])
    value = check.values[question.key]
    recorded = ",".join(value) if isinstance(value, list) else str(value)
    return raw, recorded


def _raw_from_recorded(question: Question, recorded: str) -> RawValue:
    if question.kind == Question.Kind.MULTIPLE:
        return [part for part in recorded.split(",") if part]
    return recorded


def _ack(question: Question, recorded: str) -> str:
    if question.kind == Question.Kind.NUMBER and recorded:
        return _("%(value)s %(unit)s ですね。") % {"value": recorded, "unit": question.unit}
    return _("承りました。")


class FollowUpFlow:
    """The day's health questions, one step per question answerable by keys, the answers
    stored at the end in one go exactly as the answer page stores them."""

    def _followup(self, call: VoiceCall) -> tuple[OutboundMessage, FollowUp] | None:
        message = voice_message_for(call)
        if message is None or message.followup is None or message.followup_date is None:
            return None
        return message, message.followup

    def _questions(self, followup: FollowUp) -> list[Question]:
        return questionnaire_questions(followup.questionnaire)

    def _closing_reason(self, message: OutboundMessage, followup: FollowUp) -> str | None:
        """Why there is nothing to ask today, spoken; None when the questions can be asked."""
        today = timezone.localdate()
        state = followup_today(followup, today)
        if state.state != DayState.OPEN or message.followup_date != today:
            return _("今日の健康観察はありません。")
        if state.answered:
            return _("今日の健康観察の回答は、すでに受け付けています。ありがとうございました。")
        questions = self._questions(followup)
        if any(q.required and not keys_can_answer(q) for q in questions) or not any(
            keys_can_answer(q) for q in questions
        ):
            return _(
                "今日の健康観察は、電話ではお答えいただけません。お知らせしたリンクから回答してください。"
            )
        return None

    def _next(
        self, questions: list[Question], after: Question | None
    ) -> tuple[list[str], Ask | None]:
        """The texts up to the next question answerable by keys (the questions skipped on the
        way said so), and its Ask; no Ask when none is left."""
        start = 0 if after is None else questions.index(after) + 1
        texts: list[str] = []
        for question in questions[start:]:
            if keys_can_answer(question):
                prompt, ask = _question_prompt(question)
                return [*texts, *prompt], ask
            texts.append(_skipped(question))
        return texts, None

    def opening(self, call: VoiceCall) -> Prompt:
        found = self._followup(call)
        if found is None:
            return _unavailable()
        message, followup = found
        who = _who(followup.person.municipality)
        closing = self._closing_reason(message, followup)
        if closing is not None:
            return Prompt(texts=[who, closing, _thanks()])
        texts, ask = self._next(self._questions(followup), None)
        return Prompt(
            texts=[
                who,
                _("%(name)sさんの、今日の健康観察の質問です。電話のボタンでお答えください。")
                % {"name": followup.person.first_name},
                *texts,
            ],
            ask=ask,
            goodbye=[_("回答は保存していません。"), _thanks()],
        )

    def machine(self, call: VoiceCall) -> Prompt:
        found = self._followup(call)
        if found is None:
            return _unavailable()
        return _machine_message(
            found[1].person.municipality, _("今日の健康観察の回答のお願いです。")
        )

    def answer(self, call: VoiceCall, step: str, digits: str) -> Reply:
        found = self._followup(call)
        if found is None:
            return Reply(action=Action.INVALID, prompt=_unavailable(), detail=digits)
        message, followup = found
        questions = self._questions(followup)
        question = next((q for q in questions if _step(q) == step), None)
        if question is None or not keys_can_answer(question):
            return Reply(action=Action.INVALID, prompt=_unavailable(), detail=digits)
        try:
            _raw, recorded = _entry_value(question, digits)
        except EntryRefused as refused:
            return self._asked_again(call, question, str(refused), digits)
        texts, ask = self._next(questions, question)
        if ask is not None:
            return Reply(
                action=Action.ANSWER,
                detail=recorded,
                prompt=Prompt(
                    texts=[_ack(question, recorded), *texts],
                    ask=ask,
                    goodbye=[_("回答は保存していません。"), _thanks()],
                ),
            )
        return self._save(call, message, followup, questions, question, recorded, texts)

    def _asked_again(self, call: VoiceCall, question: Question, why: str, digits: str) -> Reply:
        if _invalid_count(call, [_step(question)]) >= QUESTION_RETRIES:
            return Reply(
                action=Action.INVALID,
                detail=digits,
                prompt=Prompt(
                    texts=[
                        why,
                        _("うまく受け付けられませんでした。回答は保存していません。"),
                        _("お知らせしたリンクから回答するか、担当者からのお電話をお待ちください。"),
                        _thanks(),
                    ]
                ),
            )
        texts, ask = _question_prompt(question)
        return Reply(
            action=Action.INVALID,
            detail=digits,
            prompt=Prompt(
                texts=[why, _("もう一度お願いします。"), *texts],
                ask=ask,
                goodbye=[_("回答は保存していません。"), _thanks()],
            ),
        )

    def _save(
        self,
        call: VoiceCall,
        message: OutboundMessage,
        followup: FollowUp,
        questions: list[Question],
        last: Question,
        recorded: str,
        skipped_texts: list[str],
    ) -> Reply:
        """Every answer of the call at once, as the answer page sends them: the earlier ones
        from the call's recorded keys (the latest per question), this one, and "" for a free
        text left to the web page (photos are not in the form's values)."""
        answered = {
            key.step: key.detail
            for key in call.keys.filter(action=Action.ANSWER).order_by("pressed_at", "pk")
        }
        answered[_step(last)] = recorded
        raw_values: dict[str, RawValue] = {}
        for question in questions:
            if keys_can_answer(question):
                raw_values[question.key] = _raw_from_recorded(
                    question, answered.get(_step(question), "")
                )
            elif question.kind != Question.Kind.PHOTO:
                raw_values[question.key] = ""
        assert message.followup_date is not None
        municipality = followup.person.municipality
        try:
            recorded_answer = followup_answer_record(
                followup, message.followup_date, raw_values, now=timezone.now()
            )
        except AnswerInvalid as invalid:
            reason = next(iter(invalid.errors.values()), "")
            return self._not_saved(reason, recorded, municipality)
        except FollowUpError as refused:
            return self._not_saved(str(refused.message), recorded, municipality)
        texts = [*skipped_texts, _("今日の回答を受け付けました。ありがとうございました。")]
        if recorded_answer.answer.alert_level == AlertLevel.RED:
            texts += self._red_advice(municipality)
        return Reply(action=Action.ANSWERS_SAVED, detail=recorded, prompt=Prompt(texts=texts))

    def _not_saved(self, reason: str, recorded: str, municipality: Municipality) -> Reply:
        return Reply(
            action=Action.INVALID,
            detail=recorded,
            prompt=Prompt(
                texts=[
                    reason,
                    _("回答を保存できませんでした。"),
                    _ask_call_centre(municipality),
                    _thanks(),
                ]
            ),
        )

    def _red_advice(self, municipality: Municipality) -> list[str]:
        # The answer page's words for a red answer (never the alert itself).
        name = (municipality.name_en if _language() == "en" else "") or municipality.name
        return [
            _("担当者からお電話で様子をうかがうことがあります。"),
            _("具合が悪くなったときや心配なときは、待たずに%(name)s、%(phone)s へお電話ください。")
            % {"name": name, "phone": _call_centre(municipality)},
            _("息が苦しいなど、命の危険を感じるときは、%(emergency)s 番に電話してください。")
            % {"emergency": digits_spoken("119", language=_language())},
        ]


def voice_flows_register() -> None:
    """Register notify's flows with the voice channel (NotifyConfig.ready). Registering again
    replaces them with equal ones."""
    flow_register(REMINDER_FLOW, ReminderFlow())
    flow_register(DAY_CANCELLED_FLOW, DayCancelledFlow())
    flow_register(NOTICE_FLOW, NoticeFlow())
    flow_register(FOLLOWUP_FLOW, FollowUpFlow())


__all__ = [
    "VOICE_REQUESTER",
    "call_list_add_callback",
    "keys_can_answer",
    "voice_flows_register",
]
