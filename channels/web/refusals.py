"""Why a resident cannot book, in plain words: which rule, from when, and what to do next.

The core refuses with facts (NotEligible's rule code and earliest date, the date a window or a
cohort door opens); its sentences are written for staff too and carry the rule's internal code
(「…（covid.routine.60-64.attested）」), which no resident page may show. This module turns those
facts into sentences for residents; the page formats the dates (西暦 and 和暦 in Japanese).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from channels.web.templatetags.web_dates import long_date
from reservations.exceptions import (
    BookingNotOpenYet,
    CohortNotOpenYet,
    NotEligible,
    OutsideBookingWindow,
    ReservationError,
)
from reservations.localized import localized
from reservations.models import EligibilityRule, Resident
from reservations.rules.dates import age_in_months_on
from reservations.selectors import BookingProspect, rulebook_for

# What the page says about the date an explanation carries.
FROM_ELIGIBLE = "eligible"  # the earliest date a dose would pass the rules
FROM_OPENS = "opens"  # the date booking opens for this person


@dataclass(frozen=True)
class Explanation:
    """One vaccine the resident cannot book now, said for the resident: the reason (and, for
    an eligibility rule, the groups of people it is for), the date from which it would pass
    (`date_kind` says which kind of date), a closing remark, and what to do next."""

    title: str
    reason: str
    date: dt.date | None
    date_kind: str
    next_step: str
    groups: tuple[str, ...] = ()
    remark: str = ""


def without_rule_ids(text: str, rule_code: str) -> str:
    """The core's sentence without the rule's internal code, which it writes in brackets."""
    if not rule_code:
        return text
    code = re.escape(rule_code)
    text = re.sub(rf"\s*[（(]\s*{code}\s*[）)]", "", text)
    return re.sub(rf"\s*{code}", "", text).strip()


def resident_message(error: ReservationError) -> str:
    """A core error as a resident page shows it: NotEligible without its rule code (with the
    earliest date that passes, which the core's own sentence adds); the rest as they are."""
    if isinstance(error, NotEligible):
        reason = without_rule_ids(str(error.reason), error.rule_code)
        if error.earliest_date is None:
            return reason
        return _("%(reason)s %(date)s以降の日にちであれば予約できます。") % {
            "reason": reason,
            "date": long_date(error.earliest_date),
        }
    return str(error.message)


def _age(months: int) -> str:
    if months % 12 == 0:
        return ngettext("%(n)s歳", "%(n)s歳", months // 12) % {"n": months // 12}
    return ngettext("生後%(n)sか月", "生後%(n)sか月", months) % {"n": months}


def _who(rule: EligibilityRule) -> str:
    """One group of people a rule lets book, in plain words."""
    if rule.below_age_months is not None and rule.min_age_months:
        ages = _("%(min)s以上%(below)s未満") % {
            "min": _age(rule.min_age_months),
            "below": _age(rule.below_age_months),
        }
    elif rule.below_age_months is not None:
        ages = _("%(below)s未満") % {"below": _age(rule.below_age_months)}
    else:
        ages = _("%(min)s以上") % {"min": _age(rule.min_age_months)}
    when = {
        EligibilityRule.AgeBasis.ON_DATE: _("接種日に%(ages)s"),
        EligibilityRule.AgeBasis.FISCAL_YEAR_END: _("年度末（3月31日）に%(ages)s"),
        EligibilityRule.AgeBasis.AT_FIRST_DOSE: _("1回目の接種日に%(ages)s"),
    }[EligibilityRule.AgeBasis(rule.age_basis)] % {"ages": ages}
    if rule.requires_attestation:
        return _("%(when)sで、対象となる障害があると申し出た方") % {"when": when}
    return _("%(when)sの方") % {"when": when}


def _eligibility_reason(
    prospect: BookingProspect, refusal: NotEligible, resident: Resident, on: dt.date
) -> tuple[str, tuple[str, ...], str] | None:
    """Who the vaccine is for (every group of the refusing rule's kind: national, or the
    municipality's own; the plainest first), and a hint when an attestation would let this
    person book."""
    rules = rulebook_for(
        municipality_id=resident.municipality_id,
        campaign=prospect.campaign,
        antigen=prospect.vaccine.antigen,
    ).eligibility
    refusing = next((r for r in rules if r.code == refusal.rule_code), None)
    if refusing is None:
        return None
    group = [
        r
        for r in rules
        if (r.municipality_id is None) == (refusing.municipality_id is None)
        and r.in_force_on(on)
        and r.covers_dose(prospect.dose_number)
        and (r.vaccine_id is None or r.vaccine_id == prospect.vaccine.pk)
    ] or [refusing]
    group.sort(key=lambda r: (r.requires_attestation, -r.min_age_months))
    groups = tuple(dict.fromkeys(_who(r) for r in group))
    if refusing.municipality_id is None:
        reason = _("この接種を受けられるのは、次の方です。")
    else:
        reason = _("市区町村の決まりで、いま予約できるのは次の方です。")
    months = age_in_months_on(resident.birth_date, on)
    hint = ""
    if not resident.high_risk_attested and any(
        r.requires_attestation
        and r.min_age_months <= months
        and (r.below_age_months is None or months < r.below_age_months)
        for r in group
    ):
        hint = _(
            "対象となる障害がある方は、申し出の手続きが必要です。コールセンターにお電話ください。"
        )
    return reason, groups, hint


def explain(prospect: BookingProspect, *, resident: Resident) -> Explanation | None:
    """The prospect's refusal for the resident, or None when they may book it."""
    refusal = prospect.refusal
    if refusal is None:
        return None
    title = _("%(vaccine)s（%(campaign)s）") % {
        "vaccine": localized(prospect.vaccine),
        "campaign": localized(prospect.campaign),
    }
    call = _("わからないときは、コールセンターにお電話ください。")
    if isinstance(refusal, NotEligible):
        program = prospect.campaign.program
        if refusal.rule_code == f"program.{program.code}.limit":
            limit = program.max_doses_per_campaign or 1
            reason = ngettext(
                "この接種は1人%(limit)s回までで、すでに接種または予約があります。",
                "この接種は1人%(limit)s回までで、すでに接種または予約があります。",
                limit,
            ) % {"limit": limit}
            next_step = _("予約の内容は「予約の確認」で見られます。日時の変更もそこからできます。")
            return Explanation(title, reason, None, FROM_ELIGIBLE, next_step)
        on = prospect.first_day.date if prospect.first_day else timezone.localdate()
        plain = _eligibility_reason(prospect, refusal, resident, on)
        groups: tuple[str, ...] = ()
        if plain is not None:
            reason, groups, hint = plain
        else:
            reason, hint = without_rule_ids(str(refusal.reason), refusal.rule_code), ""
        remark = ""
        if refusal.earliest_date is not None:
            wait = _("その日以降の日にちが選べるようになってから、予約してください。")
            next_step = _("%(first)s%(second)s") % {"first": wait, "second": hint} if hint else wait
        else:
            ends_on = prospect.campaign.ends_on
            remark = (
                _("この接種の期間（%(end)sまで）に、この方が対象になる日はありません。")
                % {"end": long_date(ends_on)}
                if ends_on
                else _("この方が対象になる日は、いまのところありません。")
            )
            next_step = hint or call
        return Explanation(
            title,
            reason,
            refusal.earliest_date,
            FROM_ELIGIBLE,
            next_step,
            groups=groups,
            remark=remark,
        )
    if isinstance(refusal, BookingNotOpenYet):
        reason = _("この方の区分の予約受付は、まだ始まっていません。")
        return Explanation(
            title, reason, refusal.opens_on, FROM_OPENS, _("受付開始をお待ちください。")
        )
    if isinstance(refusal, CohortNotOpenYet):
        # The core's sentence names the day and the time the door opens.
        return Explanation(
            title, str(refusal.message), None, FROM_OPENS, _("受付開始をお待ちください。")
        )
    if isinstance(refusal, OutsideBookingWindow):
        opens_on = refusal.detail.get("opens_on")
        if opens_on:
            reason = _("予約できる日にちの受付が、まだ始まっていません。")
            return Explanation(
                title,
                reason,
                dt.date.fromisoformat(opens_on),
                FROM_OPENS,
                _("受付開始をお待ちください。"),
            )
        reason = _("インターネットでの予約受付は終わりました。")
        return Explanation(title, reason, None, FROM_OPENS, call)
    return Explanation(title, str(refusal.message), None, FROM_OPENS, call)


__all__ = ["Explanation", "explain", "resident_message", "without_rule_ids"]
