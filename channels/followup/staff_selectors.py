"""Reads of the health-centre staff screens (/followup/): the day's cohort with each person's
status, the open alerts, the call list, one follow-up's days, the photos waiting for a doctor.

Every read starts from the municipality the member of staff acts for (FollowUp.person's
municipality): another municipality's rows are not found (the views answer 404).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels.followup.models import (
    AlertLevel,
    AlertRule,
    FollowUp,
    FollowUpAnswer,
    FollowUpCall,
    FollowUpPhoto,
    Question,
    Questionnaire,
)
from channels.followup.selectors import questionnaire_questions
from reservations.models import Municipality, Resident, Ticket

JST = ZoneInfo("Asia/Tokyo")

# A person's status on one day of their follow-up, most urgent first (the cohort's order).
ALERT, OVERDUE, REMINDED, INVITED, UNANSWERED, ANSWERED = (
    "alert",
    "overdue",
    "reminded",
    "invited",
    "unanswered",
    "answered",
)
STATUS_LABELS = {
    ALERT: gettext_lazy("アラート"),
    OVERDUE: gettext_lazy("未回答（締切後）"),
    REMINDED: gettext_lazy("催促済み"),
    INVITED: gettext_lazy("案内済み"),
    UNANSWERED: gettext_lazy("未回答"),
    ANSWERED: gettext_lazy("回答済み"),
}
STATUS_ORDER = [ALERT, OVERDUE, REMINDED, INVITED, UNANSWERED, ANSWERED]
ALERT_LEVELS = (AlertLevel.RED, AlertLevel.YELLOW)
LEVEL_WORDS = {
    AlertLevel.RED: gettext_lazy("赤"),
    AlertLevel.YELLOW: gettext_lazy("黄"),
    AlertLevel.NONE: gettext_lazy("なし"),
}


def local_today(now: dt.datetime) -> dt.date:
    return now.astimezone(JST).date()


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=JST)


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Age in whole years on `day` (the birthday counts from that day)."""
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - int(before_birthday)


