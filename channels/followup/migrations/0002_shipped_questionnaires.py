"""The two questionnaires shipped with the system, version 1 each, published and in use:
自宅療養 健康観察 (home-care) and 接種後の体調 (post-vaccination), with their alert rules.

A municipality that wants other questions or thresholds makes the next version in the admin
(「新しい版を作る」); these rows are never edited in place.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import migrations
from django.utils import timezone

# (key, label, label_en, label_easy, exclusive)
_NONE = ("none", "なし", "None", "ない", True)

TEMPERATURE = {
    "kind": "number",
    "unit": "℃",
    "min_value": Decimal("34.0"),
    "max_value": Decimal("42.0"),
    "decimal_places": 1,
}

NOTE = {
    "key": "note",
    "kind": "text",
    "label": "自由記述",
    "label_en": "Anything else you want to tell us",
    "label_easy": "ほかに つたえたい こと",
    "required": False,
}

QUESTIONNAIRES: list[dict[str, Any]] = [
    {
        "code": "home-care",
        "title": "自宅療養 健康観察",
        "title_en": "Home care health check",
        "questions": [
            {
                "key": "temperature",
                "label": "体温",
                "label_en": "Body temperature",
                "label_easy": "からだの ねつ（たいおん）",
                **TEMPERATURE,
            },
            {
                "key": "spo2",
                "kind": "number",
                "label": "SpO2（血中酸素飽和度）",
                "label_en": "SpO2 (blood oxygen level)",
                "label_easy": "さんその かず（SpO2）",
                "unit": "%",
                "min_value": Decimal("70"),
                "max_value": Decimal("100"),
                "decimal_places": 0,
            },
            {
                "key": "pulse",
                "kind": "number",
                "label": "脈拍",
                "label_en": "Pulse",
                "label_easy": "みゃく（1ぷんかんの かず）",
                "unit": "回/分",
                "min_value": Decimal("30"),
                "max_value": Decimal("200"),
                "decimal_places": 0,
            },
            {
                "key": "symptoms",
                "kind": "multiple",
                "label": "症状",
                "label_en": "Symptoms",
                "label_easy": "からだの ようす",
                "choices": [
                    ("breathless", "息苦しい", "Short of breath", "いきが くるしい", False),
                    ("chest_pain", "胸の痛み", "Chest pain", "むねが いたい", False),
                    (
                        "confusion",
                        "意識がもうろう",
                        "Confused or very drowsy",
                        "あたまが ぼんやりして、はっきり しない",
                        False,
                    ),
                    ("cough", "せき", "Cough", "せきが でる", False),
                    ("sore_throat", "のどの痛み", "Sore throat", "のどが いたい", False),
                    ("fatigue", "だるさ", "Tiredness", "からだが だるい", False),
                    (
                        "taste_smell",
                        "味やにおいがしない",
                        "Loss of taste or smell",
                        "あじや においが わからない",
                        False,
                    ),
                    _NONE,
                ],
            },
            NOTE,
        ],
        "rules": [
            ("spo2", "lte", Decimal("93"), "", 1, "red", "SpO2が93%以下です。"),
            (
                "temperature",
                "gte",
                Decimal("38.5"),
                "",
                2,
                "yellow",
                "38.5℃以上の発熱が2日続いています。",
            ),
            ("symptoms", "chosen", None, "breathless", 1, "red", "息苦しさがあります。"),
            ("symptoms", "chosen", None, "chest_pain", 1, "red", "胸の痛みがあります。"),
            ("symptoms", "chosen", None, "confusion", 1, "red", "意識がもうろうとしています。"),
        ],
    },
    {
        "code": "post-vaccination",
        "title": "接種後の体調",
        "title_en": "How you feel after vaccination",
        "questions": [
            {
                "key": "fever",
                "label": "発熱（体温）",
                "label_en": "Body temperature",
                "label_easy": "からだの ねつ（たいおん）",
                **TEMPERATURE,
            },
            {
                "key": "injection_site",
                "kind": "single",
                "label": "接種部位の腫れ",
                "label_en": "Swelling where you had the injection",
                "label_easy": "ちゅうしゃを した ところの はれ",
                "choices": [
                    ("none", "なし", "None", "はれて いない", False),
                    ("slight", "少し", "A little", "すこし はれて いる", False),
                    ("severe", "ひどい", "Badly", "とても はれて いる", False),
                ],
            },
            {
                "key": "allergy",
                "kind": "multiple",
                "label": "アレルギー症状",
                "label_en": "Allergic reactions",
                "label_easy": "アレルギーの ようす",
                "choices": [
                    ("hives", "じんましん", "Hives", "ひふが あかく なって かゆい", False),
                    ("breathless", "息苦しい", "Short of breath", "いきが くるしい", False),
                    (
                        "face_swelling",
                        "顔や唇の腫れ",
                        "Swollen face or lips",
                        "かおや くちびるが はれて いる",
                        False,
                    ),
                    _NONE,
                ],
            },
            {
                "key": "medical_visit",
                "kind": "single",
                "label": "受診の有無",
                "label_en": "Did you see a doctor?",
                "label_easy": "びょういんに いきましたか",
                "choices": [
                    ("none", "受診していない", "No", "いって いない", False),
                    ("visited", "受診した", "Yes, I saw a doctor", "いった", False),
                    (
                        "admitted",
                        "入院した",
                        "I was admitted to hospital",
                        "にゅういん した",
                        False,
                    ),
                ],
            },
            NOTE,
        ],
        "rules": [
            (
                "allergy",
                "chosen",
                None,
                "breathless",
                1,
                "red",
                "アレルギー症状（息苦しさ）があります。",
            ),
            (
                "allergy",
                "chosen",
                None,
                "face_swelling",
                1,
                "red",
                "アレルギー症状（顔や唇の腫れ）があります。",
            ),
            ("fever", "gte", Decimal("39.0"), "", 1, "yellow", "39.0℃以上の発熱があります。"),
            ("medical_visit", "chosen", None, "admitted", 1, "red", "入院したと回答がありました。"),
        ],
    },
]


def ship(apps: Any, schema_editor: Any) -> None:
    Questionnaire = apps.get_model("followup", "Questionnaire")
    Question = apps.get_model("followup", "Question")
    Choice = apps.get_model("followup", "Choice")
    AlertRule = apps.get_model("followup", "AlertRule")
    now = timezone.now()
    for spec in QUESTIONNAIRES:
        questionnaire = Questionnaire.objects.create(
            code=spec["code"],
            version=1,
            title=spec["title"],
            title_en=spec["title_en"],
            is_active=True,
            published_at=now,
        )
        for order, question_spec in enumerate(spec["questions"], start=1):
            fields = {k: v for k, v in question_spec.items() if k != "choices"}
            question = Question.objects.create(
                questionnaire=questionnaire, order=order * 10, **fields
            )
            for choice_order, (key, label, label_en, label_easy, exclusive) in enumerate(
                question_spec.get("choices", []), start=1
            ):
                Choice.objects.create(
                    question=question,
                    order=choice_order * 10,
                    key=key,
                    label=label,
                    label_en=label_en,
                    label_easy=label_easy,
                    is_exclusive=exclusive,
                )
        for order, (key, condition, threshold, choice, days, level, message) in enumerate(
            spec["rules"], start=1
        ):
            AlertRule.objects.create(
                questionnaire=questionnaire,
                order=order * 10,
                question_key=key,
                condition=condition,
                threshold=threshold,
                choice_key=choice,
                consecutive_days=days,
                level=level,
                message=message,
            )


def unship(apps: Any, schema_editor: Any) -> None:
    Questionnaire = apps.get_model("followup", "Questionnaire")
    codes = [spec["code"] for spec in QUESTIONNAIRES]
    Questionnaire.objects.filter(code__in=codes, version=1).delete()


class Migration(migrations.Migration):
    dependencies = [("followup", "0001_questionnaires_and_followups")]

    operations = [migrations.RunPython(ship, unship)]
