"""Writes of health follow-up, one transaction each: questionnaire versions, starting and
ending follow-ups, recording answers (with their alerts), and starting follow-ups for the
residents vaccinated on a date.

Errors are FollowUpError with a Japanese `message` for the member of staff or the person
answering; an answer that does not pass the questionnaire is AnswerInvalid with one message
per question.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.followup.models import (
    AlertLevel,
    AlertRule,
    Choice,
    FollowedPerson,
    FollowUp,
    FollowUpAnswer,
    FollowUpCall,
    FollowUpPhoto,
    Question,
    Questionnaire,
)
from channels.followup.rules import Alert, RuleSpec, answer_alerts, highest_level
from channels.followup.selectors import (
    RawValue,
    answer_check,
    questionnaire_questions,
    values_for_storage,
)
from channels.followup.tokens import (
    followup_token_for,
    followup_token_hash,
    followup_token_salt_new,
)
from reservations.models import Municipality, Resident, Vaccination

# Longest schedule: a count of days, or the last day offset (e.g. a check a month after).
MAX_DAYS = 60
MAX_DAY_OFFSET = 365

_JST = dt.timezone(dt.timedelta(hours=9))


class FollowUpError(Exception):
    def __init__(self, message: str, *, code: str = "followup_error") -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message


class AnswerInvalid(FollowUpError):
    """The answer set did not pass its questionnaire; `errors` by question key."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__(_("回答に誤りがあります。"), code="answer_invalid")
        self.errors = dict(errors)


def _japanese_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _today(now: dt.datetime) -> dt.date:
    return timezone.localdate(now, timezone=_JST)


# ---------------------------------------------------------------------------
# Questionnaire versions
# ---------------------------------------------------------------------------


def questionnaire_new_version(questionnaire: Questionnaire) -> Questionnaire:
    """A draft copy of `questionnaire` (questions, choices and rules) as the code's next
    version, to be edited and then published. One draft per code at a time."""
    with transaction.atomic():
        versions = Questionnaire.objects.select_for_update().filter(code=questionnaire.code)
        draft = versions.filter(published_at__isnull=True).first()
        if draft is not None:
            raise FollowUpError(
                _(
                    "「%(code)s」には未公開の版（第%(version)d版）があります。その版を編集してください。"
                )
                % {"code": draft.code, "version": draft.version},
                code="draft_exists",
            )
        top = versions.aggregate(top=Max("version"))["top"] or 0
        copy = Questionnaire.objects.create(
            code=questionnaire.code,
            version=top + 1,
            title=questionnaire.title,
            title_en=questionnaire.title_en,
        )
        for question in questionnaire_questions(questionnaire):
            choices = list(question.choices.all())
            question.pk = None
            question.questionnaire = copy
            question.save()
            for choice in choices:
                choice.pk = None
                choice.question = question
            Choice.objects.bulk_create(choices)
        rules = list(questionnaire.alert_rules.all())
        for rule in rules:
            rule.pk = None
            rule.questionnaire = copy
        AlertRule.objects.bulk_create(rules)
    return copy


def _publish_problems(questionnaire: Questionnaire) -> list[str]:
    questions = {question.key: question for question in questionnaire_questions(questionnaire)}
    problems: list[str] = []
    if not questions:
        problems.append(_("質問がありません。"))
    for question in questions.values():
        if question.kind in (Question.Kind.SINGLE, Question.Kind.MULTIPLE):
            if not question.choices.all():
                problems.append(_("質問「%(key)s」に選択肢がありません。") % {"key": question.key})
        elif question.choices.all():
            problems.append(
                _("質問「%(key)s」は選択式ではないのに選択肢があります。") % {"key": question.key}
            )
    for rule in questionnaire.alert_rules.all():
        asked = questions.get(rule.question_key)
        if asked is None:
            problems.append(
                _("アラート条件の質問「%(key)s」がこの質問票にありません。")
                % {"key": rule.question_key}
            )
        elif rule.condition == AlertRule.Condition.CHOSEN:
            if rule.choice_key not in {choice.key for choice in asked.choices.all()}:
                problems.append(
                    _("アラート条件の選択肢「%(choice)s」が質問「%(key)s」にありません。")
                    % {"choice": rule.choice_key, "key": asked.key}
                )
        elif asked.kind != Question.Kind.NUMBER:
            problems.append(
                _("質問「%(key)s」は数値ではないため、≤・≥の条件は使えません。")
                % {"key": asked.key}
            )
    return problems


