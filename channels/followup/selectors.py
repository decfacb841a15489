"""Reads of health follow-up: the questionnaire in use, checking one answer set against a
questionnaire version, the follow-ups due on a date, a follow-up by its personal token."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch
from django.utils.translation import gettext as _

from channels.followup.models import (
    Choice,
    FollowUp,
    FollowUpAnswer,
    FollowUpCall,
    Question,
    Questionnaire,
)
from channels.followup.tokens import followup_token_hash
from reservations.csv_safety import control_character

# What a web form or a push-button call gives for one question: a string, several strings
# (check boxes), or nothing.
RawValue = str | Sequence[str] | None

MAX_TEXT_LENGTH = 1000
MAX_PHOTO_NAME_LENGTH = 255

# Decimals must be written with their point: "368" is 368, never 36.8. Full-width digits and
# the full-width point are folded by NFKC before this.
_NUMBER = re.compile(r"-?[0-9]+(?:\.([0-9]+))?")
_LIST_SEPARATORS = re.compile(r"[,、]")


def questionnaire_active(code: str) -> Questionnaire | None:
    """The version of `code` new follow-ups use (published and active), or None."""
    return Questionnaire.objects.filter(code=code, is_active=True).first()


def questionnaire_questions(questionnaire: Questionnaire) -> list[Question]:
    """The questions in order, each with its choices prefetched in order."""
    return list(
        questionnaire.questions.order_by("order", "id").prefetch_related(
            Prefetch("choices", queryset=Choice.objects.order_by("order", "id"))
        )
    )


@dataclass
class AnswerCheck:
    """Cleaned values by question key (Decimal, a choice key, a list of choice keys, text, or
    None for an optional question left blank) and Japanese errors by question key."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def _format_bound(value: Decimal, places: int) -> str:
    return f"{value:.{places}f}"


def _range_message(question: Question) -> str:
    places = question.decimal_places
    low, high = question.min_value, question.max_value
    unit = question.unit
    if low is not None and high is not None:
        return _("%(min)s〜%(max)s%(unit)sの範囲で入力してください。") % {
            "min": _format_bound(low, places),
            "max": _format_bound(high, places),
            "unit": unit,
        }
    if low is not None:
        return _("%(min)s%(unit)s以上で入力してください。") % {
            "min": _format_bound(low, places),
            "unit": unit,
        }
    assert high is not None
    return _("%(max)s%(unit)s以下で入力してください。") % {
        "max": _format_bound(high, places),
        "unit": unit,
    }


def _clean_number(question: Question, raw: str) -> Decimal:
    text = "".join(_fold(raw).split())
    unit = _fold(question.unit)
    # A unit typed after the number ("36.8℃", "95%") is what the question asks for anyway.
    if unit and text.endswith(unit):
        text = text[: -len(unit)]
    match = _NUMBER.fullmatch(text)
    places = question.decimal_places
    if match is None:
        example = "36.8" if places else "95"
        raise ValueError(_("数字で入力してください（例：%(example)s）。") % {"example": example})
    fraction = match.group(1) or ""
    if len(fraction) > places:
        if places == 0:
            raise ValueError(_("整数で入力してください（小数点は使えません）。"))
        raise ValueError(_("小数点以下は%(places)d桁までで入力してください。") % {"places": places})
    value = Decimal(text)
    if (question.min_value is not None and value < question.min_value) or (
        question.max_value is not None and value > question.max_value
    ):
        raise ValueError(_range_message(question))
    return value


def _choice_for(question: Question, raw: str) -> Choice:
    text = _fold(raw)
    for choice in question.choices.all():
        if text in (choice.key, _fold(choice.label)):
            return choice
    raise ValueError(_("「%(value)s」は選択肢にありません。") % {"value": raw.strip()[:40]})


def _as_list(raw: RawValue) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [part for part in _LIST_SEPARATORS.split(raw) if part.strip()]
    return [part for part in raw if isinstance(part, str) and part.strip()]


def _as_raw(raw: object) -> RawValue:
    """What a JSON body may carry besides strings: a bare number is its text, anything else
    that is neither text nor a list of texts is no answer (and a required one is missing)."""
    if raw is None or isinstance(raw, str):
        return raw
    if isinstance(raw, int | float | Decimal) and not isinstance(raw, bool):
        return str(raw)
    if isinstance(raw, list | tuple):
        return [
            str(part) if isinstance(part, int | float) and not isinstance(part, bool) else part
            for part in raw
        ]
    return None


