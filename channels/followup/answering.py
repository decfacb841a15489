"""Reads of the personal answer page (/f/<token>/): where the follow-up stands today, the
answer already given, the other people answered from the same phone, and each question in
the reader's language."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _

from channels.followup.models import (
    AlertLevel,
    Choice,
    FollowedPerson,
    FollowUp,
    FollowUpAnswer,
    Question,
)
from channels.followup.services import followup_link_token

LANGUAGES = ("ja", "ja-easy", "en")


class DayState:
    """What the page can do today."""

    ENDED = "ended"  # ended by staff or a STOP reply, or today is past the last day
    NOT_A_DAY = "not_a_day"  # between days, or before the first
    OPEN = "open"  # today is a day: the form, or the answer given and a way to correct it


@dataclass(frozen=True)
class Today:
    state: str
    today: dt.date
    next_day: dt.date | None = None
    answer: FollowUpAnswer | None = None

    @property
    def answered(self) -> bool:
        return self.answer is not None

    @property
    def needs_a_call(self) -> bool:
        """The answer of today was red: the page gives the numbers to phone (never the level)."""
        return self.answer is not None and self.answer.alert_level == AlertLevel.RED


def followup_today(followup: FollowUp, today: dt.date) -> Today:
    """Where `followup` stands on `today`, with today's answer if there is one."""
    if followup.status == FollowUp.Status.ENDED or today > followup.last_date:
        return Today(state=DayState.ENDED, today=today)
    if not followup.has_day(today):
        upcoming = [day for day in followup.dates() if day > today]
        return Today(state=DayState.NOT_A_DAY, today=today, next_day=min(upcoming, default=None))
    answer = FollowUpAnswer.objects.filter(followup=followup, for_date=today).first()
    return Today(state=DayState.OPEN, today=today, answer=answer)


@dataclass(frozen=True)
class Housemate:
    """Another person answered from the same phone (a parent answering for children)."""

    first_name: str
    answered_today: bool
    token: str


def household_followups(followup: FollowUp, today: dt.date) -> list[Housemate]:
    """The other active follow-ups of the same municipality whose person has this person's
    phone, or has it as their proxy's phone, and which have `today` as a day: one query (the
    answer of today as an EXISTS). Another municipality's follow-ups are never listed, even on
    the same phone: a city sees only its own people."""
    person = followup.person
    if not person.phone:
        return []
    candidates = (
        FollowUp.objects.filter(
            # The people first, by the two (municipality, phone) indexes: a few rows, whatever
            # the number of follow-ups running.
            person__in=FollowedPerson.objects.filter(
                Q(phone=person.phone) | Q(proxy_phone=person.phone),
                municipality_id=person.municipality_id,
            ),
            status=FollowUp.Status.ACTIVE,
            start_date__lte=today,
            last_date__gte=today,
        )
        .exclude(pk=followup.pk)
        .select_related("person")
        .annotate(
            answered_today=Exists(
                FollowUpAnswer.objects.filter(followup=OuterRef("pk"), for_date=today)
            )
        )
        .order_by("person__birth_date", "id")
    )
    # The day list is JSON (not searchable on SQLite); the date range narrowed it in SQL.
    return [
        Housemate(
            first_name=other.person.first_name,
            answered_today=other.answered_today,
            token=followup_link_token(other),
        )
        for other in candidates
        if other.has_day(today)
    ]


# ---------------------------------------------------------------------------
# Questions and answers in the reader's language
# ---------------------------------------------------------------------------


def localized_label(item: Question | Choice, language: str) -> str:
    """The question's or choice's label in `language`; Japanese when it has none."""
    if language == "en" and item.label_en:
        return item.label_en
    if language == "ja-easy" and item.label_easy:
        return item.label_easy
    return item.label


def _number_text(value: Decimal, places: int) -> str:
    return f"{value:.{places}f}"


def range_hint(question: Question) -> str:
    """The allowed range of a number question in words ("" when it has none)."""
    low, high, places = question.min_value, question.max_value, question.decimal_places
    unit = question.unit
    if low is not None and high is not None:
        return _("%(min)s〜%(max)s%(unit)s") % {
            "min": _number_text(low, places),
            "max": _number_text(high, places),
            "unit": unit,
        }
    if low is not None:
        return _("%(min)s%(unit)s以上") % {"min": _number_text(low, places), "unit": unit}
    if high is not None:
        return _("%(max)s%(unit)s以下") % {"max": _number_text(high, places), "unit": unit}
    return ""


def decimal_hint(question: Question) -> str:
    """How to write a number with decimals: the form's one example ("" for whole numbers)."""
    if question.decimal_places == 0:
        return ""
    return _("小数点まで入力してください（例：36.8）")


@dataclass(frozen=True)
class SummaryLine:
    label: str
    text: str


def answer_summary(
    questions: list[Question], values: dict[str, Any], language: str
) -> list[SummaryLine]:
    """What was answered, question by question, in the reader's words (never the alert)."""
    lines = []
    for question in questions:
        value = values.get(question.key)
        label = localized_label(question, language)
        if value is None or value == "" or value == []:
            lines.append(SummaryLine(label, _("（回答なし）")))
            continue
        choices = {choice.key: choice for choice in question.choices.all()}
        if question.kind == Question.Kind.NUMBER:
            text = f"{value}{question.unit}"
        elif question.kind == Question.Kind.SINGLE:
            choice = choices.get(str(value))
            text = localized_label(choice, language) if choice else str(value)
        elif question.kind == Question.Kind.MULTIPLE:
            parts = value if isinstance(value, list) else [value]
            text = _("、").join(
                localized_label(choices[key], language) if key in choices else str(key)
                for key in parts
            )
        elif question.kind == Question.Kind.PHOTO:
            text = _("写真を送りました")
        else:
            text = str(value)
        lines.append(SummaryLine(label, text))
    return lines
