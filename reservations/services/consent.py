"""Recording a resident's SMS consent or opt-out, from the web or by an operator."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from reservations.models import Resident
from reservations.services.booking import Requester


def resident_set_sms_consent(
    *, resident: Resident, consent: bool, requester: Requester, now: dt.datetime | None = None
) -> Resident:
    """Turn SMS on or off for this resident and record when and through which channel.

    Messages already queued are checked against the consent again just before sending."""
    now = now or timezone.now()
    with transaction.atomic():
        Resident.objects.filter(pk=resident.pk).update(
            sms_consent=consent,
            sms_consent_changed_at=now,
            sms_consent_changed_via=requester.channel,
            updated_at=now,
        )
    resident.refresh_from_db(
        fields=["sms_consent", "sms_consent_changed_at", "sms_consent_changed_via", "updated_at"]
    )
    return resident