def questionnaire_publish(questionnaire: Questionnaire, *, now: dt.datetime) -> Questionnaire:
    """Publish a draft: from now on it is frozen and is the version new follow-ups use (the
    code's previous active version stays as it is for the follow-ups that use it)."""
    with transaction.atomic():
        locked = Questionnaire.objects.select_for_update().get(pk=questionnaire.pk)
        if locked.is_published:
            raise FollowUpError(_("この版はすでに公開されています。"), code="published")
        problems = _publish_problems(locked)
        if problems:
            raise FollowUpError(" ".join(problems), code="questionnaire_invalid")
        Questionnaire.objects.filter(code=locked.code, is_active=True).update(is_active=False)
        locked.published_at = now
        locked.is_active = True
        locked.save(update_fields=["published_at", "is_active"])
    return locked


# ---------------------------------------------------------------------------
# Follow-ups
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StartedFollowUp:
    """A new follow-up and the token of its personal link, which only this result holds."""

    followup: FollowUp
    token: str


def followup_schedule(*, days: int | None, day_offsets: Sequence[int] | None) -> list[int]:
    """The day offsets of a schedule given as a count of days (0..N-1) or as offsets."""
    if (days is None) == (day_offsets is None):
        raise FollowUpError(
            _("日数か観察日（開始日からの日数）のどちらか一方を指定してください。"),
            code="schedule_invalid",
        )
    if days is not None:
        if not 1 <= days <= MAX_DAYS:
            raise FollowUpError(
                _("日数は1〜%(max)d日で指定してください。") % {"max": MAX_DAYS},
                code="schedule_invalid",
            )
        return list(range(days))
    assert day_offsets is not None
    offsets = sorted(set(day_offsets))
    if not offsets or any(
        isinstance(offset, bool) or not isinstance(offset, int) for offset in offsets
    ):
        raise FollowUpError(_("観察日を1日以上指定してください。"), code="schedule_invalid")
    if offsets[0] < 0 or offsets[-1] > MAX_DAY_OFFSET:
        raise FollowUpError(
            _("観察日は開始日から0〜%(max)d日後で指定してください。") % {"max": MAX_DAY_OFFSET},
            code="schedule_invalid",
        )
    return offsets


def _followup_create(
    *,
    person: FollowedPerson,
    questionnaire: Questionnaire,
    start_date: dt.date,
    offsets: list[int],
    cutoff_time: dt.time | None,
    reminder_time: dt.time | None,
    created_by: Any | None,
    now: dt.datetime,
) -> StartedFollowUp:
    try:
        last_date = start_date + dt.timedelta(days=offsets[-1])
    except OverflowError:
        # A start date at the calendar's end (9999-12-31): no day after it exists.
        raise FollowUpError(
            _("開始日が正しくありません（%(date)s）。") % {"date": start_date.isoformat()},
            code="start_date_invalid",
        ) from None
    salt = followup_token_salt_new()
    token = followup_token_for(salt)
    followup = FollowUp(
        person=person,
        questionnaire=questionnaire,
        start_date=start_date,
        day_offsets=offsets,
        last_date=last_date,
        token_salt=salt,
        token_hash=followup_token_hash(token),
        created_by=created_by,
        created_at=now,
    )
    if cutoff_time is not None:
        followup.cutoff_time = cutoff_time
    if reminder_time is not None:
        followup.reminder_time = reminder_time
    followup.save()
    return StartedFollowUp(followup=followup, token=token)


def _require_published(questionnaire: Questionnaire) -> None:
    if not questionnaire.is_published:
        raise FollowUpError(
            _("下書きの質問票では健康観察を始められません。公開してから使ってください。"),
            code="questionnaire_draft",
        )