def _clean_multiple(question: Question, raw: RawValue) -> list[str]:
    chosen: dict[str, Choice] = {}
    for part in _as_list(raw):
        choice = _choice_for(question, part)
        chosen[choice.key] = choice
    exclusive = [choice for choice in chosen.values() if choice.is_exclusive]
    if exclusive and len(chosen) > 1:
        raise ValueError(
            _("「%(choice)s」はほかの選択肢と一緒に選べません。") % {"choice": exclusive[0].label}
        )
    order = {choice.key: index for index, choice in enumerate(question.choices.all())}
    return sorted(chosen, key=order.__getitem__)


def _clean_text(question: Question, raw: str, limit: int) -> str:
    text = raw.strip()
    bad = control_character(text.replace("\n", "").replace("\r", "").replace("\t", ""))
    if bad is not None:
        raise ValueError(_("使えない文字が含まれています。"))
    if len(text) > limit:
        raise ValueError(_("%(max)d文字以内で入力してください。") % {"max": limit})
    return text


def _is_blank(raw: RawValue) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str):
        return not raw.strip()
    return not _as_list(raw)


def answer_check(questions: Sequence[Question], raw_values: Mapping[str, RawValue]) -> AnswerCheck:
    """Check one answer set against a questionnaire version's questions (from
    questionnaire_questions): cleaned values, or Japanese errors by question key. A key the
    questionnaire does not ask is an error too (a caller's mistake should not vanish)."""
    check = AnswerCheck()
    known = {question.key for question in questions}
    for key in raw_values:
        if key not in known:
            check.errors[key] = _("この質問票にない質問です。")
    for question in questions:
        raw = _as_raw(raw_values.get(question.key))
        if _is_blank(raw):
            if question.required:
                check.errors[question.key] = _("回答してください。")
            else:
                check.values[question.key] = None
            continue
        try:
            check.values[question.key] = _clean_one(question, raw)
        except ValueError as exc:
            check.errors[question.key] = str(exc)
    return check


def _clean_one(question: Question, raw: RawValue) -> Any:
    kind = question.kind
    if kind == Question.Kind.MULTIPLE:
        return _clean_multiple(question, raw)
    if not isinstance(raw, str):
        parts = _as_list(raw)
        if len(parts) != 1:
            raise ValueError(_("回答は1つだけにしてください。"))
        raw = parts[0]
    if kind == Question.Kind.NUMBER:
        return _clean_number(question, raw)
    if kind == Question.Kind.SINGLE:
        return _choice_for(question, raw).key
    if kind == Question.Kind.PHOTO:
        # The id of the photo the answer page stored first (channels.followup.photos);
        # services.followup_answer_record checks it is this follow-up's.
        return _clean_text(question, raw, MAX_PHOTO_NAME_LENGTH)
    return _clean_text(question, raw, MAX_TEXT_LENGTH)


def values_for_storage(values: Mapping[str, Any]) -> dict[str, Any]:
    """Cleaned values as JSON: numbers as their exact decimal strings ("36.8")."""
    return {
        key: str(value) if isinstance(value, Decimal) else value for key, value in values.items()
    }


def followups_due(on_date: dt.date, *, among: Sequence[int] | None = None) -> list[FollowUp]:
    """The active follow-ups with a day on `on_date` (for reminders and the day's list), of
    the ids `among` when given (one chunk of a scan)."""
    candidates = (
        FollowUp.objects.filter(
            status=FollowUp.Status.ACTIVE, start_date__lte=on_date, last_date__gte=on_date
        )
        .select_related("person__municipality", "questionnaire")
        .order_by("person__municipality_id", "cutoff_time", "id")
    )
    if among is not None:
        candidates = candidates.filter(pk__in=list(among))
    # The day list is JSON, which SQLite cannot search: the date range narrows it in SQL and
    # the offsets are checked here (a follow-up has a few dozen days at most).
    return [followup for followup in candidates if followup.has_day(on_date)]


def followup_by_token(token: str) -> FollowUp | None:
    """The follow-up whose personal link carries `token`, or None."""
    if not token:
        return None
    return (
        FollowUp.objects.filter(token_hash=followup_token_hash(token))
        .select_related("person__municipality", "questionnaire")
        .first()
    )


def answered_on(followup_ids: Sequence[int], day: dt.date) -> set[int]:
    """Which of these follow-ups have an answer for `day` (one query)."""
    return set(
        FollowUpAnswer.objects.filter(followup_id__in=list(followup_ids), for_date=day).values_list(
            "followup_id", flat=True
        )
    )


def on_call_list(followup_ids: Sequence[int], day: dt.date) -> set[int]:
    """Which of these follow-ups are on the call list for `day` already (for any reason)."""
    return set(
        FollowUpCall.objects.filter(followup_id__in=list(followup_ids), for_date=day).values_list(
            "followup_id", flat=True
        )
    )
