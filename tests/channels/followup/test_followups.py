"""Follow-ups: a whole short home-care follow-up under a fixed clock, the refusals, the
follow-ups due on a date, personal tokens, and starting follow-ups for the residents
vaccinated on a date."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from channels.followup.models import FollowedPerson, FollowUp, FollowUpAnswer, Questionnaire
from channels.followup.selectors import followup_by_token, followups_due
from channels.followup.services import (
    AnswerInvalid,
    FollowUpError,
    VaccinatedStartReport,
    followup_answer_record,
    followup_end,
    followup_start,
    followup_token_issue,
    followups_start_for_vaccinated,
    questionnaire_new_version,
)
from reservations.models import Vaccination
from tests.world import World, jst

pytestmark = pytest.mark.django_db

DAY1 = dt.date(2026, 11, 2)
DAY2 = DAY1 + dt.timedelta(days=1)
DAY3 = DAY1 + dt.timedelta(days=2)


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return jst(day.year, day.month, day.day, hour)


def questionnaire(code: str) -> Questionnaire:
    return Questionnaire.objects.get(code=code, is_active=True)


def person(world: World, name: str = "日南 花子") -> FollowedPerson:
    return FollowedPerson.objects.create(
        municipality=world.municipality,
        name=name,
        phone="+819012345678",
        birth_date=dt.date(1960, 5, 1),
    )


def home(temperature: str, spo2: str = "97", symptoms: list[str] | None = None) -> dict:
    return {
        "temperature": temperature,
        "spo2": spo2,
        "pulse": "72",
        "symptoms": symptoms or ["none"],
    }


def test_a_short_home_care_follow_up(world: World) -> None:
    started = followup_start(
        person=person(world),
        questionnaire=questionnaire("home-care"),
        start_date=DAY1,
        days=3,
        now=at(DAY1, 8),
    )
    followup = started.followup
    assert followup.dates() == [DAY1, DAY2, DAY3]
    assert (followup.cutoff_time, followup.reminder_time) == (dt.time(17), dt.time(12))

    first = followup_answer_record(followup, DAY1, home("38.7"), now=at(DAY1))
    assert first.alerts == [] and not first.replaced
    assert first.answer.alert_level == "none"
    assert first.answer.values == {
        "temperature": "38.7",
        "spo2": "97",
        "pulse": "72",
        "symptoms": ["none"],
        "note": None,
    }

    second = followup_answer_record(followup, DAY2, home("38.6"), now=at(DAY2))
    assert second.answer.alert_level == "yellow"
    assert [alert.message for alert in second.alerts] == ["38.5℃以上の発熱が2日続いています。"]

    third = followup_answer_record(
        followup, DAY3, home("37.0", spo2="92"), now=at(DAY3), by_proxy=True
    )
    assert third.answer.alert_level == "red"
    assert third.answer.answered_by_proxy
    assert [alert["message"] for alert in third.answer.alerts] == ["SpO2が93%以下です。"]

    # Day 1 was 37.0 after all: the correction replaces it, keeps what it replaced, and day
    # 2's two-day fever no longer holds.
    corrected = followup_answer_record(followup, DAY1, home("37.0"), now=at(DAY3, 11))
    assert corrected.replaced
    answer = FollowUpAnswer.objects.get(followup=followup, for_date=DAY1)
    assert answer.values["temperature"] == "37.0"
    assert answer.answered_at == at(DAY3, 11)
    assert [old["values"]["temperature"] for old in answer.history] == ["38.7"]
    assert FollowUpAnswer.objects.filter(followup=followup).count() == 3
    day2 = FollowUpAnswer.objects.get(followup=followup, for_date=DAY2)
    assert (day2.alert_level, day2.alerts, day2.history) == ("none", [], [])

    ended = followup_end(followup, FollowUp.EndReason.STAFF, now=at(DAY3, 12))
    assert (ended.status, ended.end_reason, ended.ended_at) == ("ended", "staff", at(DAY3, 12))
    with pytest.raises(FollowUpError, match="終了しているため"):
        followup_answer_record(followup, DAY3, home("36.5"), now=at(DAY3, 13))
    with pytest.raises(FollowUpError, match="すでに終了"):
        followup_end(followup, FollowUp.EndReason.STOP_REPLY, now=at(DAY3, 13))


def test_answers_outside_the_follow_up_or_ahead_of_time_are_refused(world: World) -> None:
    followup = followup_start(
        person=person(world),
        questionnaire=questionnaire("home-care"),
        start_date=DAY1,
        days=3,
        now=at(DAY1),
    ).followup
    with pytest.raises(FollowUpError, match="2026年11月1日はこの健康観察の観察日ではありません"):
        followup_answer_record(followup, DAY1 - dt.timedelta(days=1), home("36.5"), now=at(DAY1))
    with pytest.raises(FollowUpError, match="2026年11月5日はこの健康観察の観察日ではありません"):
        followup_answer_record(followup, DAY3 + dt.timedelta(days=1), home("36.5"), now=at(DAY3))
    with pytest.raises(FollowUpError, match="2026年11月3日の回答はまだできません"):
        followup_answer_record(followup, DAY2, home("36.5"), now=at(DAY1, 23))
    with pytest.raises(AnswerInvalid) as invalid:
        followup_answer_record(followup, DAY1, home("368"), now=at(DAY1))
    assert invalid.value.errors == {"temperature": "34.0〜42.0℃の範囲で入力してください。"}
    assert not FollowUpAnswer.objects.exists()


def test_a_schedule_is_days_or_offsets_and_a_draft_cannot_be_used(world: World) -> None:
    followed = person(world)
    home_care = questionnaire("home-care")
    for wrong in ({}, {"days": 3, "day_offsets": [1]}, {"days": 0}, {"day_offsets": [-1, 2]}):
        with pytest.raises(FollowUpError):
            followup_start(
                person=followed, questionnaire=home_care, start_date=DAY1, now=at(DAY1), **wrong
            )
    draft = questionnaire_new_version(home_care)
    with pytest.raises(FollowUpError, match="下書きの質問票"):
        followup_start(person=followed, questionnaire=draft, start_date=DAY1, days=3, now=at(DAY1))
    assert not FollowUp.objects.exists()


def test_followups_due_lists_the_active_ones_with_a_day_on_the_date(world: World) -> None:
    vaccinated = followup_start(
        person=person(world, "接種 一郎"),
        questionnaire=questionnaire("post-vaccination"),
        start_date=DAY1,
        day_offsets=[7, 1, 2],
        now=at(DAY1),
    ).followup
    assert vaccinated.day_offsets == [1, 2, 7]
    assert vaccinated.last_date == DAY1 + dt.timedelta(days=7)
    home_care = followup_start(
        person=person(world, "療養 二郎"),
        questionnaire=questionnaire("home-care"),
        start_date=DAY1,
        days=3,
        now=at(DAY1),
    ).followup
    ended = followup_start(
        person=person(world, "終了 三郎"),
        questionnaire=questionnaire("home-care"),
        start_date=DAY1,
        days=3,
        now=at(DAY1),
    ).followup
    followup_end(ended, FollowUp.EndReason.STOP_REPLY, now=at(DAY1))

    def due(day: dt.date) -> set[int]:
        return {followup.pk for followup in followups_due(day)}

    assert due(DAY1 - dt.timedelta(days=1)) == set()
    assert due(DAY1) == {home_care.pk}
    assert due(DAY2) == {vaccinated.pk, home_care.pk}
    assert due(DAY1 + dt.timedelta(days=3)) == set()
    assert due(DAY1 + dt.timedelta(days=7)) == {vaccinated.pk}
    assert due(DAY1 + dt.timedelta(days=8)) == set()


def test_only_the_hash_of_the_token_is_kept(world: World) -> None:
    started = followup_start(
        person=person(world),
        questionnaire=questionnaire("home-care"),
        start_date=DAY1,
        days=1,
        now=at(DAY1),
    )
    assert len(started.token) >= 22
    assert started.token not in started.followup.token_hash
    assert followup_by_token(started.token) == started.followup
    assert followup_by_token("") is None
    renewed = followup_token_issue(started.followup)
    assert followup_by_token(started.token) is None
    assert followup_by_token(renewed) == started.followup


def _dose(world: World, name: str, **options: object) -> Vaccination:
    ticket = world.resident(name=name)
    phone = options.pop("phone", None)
    if phone is not None:
        ticket.resident.phone = phone
        ticket.resident.save(update_fields=["phone"])
    fields: dict[str, object] = {
        "resident": ticket.resident,
        "ticket": ticket,
        "vaccine": world.vaccine,
        "antigen": world.vaccine.antigen,
        "dose_number": 1,
        "vaccinated_on": DAY1,
    }
    fields.update(options)
    return Vaccination.objects.create(**fields)


def test_followups_for_the_residents_vaccinated_on_a_date(world: World) -> None:
    given = _dose(world, "接種 花子")
    _dose(world, "電話なし 太郎", phone="")
    _dose(world, "前日 次郎", vaccinated_on=DAY1 - dt.timedelta(days=1))
    _dose(world, "予診のみ 三郎", outcome=Vaccination.Outcome.PRESCREEN_ONLY)
    _dose(world, "取消 四郎", status=Vaccination.Status.CANCELLED, change_reason="誤登録")
    _dose(world.neighbour(), "隣町 五郎")
    post = questionnaire("post-vaccination")

    def start(**options: Any) -> VaccinatedStartReport:
        return followups_start_for_vaccinated(
            municipality=world.municipality,
            vaccinated_on=DAY1,
            questionnaire=post,
            day_offsets=[1, 2, 7],
            created_by=world.operator,
            now=at(DAY1, 18),
            **options,
        )

    assert start(vaccine_code="moderna-xx").created == []
    report = start()
    assert [f.person.resident for f in report.created] == [given.resident]
    assert (report.already_followed, report.without_phone) == (0, 1)
    followup = report.created[0]
    assert (followup.start_date, followup.day_offsets, followup.created_by) == (
        DAY1,
        [1, 2, 7],
        world.operator,
    )
    assert followup.person.ticket_number == given.ticket.number
    assert followup.person.phone == "+819012345678"

    again = start()
    assert (len(again.created), again.already_followed, again.without_phone) == (0, 1, 1)
    assert FollowUp.objects.count() == 1
    assert FollowedPerson.objects.count() == 1
