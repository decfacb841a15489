"""Writes of the health-centre staff screens (/followup/): handling an alert, recording a call,
reviewing a photo, ending a follow-up; and the audit of what those screens show.

Each action is one conditional UPDATE (… WHERE still open) inside a transaction, so two members
of staff acting on the same row at once cannot both win: the second is told the row was
handled already, and what the first recorded (who, when) stays. Who and when are written on
the row itself (acknowledged_by/at, resolved_by/at, done_by/at, reviewed_by/at).

Nothing here sends a message: the person's SMS about a reviewed photo is derived by
channels.notify from the reviewed row.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from channels.followup.models import (
    AlertLevel,
    FollowedPerson,
    FollowUp,
    FollowUpAnswer,
    FollowUpCall,
    FollowUpPhoto,
)
from channels.followup.services import FollowUpError, followup_end
from reservations import audit

logger = logging.getLogger("channels.followup.staff")

# Notes are a few sentences; a pasted document is a mistake.
MAX_NOTE_LENGTH = 2000
MAX_REASON_LENGTH = FollowUpPhoto._meta.get_field("reason").max_length or 200


def person_subject(person: FollowedPerson) -> str:
    """How the audit trail names a followed person (reservations.audit.ReadOf.subject)."""
    return f"followup.person:{person.pk}"


def people_shown(
    *,
    user: Any,
    people: Iterable[FollowedPerson],
    page: str,
    detail: Mapping[str, Any] | None = None,
    now: dt.datetime,
    request: HttpRequest | None = None,
    channel: str = audit.FOLLOWUP,
    client_address: str | None = None,
) -> None:
    """One audit row per person a page (or a file) showed, once per load: a resident by their
    Resident row, a person known only from a health centre's list by their subject."""
    seen: dict[int, FollowedPerson] = {}
    for person in people:
        seen.setdefault(person.pk, person)
    audit.personal_data_shown(
        user=user,
        channel=channel,
        reads=(
            audit.ReadOf(
                resident_id=person.resident_id,
                municipality_id=person.municipality_id,
                subject=person_subject(person),
            )
            for person in seen.values()
        ),
        detail={"page": page, **(detail or {})},
        now=now,
        request=request,
        client_address=client_address,
    )


def _note(text: str, *, required: bool, missing: str) -> str:
    note = (text or "").strip()
    if required and not note:
        raise FollowUpError(missing, code="note_required")
    if len(note) > MAX_NOTE_LENGTH:
        raise FollowUpError(
            _("記録は%(max)d文字以内で入力してください。") % {"max": MAX_NOTE_LENGTH},
            code="note_too_long",
        )
    return note


def _require_alert(answer: FollowUpAnswer) -> None:
    if answer.alert_level not in (AlertLevel.RED, AlertLevel.YELLOW):
        raise FollowUpError(_("この回答にはアラートがありません。"), code="no_alert")


def alert_acknowledge(*, answer: FollowUpAnswer, user: Any, now: dt.datetime) -> bool:
    """Mark the alert as seen by `user` (someone is on it). True when this call acknowledged
    it; False when someone had already (their name and time stay: a second click is
    harmless)."""
    _require_alert(answer)
    with transaction.atomic():
        done = FollowUpAnswer.objects.filter(pk=answer.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=now, acknowledged_by=user
        )
    answer.refresh_from_db(fields=["acknowledged_at", "acknowledged_by"])
    return bool(done)


def alert_resolve(*, answer: FollowUpAnswer, user: Any, note: str, now: dt.datetime) -> None:
    """Close the alert with what was done (`note`, required). Acknowledges it too when nobody
    had. Refused (FollowUpError "resolved") when someone resolved it first."""
    _require_alert(answer)
    text = _note(note, required=True, missing=_("対応の内容を記録してください。"))
    with transaction.atomic():
        # Both updates are conditional: an acknowledgement someone else made stays theirs.
        FollowUpAnswer.objects.filter(pk=answer.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=now, acknowledged_by=user
        )
        done = FollowUpAnswer.objects.filter(pk=answer.pk, resolved_at__isnull=True).update(
            resolved_at=now, resolved_by=user, resolution_note=text
        )
        if not done:
            raise FollowUpError(_("このアラートはすでに対応済みです。"), code="resolved")
    answer.refresh_from_db(
        fields=[
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "resolved_by",
            "resolution_note",
        ]
    )


def call_done(*, call: FollowUpCall, user: Any, outcome: str, note: str, now: dt.datetime) -> None:
    """Record that `user` phoned: reached the person (or their family) or not, and a note.
    Refused when someone recorded this call first. A call not reached stays done: the next
    day's list, or a new row, brings the person back."""
    if outcome not in FollowUpCall.Outcome.values:
        raise FollowUpError(_("電話の結果を選んでください。"), code="outcome_invalid")
    text = _note(note, required=False, missing="")
    with transaction.atomic():
        done = FollowUpCall.objects.filter(pk=call.pk, done_at__isnull=True).update(
            done_at=now, done_by=user, outcome=outcome, note=text
        )
        if not done:
            raise FollowUpError(_("この電話はすでに記録されています。"), code="call_done")
    call.refresh_from_db(fields=["done_at", "done_by", "outcome", "note"])


def photo_review(
    *, photo: FollowUpPhoto, user: Any, confirmed: bool, reason: str, now: dt.datetime
) -> None:
    """A doctor's verdict on a pending photo: confirmed, or not (`reason` required, told to
    the person). Refused when it is no longer pending (reviewed by someone else) or its file
    is gone."""
    text = (reason or "").strip()
    if not confirmed and not text:
        raise FollowUpError(
            _("確認できない理由を入力してください（本人に伝わります）。"),
            code="reason_required",
        )
    if len(text) > MAX_REASON_LENGTH:
        raise FollowUpError(
            _("理由は%(max)d文字以内で入力してください。") % {"max": MAX_REASON_LENGTH},
            code="reason_too_long",
        )
    status = FollowUpPhoto.Status.CONFIRMED if confirmed else FollowUpPhoto.Status.REJECTED
    with transaction.atomic():
        done = FollowUpPhoto.objects.filter(
            pk=photo.pk, status=FollowUpPhoto.Status.PENDING, deleted_at__isnull=True
        ).update(status=status, reviewed_at=now, reviewed_by=user, reason=text)
        if not done:
            raise FollowUpError(_("この写真はすでに確認済みです。"), code="reviewed")
    photo.refresh_from_db(fields=["status", "reviewed_at", "reviewed_by", "reason"])


def followup_end_by_staff(*, followup: FollowUp, user: Any, now: dt.datetime) -> FollowUp:
    """End a follow-up from its staff page (reason 職員が終了); the row keeps who, when and
    why."""
    return followup_end(followup, FollowUp.EndReason.STAFF, now=now, by=user)
