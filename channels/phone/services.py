"""Writes of the call centre: the call log, the audit trail, sign-in throttling, and the
bookings operators make on a caller's behalf (through the core's booking services)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from channels.phone.models import Call, RecordAccess
from reservations import audit
from reservations.audit import ReadOf
from reservations.client_address import client_address
from reservations.exceptions import ReservationError
from reservations.models import Actor, Channel, Municipality, Reservation, Resident, Slot, Ticket
from reservations.services.booking import (
    Requester,
    reservation_book,
    reservation_cancel,
    reservation_change,
)
from reservations.services.contact import contact_language_set, resident_contact_update
from reservations.services.credentials import credentials_unlock
from reservations.staff_panels import Panel


class NoValidTicket(ReservationError):
    code = "no_valid_ticket"
    default_message = _("この方には有効な接種券がありません。接種券の発行・再発行が必要です。")


# --- Calls --------------------------------------------------------------------------------------


def call_start(*, operator: Any, municipality: Municipality, now: dt.datetime) -> Call:
    """The operator's open call, or a new one starting now. Searching starts a call, so the
    log costs no keystrokes; a double submit finds the call the first one opened."""
    existing = Call.objects.filter(operator=operator, ended_at__isnull=True).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Call.objects.create(operator=operator, municipality=municipality, started_at=now)
    except IntegrityError:
        # The one-open-call constraint: a concurrent request opened it first.
        return Call.objects.get(operator=operator, ended_at__isnull=True)


def call_set_caller(*, call: Call, is_proxy: bool, relationship: str) -> Call:
    call.caller_is_proxy = is_proxy
    call.proxy_relationship = relationship.strip() if is_proxy else ""
    call.save(update_fields=["caller_is_proxy", "proxy_relationship"])
    return call


def _call_note(
    call: Call | None, *, resident: Resident, outcome: str = "", booked: int = 0
) -> None:
    """Attach the resident to the call and remember what was done, so closing the call
    needs one click: the outcome is already suggested."""
    if call is None:
        return
    call.residents.add(resident)
    if outcome or booked:
        Call.objects.filter(pk=call.pk).update(
            outcome=outcome or F("outcome"), bookings_made=F("bookings_made") + booked
        )
        call.refresh_from_db(fields=["outcome", "bookings_made"])


def call_close(
    *, call: Call, outcome: str, notes: str = "", purpose: str = "", now: dt.datetime
) -> Call:
    """End the call. Closing twice keeps the first end time."""
    if outcome not in Call.Outcome.values:
        raise ValueError(f"unknown outcome {outcome!r}")
    with transaction.atomic():
        # Lock the row: the end time and handling seconds are written once.
        current = Call.objects.select_for_update().get(pk=call.pk)
        if current.ended_at is not None:
            return current
        current.ended_at = max(now, current.started_at)
        current.handling_seconds = int((current.ended_at - current.started_at).total_seconds())
        current.outcome = outcome
        if purpose in Call.Purpose.values:
            current.purpose = purpose
        elif not current.purpose:
            current.purpose = _PURPOSE_FOR_OUTCOME.get(outcome, Call.Purpose.OTHER)
        if notes.strip():
            current.notes = "\n".join(filter(None, [current.notes, notes.strip()]))
        current.save()
    return current


_PURPOSE_FOR_OUTCOME: dict[str, str] = {
    Call.Outcome.BOOKED: Call.Purpose.BOOK,
    Call.Outcome.CHANGED: Call.Purpose.CHANGE,
    Call.Outcome.CANCELLED: Call.Purpose.CANCEL,
    Call.Outcome.ANSWERED: Call.Purpose.QUESTION,
}


def call_memos_purge(*, now: dt.datetime, dry_run: bool) -> int:
    """Empty the memos of calls that started more than RETENTION_CALL_MEMO_DAYS ago.

    A memo is free text about a caller (their situation, what to call back about); it serves
    the next calls on the same matter. The call itself stays: its times, outcome and counts
    feed the metrics and the forecast, and the bookings keep their own events.
    (Registered with reservations.retention in PhoneConfig.ready.)
    """
    cutoff = now - dt.timedelta(days=settings.RETENTION_CALL_MEMO_DAYS)
    expired = Call.objects.filter(started_at__lt=cutoff).exclude(notes="")
    if dry_run:
        return expired.count()
    return expired.update(notes="")


# --- Audit --------------------------------------------------------------------------------------


def staff_role(user: Any) -> str:
    """The member of staff's role as the trail keeps it: their groups' names (the roles of
    reservations/roles.py, joined with ・), or RecordAccess.SUPERUSER_ROLE. Read at the time of
    the access, since group membership changes later."""
    if getattr(user, "is_superuser", False):
        return RecordAccess.SUPERUSER_ROLE
    names = user.groups.order_by("name").values_list("name", flat=True)
    return "・".join(names)[: RecordAccess._meta.get_field("role").max_length]


def audit_context(*, user: Any, request: HttpRequest | None, channel: str) -> dict[str, str]:
    """The fields every audit row of one request shares: role, channel and the client's
    address (reservations/client_address.py's rule; blank without a request, e.g. a command)."""
    address = client_address(request.META) if request is not None else None
    return {
        "role": staff_role(user),
        "channel": channel,
        "client_address": str(address) if address is not None else "",
    }


# Rows per INSERT when one read covers many residents (an export's file).
AUDIT_BATCH_SIZE = 2000


def personal_data_read_recorded(
    *,
    user: Any,
    channel: str,
    client_address: str,
    reads: list[ReadOf],
    detail: dict[str, Any],
    at: dt.datetime,
    **signal: Any,
) -> None:
    """The trail's receiver of reservations.audit.personal_data_read: one VIEWED row per
    person shown, from any surface (venue, exports, admin, API, health follow-up); a person
    without a Resident row is named by the read's subject."""
    if channel not in RecordAccess.Channel.values:
        raise ValueError(f"unknown audit channel {channel!r}")
    role = staff_role(user)
    RecordAccess.objects.bulk_create(
        (
            RecordAccess(
                user=user,
                resident_id=read.resident_id,
                subject=read.subject,
                municipality_id=read.municipality_id,
                action=RecordAccess.Action.VIEWED,
                call=None,
                detail={**detail, **read.detail},
                at=at,
                role=role,
                channel=channel,
                client_address=client_address,
            )
            for read in reads
        ),
        batch_size=AUDIT_BATCH_SIZE,
    )


def search_results_shown(
    *, user: Any, residents: Sequence[Resident], now: dt.datetime, request: HttpRequest
) -> None:
    """A list of search results shows each resident's name, birth date and ticket: one audit
    row each (the one-result search opens the resident's page, audited there)."""
    audit.personal_data_shown(
        user=user,
        channel=audit.PHONE,
        reads=(
            audit.ReadOf(resident_id=r.pk, municipality_id=r.municipality_id) for r in residents
        ),
        detail={"list": "console_search", "results": len(residents)},
        now=now,
        request=request,
    )


def audit_record(
    *,
    user: Any,
    resident: Resident,
    action: str,
    call: Call | None,
    now: dt.datetime,
    request: HttpRequest | None = None,
    channel: str = RecordAccess.Channel.PHONE,
    **detail: Any,
) -> RecordAccess:
    """Write one audit row; `request` (given by views) supplies the client's address."""
    return RecordAccess.objects.create(
        user=user,
        resident=resident,
        municipality_id=resident.municipality_id,
        action=action,
        call=call,
        detail=detail,
        at=now,
        **audit_context(user=user, request=request, channel=channel),
    )


def resident_open(
    *,
    user: Any,
    resident: Resident,
    call: Call | None,
    now: dt.datetime,
    request: HttpRequest | None = None,
    panels: Sequence[Panel] = (),
) -> None:
    """Opening a resident's screen is itself audited, and ties the resident to the call. The
    sections other apps add to the screen (`panels`: the automated voice calls) are part of
    the same read: the row says how many of their records each showed."""
    shown: dict[str, Any] = (
        {"panels": {panel.name: panel.shown for panel in panels}} if panels else {}
    )
    audit_record(
        user=user,
        resident=resident,
        action=RecordAccess.Action.VIEWED,
        call=call,
        now=now,
        request=request,
        **shown,
    )
    _call_note(call, resident=resident)


def sign_in_unlock(
    *,
    user: Any,
    resident: Resident,
    ticket: Ticket,
    call: Call | None,
    now: dt.datetime,
    request: HttpRequest | None = None,
) -> bool:
    """Lift the web and LINE sign-in lock on one of the caller's ticket numbers, once the
    operator has verified the caller by other means. Audited whether or not a lock was still
    there (it may have run out meanwhile): the row says an operator vouched for the caller.
    Returns whether a lock (or counted failures) was cleared."""
    with transaction.atomic():
        # One transaction: a lock is never lifted without its audit row.
        cleared = credentials_unlock(ticket=ticket, actor=user)
        audit_record(
            user=user,
            resident=resident,
            action=RecordAccess.Action.UNLOCKED,
            call=call,
            now=now,
            request=request,
            ticket=ticket.pk,
            cleared=cleared,
        )
    _call_note(call, resident=resident)
    return cleared


# --- Acting for the caller ------------------------------------------------------------------


def _requester(user: Any, call: Call | None) -> Requester:
    return Requester(
        channel=Channel.PHONE,
        actor=Actor.OPERATOR,
        user=user,
        proxy_relationship=call.proxy_relationship if call and call.caller_is_proxy else "",
    )


def ticket_for_booking(resident: Resident) -> Ticket:
    """The resident's newest issued ticket: a reissue replaces the old one."""
    ticket = resident.tickets.filter(status=Ticket.Status.ISSUED).order_by("-pk").first()
    if ticket is None:
        raise NoValidTicket()
    return ticket


@contextmanager
def _refusal_audited(
    *,
    user: Any,
    resident: Resident,
    call: Call | None,
    now: dt.datetime,
    request: HttpRequest | None,
) -> Iterator[None]:
    """A core refusal (slot full, not eligible…) is audited too, then shown to the operator."""
    try:
        yield
    except ReservationError as error:
        audit_record(
            user=user,
            resident=resident,
            action=RecordAccess.Action.REFUSED,
            call=call,
            now=now,
            request=request,
            code=error.code,
            # The sentence the operator saw (with its dates), for the audit page to show.
            message=str(error),
        )
        raise


def phone_book(
    *,
    user: Any,
    resident: Resident,
    slot: Slot | int,
    call: Call | None,
    book_series: bool,
    idempotency_key: str,
    now: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> Reservation:
    """Book for the caller (a series by default), audit it and count it on the call."""
    now = now or timezone.now()
    with _refusal_audited(user=user, resident=resident, call=call, now=now, request=request):
        reservation = reservation_book(
            ticket=ticket_for_booking(resident),
            slot=slot,
            requester=_requester(user, call),
            book_next_dose=book_series,
            idempotency_key=idempotency_key or None,
            now=now,
        )
    booked = 2 if reservation.next_dose_id else 1
    audit_record(
        user=user,
        resident=resident,
        action=RecordAccess.Action.BOOKED,
        call=call,
        now=now,
        request=request,
        code=reservation.code,
        slot=reservation.slot_id,
        next_dose=reservation.next_dose_id,
    )
    _call_note(call, resident=resident, outcome=Call.Outcome.BOOKED, booked=booked)
    return reservation


def phone_change(
    *,
    user: Any,
    reservation: Reservation,
    slot: Slot | int,
    call: Call | None,
    now: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> Reservation:
    now = now or timezone.now()
    resident = reservation.resident
    old_slot = reservation.slot_id
    with _refusal_audited(user=user, resident=resident, call=call, now=now, request=request):
        changed = reservation_change(
            reservation=reservation, slot=slot, requester=_requester(user, call), now=now
        )
    audit_record(
        user=user,
        resident=resident,
        action=RecordAccess.Action.CHANGED,
        call=call,
        now=now,
        request=request,
        code=changed.code,
        from_slot=old_slot,
        to_slot=changed.slot_id,
    )
    _call_note(call, resident=resident, outcome=Call.Outcome.CHANGED)
    return changed


def phone_cancel(
    *,
    user: Any,
    reservation: Reservation,
    call: Call | None,
    now: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> Reservation:
    now = now or timezone.now()
    resident = reservation.resident
    with _refusal_audited(user=user, resident=resident, call=call, now=now, request=request):
        cancelled = reservation_cancel(
            reservation=reservation, requester=_requester(user, call), now=now
        )
    audit_record(
        user=user,
        resident=resident,
        action=RecordAccess.Action.CANCELLED,
        call=call,
        now=now,
        request=request,
        code=cancelled.code,
    )
    _call_note(call, resident=resident, outcome=Call.Outcome.CANCELLED)
    return cancelled


def phone_contact_update(
    *,
    user: Any,
    resident: Resident,
    phone: str,
    sms_consent: bool,
    call: Call | None,
    language: str | None = None,
    now: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> list[str]:
    """The number, the SMS consent and (given) the language of the SMS, as the caller asks.
    Raises IdentifierError (a bad phone number), NoticeLanguageUnknown or PermissionDenied."""
    now = now or timezone.now()
    requester = _requester(user, call)
    with transaction.atomic():  # all of the form or none of it
        changed = resident_contact_update(
            resident=resident, phone=phone, sms_consent=sms_consent, requester=requester
        )
        if language is not None and contact_language_set(
            resident=resident, language=language, requester=requester
        ):
            changed.append("preferred_language")
    if changed:
        audit_record(
            user=user,
            resident=resident,
            action=RecordAccess.Action.CONTACT_UPDATED,
            call=call,
            now=now,
            request=request,
            fields=changed,
        )
    _call_note(call, resident=resident)
    return changed
