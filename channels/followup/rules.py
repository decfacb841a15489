"""Alert evaluation: which of a questionnaire's rules an answer raises. Pure (no database, no
clock), so every condition is a plain unit test; services.followup_answer_record feeds it the
rules and the previous days' stored answers.

A rule with `consecutive_days` n holds when its condition holds on the answer's date and on
each of the n-1 calendar days before it; a day without an answer breaks the run (an
unanswered day is unknown, and staff see unanswered days on their own).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from channels.followup.models import AlertLevel, AlertRule

_RANK = {AlertLevel.RED: 0, AlertLevel.YELLOW: 1}


@dataclass(frozen=True)
class RuleSpec:
    """An AlertRule's content, detached from the database."""

    id: int
    question_key: str
    condition: str
    level: str
    message: str
    threshold: Decimal | None = None
    choice_key: str = ""
    consecutive_days: int = 1
    order: int = 0

    @classmethod
    def of(cls, rule: AlertRule) -> RuleSpec:
        return cls(
            id=rule.pk,
            question_key=rule.question_key,
            condition=rule.condition,
            level=rule.level,
            message=rule.message,
            threshold=rule.threshold,
            choice_key=rule.choice_key,
            consecutive_days=rule.consecutive_days,
            order=rule.order,
        )


@dataclass(frozen=True)
class Alert:
    rule_id: int
    level: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"rule": self.rule_id, "level": self.level, "message": self.message}


def answer_number(value: Any) -> Decimal | None:
    """A number question's answer as a Decimal (None when unanswered or not a number): stored
    answers keep numbers as strings ("36.8"), fresh ones are Decimals."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _holds(rule: RuleSpec, values: Mapping[str, Any] | None) -> bool:
    if values is None:
        return False
    value = values.get(rule.question_key)
    if rule.condition == AlertRule.Condition.CHOSEN:
        if isinstance(value, str):
            return value == rule.choice_key
        if isinstance(value, list | tuple):
            return rule.choice_key in value
        return False
    number = answer_number(value)
    if number is None or rule.threshold is None:
        return False
    if rule.condition == AlertRule.Condition.AT_MOST:
        return number <= rule.threshold
    if rule.condition == AlertRule.Condition.AT_LEAST:
        return number >= rule.threshold
    return False


def answer_alerts(
    rules: Iterable[RuleSpec],
    *,
    on: dt.date,
    values: Mapping[str, Any],
    previous: Mapping[dt.date, Mapping[str, Any]],
) -> list[Alert]:
    """The alerts raised by the answer `values` for date `on`, red first, then in the rules'
    order. `previous` holds earlier answers by date (only the days a rule looks back at are
    read)."""
    raised: list[tuple[int, int, int, Alert]] = []
    for rule in rules:
        days = [on - dt.timedelta(days=back) for back in range(1, max(rule.consecutive_days, 1))]
        if not _holds(rule, values):
            continue
        if not all(_holds(rule, previous.get(day)) for day in days):
            continue
        alert = Alert(rule_id=rule.id, level=rule.level, message=rule.message)
        raised.append((_RANK.get(AlertLevel(rule.level), 2), rule.order, rule.id, alert))
    return [alert for *_key, alert in sorted(raised, key=lambda item: item[:3])]


def highest_level(alerts: Iterable[Alert]) -> str:
    levels = {alert.level for alert in alerts}
    for level in (AlertLevel.RED, AlertLevel.YELLOW):
        if level in levels:
            return level.value
    return AlertLevel.NONE.value