def phone_display(e164: str) -> str:
    """A stored number as staff read it aloud and dial it (090-1234-5678)."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, "JP")
    except phonenumbers.NumberParseException:
        return e164
    if number.country_code != 81:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


# --- Answers in words ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueShown:
    key: str
    label: str
    text: str


class QuestionBook:
    """The questions of each questionnaire version met, read once per version."""

    def __init__(self) -> None:
        self._by_version: dict[int, list[Question]] = {}

    def questions(self, questionnaire: Questionnaire) -> list[Question]:
        if questionnaire.pk not in self._by_version:
            self._by_version[questionnaire.pk] = questionnaire_questions(questionnaire)
        return self._by_version[questionnaire.pk]

    def shown(self, questionnaire: Questionnaire, values: Mapping[str, Any]) -> list[ValueShown]:
        return values_shown(self.questions(questionnaire), values)


def _choice_labels(question: Question) -> dict[str, str]:
    return {choice.key: choice.label for choice in question.choices.all()}


def _value_text(question: Question, value: Any) -> str:
    if value is None or value == "" or value == []:
        return ""
    kind = question.kind
    if kind == Question.Kind.NUMBER:
        return f"{value}{question.unit}"
    if kind == Question.Kind.SINGLE:
        return _choice_labels(question).get(str(value), str(value))
    if kind == Question.Kind.MULTIPLE:
        labels = _choice_labels(question)
        keys = value if isinstance(value, list) else [value]
        # Translators: between the choices of one answer (Japanese: ・).
        return _("・").join(labels.get(str(key), str(key)) for key in keys)
    if kind == Question.Kind.PHOTO:
        return _("写真あり")
    return str(value)


def values_shown(questions: Sequence[Question], values: Mapping[str, Any]) -> list[ValueShown]:
    """Each answered question in the questionnaire's order: label and value in words (numbers
    with their unit, choices by their labels). Unanswered optional questions are left out."""
    shown = []
    for question in questions:
        text = _value_text(question, values.get(question.key))
        if text:
            shown.append(ValueShown(key=question.key, label=question.label, text=text))
    return shown


def alert_messages(answer: FollowUpAnswer) -> list[tuple[str, str]]:
    """(level, message) of each alert the answer raised, as services stored them (red
    first): [{"rule": id, "level": "red", "message": "…"}]."""
    found = []
    for alert in answer.alerts if isinstance(answer.alerts, list) else []:
        if isinstance(alert, dict) and alert.get("message"):
            found.append((str(alert.get("level", "")), str(alert["message"])))
    return found


# --- The day's cohort ----------------------------------------------------------------------------


def day_status(
    followup: FollowUp, day: dt.date, answer: FollowUpAnswer | None, now: dt.datetime
) -> str:
    """The person's status on `day`: answered (with an alert or not), or not yet — after the
    cut-off, reminded, invited, or none of these."""
    if answer is not None:
        return ALERT if answer.alert_level in ALERT_LEVELS else ANSWERED
    cutoff = dt.datetime.combine(day, followup.cutoff_time, tzinfo=JST)
    if now >= cutoff:
        return OVERDUE
    if followup.reminded_for == day:
        return REMINDED
    if followup.invited_for == day:
        return INVITED
    return UNANSWERED


@dataclass(frozen=True)
class CohortRow:
    followup: FollowUp
    answer: FollowUpAnswer | None
    status: str
    age: int
    phone: str

    @property
    def person(self) -> Any:
        return self.followup.person

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS[self.status])

    @property
    def level(self) -> str:
        return self.answer.alert_level if self.answer is not None else AlertLevel.NONE

    @property
    def level_label(self) -> str:
        return str(LEVEL_WORDS.get(AlertLevel(self.level), ""))


@dataclass(frozen=True)
class StatusCount:
    key: str
    label: str
    count: int


@dataclass
class Cohort:
    day: dt.date
    rows: list[CohortRow] = field(default_factory=list)
    counts: list[StatusCount] = field(default_factory=list)
    total: int = 0


def _followups_on(municipality: Municipality, day: dt.date) -> list[FollowUp]:
    """The municipality's follow-ups with `day` among their days that were running then: active
    ones, and ones ended on or after that day (yesterday's list keeps who was followed)."""
    candidates = (
        FollowUp.objects.filter(
            person__municipality=municipality, start_date__lte=day, last_date__gte=day
        )
        .filter(Q(status=FollowUp.Status.ACTIVE) | Q(ended_at__gte=day_start(day)))
        .select_related("person", "questionnaire")
        .order_by("person__name", "id")
    )
    # Offsets are JSON (SQLite cannot search them): the range narrows in SQL, the day here.
    return [followup for followup in candidates if followup.has_day(day)]


def _level_rank(answer: FollowUpAnswer | None) -> int:
    if answer is None:
        return 2
    return {AlertLevel.RED: 0, AlertLevel.YELLOW: 1}.get(AlertLevel(answer.alert_level), 2)


def cohort_day(
    *, municipality: Municipality, day: dt.date, now: dt.datetime, status: str = ""
) -> Cohort:
    """The people followed on `day`, most urgent first (red, yellow, past the cut-off, …),
    with the count of each status; only those of `status` when one is given."""
    followups = _followups_on(municipality, day)
    answers = {
        answer.followup_id: answer
        for answer in FollowUpAnswer.objects.filter(followup__in=followups, for_date=day)
    }
    rows = []
    for followup in followups:
        answer = answers.get(followup.pk)
        rows.append(
            CohortRow(
                followup=followup,
                answer=answer,
                status=day_status(followup, day, answer, now),
                age=age_on(followup.person.birth_date, day),
                phone=phone_display(followup.person.phone),
            )
        )
    rows.sort(key=lambda row: (STATUS_ORDER.index(row.status), _level_rank(row.answer)))
    counts = [
        StatusCount(
            key=key,
            label=str(STATUS_LABELS[key]),
            count=sum(1 for row in rows if row.status == key),
        )
        for key in STATUS_ORDER
    ]
    shown = [row for row in rows if row.status == status] if status in STATUS_LABELS else rows
    return Cohort(day=day, rows=shown, counts=counts, total=len(rows))


# --- Alerts --------------------------------------------------------------------------------------


def _red_first() -> Case:
    return Case(
        When(alert_level=AlertLevel.RED, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )


def alerts_open(*, municipality: Municipality) -> list[FollowUpAnswer]:
    """Answers with a red or yellow alert not yet resolved: red first, then the oldest."""
    return list(
        FollowUpAnswer.objects.filter(
            followup__person__municipality=municipality,
            alert_level__in=ALERT_LEVELS,
            resolved_at__isnull=True,
        )
        .select_related("followup__person", "followup__questionnaire", "acknowledged_by")
        .annotate(red_first=_red_first())
        .order_by("red_first", "for_date", "answered_at", "id")
    )


def alert_answer(*, municipality: Municipality, pk: int) -> FollowUpAnswer | None:
    """One of the municipality's answers with an alert (resolved or not), or None."""
    return (
        FollowUpAnswer.objects.filter(
            pk=pk, followup__person__municipality=municipality, alert_level__in=ALERT_LEVELS
        )
        .select_related("followup__person")
        .first()
    )


# --- Calls ---------------------------------------------------------------------------------------


def _calls(municipality: Municipality) -> QuerySet[FollowUpCall]:
    return FollowUpCall.objects.filter(followup__person__municipality=municipality).select_related(
        "followup__person", "followup__questionnaire", "done_by"
    )


def calls_open(*, municipality: Municipality) -> list[FollowUpCall]:
    """The people staff must still phone: red answers first, then the oldest."""
    return list(
        _calls(municipality).filter(done_at__isnull=True).order_by("priority", "created_at", "id")
    )


def calls_done_on(*, municipality: Municipality, day: dt.date) -> list[FollowUpCall]:
    """The calls recorded on `day` (Tokyo), the latest first."""
    return list(
        _calls(municipality)
        .filter(done_at__gte=day_start(day), done_at__lt=day_start(day + dt.timedelta(days=1)))
        .order_by("-done_at", "-id")
    )


def call_for_staff(*, municipality: Municipality, pk: int) -> FollowUpCall | None:
    return _calls(municipality).filter(pk=pk).first()


# --- One follow-up -------------------------------------------------------------------------------


def followup_for_staff(*, municipality: Municipality, pk: int) -> FollowUp | None:
    return (
        FollowUp.objects.filter(pk=pk, person__municipality=municipality)
        .select_related("person", "questionnaire", "created_by")
        .first()
    )


@dataclass(frozen=True)
class DayRow:
    day: dt.date
    answer: FollowUpAnswer | None
    status: str
    values: list[ValueShown]
    alerts: list[tuple[str, str]]

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS[self.status])

    @property
    def corrections(self) -> int:
        return len(self.answer.history) if self.answer is not None else 0

    @property
    def level(self) -> str:
        return self.answer.alert_level if self.answer is not None else AlertLevel.NONE


@dataclass
class FollowUpPage:
    followup: FollowUp
    questions: list[Question]
    rules: list[AlertRule]
    days: list[DayRow]
    age: int
    phone: str
    proxy_phone: str
    calls: list[FollowUpCall]
    photos: list[FollowUpPhoto]


def followup_page(followup: FollowUp, *, now: dt.datetime) -> FollowUpPage:
    """A follow-up with each of its days (answer, status, alerts), its rules, calls and
    photos. Days after today are listed without a status beyond 未回答."""
    questions = questionnaire_questions(followup.questionnaire)
    answers = {answer.for_date: answer for answer in followup.answers.all()}
    days = []
    for day in followup.dates():
        answer = answers.get(day)
        days.append(
            DayRow(
                day=day,
                answer=answer,
                status=day_status(followup, day, answer, now),
                values=values_shown(questions, answer.values) if answer else [],
                alerts=alert_messages(answer) if answer else [],
            )
        )
    person = followup.person
    return FollowUpPage(
        followup=followup,
        questions=questions,
        rules=list(followup.questionnaire.alert_rules.order_by("order", "id")),
        days=days,
        age=age_on(person.birth_date, local_today(now)),
        phone=phone_display(person.phone),
        proxy_phone=phone_display(person.proxy_phone),
        calls=list(followup.calls.select_related("done_by").order_by("for_date", "priority")),
        photos=list(followup.photos.order_by("uploaded_at", "id")),
    )


# --- Photos --------------------------------------------------------------------------------------


def photos_pending(*, municipality: Municipality) -> list[FollowUpPhoto]:
    """Photos waiting for a doctor whose file is still kept, the oldest first."""
    return list(
        FollowUpPhoto.objects.filter(
            followup__person__municipality=municipality,
            status=FollowUpPhoto.Status.PENDING,
            deleted_at__isnull=True,
        )
        .select_related("followup__person", "followup__questionnaire")
        .order_by("uploaded_at", "id")
    )


def photo_for_staff(*, municipality: Municipality, pk: int) -> FollowUpPhoto | None:
    return (
        FollowUpPhoto.objects.filter(pk=pk, followup__person__municipality=municipality)
        .select_related("followup__person")
        .first()
    )


def people_of(rows: Iterable[Any]) -> list[Any]:
    """The followed people of rows that reach one through `.followup.person` (answers,
    calls, photos) or are follow-ups themselves: what a page's audit names."""
    people = []
    for row in rows:
        followup = row if isinstance(row, FollowUp) else row.followup
        people.append(followup.person)
    return people


def resident_by_ticket(
    *, municipality: Municipality, ticket_number: str, birth_date: dt.date
) -> tuple[Resident, Ticket] | None:
    """The resident (and ticket) of the acting municipality holding this ticket number, if the
    birth date given is theirs; None otherwise (the page does not say which of the two was
    wrong, as the residents' sign-in does not)."""
    ticket = (
        Ticket.objects.filter(municipality=municipality, number=ticket_number)
        .select_related("resident")
        .first()
    )
    if ticket is None or ticket.resident.birth_date != birth_date:
        return None
    return ticket.resident, ticket
