"""Evaluate eligibility and interval rules for one dose on one date.

Pure logic over rule rows and a dose history that the caller loads; no queries here, so the
"earliest date that would pass" can be found by trying dates in memory. The rule versions in
force on the *vaccination* date decide, whatever the booking date (domain.md §8).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from reservations.exceptions import BookingNotOpenYet, NotEligible
from reservations.models import Campaign, EligibilityRule, IntervalRule, Vaccine
from reservations.rules.dates import (
    age_in_months_on,
    age_reached_on,
    earliest_after_days_gap,
    earliest_after_months,
    fiscal_year_end,
)

# How far ahead to look for the earliest passing date before saying there is none.
SEARCH_HORIZON_DAYS = 3 * 366


@dataclass(frozen=True)
class HistoryDose:
    """A dose the person had, or has an active booking for (planned=True)."""

    antigen: str
    vaccine_id: int
    dose_number: int
    on: dt.date
    campaign_id: int | None
    planned: bool = False


@dataclass(frozen=True)
class Person:
    birth_date: dt.date
    municipality_id: int
    high_risk_attested: bool = False


@dataclass
class Decision:
    """A passed check: which rules applied, warnings to show, and the standard date."""

    rules_applied: list[str] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    standard_date: dt.date | None = None


@dataclass(frozen=True)
class RuleBook:
    """The rule rows that can matter for one programme/antigen and one municipality."""

    eligibility: tuple[EligibilityRule, ...]
    intervals: tuple[IntervalRule, ...]


class _Refusal(Exception):
    def __init__(self, message: str, rule_code: str, reason_would_allow: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.rule_code = rule_code
        self.reason_would_allow = reason_would_allow


def _age_text(months: int) -> str:
    if months % 12 == 0:
        return _("%(years)s歳") % {"years": months // 12}
    return _("生後%(months)sか月") % {"months": months}


def _eligibility_text(rule: EligibilityRule) -> str:
    basis = {
        EligibilityRule.AgeBasis.ON_DATE: _("接種日時点で"),
        EligibilityRule.AgeBasis.FISCAL_YEAR_END: _("年度末（3月31日）時点で"),
        EligibilityRule.AgeBasis.AT_FIRST_DOSE: _("1回目の接種日時点で"),
    }[EligibilityRule.AgeBasis(rule.age_basis)]
    if rule.below_age_months is not None:
        ages = _("%(min)s以上%(below)s未満") % {
            "min": _age_text(rule.min_age_months),
            "below": _age_text(rule.below_age_months),
        }
    else:
        ages = _("%(min)s以上") % {"min": _age_text(rule.min_age_months)}
    text = _("%(basis)s%(ages)sの方が対象です") % {"basis": basis, "ages": ages}
    if rule.requires_attestation:
        text += _("（対象となる障害の申告が必要です）")
    return text + _("（%(rule)s）。") % {"rule": rule.code}


def _previous_dose(
    history: Sequence[HistoryDose], antigen: str, dose_number: int, on: dt.date
) -> HistoryDose | None:
    same = [h for h in history if h.antigen == antigen and h.dose_number < dose_number]
    if not same:
        same = [h for h in history if h.antigen == antigen and h.on < on]
    if not same:
        return None
    return max(same, key=lambda h: (h.dose_number, h.on))


def _interval_earliest(rule: IntervalRule, previous: dt.date) -> dt.date:
    if rule.unit == IntervalRule.Unit.MONTHS:
        return earliest_after_months(previous, rule.amount)
    return earliest_after_days_gap(previous, rule.amount)


def _applies(
    rule: EligibilityRule | IntervalRule,
    *,
    on: dt.date,
    dose_number: int,
    vaccine: Vaccine,
    municipality_id: int,
) -> bool:
    return (
        rule.in_force_on(on)
        and rule.covers_dose(dose_number)
        and (rule.vaccine_id is None or rule.vaccine_id == vaccine.pk)
        and (rule.municipality_id is None or rule.municipality_id == municipality_id)
    )


def _age_basis_date(
    rule: EligibilityRule, on: dt.date, history: Sequence[HistoryDose], antigen: str
) -> dt.date:
    if rule.age_basis == EligibilityRule.AgeBasis.FISCAL_YEAR_END:
        return fiscal_year_end(on)
    if rule.age_basis == EligibilityRule.AgeBasis.AT_FIRST_DOSE:
        firsts = [h.on for h in history if h.antigen == antigen and h.dose_number == 1]
        return min(firsts) if firsts else on
    return on


def _eligibility_matches(
    rule: EligibilityRule, person: Person, on: dt.date, history: Sequence[HistoryDose], antigen: str
) -> bool:
    basis = _age_basis_date(rule, on, history, antigen)
    if basis < age_reached_on(person.birth_date, rule.min_age_months):
        return False
    if (
        rule.below_age_months is not None
        and age_in_months_on(person.birth_date, basis) >= rule.below_age_months
    ):
        return False
    return not (rule.requires_attestation and not person.high_risk_attested)


def _hard_check(
    *,
    person: Person,
    campaign: Campaign,
    vaccine: Vaccine,
    dose_number: int,
    on: dt.date,
    history: Sequence[HistoryDose],
    rules: RuleBook,
    override_reason: str,
    decision: Decision | None,
) -> list[EligibilityRule]:
    """Raise _Refusal for the first hard rule that fails on `on`; return matching eligibility."""
    if not campaign.covers(on):
        raise _Refusal(
            _("%(campaign)sの実施期間外です（%(start)s〜%(end)s）。")
            % {
                "campaign": campaign.name,
                "start": campaign.starts_on.isoformat(),
                "end": campaign.ends_on.isoformat() if campaign.ends_on else "",
            },
            f"campaign.{campaign.code}.period",
        )
    antigen = vaccine.antigen
    candidates = [
        r
        for r in rules.eligibility
        if _applies(
            r,
            on=on,
            dose_number=dose_number,
            vaccine=vaccine,
            municipality_id=person.municipality_id,
        )
    ]
    # A national row must match; if the municipality has rows of its own in force, one of
    # those must match as well. Municipal rows can therefore narrow (staged cohorts, a
    # stricter age) but never widen what the national rules allow.
    national = [r for r in candidates if r.municipality_id is None]
    municipal = [r for r in candidates if r.municipality_id is not None]
    if not national:
        raise _Refusal(
            _(
                "この日に%(dose)s回目として%(vaccine)sを接種できる対象者の区分がありません"
                "（%(rule)s）。"
            )
            % {
                "dose": dose_number,
                "vaccine": vaccine.name,
                "rule": f"eligibility.{campaign.program.code}.none",
            },
            f"eligibility.{campaign.program.code}.none",
        )
    matching: list[EligibilityRule] = []
    for group in (national, municipal):
        if not group:
            continue
        group_matching = [r for r in group if _eligibility_matches(r, person, on, history, antigen)]
        if not group_matching:
            raise _Refusal(_eligibility_text(group[0]), group[0].code)
        matching.extend(group_matching)

    previous = _previous_dose(history, antigen, dose_number, on)
    for rule in rules.intervals:
        if rule.after_primary_series and dose_number <= vaccine.primary_series_doses:
            continue
        if rule.antigen != antigen or not _applies(
            rule,
            on=on,
            dose_number=dose_number,
            vaccine=vaccine,
            municipality_id=person.municipality_id,
        ):
            continue
        if rule.reference == IntervalRule.Reference.OTHER_ANTIGEN:
            _check_other_antigens(rule, on, history, antigen, decision)
            continue
        if previous is None:
            continue
        if rule.reference == IntervalRule.Reference.PREVIOUS_DOSE_OTHER_PRODUCT:
            if previous.vaccine_id == vaccine.pk:
                continue
            if rule.requires_reason and not override_reason:
                raise _Refusal(
                    _(
                        "前回と異なるワクチンでの接種（交互接種）は、理由を記録した場合のみ"
                        "受け付けます（%(rule)s）。"
                    )
                    % {"rule": rule.code},
                    rule.code,
                    reason_would_allow=True,
                )
        earliest = _interval_earliest(rule, previous.on)
        if rule.strength == IntervalRule.Strength.HARD_MIN:
            if on < earliest:
                raise _Refusal(
                    _("前回（%(prev)s）から必要な間隔が空いていません（%(rule)s）。")
                    % {
                        "prev": previous.on.isoformat(),
                        "rule": rule.code,
                    },
                    rule.code,
                )
        elif decision is not None:
            if rule.strength == IntervalRule.Strength.STANDARD:
                decision.standard_date = max(decision.standard_date or earliest, earliest)
            if on < earliest:
                decision.warnings.append(
                    {
                        "rule": rule.code,
                        "message": _("標準的な接種日（%(date)s）より早い日程です。")
                        % {"date": earliest.isoformat()},
                    }
                )
        if decision is not None:
            decision.rules_applied.append(rule.code)
    return matching


def _check_other_antigens(
    rule: IntervalRule,
    on: dt.date,
    history: Sequence[HistoryDose],
    antigen: str,
    decision: Decision | None,
) -> None:
    for item in history:
        if item.antigen == antigen or item.antigen in (rule.exempt_antigens or []):
            continue
        if rule.reference_antigen and item.antigen != rule.reference_antigen:
            continue
        # "前後N日以上": the gap applies whichever dose comes first.
        if (
            earliest_after_days_gap(on, rule.amount)
            > item.on
            > on - dt.timedelta(days=rule.amount + 1)
        ):
            if rule.strength == IntervalRule.Strength.HARD_MIN:
                raise _Refusal(
                    _("他のワクチン（%(date)s）との間隔が足りません（%(rule)s）。")
                    % {
                        "date": item.on.isoformat(),
                        "rule": rule.code,
                    },
                    rule.code,
                )
            if decision is not None:
                decision.warnings.append(
                    {
                        "rule": rule.code,
                        "message": _("他のワクチン（%(date)s）との間隔にご注意ください。")
                        % {"date": item.on.isoformat()},
                    }
                )
    if decision is not None:
        decision.rules_applied.append(rule.code)


def _earliest_passing(check_on: dt.date, check: Callable[..., object]) -> dt.date | None:
    day = check_on + dt.timedelta(days=1)
    for _step in range(SEARCH_HORIZON_DAYS):
        try:
            check(on=day, decision=None)
        except _Refusal:
            day += dt.timedelta(days=1)
            continue
        return day
    return None


def check_dose(
    *,
    person: Person,
    campaign: Campaign,
    vaccine: Vaccine,
    dose_number: int,
    on: dt.date,
    booked_on: dt.date,
    history: Sequence[HistoryDose],
    rules: RuleBook,
    override_reason: str = "",
) -> Decision:
    """Decide whether `person` may get `dose_number` of `vaccine` on `on`.

    Raises NotEligible (naming the rule and the earliest date that passes, if any within three
    years) or BookingNotOpenYet. The per-campaign limit is checked here too, from `history`.
    """
    program = campaign.program
    limit = program.max_doses_per_campaign
    if limit is not None:
        in_campaign = [h for h in history if h.campaign_id == campaign.pk]
        if len(in_campaign) >= limit:
            raise NotEligible(
                _(
                    "%(campaign)sでは1人%(limit)s回までです。すでに%(count)s回分の接種または予約が"
                    "あります（%(rule)s）。"
                )
                % {
                    "campaign": campaign.name,
                    "limit": limit,
                    "count": len(in_campaign),
                    "rule": f"program.{program.code}.limit",
                },
                rule_code=f"program.{program.code}.limit",
            )

    decision = Decision()
    check = functools.partial(
        _hard_check,
        person=person,
        campaign=campaign,
        vaccine=vaccine,
        dose_number=dose_number,
        history=history,
        rules=rules,
        override_reason=override_reason,
    )
    try:
        matching = check(on=on, decision=decision)
    except _Refusal as refusal:
        earliest = _earliest_passing(on, check)
        raise NotEligible(
            refusal.message,
            rule_code=refusal.rule_code,
            earliest_date=earliest,
            reason_would_allow=refusal.reason_would_allow,
        ) from None

    def is_open(rule: EligibilityRule) -> bool:
        return rule.booking_opens_on is None or rule.booking_opens_on <= booked_on

    for group in (
        [r for r in matching if r.municipality_id is None],
        [r for r in matching if r.municipality_id is not None],
    ):
        if group and not any(is_open(r) for r in group):
            first = min(group, key=lambda r: r.booking_opens_on or booked_on)
            assert first.booking_opens_on is not None
            raise BookingNotOpenYet(rule_code=first.code, opens_on=first.booking_opens_on)
    decision.rules_applied[:0] = [r.code for r in matching if is_open(r)]
    return decision


def standard_next_date(
    *,
    vaccine: Vaccine,
    dose_number: int,
    previous_on: dt.date,
    municipality_id: int,
    rules: RuleBook,
) -> dt.date | None:
    """The date the standard interval proposes for `dose_number` after `previous_on`.

    Uses STANDARD rules (or HARD_MIN ones if a product has no standard) in force on the date
    they would produce; None when no interval rule covers that dose.
    """
    by_strength: dict[str, list[dt.date]] = {}
    for rule in rules.intervals:
        if (
            rule.reference != IntervalRule.Reference.PREVIOUS_DOSE
            or rule.antigen != vaccine.antigen
        ):
            continue
        if rule.after_primary_series and dose_number <= vaccine.primary_series_doses:
            continue
        candidate = _interval_earliest(rule, previous_on)
        if _applies(
            rule,
            on=candidate,
            dose_number=dose_number,
            vaccine=vaccine,
            municipality_id=municipality_id,
        ):
            by_strength.setdefault(rule.strength, []).append(candidate)
    for strength in (IntervalRule.Strength.STANDARD, IntervalRule.Strength.HARD_MIN):
        if by_strength.get(strength):
            return max(by_strength[strength])
    return None
