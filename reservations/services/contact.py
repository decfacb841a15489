"""Contact details given while booking (partner systems and operators take them by phone)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from reservations.identifiers import normalize_phone
from reservations.models import Reservation, Resident, Slot, Ticket
from reservations.services.booking import Requester, reservation_book


def resident_contact_update(
    *, resident: Resident, phone: str | None = None, sms_consent: bool | None = None
) -> Resident:
    """Set the phone number (any typed form; stored as E.164) and/or the SMS consent.

    None leaves a value as it is. A bad number raises IdentifierError before anything is saved.
    """
    changed: list[str] = []
    if phone is not None:
        resident.phone = normalize_phone(phone) if phone else ""
        changed.append("phone")
    if sms_consent is not None:
        resident.sms_consent = sms_consent
        changed.append("sms_consent")
    if changed:
        resident.save(update_fields=[*changed, "updated_at"])
    return resident


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
    a refused booking leaves the resident's phone and consent as they were."""
    if phone:
        phone = normalize_phone(phone)
    with transaction.atomic():
        reservation = reservation_book(
            ticket=ticket,
            slot=slot,
            requester=requester,
            dose_number=dose_number,
            book_next_dose=book_next_dose,
            idempotency_key=idempotency_key,
            now=now,
        )
        resident_contact_update(resident=ticket.resident, phone=phone, sms_consent=sms_consent)
    return reservation