def followup_start(
    *,
    person: FollowedPerson,
    questionnaire: Questionnaire,
    start_date: dt.date,
    days: int | None = None,
    day_offsets: Sequence[int] | None = None,
    cutoff_time: dt.time | None = None,
    reminder_time: dt.time | None = None,
    created_by: Any | None = None,
    now: dt.datetime,
) -> StartedFollowUp:
    """Follow `person` with a published questionnaire version from `start_date`, for `days`
    days or on the given `day_offsets` after it. Times default to 17:00 and 12:00 (JST)."""
    _require_published(questionnaire)
    offsets = followup_schedule(days=days, day_offsets=day_offsets)
    with transaction.atomic():
        return _followup_create(
            person=person,
            questionnaire=questionnaire,
            start_date=start_date,
            offsets=offsets,
            cutoff_time=cutoff_time,
            reminder_time=reminder_time,
            created_by=created_by,
            now=now,
        )


def followup_link_token(followup: FollowUp) -> str:
    """The token of the follow-up's personal link (the same every day until reissued)."""
    return followup_token_for(followup.token_salt)


def followup_token_issue(followup: FollowUp) -> str:
    """A new token for the personal link; the old link stops working (a link sent to a wrong
    number, a phone lost)."""
    salt = followup_token_salt_new()
    token = followup_token_for(salt)
    with transaction.atomic():
        FollowUp.objects.filter(pk=followup.pk).update(
            token_salt=salt, token_hash=followup_token_hash(token)
        )
    followup.token_salt, followup.token_hash = salt, followup_token_hash(token)
    return token


def followup_end(
    followup: FollowUp, reason: str, *, now: dt.datetime, by: Any | None = None
) -> FollowUp:
    """End a follow-up (after its last day, by staff `by`, or on the person's STOP reply)."""
    if reason not in FollowUp.EndReason.values:
        raise FollowUpError(_("終了の理由が正しくありません。"), code="reason_invalid")
    with transaction.atomic():
        locked = FollowUp.objects.select_for_update().get(pk=followup.pk)
        if locked.status == FollowUp.Status.ENDED:
            raise FollowUpError(_("この健康観察はすでに終了しています。"), code="ended")
        locked.status = FollowUp.Status.ENDED
        locked.ended_at = now
        locked.end_reason = reason
        locked.ended_by = by
        locked.save(update_fields=["status", "ended_at", "end_reason", "ended_by"])
    followup.status, followup.ended_at, followup.end_reason = (
        locked.status,
        locked.ended_at,
        locked.end_reason,
    )
    return locked


def followups_end_finished(*, today: dt.date, now: dt.datetime) -> int:
    """End the active follow-ups whose last day is over. Returns how many were ended."""
    with transaction.atomic():
        return FollowUp.objects.filter(status=FollowUp.Status.ACTIVE, last_date__lt=today).update(
            status=FollowUp.Status.ENDED, ended_at=now, end_reason=FollowUp.EndReason.LAST_DAY
        )


def followups_mark_sent(
    *, followup_ids: Sequence[int], day: dt.date, reminder: bool, now: dt.datetime
) -> None:
    """Record that the day's invitation (or reminder) of these follow-ups was handed to the
    outbox: the staff's cohort shows it, and the next scan does not make it again."""
    followups = FollowUp.objects.filter(pk__in=list(followup_ids))
    if reminder:
        followups.update(reminded_for=day)
    else:
        followups.update(invited_for=day, invited_at=now)


def followups_stop_for_phone(*, phone: str, now: dt.datetime) -> int:
    """The person with this number replied STOP/停止: no more follow-up SMS to anyone followed
    at it (their own number or the family member's who answers for them), and their active
    follow-ups end, so staff see why the answers stopped. Returns the follow-ups ended."""
    with transaction.atomic():
        people = FollowedPerson.objects.filter(Q(phone=phone) | Q(proxy_phone=phone))
        people.filter(sms_stopped_at__isnull=True).update(sms_stopped_at=now)
        return FollowUp.objects.filter(person__in=people, status=FollowUp.Status.ACTIVE).update(
            status=FollowUp.Status.ENDED, ended_at=now, end_reason=FollowUp.EndReason.STOP_REPLY
        )


