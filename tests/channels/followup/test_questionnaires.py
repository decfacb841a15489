"""The shipped questionnaires and rules after migrate, checking answers of each question type,
and questionnaire versions (a new draft, publishing)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from channels.followup.models import AlertRule, Question, Questionnaire
from channels.followup.selectors import answer_check, questionnaire_active, questionnaire_questions
from channels.followup.services import (
    FollowUpError,
    questionnaire_new_version,
    questionnaire_publish,
)
from tests.world import jst

pytestmark = pytest.mark.django_db

NOW = jst(2026, 11, 2, 9)


def home_care() -> list[Question]:
    questionnaire = questionnaire_active("home-care")
    assert questionnaire is not None
    return questionnaire_questions(questionnaire)


def post_vaccination() -> list[Question]:
    questionnaire = questionnaire_active("post-vaccination")
    assert questionnaire is not None
    return questionnaire_questions(questionnaire)


GOOD_HOME_CARE = {"temperature": "36.8", "spo2": "97", "pulse": "72", "symptoms": ["none"]}


def test_the_shipped_questionnaires_are_published_version_1() -> None:
    shipped = {q.code: q for q in Questionnaire.objects.all()}
    assert set(shipped) == {"home-care", "post-vaccination"}
    for questionnaire in shipped.values():
        assert questionnaire.version == 1
        assert questionnaire.is_active and questionnaire.is_published
        assert questionnaire.title_en
    assert [q.key for q in home_care()] == ["temperature", "spo2", "pulse", "symptoms", "note"]
    assert [q.key for q in post_vaccination()] == [
        "fever",
        "injection_site",
        "allergy",
        "medical_visit",
        "note",
    ]
    for question in [*home_care(), *post_vaccination()]:
        assert question.label and question.label_en and question.label_easy, question.key
        for choice in question.choices.all():
            assert choice.label and choice.label_en and choice.label_easy, choice.key
    temperature = home_care()[0]
    assert (temperature.unit, temperature.min_value, temperature.max_value) == (
        "℃",
        Decimal("34.0"),
        Decimal("42.0"),
    )
    assert temperature.decimal_places == 1
    symptoms = [c.label for c in home_care()[3].choices.all()]
    assert symptoms == [
        "息苦しい",
        "胸の痛み",
        "意識がもうろう",
        "せき",
        "のどの痛み",
        "だるさ",
        "味やにおいがしない",
        "なし",
    ]
    assert not home_care()[4].required


def test_the_shipped_rules() -> None:
    def rules(code: str) -> set[tuple[object, ...]]:
        return {
            (r.question_key, r.condition, r.threshold, r.choice_key, r.consecutive_days, r.level)
            for r in AlertRule.objects.filter(questionnaire__code=code)
        }

    assert rules("home-care") == {
        ("spo2", "lte", Decimal("93"), "", 1, "red"),
        ("temperature", "gte", Decimal("38.5"), "", 2, "yellow"),
        ("symptoms", "chosen", None, "breathless", 1, "red"),
        ("symptoms", "chosen", None, "chest_pain", 1, "red"),
        ("symptoms", "chosen", None, "confusion", 1, "red"),
    }
    assert rules("post-vaccination") == {
        ("allergy", "chosen", None, "breathless", 1, "red"),
        ("allergy", "chosen", None, "face_swelling", 1, "red"),
        ("fever", "gte", Decimal("39.0"), "", 1, "yellow"),
        ("medical_visit", "chosen", None, "admitted", 1, "red"),
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("36.8", Decimal("36.8")),
        ("３６．８", Decimal("36.8")),
        (" 37 ", Decimal("37")),
        ("36.8℃", Decimal("36.8")),
        ("34.0", Decimal("34.0")),
        ("42", Decimal("42")),
    ],
)
def test_a_temperature_is_read_with_full_width_digits_and_its_unit(
    raw: str, expected: Decimal
) -> None:
    check = answer_check(home_care(), {**GOOD_HOME_CARE, "temperature": raw})
    assert check.ok, check.errors
    assert check.values["temperature"] == expected


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        # Decimals must be written: 368 is out of range, never 36.8.
        ("temperature", "368", "34.0〜42.0℃の範囲で入力してください。"),
        ("temperature", "３３．９", "34.0〜42.0℃の範囲で入力してください。"),
        ("temperature", "36.85", "小数点以下は1桁までで入力してください。"),
        ("temperature", "熱っぽい", "数字で入力してください（例：36.8）。"),
        ("spo2", "101", "70〜100%の範囲で入力してください。"),
        ("spo2", "96.5", "整数で入力してください（小数点は使えません）。"),
        ("pulse", "２５", "30〜200回/分の範囲で入力してください。"),
        ("pulse", "", "回答してください。"),
        ("symptoms", ["fever"], "「fever」は選択肢にありません。"),
        ("symptoms", [], "回答してください。"),
        ("symptoms", ["none", "cough"], "「なし」はほかの選択肢と一緒に選べません。"),
    ],
)
def test_home_care_errors_say_what_is_wrong(key: str, raw: object, message: str) -> None:
    check = answer_check(home_care(), {**GOOD_HOME_CARE, key: raw})  # type: ignore[dict-item]
    assert not check.ok
    assert check.errors == {key: message}


def test_choices_are_read_by_key_or_label_in_the_questions_order() -> None:
    check = answer_check(home_care(), {**GOOD_HOME_CARE, "symptoms": "せき,breathless、だるさ"})
    assert check.ok, check.errors
    assert check.values["symptoms"] == ["breathless", "cough", "fatigue"]
    assert check.values["note"] is None


def test_single_choice_text_and_unknown_questions() -> None:
    good = {
        "fever": "37.5",
        "injection_site": "少し",
        "allergy": ["none"],
        "medical_visit": "none",
        "note": "  腕が少し痛い  ",
    }
    check = answer_check(post_vaccination(), good)
    assert check.ok, check.errors
    assert check.values["injection_site"] == "slight"
    assert check.values["note"] == "腕が少し痛い"
    bad = answer_check(
        post_vaccination(),
        {**good, "injection_site": "とても", "medical_visit": ["none", "visited"], "mood": "良い"},
    )
    assert bad.errors == {
        "injection_site": "「とても」は選択肢にありません。",
        "medical_visit": "回答は1つだけにしてください。",
        "mood": "この質問票にない質問です。",
    }
    too_long = answer_check(post_vaccination(), {**good, "note": "あ" * 1001})
    assert too_long.errors == {"note": "1000文字以内で入力してください。"}
    control = answer_check(post_vaccination(), {**good, "note": "a\x00b"})
    assert control.errors == {"note": "使えない文字が含まれています。"}
    assert answer_check(post_vaccination(), {**good, "note": "一行目\n二行目"}).ok


def test_min_above_max_is_refused_by_the_database() -> None:
    questionnaire = Questionnaire.objects.create(code="draft", title="下書き")
    with transaction.atomic(), pytest.raises(IntegrityError):
        Question.objects.create(
            questionnaire=questionnaire,
            key="x",
            kind="number",
            label="x",
            min_value=Decimal("10"),
            max_value=Decimal("5"),
        )


def test_a_new_version_is_a_draft_copy_until_published() -> None:
    v1 = Questionnaire.objects.get(code="home-care", version=1)
    v2 = questionnaire_new_version(v1)
    assert (v2.version, v2.is_published, v2.is_active) == (2, False, False)
    assert [q.key for q in questionnaire_questions(v2)] == [q.key for q in home_care()]
    assert v2.questions.get(key="symptoms").choices.count() == 8
    assert v2.alert_rules.count() == 5
    with pytest.raises(FollowUpError, match="未公開の版（第2版）"):
        questionnaire_new_version(v1)
    # The draft changes; v1 keeps its question.
    v2.questions.filter(key="pulse").update(max_value=Decimal("180"))
    assert v1.questions.get(key="pulse").max_value == Decimal("200")

    questionnaire_publish(v2, now=NOW)
    v1.refresh_from_db()
    assert questionnaire_active("home-care") == v2
    assert not v1.is_active and v1.is_published
    with pytest.raises(FollowUpError, match="すでに公開"):
        questionnaire_publish(v2, now=NOW)


def test_a_draft_with_a_broken_rule_is_not_published() -> None:
    v2 = questionnaire_new_version(Questionnaire.objects.get(code="post-vaccination"))
    v2.alert_rules.create(
        question_key="allergy", condition="chosen", choice_key="sneeze", level="red", message="x"
    )
    v2.alert_rules.create(
        question_key="note", condition="gte", threshold=Decimal("1"), level="red", message="x"
    )
    v2.alert_rules.create(
        question_key="gone", condition="lte", threshold=Decimal("1"), level="red", message="x"
    )
    with pytest.raises(FollowUpError) as refused:
        questionnaire_publish(v2, now=NOW + dt.timedelta(hours=1))
    message = refused.value.message
    assert "アラート条件の選択肢「sneeze」が質問「allergy」にありません。" in message
    assert "質問「note」は数値ではないため" in message
    assert "アラート条件の質問「gone」がこの質問票にありません。" in message
    v2.refresh_from_db()
    assert not v2.is_published


def test_a_rule_with_the_wrong_operand_is_refused_by_the_database() -> None:
    questionnaire = Questionnaire.objects.get(code="home-care")
    with transaction.atomic(), pytest.raises(IntegrityError):
        AlertRule.objects.create(
            questionnaire=questionnaire,
            question_key="spo2",
            condition="lte",
            level="red",
            message="しきい値なし",
        )


def test_a_json_body_with_numbers_or_odd_values_never_breaks_the_check() -> None:
    raw = {"temperature": 36.8, "spo2": 97, "pulse": {"x": 1}, "symptoms": [True, "none"]}
    check = answer_check(home_care(), raw)  # type: ignore[arg-type]
    assert check.values["temperature"] == Decimal("36.8")
    assert check.values["spo2"] == Decimal("97")
    assert check.values["symptoms"] == ["none"]
    assert check.errors == {"pulse": "回答してください。"}
