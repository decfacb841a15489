"""The pre-opening check's verdict on a cohort opening: run it and record it, let an
administrator accept its errors with a reason, and run it ahead of every opening due soon.

An opening whose last run found errors is held shut (`CohortOpening.check_blocked`), which the
booking path enforces (reservations.cohorts → OpeningBlocked). An administrator's override
accepts the kinds of error (codes) it was given for; a later run that finds only those stays
open, one that finds a new kind holds the opening shut again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from reservations.exceptions import InvalidStateTransition, PermissionDenied, ReasonRequired
from reservations.models import CohortOpening, Municipality, OpeningCheck
from reservations.season_check import Finding, Severity, season_check

OVERRIDE_PERMISSION = "reservations.override_openingcheck"


def opening_check_latest(opening: CohortOpening) -> OpeningCheck | None:
    return OpeningCheck.objects.filter(opening=opening).order_by("-ran_at", "-id").first()


def opening_check_run(*, opening: CohortOpening, now: dt.datetime, trigger: str) -> OpeningCheck:
    """Check the set-up this opening lets its band book into, record the run, and hold the
    opening shut if it found errors no override accepts (or let it open if it found none)."""
    findings = season_check(
        municipality=opening.municipality, campaign=opening.campaign, opening=opening, now=now
    )
    error_codes = sorted({f.code for f in findings if f.severity == Severity.ERROR})
    with transaction.atomic():
        # Lock the opening: an override given while this run was reading must be the one it
        # compares with, and two runs must not write the verdict in the wrong order.
        locked = CohortOpening.objects.select_for_update().get(pk=opening.pk)
        accepted = (
            OpeningCheck.objects.filter(opening=locked, overridden_at__isnull=False)
            .order_by("-overridden_at", "-id")
            .first()
        )
        covered_by = (
            accepted
            if error_codes
            and accepted is not None
            and set(error_codes) <= set(accepted.error_codes)
            else None
        )
        check = OpeningCheck.objects.create(
            opening=locked,
            ran_at=now,
            trigger=trigger,
            findings=[finding.as_json() for finding in findings],
            error_codes=error_codes,
            blocked=bool(error_codes) and covered_by is None,
            covered_by=covered_by,
        )
        # save() sends post_save, which clears this process's copy of the openings
        # (reservations.cohorts); other processes follow within COHORT_CACHE_SECONDS.
        locked.check_blocked = check.blocked
        locked.checked_at = now
        locked.save(update_fields=["check_blocked", "checked_at"])
    opening.check_blocked, opening.checked_at = locked.check_blocked, locked.checked_at
    return check


def opening_check_override(
    *,
    check: OpeningCheck,
    user: Any,
    reason: str,
    now: dt.datetime,
) -> OpeningCheck:
    """An administrator accepts the errors of an opening's latest run and lets it open: who,
    when and why are written onto the run (the audit trail of the opening)."""
    if not user.has_perm(OVERRIDE_PERMISSION):
        raise PermissionDenied()
    reason = reason.strip()
    if not reason:
        raise ReasonRequired()
    with transaction.atomic():
        # Lock the opening first, as opening_check_run does: a run finishing meanwhile either
        # comes before this override (and this refuses: it is no longer the latest) or after.
        opening = CohortOpening.objects.select_for_update().get(pk=check.opening_id)
        latest = opening_check_latest(opening)
        if latest is None or latest.pk != check.pk:
            raise InvalidStateTransition(
                _("新しいチェック結果があります。最新の結果を確認してから承認してください。")
            )
        if not latest.blocked:
            raise InvalidStateTransition(_("このチェック結果には承認が必要なエラーがありません。"))
        latest.overridden_by_id = user.pk
        latest.overridden_at = now
        latest.override_reason = reason
        latest.save(update_fields=["overridden_by", "overridden_at", "override_reason"])
        opening.check_blocked = False
        opening.save(update_fields=["check_blocked"])
    return latest


def openings_due(
    *, now: dt.datetime, municipality: Municipality | None = None
) -> list[CohortOpening]:
    """Openings to check now: those opening within SEASON_CHECK_AHEAD_HOURS, and those an
    earlier run holds shut (so that a fixed set-up opens at the next run)."""
    ahead = now + dt.timedelta(hours=int(settings.SEASON_CHECK_AHEAD_HOURS))
    due = CohortOpening.objects.filter(
        Q(opens_at__gt=now, opens_at__lte=ahead) | Q(check_blocked=True)
    )
    if municipality is not None:
        due = due.filter(municipality=municipality)
    return list(due.select_related("municipality", "campaign").order_by("opens_at", "pk"))


def openings_check_due(
    *, now: dt.datetime, trigger: str, municipality: Municipality | None = None
) -> list[OpeningCheck]:
    """Run the check on every opening due (the beat task, `season_check --record`)."""
    return [
        opening_check_run(opening=opening, now=now, trigger=trigger)
        for opening in openings_due(now=now, municipality=municipality)
    ]


def opening_check_findings(check: OpeningCheck) -> list[Finding]:
    return [Finding.from_json(row) for row in check.findings]