def followups_delete(followup_ids: Sequence[int]) -> int:
    """Delete these ended follow-ups with everything personal about them: answers, call-list
    entries, photos (files included) and the people followed who are left with no follow-up.
    The caller (the retention purge, channels.notify.followups) has removed their messages.
    Returns the follow-ups deleted."""
    from channels.followup.photos import photo_path

    ids = list(followup_ids)
    if not ids:
        return 0
    with transaction.atomic():
        people = set(FollowUp.objects.filter(pk__in=ids).values_list("person_id", flat=True))
        for photo in FollowUpPhoto.objects.filter(followup_id__in=ids, deleted_at=None).exclude(
            stored_name=""
        ):
            # The rows first, the files once they are gone (as photos_delete_expired does): a
            # crash in between leaves a file no row points at, never a row without its file.
            transaction.on_commit(partial(photo_path(photo).unlink, missing_ok=True))
        FollowUpPhoto.objects.filter(followup_id__in=ids).delete()
        FollowUpCall.objects.filter(followup_id__in=ids).delete()
        FollowUpAnswer.objects.filter(followup_id__in=ids).delete()
        deleted, _rows = FollowUp.objects.filter(pk__in=ids).delete()
        FollowedPerson.objects.filter(pk__in=people, followups__isnull=True).delete()
    return deleted


# ---------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerRecorded:
    answer: FollowUpAnswer
    alerts: list[Alert]
    replaced: bool  # a correction of an earlier answer for the same date


def _alerts_for(
    rules: list[RuleSpec],
    followup: FollowUp,
    day: dt.date,
    values: Mapping[str, Any],
) -> list[Alert]:
    lookback = max((rule.consecutive_days for rule in rules), default=1) - 1
    previous: dict[dt.date, Mapping[str, Any]] = {}
    if lookback > 0:
        earlier = FollowUpAnswer.objects.filter(
            followup=followup, for_date__gte=day - dt.timedelta(days=lookback), for_date__lt=day
        )
        previous = {answer.for_date: answer.values for answer in earlier}
    return answer_alerts(rules, on=day, values=values, previous=previous)


def _store_alerts(answer: FollowUpAnswer, alerts: list[Alert]) -> None:
    answer.alert_level = highest_level(alerts)
    answer.alerts = [alert.as_json() for alert in alerts]


def followup_answer_record(
    followup: FollowUp,
    for_date: dt.date,
    raw_values: Mapping[str, RawValue],
    *,
    now: dt.datetime,
    by_proxy: bool = False,
) -> AnswerRecorded:
    """Check and store the answer of `for_date`, with the alerts its questionnaire's rules
    raise (looking back at the previous days' answers). A second answer for the same date is
    a correction: it replaces the first, which moves to the answer's `history`; the answers of
    the following days that looked back at this one are evaluated again."""
    with transaction.atomic():
        # One answer at a time per follow-up: a correction and the next day's answer both
        # read the other's row for the consecutive-day rules.
        locked = (
            FollowUp.objects.select_for_update().select_related("questionnaire").get(pk=followup.pk)
        )
        if locked.status == FollowUp.Status.ENDED:
            raise FollowUpError(
                _("この健康観察は終了しているため、回答を受け付けられません。"), code="ended"
            )
        if not locked.has_day(for_date):
            raise FollowUpError(
                _("%(date)sはこの健康観察の観察日ではありません。")
                % {"date": _japanese_date(for_date)},
                code="not_a_day",
            )
        if for_date > _today(now):
            raise FollowUpError(
                _("%(date)sの回答はまだできません。") % {"date": _japanese_date(for_date)},
                code="future_date",
            )
        questions = questionnaire_questions(locked.questionnaire)
        check = answer_check(questions, raw_values)
        if not check.ok:
            raise AnswerInvalid(check.errors)
        _require_own_photos(locked, questions, check.values)
        rules = [RuleSpec.of(rule) for rule in locked.questionnaire.alert_rules.all()]
        alerts = _alerts_for(rules, locked, for_date, check.values)
        stored = values_for_storage(check.values)

        answer = (
            FollowUpAnswer.objects.select_for_update()
            .filter(followup=locked, for_date=for_date)
            .first()
        )
        replaced = answer is not None
        if answer is None:
            answer = FollowUpAnswer(followup=locked, for_date=for_date)
        else:
            answer.history = [
                *answer.history,
                {
                    "values": answer.values,
                    "alert_level": answer.alert_level,
                    "alerts": answer.alerts,
                    "answered_at": answer.answered_at.isoformat(),
                    "answered_by_proxy": answer.answered_by_proxy,
                },
            ]
        answer.values = stored
        answer.answered_at = now
        answer.answered_by_proxy = by_proxy
        _store_alerts(answer, alerts)
        answer.save()
        if replaced:
            _reevaluate_following(rules, locked, for_date)
        if answer.alert_level == AlertLevel.RED:
            # Staff phone a red answer at once: it goes to the top of the call list.
            followup_call_add(locked, for_date, FollowUpCall.Reason.RED_ALERT, now=now)
    return AnswerRecorded(answer=answer, alerts=alerts, replaced=replaced)


