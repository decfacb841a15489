"""Contact details a resident (or someone calling for them) may change by phone or at a
counter: the phone number reminders go to and the consent to receive SMS."""

from __future__ import annotations

from django.db import transaction

from reservations.exceptions import PermissionDenied
from reservations.identifiers import normalize_phone
from reservations.models import Resident
from reservations.services.booking import Requester


def resident_contact_update(
    *, resident: Resident, phone: str, sms_consent: bool, requester: Requester
) -> list[str]:
    """Store a typed phone number (any Japanese notation; empty clears it) and the SMS consent.
    Returns the names of the fields that changed. Raises IdentifierError for a bad number."""
    if not requester.has_perm("reservations.change_resident"):
        raise PermissionDenied()
    new_phone = normalize_phone(phone) if phone.strip() else ""
    with transaction.atomic():
        # Lock the row so two operators editing at once cannot interleave read and write.
        current = Resident.objects.select_for_update().get(pk=resident.pk)
        changed = []
        if current.phone != new_phone:
            current.phone = new_phone
            changed.append("phone")
        if current.sms_consent != sms_consent:
            current.sms_consent = sms_consent
            changed.append("sms_consent")
        if changed:
            current.save(update_fields=[*changed, "updated_at"])
    resident.phone, resident.sms_consent = current.phone, current.sms_consent
    return changed
