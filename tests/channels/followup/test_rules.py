"""channels/followup/rules.py: every condition, the consecutive-day rule (including a missing
previous day), several rules at once and their order. Pure: no database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from channels.followup.rules import Alert, RuleSpec, answer_alerts, highest_level

DAY = dt.date(2026, 11, 3)
YESTERDAY = DAY - dt.timedelta(days=1)

SPO2_LOW = RuleSpec(1, "spo2", "lte", "red", "SpO2低下", threshold=Decimal("93"), order=10)
FEVER_TWO_DAYS = RuleSpec(
    2,
    "temperature",
    "gte",
    "yellow",
    "発熱2日",
    threshold=Decimal("38.5"),
    consecutive_days=2,
    order=20,
)
BREATHLESS = RuleSpec(3, "symptoms", "chosen", "red", "息苦しい", choice_key="breathless", order=30)
ADMITTED = RuleSpec(4, "visit", "chosen", "red", "入院", choice_key="admitted", order=40)
FEVER = RuleSpec(5, "fever", "gte", "yellow", "発熱", threshold=Decimal("39.0"), order=5)


def alerts(rules: list[RuleSpec], values: dict, previous: dict | None = None) -> list[Alert]:
    return answer_alerts(rules, on=DAY, values=values, previous=previous or {})


def test_at_most_includes_the_threshold() -> None:
    assert [a.rule_id for a in alerts([SPO2_LOW], {"spo2": Decimal("93")})] == [1]
    assert [a.rule_id for a in alerts([SPO2_LOW], {"spo2": Decimal("92")})] == [1]
    assert alerts([SPO2_LOW], {"spo2": Decimal("94")}) == []


def test_at_least_includes_the_threshold_and_reads_stored_strings() -> None:
    assert [a.rule_id for a in alerts([FEVER], {"fever": Decimal("39.0")})] == [5]
    assert [a.rule_id for a in alerts([FEVER], {"fever": "39.4"})] == [5]
    assert alerts([FEVER], {"fever": Decimal("38.9")}) == []


def test_an_unanswered_question_raises_nothing() -> None:
    assert alerts([SPO2_LOW, FEVER, BREATHLESS], {"spo2": None, "symptoms": []}) == []


def test_chosen_matches_a_multiple_or_a_single_answer() -> None:
    assert [a.rule_id for a in alerts([BREATHLESS], {"symptoms": ["cough", "breathless"]})] == [3]
    assert alerts([BREATHLESS], {"symptoms": ["cough"]}) == []
    assert [a.rule_id for a in alerts([ADMITTED], {"visit": "admitted"})] == [4]
    assert alerts([ADMITTED], {"visit": "visited"}) == []


def test_two_consecutive_days_need_both_days() -> None:
    today = {"temperature": Decimal("38.6")}
    hot_yesterday = {YESTERDAY: {"temperature": "38.7"}}
    cool_yesterday = {YESTERDAY: {"temperature": "37.2"}}
    assert [a.rule_id for a in alerts([FEVER_TWO_DAYS], today, hot_yesterday)] == [2]
    assert alerts([FEVER_TWO_DAYS], today, cool_yesterday) == []
    # Hot yesterday, cool today: only today can raise.
    assert alerts([FEVER_TWO_DAYS], {"temperature": Decimal("37.0")}, hot_yesterday) == []


def test_a_missing_previous_day_breaks_the_run() -> None:
    today = {"temperature": Decimal("39.5")}
    two_days_ago = {DAY - dt.timedelta(days=2): {"temperature": "39.0"}}
    assert alerts([FEVER_TWO_DAYS], today, {}) == []
    assert alerts([FEVER_TWO_DAYS], today, two_days_ago) == []
    unanswered = {YESTERDAY: {"temperature": None}}
    assert alerts([FEVER_TWO_DAYS], today, unanswered) == []


def test_several_rules_at_once_red_first_then_in_rule_order() -> None:
    values = {
        "spo2": Decimal("90"),
        "temperature": Decimal("38.8"),
        "symptoms": ["breathless"],
        "fever": Decimal("39.5"),
    }
    raised = alerts(
        [FEVER_TWO_DAYS, FEVER, BREATHLESS, SPO2_LOW], values, {YESTERDAY: {"temperature": "38.5"}}
    )
    assert [a.rule_id for a in raised] == [1, 3, 5, 2]
    assert [a.level for a in raised] == ["red", "red", "yellow", "yellow"]
    assert highest_level(raised) == "red"
    assert highest_level(raised[2:]) == "yellow"
    assert highest_level([]) == "none"
    assert raised[0].as_json() == {"rule": 1, "level": "red", "message": "SpO2低下"}