def _require_own_photos(
    followup: FollowUp, questions: Sequence[Question], values: Mapping[str, Any]
) -> None:
    """A photo question's value is the id of a photo this follow-up uploaded for that
    question (channels.followup.photos stores it first): nothing else may stand there."""
    errors: dict[str, str] = {}
    for question in questions:
        value = values.get(question.key)
        if question.kind != Question.Kind.PHOTO or value is None:
            continue
        if not (
            str(value).isdigit()
            and FollowUpPhoto.objects.filter(
                pk=int(value), followup=followup, question_key=question.key
            ).exists()
        ):
            errors[question.key] = _("写真をもう一度送ってください。")
    if errors:
        raise AnswerInvalid(errors)


def followup_call_add(
    followup: FollowUp, for_date: dt.date, reason: str, *, now: dt.datetime
) -> FollowUpCall:
    """Put the person on the staff call list for this day and reason (once: the row that is
    there already is returned). Red answers carry the top priority."""
    call, _created = FollowUpCall.objects.get_or_create(
        followup=followup,
        for_date=for_date,
        reason=reason,
        defaults={
            "priority": FollowUpCall.PRIORITY[FollowUpCall.Reason(reason)],
            "created_at": now,
        },
    )
    return call


def _reevaluate_following(rules: list[RuleSpec], followup: FollowUp, day: dt.date) -> None:
    reach = max((rule.consecutive_days for rule in rules), default=1) - 1
    if reach <= 0:
        return
    later = FollowUpAnswer.objects.filter(
        followup=followup, for_date__gt=day, for_date__lte=day + dt.timedelta(days=reach)
    ).order_by("for_date")
    for answer in later:
        _store_alerts(answer, _alerts_for(rules, followup, answer.for_date, answer.values))
        answer.save(update_fields=["alert_level", "alerts"])


# ---------------------------------------------------------------------------
# Residents vaccinated on a date
# ---------------------------------------------------------------------------


@dataclass
class VaccinatedStartReport:
    created: list[FollowUp] = field(default_factory=list)
    already_followed: int = 0
    without_phone: int = 0


def _person_for_resident(
    municipality: Municipality, resident: Resident, ticket_number: str
) -> FollowedPerson:
    person = (
        FollowedPerson.objects.filter(municipality=municipality, resident=resident)
        .order_by("-id")
        .first()
    )
    if person is None:
        return FollowedPerson.objects.create(
            municipality=municipality,
            resident=resident,
            name=resident.name,
            phone=resident.phone,
            birth_date=resident.birth_date,
            address_number=resident.atena_number,
            ticket_number=ticket_number,
            language=resident.preferred_language
            if resident.preferred_language in ("ja", "ja-easy", "en")
            else "ja",
        )
    if person.phone != resident.phone:
        # The resident's record is where a changed number is kept (services/contact.py).
        person.phone = resident.phone
        person.save(update_fields=["phone"])
    return person


