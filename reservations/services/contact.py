"""A resident's contact details: the phone number messages go to and the consent to SMS.

One place for every channel: the resident on the web, an operator on the phone, a partner system
booking with a phone number. Consent changes are stamped with when and through which channel.
"""

from __future__ import annotations

import contextlib
import datetime as dt

from django.db import transaction
from django.utils import timezone

from reservations.exceptions import PermissionDenied
from reservations.identifiers import normalize_phone
from reservations.models import Reservation, Resident, Slot, Ticket
from reservations.services.booking import Requester, reservation_book


def _contact_store(
    *,
    resident: Resident,
    requester: Requester,
    phone: str | None,
    sms_consent: bool | None,
    now: dt.datetime,
) -> list[str]:
    # Normalise before the lock: a bad number raises IdentifierError with nothing written.
    new_phone = None if phone is None else (normalize_phone(phone) if phone.strip() else "")
    with transaction.atomic():
        # Lock the row so two edits at once (two operators, a booking and an opt-out) cannot
        # interleave their read and write.
        current = Resident.objects.select_for_update().get(pk=resident.pk)
        changed: list[str] = []
        if new_phone is not None and current.phone != new_phone:
            current.phone = new_phone
            changed.append("phone")
        if sms_consent is not None and current.sms_consent != sms_consent:
            current.sms_consent = sms_consent
            current.sms_consent_changed_at = now
            current.sms_consent_changed_via = requester.channel
            changed += ["sms_consent", "sms_consent_changed_at", "sms_consent_changed_via"]
        if changed:
            current.save(update_fields=[*changed, "updated_at"])
    for name in ("phone", "sms_consent", "sms_consent_changed_at", "sms_consent_changed_via"):
        setattr(resident, name, getattr(current, name))
    return changed


def resident_contact_update(
    *,
    resident: Resident,
    requester: Requester,
    phone: str | None = None,
    sms_consent: bool | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """Store a typed phone number (any Japanese notation; empty clears it) and/or the SMS
    consent; None leaves a value as it is. Returns the names of the fields that changed.

    Staff need the change-resident permission; a resident (web, LINE) changes their own
    details, the channel having signed them in. Raises IdentifierError for a bad number.
    Messages already queued are checked against the consent again just before sending."""
    if requester.staff_user is not None and not requester.has_perm("reservations.change_resident"):
        raise PermissionDenied()
    return _contact_store(
        resident=resident,
        requester=requester,
        phone=phone,
        sms_consent=sms_consent,
        now=now or timezone.now(),
    )


def reservation_book_with_contact(
    *,
    ticket: Ticket,
    slot: Slot | int,
    requester: Requester,
    phone: str | None = None,
    sms_consent: bool | None = None,
    dose_number: int | None = None,
    book_next_dose: bool = True,
    idempotency_key: str | None = None,
    now: dt.datetime | None = None,
) -> Reservation:
    """Book (confirmed at once) and keep the contact details given with the booking, together:
    a refused booking leaves the resident's phone and consent as they were. The permission to
    book covers the details given with it."""
    keeps_contact = phone is not None or sms_consent is not None
    if phone:
        phone = normalize_phone(phone)
    # With nothing to keep, the booking's own transaction is all there is (no outer one, no
    # resident lock: three round trips fewer for a partner system that sends no contact).
    with transaction.atomic() if keeps_contact else contextlib.nullcontext():
        reservation = reservation_book(
            ticket=ticket,
            slot=slot,
            requester=requester,
            dose_number=dose_number,
            book_next_dose=book_next_dose,
            idempotency_key=idempotency_key,
            now=now,
        )
        if keeps_contact:
            _contact_store(
                resident=ticket.resident,
                requester=requester,
                phone=phone or None,
                sms_consent=sms_consent,
                now=now or timezone.now(),
            )
    return reservation