def followup_start_for_resident(
    *,
    resident: Resident,
    questionnaire: Questionnaire,
    start_date: dt.date,
    days: int | None = None,
    day_offsets: Sequence[int] | None = None,
    ticket_number: str = "",
    created_by: Any | None = None,
    now: dt.datetime,
) -> StartedFollowUp:
    """Follow one resident a member of staff picked (from the ticket list: name, birth date
    and phone are the resident's). Refused without a phone number to reach them on, or when
    they are already followed with this questionnaire from that date."""
    _require_published(questionnaire)
    offsets = followup_schedule(days=days, day_offsets=day_offsets)
    if not resident.phone:
        raise FollowUpError(
            _("この方は電話番号が登録されていないため、健康観察の案内を送れません。"),
            code="no_phone",
        )
    with transaction.atomic():
        if FollowUp.objects.filter(
            person__resident=resident,
            questionnaire__code=questionnaire.code,
            start_date=start_date,
            status=FollowUp.Status.ACTIVE,
        ).exists():
            raise FollowUpError(
                _("この方はこの質問票で%(date)sからの健康観察をすでに受けています。")
                % {"date": _japanese_date(start_date)},
                code="already_followed",
            )
        person = _person_for_resident(resident.municipality, resident, ticket_number)
        return _followup_create(
            person=person,
            questionnaire=questionnaire,
            start_date=start_date,
            offsets=offsets,
            cutoff_time=None,
            reminder_time=None,
            created_by=created_by,
            now=now,
        )


def followups_start_for_vaccinated(
    *,
    municipality: Municipality,
    vaccinated_on: dt.date,
    questionnaire: Questionnaire,
    vaccine_code: str | None = None,
    days: int | None = None,
    day_offsets: Sequence[int] | None = None,
    cutoff_time: dt.time | None = None,
    reminder_time: dt.time | None = None,
    created_by: Any | None = None,
    now: dt.datetime,
) -> VaccinatedStartReport:
    """Follow every resident of `municipality` with a dose given on `vaccinated_on` (an
    active record, outcome 接種; of `vaccine_code` if given), starting on that date. Residents
    already followed with this questionnaire version from that date, and residents without a
    phone number, are skipped and counted."""
    _require_published(questionnaire)
    offsets = followup_schedule(days=days, day_offsets=day_offsets)
    doses = (
        Vaccination.objects.filter(
            resident__municipality=municipality,
            vaccinated_on=vaccinated_on,
            status=Vaccination.Status.ACTIVE,
            outcome=Vaccination.Outcome.VACCINATED,
        )
        .select_related("resident", "ticket")
        .order_by("resident_id", "id")
    )
    if vaccine_code:
        doses = doses.filter(vaccine__code=vaccine_code)
    report = VaccinatedStartReport()
    with transaction.atomic():
        followed = set(
            FollowUp.objects.filter(
                person__municipality=municipality,
                person__resident__isnull=False,
                questionnaire=questionnaire,
                start_date=vaccinated_on,
            ).values_list("person__resident_id", flat=True)
        )
        seen: set[int] = set()
        for dose in doses:
            resident = dose.resident
            if resident.pk in seen:
                continue  # two doses on one day (two vaccines): one follow-up
            seen.add(resident.pk)
            if resident.pk in followed:
                report.already_followed += 1
                continue
            if not resident.phone:
                report.without_phone += 1
                continue
            person = _person_for_resident(
                municipality, resident, dose.ticket.number if dose.ticket else ""
            )
            started = _followup_create(
                person=person,
                questionnaire=questionnaire,
                start_date=vaccinated_on,
                offsets=offsets,
                cutoff_time=cutoff_time,
                reminder_time=reminder_time,
                created_by=created_by,
                now=now,
            )
            report.created.append(started.followup)
    return report
